package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jml-sync/docusign-worker/docusign"
)

// PlannedCall is a DocuSign write a dry run (a plan or shadow mode) would
// have sent: what a live run of the same task sends, call for call, given
// the same DocuSign state.
type PlannedCall struct {
	// API is "admin" or "esignature"; Operation DocuSign's operationId.
	API       string `json:"api"`
	Operation string `json:"operation"`
	Method    string `json:"method"`
	// AccountID is the account the call writes to ("" for organization-wide
	// Admin API calls such as creating a user in several accounts).
	AccountID string `json:"account_id,omitempty"`
	// UserID is the user written to ("" when creating one).
	UserID string `json:"user_id,omitempty"`
	// Request is the request body.
	Request json.RawMessage `json:"request,omitempty"`
}

// dryRunUserPrefix starts the user ids a dry run makes up for users it
// would have created.
const dryRunUserPrefix = "planned-"

// NewDryRunDirectory returns the surface's directory over c whose reads go to
// DocuSign (taking limiter tokens through the client's hook) and whose writes
// are recorded in the running task's plan instead of sent: the same code
// decides what to send, so a plan lists exactly what a live run sends.
// Plans and shadow mode use it.
func NewDryRunDirectory(s Surface, c *docusign.Client, opts AdminOptions) (Directory, error) {
	if c == nil {
		return nil, errors.New("jobs: NewDryRunDirectory: nil DocuSign client")
	}
	esign := dryESign{ESignatureAPI: c.ESignature()}
	switch s {
	case SurfaceAdmin:
		opts.ESign = esign
		return NewAdminDirectory(dryAdmin{AdminAPI: c.Admin()}, opts), nil
	case SurfaceESignature:
		return NewESignatureDirectory(esign), nil
	}
	return nil, fmt.Errorf("jobs: unknown DocuSign surface %q (want admin or esignature)", s)
}

// plan records a write in the task's state.
func plan(ctx context.Context, api docusign.API, op, method, account, user string, body any) {
	st := stateFrom(ctx)
	if st == nil {
		return
	}
	raw, _ := json.Marshal(body)
	st.addPlanned(PlannedCall{API: string(api), Operation: op, Method: method, AccountID: account, UserID: user, Request: raw})
}

// dryAdmin records the Admin API's writes.
type dryAdmin struct{ AdminAPI }

func (d dryAdmin) CreateUser(ctx context.Context, req docusign.NewUserRequest) (*docusign.NewUserResponse, error) {
	plan(ctx, docusign.APIAdmin, "OrganizationUser_Users_AddV2", http.MethodPost, "", "", req)
	return &docusign.NewUserResponse{ID: dryRunUserPrefix + strings.ToLower(req.Email), Email: req.Email}, nil
}

func (d dryAdmin) AddUserToAccount(ctx context.Context, accountID string, req docusign.NewAccountUserRequest) (*docusign.NewUserResponse, error) {
	plan(ctx, docusign.APIAdmin, "OrganizationUser_OrganizationUsers_PostAccountUsersV2", http.MethodPost, accountID, "", req)
	return &docusign.NewUserResponse{Email: req.Email}, nil
}

func (d dryAdmin) UpdateUserProfiles(ctx context.Context, req docusign.UpdateUsersRequest) (*docusign.UsersUpdateResponse, error) {
	user := ""
	if len(req.Users) > 0 {
		user = req.Users[0].ID
	}
	plan(ctx, docusign.APIAdmin, "User_Users_UpdateV2", http.MethodPost, "", user, req)
	return &docusign.UsersUpdateResponse{Success: true}, nil
}

func (d dryAdmin) UpdateEmailAddresses(ctx context.Context, users []docusign.EmailAddressUpdate) (*docusign.UsersUpdateResponse, error) {
	user := ""
	if len(users) > 0 {
		user = users[0].ID
	}
	plan(ctx, docusign.APIAdmin, "User_Users_UpdateEmailAddressesV2", http.MethodPost, "", user, map[string]any{"users": users})
	return &docusign.UsersUpdateResponse{Success: true}, nil
}

func (d dryAdmin) CloseMemberships(ctx context.Context, userID string, accountIDs []string) (*docusign.CloseMembershipsResponse, error) {
	accounts := make([]map[string]string, 0, len(accountIDs))
	for _, a := range accountIDs {
		accounts = append(accounts, map[string]string{"id": a})
	}
	plan(ctx, docusign.APIAdmin, "User_Users_CloseMembershipsV2", http.MethodDelete, "", userID, map[string]any{"accounts": accounts})
	return &docusign.CloseMembershipsResponse{Success: true}, nil
}

func (d dryAdmin) ReactivateMembership(ctx context.Context, userID, membershipID string, siteID int) (*docusign.ReactivateResponse, error) {
	plan(ctx, docusign.APIAdmin, "OrganizationUser_Users_ActivateMembershipV2", http.MethodPost, "", userID,
		map[string]any{"membership_id": membershipID, "site_id": siteID})
	return &docusign.ReactivateResponse{}, nil
}

// dryESign records the eSignature API's writes.
type dryESign struct{ ESignatureAPI }

func (d dryESign) CreateUsers(ctx context.Context, accountID string, users []docusign.ESignUser) (*docusign.ESignNewUsers, error) {
	plan(ctx, docusign.APIESignature, "Users_PostUsers", http.MethodPost, accountID, "", map[string]any{"newUsers": users})
	out := &docusign.ESignNewUsers{}
	for _, u := range users {
		out.NewUsers = append(out.NewUsers, docusign.ESignNewUser{UserID: dryRunUserPrefix + strings.ToLower(u.Email), Email: u.Email})
	}
	return out, nil
}

func (d dryESign) UpdateUser(ctx context.Context, accountID, userID string, u docusign.ESignUser) (*docusign.ESignUserResult, error) {
	plan(ctx, docusign.APIESignature, "User_PutUser", http.MethodPut, accountID, userID, u)
	return &docusign.ESignUserResult{ESignUser: u}, nil
}

func (d dryESign) CloseUsers(ctx context.Context, accountID string, userIDs []string) (*docusign.ESignUsersResponse, error) {
	plan(ctx, docusign.APIESignature, "Users_DeleteUsers", http.MethodDelete, accountID, strings.Join(userIDs, ","), userRefs(userIDs))
	return &docusign.ESignUsersResponse{}, nil
}

func (d dryESign) AddGroupUsers(ctx context.Context, accountID, groupID string, userIDs []string) (*docusign.ESignUsersResponse, error) {
	plan(ctx, docusign.APIESignature, "Groups_PutGroupUsers", http.MethodPut, accountID, strings.Join(userIDs, ","),
		map[string]any{"group_id": groupID, "users": userRefs(userIDs)["users"]})
	return &docusign.ESignUsersResponse{}, nil
}

func (d dryESign) RemoveGroupUsers(ctx context.Context, accountID, groupID string, userIDs []string) (*docusign.ESignUsersResponse, error) {
	plan(ctx, docusign.APIESignature, "Groups_DeleteGroupUsers", http.MethodDelete, accountID, strings.Join(userIDs, ","),
		map[string]any{"group_id": groupID, "users": userRefs(userIDs)["users"]})
	return &docusign.ESignUsersResponse{}, nil
}

func userRefs(ids []string) map[string]any {
	users := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		users = append(users, map[string]string{"userId": id})
	}
	return map[string]any{"users": users}
}

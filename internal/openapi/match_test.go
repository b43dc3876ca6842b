package openapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	admin, esign := mustDocuSignSpecs(t)
	const org = "/v2/organizations/9c5fb8e1-0000-0000-0000-000000000001"

	for _, tt := range []struct {
		name    string
		spec    *Spec
		method  string
		path    string
		wantOp  string
		wantErr error
	}{
		{name: "literal profile beats {userId}", spec: admin, method: "GET", path: org + "/users/profile",
			wantOp: "OrganizationUser_OrganizationUsers_GetProfileV2"},
		{name: "literal profiles", spec: admin, method: "POST", path: org + "/users/profiles",
			wantOp: "User_Users_UpdateV2"},
		{name: "literal oauth beats {connectId}", spec: admin, method: "DELETE", path: org + "/connect/oauth",
			wantOp: "OrganizationConnectOAuthConfiguration_DeleteOrganizationConnectOAuthConfiguration"},
		{name: "template {connectId}", spec: admin, method: "DELETE", path: org + "/connect/c-1",
			wantOp: "OrganizationConnect_DeleteOrganizationConnectConfig"},
		{name: "close memberships", spec: admin, method: "delete", path: org + "/users/u-1/accounts",
			wantOp: "User_Users_CloseMembershipsV2"},
		{name: "v2.1 path", spec: admin, method: "POST", path: "/v2.1/organizations/o/accounts/a/users",
			wantOp: "OrganizationUser_OrganizationUsers_PostAccountUsersV2_1"},
		{name: "basePath as in the document", spec: admin, method: "GET", path: "/Management/v2/organizations",
			wantOp: "Organization_Organization_GetListV2"},
		{name: "basePath lower case", spec: admin, method: "GET", path: "/management/v2/organizations",
			wantOp: "Organization_Organization_GetListV2"},
		{name: "eSignature user", spec: esign, method: "GET", path: "/restapi/v2.1/accounts/a-1/users/u-1",
			wantOp: "User_GetUser"},
		{name: "eSignature literal status beats {envelopeId}", spec: esign, method: "PUT",
			path: "/v2.1/accounts/a-1/envelopes/status", wantOp: "Envelopes_PutStatus"},
		{name: "literal segment has no fallback to the template", spec: esign, method: "GET",
			path: "/v2.1/accounts/a-1/envelopes/status", wantErr: ErrUnknownMethod},
		{name: "unknown method", spec: admin, method: "PATCH", path: "/v2/organizations", wantErr: ErrUnknownMethod},
		{name: "unknown path", spec: admin, method: "GET", path: org + "/nonsense", wantErr: ErrUnknownPath},
		{name: "trailing slash", spec: esign, method: "GET", path: "/v2.1/accounts/a-1/users/", wantErr: ErrUnknownPath},
		{name: "empty parameter segment", spec: esign, method: "GET", path: "/v2.1/accounts//users", wantErr: ErrUnknownPath},
		{name: "prefix is not a basePath", spec: admin, method: "GET", path: "/managementx/v2/organizations",
			wantErr: ErrUnknownPath},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op, err := tt.spec.Match(tt.method, tt.path)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantOp, op.OperationID)
		})
	}
}

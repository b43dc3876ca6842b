package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Identity is an employee's entry in the identity map: which DocuSign user
// the worker provisioned for them. Movers and leavers find the user by its
// id; the email is the fallback key (a rehire with a new HR id but the same
// email is relinked, never duplicated) and tells an email change apart.
type Identity struct {
	// EmployeeID is the HR employee id.
	EmployeeID string `json:"employee_id"`
	// UserID is the DocuSign user id.
	UserID string `json:"user_id"`
	// SiteID is the user's site (Admin API; 0 on the eSignature API).
	SiteID int `json:"site_id,omitempty"`
	// Email is the user's email as last applied.
	Email string `json:"email"`
	// Accounts are the managed accounts in which the user has a membership.
	Accounts []string `json:"accounts"`
	// Applied holds, per account (lower-case id), the job title and company
	// last sent, for surfaces that cannot read them back.
	Applied map[string]AppliedFields `json:"applied,omitempty"`
	// Settings holds, per account (lower-case id), the user settings last
	// sent: they are written again only when the rules change them.
	Settings map[string]map[string]string `json:"settings,omitempty"`
	// Surface is the surface that wrote the entry.
	Surface Surface `json:"surface"`
	// UpdatedAt is when the entry was written.
	UpdatedAt time.Time `json:"updated_at"`
}

// identityMap keeps Identity entries in Redis, one JSON string per employee
// under the handlers' key prefix.
type identityMap struct {
	rdb Rediser
	key func(employeeID string) string
}

// get returns the employee's entry, or nil.
func (m identityMap) get(ctx context.Context, employeeID string) (*Identity, error) {
	raw, err := m.rdb.Get(ctx, m.key(employeeID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: read identity map: %w", err)
	}
	var id Identity
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, fmt.Errorf("jobs: decode identity map entry of employee %s: %w", employeeID, err)
	}
	return &id, nil
}

// put writes the employee's entry (no expiry: leavers keep it for rehires).
func (m identityMap) put(ctx context.Context, id Identity) error {
	raw, err := json.Marshal(id)
	if err != nil {
		return fmt.Errorf("jobs: encode identity map entry: %w", err)
	}
	if err := m.rdb.Set(ctx, m.key(id.EmployeeID), raw, 0).Err(); err != nil {
		return fmt.Errorf("jobs: write identity map: %w", err)
	}
	return nil
}

// lookupFor builds the DocuSign look-up of an employee from the identity map
// entry (nil: none) and the event's email.
func lookupFor(id *Identity, email string) Lookup {
	q := Lookup{Email: email}
	if id != nil {
		q.UserID, q.PriorEmail = id.UserID, id.Email
	}
	return q
}

// nextIdentity returns the entry after a convergence: the user's id, site and
// email, the managed accounts with a membership, and the job titles and
// companies applied.
func nextIdentity(prev *Identity, employeeID string, surface Surface, live *LiveUser, p Plan, a Applied, now time.Time) Identity {
	id := Identity{EmployeeID: employeeID, Surface: surface, UpdatedAt: now.UTC(), Applied: map[string]AppliedFields{}}
	if prev != nil && strings.EqualFold(prev.UserID, a.UserID) {
		id.Accounts = slices.Clone(prev.Accounts)
		for k, v := range prev.Applied {
			id.Applied[k] = v
		}
		id.Settings = prev.Settings
	}
	id.UserID, id.SiteID = a.UserID, a.SiteID
	if id.SiteID == 0 && live != nil {
		id.SiteID = live.SiteID
	}
	id.Email = p.Email
	if id.Email == "" && live != nil {
		id.Email = live.Email
	}
	if live != nil {
		for _, m := range live.Memberships {
			id.Accounts = addAccount(id.Accounts, m.AccountID)
		}
	}
	for _, ap := range p.Accounts {
		acct := ap.Desired.AccountID
		id.Accounts = addAccount(id.Accounts, acct)
		cur := id.Applied[strings.ToLower(acct)]
		if ap.Desired.JobTitle != "" {
			cur.JobTitle = ap.Desired.JobTitle
		}
		if ap.Desired.Company != "" {
			cur.Company = ap.Desired.Company
		}
		if cur != (AppliedFields{}) {
			id.Applied[strings.ToLower(acct)] = cur
		}
	}
	if len(id.Applied) == 0 {
		id.Applied = nil
	}
	return id
}

func addAccount(list []string, acct string) []string {
	if containsFold(list, acct) {
		return list
	}
	return append(list, acct)
}

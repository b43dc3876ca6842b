package docusign

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Sentinels of reference resolution; *UnknownRefError wraps the first two.
var (
	// ErrUnknownPermissionProfile: no permission profile of the account has the given name or id.
	ErrUnknownPermissionProfile = errors.New("docusign: unknown permission profile")
	// ErrUnknownGroup: no group of the account has the given name or id.
	ErrUnknownGroup = errors.New("docusign: unknown group")
	// ErrInvalidRef: a Ref sets neither or both of ID and Name, or an Admin API id is not an integer.
	ErrInvalidRef = errors.New("docusign: invalid reference")
)

// Kinds of referenced objects, as used in UnknownRefError.Kind.
const (
	KindPermissionProfile = "permission profile"
	KindGroup             = "group"
)

// Ref names a permission profile or group of an account either by ID or by Name (exactly one). IDs differ per
// account and per API: Admin API ids are integers (int64), eSignature ids strings.
type Ref struct {
	// ID is the object's id in the account.
	ID string
	// Name is the object's name; matched exactly, else case-insensitively when that is unambiguous.
	Name string
}

// RefByID returns a Ref naming an object by id.
func RefByID(id string) Ref { return Ref{ID: id} }

// RefByName returns a Ref naming an object by name.
func RefByName(name string) Ref { return Ref{Name: name} }

// String shows the reference for messages.
func (r Ref) String() string {
	if r.ID != "" {
		return fmt.Sprintf("id %q", r.ID)
	}
	return fmt.Sprintf("name %q", r.Name)
}

// UnknownRefError reports a permission profile or group that the account does not have, even after the cached
// look-up was refreshed. It is permanent for the task that asked; Known lists what the account has.
type UnknownRefError struct {
	// API is the surface whose ids were searched.
	API API
	// AccountID is the account searched.
	AccountID string
	// Kind is KindPermissionProfile or KindGroup.
	Kind string
	// Ref is what was asked for.
	Ref Ref
	// Known lists the account's objects as `"name" (id)`.
	Known []string
}

// maxKnownInMessage bounds how many known names an error message lists.
const maxKnownInMessage = 50

// Error names the account, the reference and the known names.
func (e *UnknownRefError) Error() string {
	known := e.Known
	more := ""
	if len(known) > maxKnownInMessage {
		more = fmt.Sprintf(", and %d more", len(known)-maxKnownInMessage)
		known = known[:maxKnownInMessage]
	}
	list := strings.Join(known, ", ")
	if list == "" {
		list = "none"
	}
	return fmt.Sprintf("docusign: %s account %s has no %s with %s; known: %s%s", e.API, e.AccountID, e.Kind, e.Ref,
		list, more)
}

// Unwrap returns ErrUnknownPermissionProfile or ErrUnknownGroup.
func (e *UnknownRefError) Unwrap() error {
	if e.Kind == KindGroup {
		return ErrUnknownGroup
	}
	return ErrUnknownPermissionProfile
}

// named is an object a Ref can point at.
type named interface {
	refID() string
	refName() string
}

// refCache caches one list per account. Fetches are serialised per account, so a cold cache costs one call and a
// slow look-up (e.g. waiting for rate-limit budget) in one account does not hold up the others.
type refCache[T named] struct {
	mu    sync.Mutex
	gen   uint64
	slots map[string]*refSlot[T]
}

type refSlot[T named] struct {
	sem   chan struct{}
	items []T
	gen   uint64 // 0: never fetched
}

func (rc *refCache[T]) init() {
	rc.slots = make(map[string]*refSlot[T])
}

func (rc *refCache[T]) slot(key string) *refSlot[T] {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s, ok := rc.slots[key]
	if !ok {
		s = &refSlot[T]{sem: make(chan struct{}, 1)}
		rc.slots[key] = s
	}
	return s
}

// get returns the account's cached list, fetching it when absent, or when staleGen is non-zero and the cached
// list is still that generation (a refresh that another caller has not done meanwhile).
func (rc *refCache[T]) get(ctx context.Context, accountID string, staleGen uint64,
	fetch func(context.Context) ([]T, error)) ([]T, uint64, error) {
	s := rc.slot(strings.ToLower(accountID))
	fresh := func() ([]T, uint64, bool) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return s.items, s.gen, s.gen != 0 && (staleGen == 0 || s.gen != staleGen)
	}
	if items, gen, ok := fresh(); ok {
		return items, gen, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	defer func() { <-s.sem }()
	if items, gen, ok := fresh(); ok {
		return items, gen, nil
	}
	items, err := fetch(ctx)
	if err != nil {
		return nil, 0, err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gen++
	s.items, s.gen = items, rc.gen
	return items, s.gen, nil
}

// resolveRefs resolves refs against the account's cached list, refreshing it once if any is missing.
func resolveRefs[T named](ctx context.Context, rc *refCache[T], api API, kind, accountID string, refs []Ref,
	checkID func(string) error, fetch func(context.Context) ([]T, error)) ([]T, error) {
	for _, r := range refs {
		if (r.ID == "") == (r.Name == "") {
			return nil, fmt.Errorf("%w: %s in account %s: set exactly one of ID and Name", ErrInvalidRef, kind, accountID)
		}
		if r.ID != "" && checkID != nil {
			if err := checkID(r.ID); err != nil {
				return nil, fmt.Errorf("%w: %s %s in account %s: %w", ErrInvalidRef, kind, r, accountID, err)
			}
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	items, gen, err := rc.get(ctx, accountID, 0, fetch)
	if err != nil {
		return nil, fmt.Errorf("docusign: look up %ss of account %s: %w", kind, accountID, err)
	}
	out, missing := matchRefs(items, refs)
	if missing < 0 {
		return out, nil
	}
	if items, _, err = rc.get(ctx, accountID, gen, fetch); err != nil {
		return nil, fmt.Errorf("docusign: look up %ss of account %s: %w", kind, accountID, err)
	}
	if out, missing = matchRefs(items, refs); missing < 0 {
		return out, nil
	}
	known := make([]string, 0, len(items))
	for _, it := range items {
		known = append(known, fmt.Sprintf("%q (%s)", it.refName(), it.refID()))
	}
	return nil, &UnknownRefError{API: api, AccountID: accountID, Kind: kind, Ref: refs[missing], Known: known}
}

// matchRefs returns the matched items, or the index of the first reference without a match.
func matchRefs[T named](items []T, refs []Ref) ([]T, int) {
	out := make([]T, 0, len(refs))
	for i, r := range refs {
		it, ok := matchRef(items, r)
		if !ok {
			return nil, i
		}
		out = append(out, it)
	}
	return out, -1
}

func matchRef[T named](items []T, r Ref) (T, bool) {
	var zero T
	if r.ID != "" {
		for _, it := range items {
			if it.refID() == r.ID {
				return it, true
			}
		}
		return zero, false
	}
	for _, it := range items {
		if it.refName() == r.Name {
			return it, true
		}
	}
	found, n := zero, 0
	for _, it := range items {
		if strings.EqualFold(strings.TrimSpace(it.refName()), strings.TrimSpace(r.Name)) {
			found = it
			n++
		}
	}
	return found, n == 1
}

package docusign

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// switchable serves one reply until switched to the next.
type switchable struct {
	mu      sync.Mutex
	replies []string
	calls   atomic.Int32
}

func (s *switchable) handler(w http.ResponseWriter, _ *http.Request) {
	n := int(s.calls.Add(1))
	s.mu.Lock()
	reply := s.replies[min(n, len(s.replies))-1]
	s.mu.Unlock()
	writeJSON(w, 200, reply)
}

func TestAdminResolvePermissionProfile(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	profilesA := &switchable{replies: []string{
		`{"permissions":[{"id":11,"name":"DocuSign Sender"},{"id":12,"name":"Account Administrator"}]}`,
		`{"permissions":[{"id":11,"name":"DocuSign Sender"},{"id":12,"name":"Account Administrator"},{"id":13,"name":"HR Sender"}]}`,
	}}
	profilesB := &switchable{replies: []string{`{"permissions":[{"id":21,"name":"DocuSign Sender"}]}`}}
	f.handleAdmin("GET", orgPath("/accounts/"+acctA+"/permissions"), profilesA.handler)
	f.handleAdmin("GET", orgPath("/accounts/"+acctB+"/permissions"), profilesB.handler)
	c := mustNew(t, f.testConfig(nil))
	ctx := t.Context()
	admin := c.Admin()

	p, err := admin.ResolvePermissionProfile(ctx, acctA, RefByName("DocuSign Sender"))
	require.NoError(t, err)
	require.Equal(t, AdminPermissionProfile{ID: 11, Name: "DocuSign Sender"}, p)
	p, err = admin.ResolvePermissionProfile(ctx, acctA, RefByName("account administrator"))
	require.NoError(t, err)
	require.Equal(t, int64(12), p.ID, "case-insensitive when unambiguous")
	p, err = admin.ResolvePermissionProfile(ctx, acctA, RefByID("12"))
	require.NoError(t, err)
	require.Equal(t, "Account Administrator", p.Name)
	require.Equal(t, int32(1), profilesA.calls.Load(), "cached")

	// Same name, other account, other id.
	p, err = admin.ResolvePermissionProfile(ctx, acctB, RefByName("DocuSign Sender"))
	require.NoError(t, err)
	require.Equal(t, int64(21), p.ID)

	// A profile added after the cache was filled is found after one refresh.
	p, err = admin.ResolvePermissionProfile(ctx, acctA, RefByName("HR Sender"))
	require.NoError(t, err)
	require.Equal(t, int64(13), p.ID)
	require.Equal(t, int32(2), profilesA.calls.Load())

	// Unknown: one refresh, then a permanent error naming the account and the known names.
	_, err = admin.ResolvePermissionProfile(ctx, acctA, RefByName("Nope"))
	require.ErrorIs(t, err, ErrUnknownPermissionProfile)
	var unknown *UnknownRefError
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, acctA, unknown.AccountID)
	require.Equal(t, APIAdmin, unknown.API)
	require.Equal(t, []string{`"DocuSign Sender" (11)`, `"Account Administrator" (12)`, `"HR Sender" (13)`}, unknown.Known)
	require.ErrorContains(t, err, acctA)
	require.ErrorContains(t, err, `"HR Sender" (13)`)
	require.Equal(t, int32(3), profilesA.calls.Load())

	// Admin ids are integers: rejected without a call.
	_, err = admin.ResolvePermissionProfile(ctx, acctA, RefByID("abc"))
	require.ErrorIs(t, err, ErrInvalidRef)
	_, err = admin.ResolvePermissionProfile(ctx, acctA, Ref{ID: "11", Name: "DocuSign Sender"})
	require.ErrorIs(t, err, ErrInvalidRef)
	require.Equal(t, int32(3), profilesA.calls.Load())
}

func TestESignResolveGroupsRefreshesOncePerCall(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	groups := &switchable{replies: []string{
		`{"groups":[{"groupId":"100","groupName":"Everyone","groupType":"everyoneGroup"},{"groupId":"101","groupName":"Sales"}]}`,
	}}
	f.handleESign(f.envAMux, "GET", esPath("/groups"), groups.handler)
	c := mustNew(t, f.testConfig(nil))
	ctx := t.Context()
	esign := c.ESignature()

	got, err := esign.ResolveGroups(ctx, acctA, []Ref{RefByName("Sales"), RefByID("100")})
	require.NoError(t, err)
	require.Equal(t, []string{"101", "100"}, []string{got[0].GroupID, got[1].GroupID})
	require.Equal(t, int32(1), groups.calls.Load())

	_, err = esign.ResolveGroups(ctx, acctA, []Ref{RefByName("Sales"), RefByName("Ghosts"), RefByID("999")})
	require.ErrorIs(t, err, ErrUnknownGroup)
	var unknown *UnknownRefError
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, RefByName("Ghosts"), unknown.Ref)
	require.Equal(t, KindGroup, unknown.Kind)
	require.ErrorContains(t, err, `"Sales" (101)`)
	require.Equal(t, int32(2), groups.calls.Load(), "one refresh for the whole call")

	none, err := esign.ResolveGroups(ctx, acctA, nil)
	require.NoError(t, err)
	require.Empty(t, none)
}

func TestESignResolvePermissionProfile(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envBMux, "GET", "/v2.1/accounts/"+acctB+"/permission_profiles", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"permissionProfiles":[{"permissionProfileId":"1665537","permissionProfileName":"DocuSign Sender"}]}`)
	})
	c := mustNew(t, f.testConfig(nil))
	p, err := c.ESignature().ResolvePermissionProfile(t.Context(), acctB, RefByName("DocuSign Sender"))
	require.NoError(t, err)
	require.Equal(t, "1665537", p.PermissionProfileID)
	_, err = c.ESignature().ResolvePermissionProfile(t.Context(), acctB, RefByID("1"))
	require.ErrorIs(t, err, ErrUnknownPermissionProfile)
	require.NotErrorIs(t, err, ErrUnknownGroup)
}

func TestResolveFailsWhenLookupFails(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "GET", esPath("/groups"), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 429, `{"errorCode":"BURST_APIINVOCATION_LIMIT_EXCEEDED","message":"The maximum number of burst API invocations has been exceeded. The burst limit is 500."}`)
	})
	c := mustNew(t, f.testConfig(nil))
	_, err := c.ESignature().ResolveGroups(t.Context(), acctA, []Ref{RefByName("Sales")})
	require.True(t, IsRateLimited(err))
	require.ErrorIs(t, err, ErrBurstLimitExceeded)
	require.NotErrorIs(t, err, ErrUnknownGroup)
}

func TestResolveColdCacheFetchesOncePerAccount(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	groupsA := &switchable{replies: []string{`{"groups":[{"groupId":"1","groupName":"Sales"}]}`}}
	groupsB := &switchable{replies: []string{`{"groups":[{"groupId":"2","groupName":"Sales"}]}`}}
	f.handleESign(f.envAMux, "GET", esPath("/groups"), groupsA.handler)
	f.handleESign(f.envBMux, "GET", "/v2.1/accounts/"+acctB+"/groups", groupsB.handler)
	c := mustNew(t, f.testConfig(nil))
	var wg sync.WaitGroup
	ids := make(chan string, 20)
	for i := range 20 {
		acct := []string{acctA, acctB}[i%2]
		wg.Go(func() {
			got, err := c.ESignature().ResolveGroups(t.Context(), acct, []Ref{RefByName("Sales")})
			if err != nil {
				ids <- err.Error()
				return
			}
			ids <- acct + "=" + got[0].GroupID
		})
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		require.Contains(t, []string{acctA + "=1", acctB + "=2"}, id)
	}
	require.Equal(t, int32(1), groupsA.calls.Load())
	require.Equal(t, int32(1), groupsB.calls.Load())
}

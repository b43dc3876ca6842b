package jobs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// surfaceCase is one scenario of the conformance suite, run against both
// DocuSign surfaces.
type surfaceCase struct {
	name string
	opts envOptions
	run  func(t *testing.T, e *env)
}

// TestSurfaces is the conformance suite: every scenario runs against the
// Admin API and the eSignature Users API, each with its own simulator.
func TestSurfaces(t *testing.T) {
	t.Parallel()
	for _, surface := range []jobs.Surface{jobs.SurfaceAdmin, jobs.SurfaceESignature} {
		t.Run(string(surface), func(t *testing.T) {
			t.Parallel()
			for _, tc := range surfaceCases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newEnv(t, surface, tc.opts))
				})
			}
		})
	}
}

func surfaceCases() []surfaceCase {
	return []surfaceCase{
		{name: "joiner gets every membership across two environments", run: testJoiner},
		{name: "joiner call budget with warm caches", run: testJoinerBudget},
		{name: "create is idempotent", run: testCreateTwice},
		{name: "rehire reactivates, never a second user", run: testRehire},
		{name: "mover sends only what changed", run: testMover},
		{name: "email change through the email endpoint", run: testEmailChange},
		{name: "leaver closes, already closed is success", run: testClose},
		{name: "stale event is skipped", run: testStale},
		{name: "lease contention spends no retry", run: testLeaseTaken},
		{name: "cancelled event is skipped", run: testCancelled},
		{name: "unknown profile is permanent", run: testUnknownProfile},
		{name: "consent revoked pauses the queue", run: testConsentRevoked, opts: envOptions{noVerify: true,
			client: func(c *docusign.Config) {
				c.Scopes = append(strings.Fields(docusign.DefaultScopes), "user_data_redact")
			}}},
		{name: "DocuSign 429 comes back without spending a retry", run: testThrottled, opts: envOptions{noLimiter: true,
			window: time.Hour, sim: func(o *docusignsim.Options) { o.HourlyLimit = 6 }}},
		{name: "429 reaches the limiter, which then refuses locally", run: testLimiterRetry},
		{name: "failed audit publish is retried with the same outcome", run: testAuditRetry, opts: envOptions{flaky: 1}},
		{name: "concurrent joiners with one email make one user", run: testConcurrentSameEmail},
	}
}

func testJoiner(t *testing.T, e *env) {
	emp := employee("J1")
	p := e.create(emp, []jobs.Membership{
		{AccountID: acctNA2, PermissionProfile: "DocuSign Sender", Groups: []string{"Sales", "Engineering"}},
		{AccountID: acctEU, PermissionProfile: "DocuSign Viewer", Groups: []string{"Finance"}},
	})
	e.mustRun(jobs.TypeUserCreate, p, jobs.OutcomeCreated)
	require.Equal(t, 1, e.metrics.appliedCount("provision"), "time to provision observed")
	require.Zero(t, e.metrics.appliedCount("revoke"))
	joinerPrios := e.prios.take()
	require.NotEmpty(t, joinerPrios)
	for _, pr := range joinerPrios {
		require.Equal(t, ratelimit.Default, pr, "joiners take tokens at default priority")
	}

	u := e.user(emp.Email)
	require.Equal(t, emp.FirstName, u.FirstName)
	require.Equal(t, emp.LastName, u.LastName)
	require.Len(t, u.Memberships, 2)
	na2, eu := membership(t, u, acctNA2), membership(t, u, acctEU)
	require.Equal(t, docusignsim.StatusActive, na2.Status)
	require.Equal(t, docusignsim.StatusActive, eu.Status)
	require.Equal(t, "DocuSign Sender", na2.PermissionProfile.Name)
	require.Equal(t, "DocuSign Viewer", eu.PermissionProfile.Name)
	require.ElementsMatch(t, []string{"Everyone", "Sales", "Engineering"}, groupNames(na2))
	require.ElementsMatch(t, []string{"Everyone", "Finance"}, groupNames(eu))
	require.Equal(t, "Engineer", na2.JobTitle)
	require.Equal(t, "Engineer", eu.JobTitle)

	audits := e.audits()
	require.Len(t, audits, 1)
	a := audits[0]
	taskID := jobs.TaskID(p.EventSource, p.EventID, jobs.TypeUserCreate)
	require.Equal(t, "provisioning.created", a.Subject)
	require.Equal(t, taskID+".created", a.MsgID)
	require.Equal(t, a.MsgID, a.Event.ID)
	require.Equal(t, "1.0", a.Event.SpecVersion)
	require.Equal(t, "provisioning.created", a.Event.Type)
	require.Equal(t, emp.EmployeeID, a.Event.Subject)
	require.Equal(t, p.EventID, a.Event.Data.Event.ID)
	require.Equal(t, p.EventSource, a.Event.Data.Event.Source)
	require.Equal(t, e.surface, a.Event.Data.Surface)
	require.Nil(t, a.Event.Data.Before)
	require.Equal(t, u.ID, a.Event.Data.After.UserID)
	require.NotEmpty(t, a.Event.Data.TraceTokens)
	require.NotEmpty(t, a.Event.Data.Calls)
	require.ElementsMatch(t, []string{acctNA2, acctEU}, a.Event.Data.Accounts)
}

// testJoinerBudget checks the warm-cache call budget: with the token,
// userinfo and profile/group look-ups cached by an earlier joiner, a joiner
// costs the user look-up and the create.
func testJoinerBudget(t *testing.T, e *env) {
	e.mustRun(jobs.TypeUserCreate, e.create(employee("Warm"), bothAccounts()), jobs.OutcomeCreated)
	e.sim.ResetCounters()

	e.mustRun(jobs.TypeUserCreate, e.create(employee("J2"), bothAccounts()), jobs.OutcomeCreated)
	calls := e.apiCalls()
	switch e.surface {
	case jobs.SurfaceAdmin:
		require.Equal(t, []string{"OrganizationUser_OrganizationUsers_GetProfileV2", "OrganizationUser_Users_AddV2"}, operations(calls))
	case jobs.SurfaceESignature:
		perAccount := map[string][]string{}
		for _, c := range calls {
			perAccount[c.AccountID] = append(perAccount[c.AccountID], c.Operation)
		}
		require.Equal(t, map[string][]string{
			acctNA2: {"Users_GetUsers", "Users_PostUsers"},
			acctEU:  {"Users_GetUsers", "Users_PostUsers"},
		}, perAccount)
	}
}

func testCreateTwice(t *testing.T, e *env) {
	emp := employee("Twice")
	p := e.create(emp, bothAccounts())
	e.mustRun(jobs.TypeUserCreate, p, jobs.OutcomeCreated)
	e.sim.ResetCounters()
	e.mustRun(jobs.TypeUserCreate, p, jobs.OutcomeUnchanged)
	require.Empty(t, writes(e.apiCalls()), "a second run writes nothing")
	require.Equal(t, 1, e.usersWithEmail(emp.Email))
	require.Equal(t, []string{jobs.OutcomeCreated, jobs.OutcomeUnchanged}, e.auditOutcomes(jobs.TypeUserCreate, p))

	// A user created behind the worker's back (no identity map entry) is
	// found by email, case-insensitively, and converged, not duplicated.
	emp2 := employee("Elsewhere")
	e.mustRun(jobs.TypeUserCreate, e.create(emp2, bothAccounts()[:1]), jobs.OutcomeCreated)
	emp2.EmployeeID = "Elsewhere-new-hr-id"
	emp2.Email = strings.ToUpper(emp2.Email)
	e.mustRun(jobs.TypeUserCreate, e.create(emp2, bothAccounts()), jobs.OutcomeUpdated)
	require.Equal(t, 1, e.usersWithEmail(emp2.Email))
	require.Len(t, e.user(emp2.Email).Memberships, 2, "the missing membership was added")
}

func testRehire(t *testing.T, e *env) {
	emp := employee("Rehire")
	e.mustRun(jobs.TypeUserCreate, e.create(emp, bothAccounts()), jobs.OutcomeCreated)
	id := e.user(emp.Email).ID
	e.mustRun(jobs.TypeUserClose, e.leave(emp, nil), jobs.OutcomeClosed)
	require.Equal(t, 1, e.metrics.appliedCount("revoke"), "time to revoke observed")
	for _, m := range e.user(emp.Email).Memberships {
		require.Equal(t, docusignsim.StatusClosed, m.Status)
	}

	e.mustRun(jobs.TypeUserCreate, e.create(emp, bothAccounts()), jobs.OutcomeReactivated)
	u := e.user(emp.Email)
	require.Equal(t, id, u.ID)
	require.Equal(t, 1, e.usersWithEmail(emp.Email))
	for _, m := range u.Memberships {
		require.Equal(t, docusignsim.StatusActive, m.Status)
	}

	// Rehired under a new HR id: relinked by email, never duplicated.
	e.mustRun(jobs.TypeUserClose, e.leave(emp, nil), jobs.OutcomeClosed)
	emp.EmployeeID = "Rehire-2"
	e.mustRun(jobs.TypeMembershipSet, e.update(emp, bothAccounts()), jobs.OutcomeReactivated)
	require.Equal(t, id, e.user(emp.Email).ID)
	require.Equal(t, 1, e.usersWithEmail(emp.Email))
}

func testMover(t *testing.T, e *env) {
	emp := employee("Mover")
	e.mustRun(jobs.TypeUserCreate, e.create(emp, bothAccounts()), jobs.OutcomeCreated)

	// Unchanged record (a re-published event): no write call at all.
	e.sim.ResetCounters()
	e.mustRun(jobs.TypeMembershipSet, e.update(emp, bothAccounts()), jobs.OutcomeUnchanged)
	require.Empty(t, writes(e.apiCalls()))

	// Change the profile and groups in one account only.
	moved := bothAccounts()
	moved[0].PermissionProfile = "DocuSign Viewer"
	moved[0].Groups = []string{"Engineering"}
	e.sim.ResetCounters()
	e.mustRun(jobs.TypeMembershipSet, e.update(emp, moved), jobs.OutcomeUpdated)
	w := writes(e.apiCalls())
	switch e.surface {
	case jobs.SurfaceAdmin:
		require.Equal(t, []string{"User_Users_UpdateV2"}, w)
	case jobs.SurfaceESignature:
		require.Equal(t, []string{"User_PutUser", "Groups_PutGroupUsers", "Groups_DeleteGroupUsers"}, w)
		for _, c := range e.apiCalls() {
			if c.Method != "GET" {
				require.Equal(t, acctNA2, c.AccountID, "nothing is written to the unchanged account")
			}
		}
	}
	u := e.user(emp.Email)
	na2, eu := membership(t, u, acctNA2), membership(t, u, acctEU)
	require.Equal(t, "DocuSign Viewer", na2.PermissionProfile.Name)
	require.ElementsMatch(t, []string{"Everyone", "Engineering"}, groupNames(na2))
	require.Equal(t, "DocuSign Sender", eu.PermissionProfile.Name)
	require.ElementsMatch(t, []string{"Everyone", "Sales"}, groupNames(eu))

	// New title and names: user-level names once, title in both accounts.
	emp.JobTitle = "Staff Engineer"
	emp.LastName = "Renamed"
	moved[1].Groups = nil // no group other than Everyone
	e.mustRun(jobs.TypeMembershipSet, e.update(emp, moved), jobs.OutcomeUpdated)
	u = e.user(emp.Email)
	require.Equal(t, "Renamed", u.LastName)
	require.Equal(t, "Staff Engineer", membership(t, u, acctNA2).JobTitle)
	require.Equal(t, "Staff Engineer", membership(t, u, acctEU).JobTitle)
	require.Equal(t, []string{"Everyone"}, groupNames(membership(t, u, acctEU)))

	// And the converged state is stable.
	e.sim.ResetCounters()
	e.mustRun(jobs.TypeMembershipSet, e.update(emp, moved), jobs.OutcomeUnchanged)
	require.Empty(t, writes(e.apiCalls()))

	// A mover that arrives before its joiner creates the user.
	early := employee("Early")
	e.mustRun(jobs.TypeMembershipSet, e.update(early, bothAccounts()), jobs.OutcomeCreated)
	require.Len(t, e.user(early.Email).Memberships, 2)
}

func testEmailChange(t *testing.T, e *env) {
	emp := employee("Mail")
	e.mustRun(jobs.TypeUserCreate, e.create(emp, bothAccounts()), jobs.OutcomeCreated)
	id := e.user(emp.Email).ID
	old := emp.Email

	emp.Email = "mail.renamed@example.com"
	e.sim.ResetCounters()
	e.mustRun(jobs.TypeMembershipSet, e.update(emp, bothAccounts()), jobs.OutcomeUpdated)
	w := writes(e.apiCalls())
	switch e.surface {
	case jobs.SurfaceAdmin:
		require.Equal(t, []string{"User_Users_UpdateEmailAddressesV2"}, w)
	case jobs.SurfaceESignature:
		require.Equal(t, []string{"User_PutUser"}, w, "one update carries the user-level email")
	}
	require.Equal(t, id, e.user(emp.Email).ID, "same user, new email")
	_, stillThere := e.sim.User(old)
	require.False(t, stillThere)
	require.Equal(t, 1, len(e.sim.Dump().Users)-1, "no second user (besides the admin)")

	// The identity map now knows the new email: nothing more to do.
	e.sim.ResetCounters()
	e.mustRun(jobs.TypeMembershipSet, e.update(emp, bothAccounts()), jobs.OutcomeUnchanged)
	require.Empty(t, writes(e.apiCalls()))
}

func testClose(t *testing.T, e *env) {
	emp := employee("Leaver")
	e.mustRun(jobs.TypeUserCreate, e.create(emp, bothAccounts()), jobs.OutcomeCreated)

	// Named account only.
	e.mustRun(jobs.TypeUserClose, e.leave(emp, []jobs.Membership{{AccountID: acctEU}}), jobs.OutcomeClosed)
	u := e.user(emp.Email)
	require.Equal(t, docusignsim.StatusActive, membership(t, u, acctNA2).Status)
	require.Equal(t, docusignsim.StatusClosed, membership(t, u, acctEU).Status)

	// All managed accounts; leavers take tokens at critical priority.
	p := e.leave(emp, nil)
	e.prios.take()
	e.mustRun(jobs.TypeUserClose, p, jobs.OutcomeClosed)
	prios := e.prios.take()
	require.NotEmpty(t, prios)
	for _, pr := range prios {
		require.Equal(t, ratelimit.Critical, pr)
	}
	require.Equal(t, docusignsim.StatusClosed, membership(t, e.user(emp.Email), acctNA2).Status)
	require.Equal(t, []string{jobs.OutcomeClosed}, e.auditOutcomes(jobs.TypeUserClose, p))

	// Already closed: success, nothing written.
	e.sim.ResetCounters()
	e.mustRun(jobs.TypeUserClose, e.leave(emp, nil), jobs.OutcomeUnchanged)
	require.Empty(t, writes(e.apiCalls()))

	// Unknown employee: success without a DocuSign call.
	e.sim.ResetCounters()
	e.mustRun(jobs.TypeUserClose, e.leave(employee("Nobody"), nil), jobs.OutcomeUnchanged)
	require.Empty(t, e.apiCalls())
}

func testStale(t *testing.T, e *env) {
	emp := employee("Stale")
	older := e.update(emp, bothAccounts())
	older.Accounts[0].PermissionProfile = "DocuSign Viewer"
	newer := e.create(emp, bothAccounts())
	e.mustRun(jobs.TypeUserCreate, newer, jobs.OutcomeCreated)

	e.sim.ResetCounters()
	got, err := e.run(jobs.TypeMembershipSet, older)
	require.NoError(t, err)
	require.Equal(t, jobs.OutcomeStale, got)
	require.Empty(t, e.apiCalls(), "a stale event makes no DocuSign call")
	require.Equal(t, "DocuSign Sender", membership(t, e.user(emp.Email), acctNA2).PermissionProfile.Name)
	require.Equal(t, 1, e.metrics.stale)
	stale := e.audits()[len(e.audits())-1]
	require.Equal(t, "provisioning.stale", stale.Subject)
	require.Equal(t, newer.EventID, stale.Event.Data.Watermark.ID)

	// An event with the same effective time is ordered by HR's recording
	// time, then source and id: a later id wins, an earlier one is stale.
	tieLater := newer
	tieLater.EventID = newer.EventID + "-b"
	tieLater.EventType = "hr.employee.updated"
	e.mustRun(jobs.TypeMembershipSet, tieLater, jobs.OutcomeUnchanged)
	tieEarlier := newer
	tieEarlier.EventID = newer.EventID + "-a"
	e.mustRun(jobs.TypeMembershipSet, tieEarlier, jobs.OutcomeStale)

	// Effective time beats event time: an old event effective later applies.
	late := e.update(emp, bothAccounts())
	late.EventTime = e.base
	late.EffectiveAt = e.base.Add(1000 * time.Hour)
	late.Accounts[1].PermissionProfile = "DocuSign Viewer"
	e.mustRun(jobs.TypeMembershipSet, late, jobs.OutcomeUpdated)
	require.Equal(t, "DocuSign Viewer", membership(t, e.user(emp.Email), acctEU).PermissionProfile.Name)
}

func testLeaseTaken(t *testing.T, e *env) {
	emp := employee("Busy")
	p := e.create(emp, bothAccounts())
	key := e.prefix + "{emp:" + emp.EmployeeID + "}:lease"
	require.NoError(t, e.rdb.Set(t.Context(), key, "another-job", time.Minute).Err())

	got, err := e.run(jobs.TypeUserCreate, p)
	var lt *jobs.LeaseTakenError
	require.ErrorAs(t, err, &lt)
	require.Equal(t, emp.EmployeeID, lt.EmployeeID)
	require.Equal(t, jobs.DefaultLeaseRetryIn, lt.RetryIn)
	require.Equal(t, "lease_taken", got)
	require.False(t, jobs.IsFailure(err), "lease contention spends no retry")
	require.Equal(t, jobs.DefaultLeaseRetryIn, jobs.RetryDelayFunc(3, err, nil))
	require.Empty(t, e.apiCalls())
	_, exists := e.sim.User(emp.Email)
	require.False(t, exists)

	// Another employee is not blocked.
	e.mustRun(jobs.TypeUserCreate, e.create(employee("Free"), bothAccounts()), jobs.OutcomeCreated)

	// Once the other job is done, the task goes through and frees the lease.
	require.NoError(t, e.rdb.Del(t.Context(), key).Err())
	e.mustRun(jobs.TypeUserCreate, p, jobs.OutcomeCreated)
	n, err := e.rdb.Exists(t.Context(), key).Result()
	require.NoError(t, err)
	require.Zero(t, n, "the lease is released")
}

func testCancelled(t *testing.T, e *env) {
	emp := employee("Cancelled")
	p := e.create(emp, bothAccounts())
	ts := jobs.NewTombstones(e.rdb, e.prefix+"tomb:")
	require.NoError(t, ts.Put(t.Context(), p.EventSource, p.EventID, time.Hour))

	e2 := newEnvSameWorld(t, e, func(c *jobs.Config) { c.Tombstones = ts })
	e2.mustRun(jobs.TypeUserCreate, p, jobs.OutcomeCancelled)
	require.Empty(t, e.apiCalls())
	_, exists := e.sim.User(emp.Email)
	require.False(t, exists)
	require.Equal(t, []string{jobs.OutcomeCancelled}, e2.auditOutcomes(jobs.TypeUserCreate, p))
}

func testUnknownProfile(t *testing.T, e *env) {
	emp := employee("Unknown")
	accounts := bothAccounts()
	accounts[1].PermissionProfile = "No Such Profile"
	p := e.create(emp, accounts)
	got, err := e.run(jobs.TypeUserCreate, p)
	require.ErrorIs(t, err, asynq.SkipRetry)
	require.ErrorIs(t, err, docusign.ErrUnknownPermissionProfile)
	require.Equal(t, jobs.ReasonUnknownPermissionProfile, jobs.ReasonOf(err))
	require.Equal(t, jobs.OutcomeFailed, got)
	require.Empty(t, writes(e.apiCalls()))
	require.Equal(t, []string{jobs.OutcomeFailed}, e.auditOutcomes(jobs.TypeUserCreate, p))
	failed := e.audits()[0].Event.Data
	require.Equal(t, jobs.ReasonUnknownPermissionProfile, failed.Reason)
	require.Contains(t, failed.Error, "No Such Profile")

	groups := bothAccounts()
	groups[0].Groups = []string{"Sales", "Nope"}
	_, err = e.run(jobs.TypeUserCreate, e.create(emp, groups))
	require.Equal(t, jobs.ReasonUnknownGroup, jobs.ReasonOf(err))
}

func testConsentRevoked(t *testing.T, e *env) {
	p := e.create(employee("Consent"), bothAccounts())
	got, err := e.run(jobs.TypeUserCreate, p)
	var paused *jobs.IntegrationPausedError
	require.ErrorAs(t, err, &paused)
	require.ErrorIs(t, err, docusign.ErrConsentRequired)
	require.NotErrorIs(t, err, asynq.SkipRetry, "not archived")
	require.False(t, jobs.IsFailure(err), "no retry spent")
	require.Equal(t, jobs.QueueDefault, paused.Queue)
	require.Equal(t, jobs.DefaultPausedRetryIn, jobs.RetryDelayFunc(0, err, nil))
	require.Equal(t, "integration_paused", got)
	require.Equal(t, []string{jobs.QueueDefault}, e.pauser.paused())
	require.Equal(t, []string{jobs.QueueDefault}, e.metrics.paused)

	// A leaver pauses its own queue.
	_, err = e.run(jobs.TypeUserClose, e.event("hr.employee.left", employee("Consent"), nil))
	require.ErrorAs(t, err, &paused)
	require.Equal(t, []string{jobs.QueueDefault, jobs.QueueCritical}, e.pauser.paused())
	require.Empty(t, e.audits(), "nothing happened: nothing is audited")
}

func testThrottled(t *testing.T, e *env) {
	// The hourly limit of 6 calls runs out during the third joiner at the
	// latest (Verify and the first look-ups spent part of it).
	var err error
	var got string
	for i := range 6 {
		got, err = e.run(jobs.TypeUserCreate, e.create(employee("T"+string(rune('A'+i))), bothAccounts()))
		if err != nil {
			break
		}
	}
	var rl *jobs.RateLimitedError
	require.ErrorAs(t, err, &rl)
	require.True(t, docusign.IsRateLimited(err), "DocuSign's 429 is the cause")
	require.Positive(t, rl.RetryIn)
	require.LessOrEqual(t, rl.RetryIn, time.Hour, "back at the window's reset")
	require.False(t, jobs.IsFailure(err))
	require.Equal(t, rl.RetryIn, jobs.RetryDelayFunc(5, err, nil))
	require.Equal(t, "rate_limited", got)
	require.Positive(t, e.sim.Dump().TooManyRequests)
}

// testLimiterRetry: another application spends the account's budget; the
// first call gets DocuSign's 429, which the hook reports to the limiter,
// so the next task is refused locally, without a DocuSign call.
func testLimiterRetry(t *testing.T, e *env) {
	windowStart := func() time.Time {
		for _, b := range e.sim.Dump().Budgets {
			if b.AccountID == acctNA2 {
				return b.Current.Start
			}
		}
		return time.Time{}
	}
	for attempt := 0; ; attempt++ {
		start := windowStart()
		_, err := e.sim.SpendForeign(acctNA2, 3000)
		require.NoError(t, err)
		_, err = e.run(jobs.TypeUserCreate, e.create(employee("L1"), bothAccounts()))
		var rl *jobs.RateLimitedError
		require.ErrorAs(t, err, &rl)
		require.True(t, docusign.IsRateLimited(err), "DocuSign's 429 first: %v", err)
		before := len(e.apiCalls())

		_, err = e.run(jobs.TypeUserCreate, e.create(employee("L2"), bothAccounts()))
		if !windowStart().Equal(start) && attempt < 3 {
			continue // the window rolled over meanwhile: budgets were reset
		}
		require.ErrorAs(t, err, &rl)
		require.False(t, jobs.IsFailure(err))
		require.False(t, docusign.IsRateLimited(err), "refused by the limiter, not by DocuSign: %v", err)
		require.Positive(t, rl.RetryIn)
		require.LessOrEqual(t, rl.RetryIn, 10*time.Second, "until the window's reset")
		require.Equal(t, before, len(e.apiCalls()), "no DocuSign call while the budget is spent")
		return
	}
}

func testAuditRetry(t *testing.T, e *env) {
	emp := employee("Audit")
	p := e.create(emp, bothAccounts())
	got, err := e.run(jobs.TypeUserCreate, p)
	require.Error(t, err)
	require.True(t, jobs.IsFailure(err), "a failed publish fails the task")
	require.Equal(t, "retry", got)
	require.Empty(t, e.audits())
	_, exists := e.sim.User(emp.Email)
	require.True(t, exists, "the user was created before the publish failed")

	// The retry publishes the recorded outcome, not "unchanged", and makes
	// no DocuSign call.
	e.sim.ResetCounters()
	e.mustRun(jobs.TypeUserCreate, p, jobs.OutcomeCreated)
	require.Empty(t, e.apiCalls())
	// Running the task again converges and audits its own outcome once.
	e.mustRun(jobs.TypeUserCreate, p, jobs.OutcomeUnchanged)
	e.mustRun(jobs.TypeUserCreate, p, jobs.OutcomeUnchanged)
	require.Equal(t, []string{jobs.OutcomeCreated, jobs.OutcomeUnchanged}, e.auditOutcomes(jobs.TypeUserCreate, p),
		"Nats-Msg-Id deduplicates the repeated outcome")
	msgs := e.audits()
	require.Equal(t, jobs.AuditMsgID(jobs.TaskID(p.EventSource, p.EventID, jobs.TypeUserCreate), jobs.OutcomeUnchanged), msgs[1].MsgID)
	require.NotEmpty(t, msgs[0].Event.Data.Calls, "the recorded outcome keeps the calls of the attempt that made them")
}

// barrierDir holds the first look-ups of n tasks until all n have looked up,
// so that they all see "no such user" and race to create it.
type barrierDir struct {
	jobs.Directory
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func (d *barrierDir) Lookup(ctx context.Context, q jobs.Lookup, accounts []string) (*jobs.LiveUser, error) {
	live, err := d.Directory.Lookup(ctx, q, accounts)
	d.mu.Lock()
	d.waiting--
	n := d.waiting
	d.mu.Unlock()
	switch {
	case n == 0:
		close(d.release)
	case n > 0:
		select {
		case <-d.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return live, err
}

func testConcurrentSameEmail(t *testing.T, e *env) {
	bd := &barrierDir{waiting: 2, release: make(chan struct{})}
	e2 := newEnvSameWorld(t, e, func(c *jobs.Config) {
		bd.Directory = c.Directory
		c.Directory = bd
	})
	a, b := employee("Twin"), employee("Twin")
	b.EmployeeID = "Twin-other-hr-record"
	pa, pb := e2.create(a, bothAccounts()), e2.create(b, bothAccounts())
	errs := make(chan error, 2)
	for _, p := range []jobs.Payload{pa, pb} {
		go func() { errs <- e2.mux.ProcessTask(t.Context(), e2.task(jobs.TypeUserCreate, p)) }()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	require.Equal(t, 1, e.usersWithEmail(a.Email), "the loser of the race looked the user up and converged")
	u := e.user(a.Email)
	require.Len(t, u.Memberships, 2)
	outcomes := append(e2.auditOutcomes(jobs.TypeUserCreate, pa), e2.auditOutcomes(jobs.TypeUserCreate, pb)...)
	require.Contains(t, outcomes, jobs.OutcomeCreated)
	require.Len(t, outcomes, 2)
}

// newEnvSameWorld returns handlers over the same simulator, Redis prefix and
// NATS as e, with a changed handler config.
func newEnvSameWorld(t *testing.T, e *env, mutate func(*jobs.Config)) *env {
	t.Helper()
	dir, err := jobs.NewDirectory(e.surface, e.client, jobs.AdminOptions{})
	require.NoError(t, err)
	cfg := jobs.Config{Directory: dir, Accounts: []string{acctNA2, acctEU}, Redis: e.rdb, KeyPrefix: e.prefix, Audit: e.js,
		Queues: e.pauser, Metrics: e.metrics, Tombstones: jobs.NewTombstones(e.rdb, e.prefix+"tomb:"),
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)}
	mutate(&cfg)
	h, err := jobs.NewHandlers(cfg)
	require.NoError(t, err)
	mux := asynq.NewServeMux()
	h.Register(mux)
	cp := *e
	cp.h, cp.mux = h, mux
	return &cp
}

func TestNewHandlersValidates(t *testing.T) {
	t.Parallel()
	_, err := jobs.NewHandlers(jobs.Config{KeyPrefix: "a{b}", LeaseTTL: time.Millisecond, Accounts: []string{""}})
	require.Error(t, err)
	for _, want := range []string{"Directory", "Redis", "Audit", "braces", "LeaseTTL", "Accounts[0]"} {
		require.ErrorContains(t, err, want)
	}
	_, err = jobs.ParseSurface("soap")
	require.Error(t, err)
	s, err := jobs.ParseSurface(" ESignature ")
	require.NoError(t, err)
	require.Equal(t, jobs.SurfaceESignature, s)
}

func TestInvalidPayloadIsPermanent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobs.SurfaceAdmin, envOptions{})
	got := e.mux.ProcessTask(t.Context(), asynq.NewTask(jobs.TypeUserCreate, []byte(`{"employee":{}}`)))
	require.ErrorIs(t, got, asynq.SkipRetry)
	require.Equal(t, jobs.ReasonInvalidPayload, jobs.ReasonOf(got))
	require.True(t, slices.Equal([]string{jobs.OutcomeFailed}, e.metrics.results))
	require.Empty(t, e.apiCalls())
	require.False(t, errors.Is(got, docusign.ErrUnknownGroup))

	p := jobs.Payload{EventSource: "hris-test", EventID: "evt-x", EventTime: time.Now(), Employee: employee("X"),
		Accounts: []jobs.Membership{{AccountID: "11111111-0000-0000-0000-000000000000", PermissionProfile: "DocuSign Sender"}}}
	got = e.mux.ProcessTask(t.Context(), e.task(jobs.TypeUserCreate, p))
	require.Equal(t, "unmanaged_account", jobs.ReasonOf(got))
	require.Empty(t, e.apiCalls())
}

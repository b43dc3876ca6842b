package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
)

// Profiles and groups of the demo seed, the same names in both accounts.
const (
	profSender = "DocuSign Sender"
	profViewer = "DocuSign Viewer"
)

// accountAlias names a demo account as the expected-directory fixture does (na2, eu); other accounts keep their id.
func accountAlias(id string) string {
	switch id {
	case acctNA2:
		return "na2"
	case acctEU:
		return "eu"
	}
	return id
}

// expectedMembership is one account's entry of the expected directory; profile and groups are compared for active
// memberships only.
type expectedMembership struct {
	Status  string   `json:"status"`
	Profile string   `json:"profile,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

// expectedUser is one employee of the expected directory: the name and the memberships by account alias.
type expectedUser struct {
	Name     string                        `json:"name"`
	Accounts map[string]expectedMembership `json:"accounts"`
}

// membership is one data.accounts[] entry of an event.
type membership struct {
	account string
	profile string
	groups  []string
}

// employee is the full HR record an event carries.
type employee struct {
	n      int
	first  string
	last   string
	email  string
	access []membership
}

// baseEmployee is employee n as it joins: odd numbers get both accounts, multiples of 4 only na2, the rest only eu.
func baseEmployee(n int) employee {
	e := employee{n: n, first: fmt.Sprintf("First%02d", n), last: fmt.Sprintf("Last%02d", n),
		email: fmt.Sprintf("e%02d@example.com", n)}
	switch {
	case n%2 == 1:
		e.access = []membership{{acctNA2, profSender, []string{"Sales"}}, {acctEU, profViewer, []string{"Engineering"}}}
	case n%4 == 0:
		e.access = []membership{{acctNA2, profViewer, []string{"Finance"}}}
	default:
		e.access = []membership{{acctEU, profSender, []string{"Sales", "Finance"}}}
	}
	return e
}

// scenario builds the events of one end-to-end run; event ids are unique within the run, the source is the test's.
type scenario struct {
	source string
	t0     time.Time // the effective time of the joiners; later events are later
}

func (s scenario) employeeID(n int) string { return fmt.Sprintf("E%02d", n) }

func (s scenario) event(id, typ string, n int, at time.Time, data map[string]any) map[string]any {
	data["employee_id"] = s.employeeID(n)
	return map[string]any{"specversion": "1.0", "id": id, "source": s.source, "type": typ,
		"subject": s.employeeID(n), "time": at.UTC().Format(time.RFC3339Nano), "data": data}
}

// record is a joined or updated event carrying the employee's full record.
func (s scenario) record(id, typ string, e employee, at time.Time) map[string]any {
	var accounts []any
	for _, m := range e.access {
		accounts = append(accounts, map[string]any{"account_id": m.account, "permission_profile": m.profile, "groups": m.groups})
	}
	return s.event(id, typ, e.n, at, map[string]any{"email": e.email, "first_name": e.first, "last_name": e.last,
		"job_title": "Engineer", "accounts": accounts})
}

func (s scenario) joined(id string, e employee, at time.Time) map[string]any {
	return s.record(id, events.TypeJoined, e, at)
}

func (s scenario) updated(id string, e employee, at time.Time) map[string]any {
	return s.record(id, events.TypeUpdated, e, at)
}

func (s scenario) left(id string, n int, at time.Time) map[string]any {
	return s.event(id, events.TypeLeft, n, at, map[string]any{})
}

// subjectOf is the NATS subject of an event: hr.employee.<action>.
func subjectOf(event map[string]any) string {
	return "hr.employee." + strings.TrimPrefix(event["type"].(string), "hr.employee.")
}

// loadExpected reads a hand-written expected directory.
func loadExpected(tb testing.TB, path string) map[string]expectedUser {
	tb.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(tb, err)
	var want map[string]expectedUser
	require.NoError(tb, json.Unmarshal(raw, &want))
	return want
}

// directory is the simulator's directory in the fixture's shape (the seed's admin left out); it fails on two users
// with one email.
func directory(tb testing.TB, sim *docusignsim.Server) map[string]expectedUser {
	tb.Helper()
	got := map[string]expectedUser{}
	for _, u := range sim.Dump().Users {
		if u.ID == docusignsim.DemoAdminUserID {
			continue
		}
		email := strings.ToLower(u.Email)
		_, dup := got[email]
		require.False(tb, dup, "two users with the email %s", email)
		eu := expectedUser{Name: u.FirstName + " " + u.LastName, Accounts: map[string]expectedMembership{}}
		for _, m := range u.Memberships {
			alias := accountAlias(m.AccountID)
			em := expectedMembership{Status: m.Status}
			if m.Status != "closed" {
				em.Profile = m.PermissionProfile.Name
				for _, g := range m.Groups {
					if g.Name != "Everyone" {
						em.Groups = append(em.Groups, g.Name)
					}
				}
				slices.Sort(em.Groups)
			}
			eu.Accounts[alias] = em
		}
		got[email] = eu
	}
	return got
}

// terminalOutcomes counts the task runs of the queue that ended (every outcome, and archived failures).
func terminalOutcomes(t *testing.T, r *workerRun, queue string) int {
	t.Helper()
	n := 0.0
	for _, o := range []string{jobs.OutcomeCreated, jobs.OutcomeReactivated, jobs.OutcomeUpdated, jobs.OutcomeClosed,
		jobs.OutcomeUnchanged, jobs.OutcomeStale, jobs.OutcomeCancelled, jobs.OutcomeFailed} {
		n += r.metric(t, "docusign_worker_jobs_total", map[string]string{"queue": queue, "result": o})
	}
	return int(n)
}

// waitOutcomes waits until the queue's finished task runs reach want.
func waitOutcomes(t *testing.T, r *workerRun, queue string, want int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%d task runs have finished", want), func() bool {
		return terminalOutcomes(t, r, queue) >= want
	})
	require.Equal(t, want, terminalOutcomes(t, r, queue), "no task ran more often than its events ask")
}

// callCounts splits the simulator's call log since the last ResetCounters: token, userinfo, profile and group
// look-ups, and the rest (reads and writes of users) — total and per budget account; writes counts non-GET calls.
type callCounts struct {
	token, userinfo, lookups, rest, writes int
	restByAccount                          map[string]int
	ops                                    []string
}

func countCalls(sim *docusignsim.Server) callCounts {
	c := callCounts{restByAccount: map[string]int{}}
	for _, rec := range sim.Dump().Calls {
		c.ops = append(c.ops, rec.Method+" "+rec.Operation)
		switch {
		case rec.Operation == "OAuth_PostToken":
			c.token++
		case rec.Operation == "OAuth_GetUserInfo":
			c.userinfo++
		case rec.Method == "GET" && (strings.Contains(rec.Operation, "PermissionProfile") || rec.Operation == "Groups_GetGroups"):
			c.lookups++
		default:
			c.rest++
			c.restByAccount[rec.AccountID]++
			if rec.Method != "GET" {
				c.writes++
			}
		}
	}
	return c
}

// deadLetters reads the intake dead letters of the worker's stream: original Nats-Msg-Id → reason.
func deadLetters(t *testing.T, natsURL string) map[string]string {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(t.Context(), events.DefaultDeadLetterStream)
	require.NoError(t, err)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	out := map[string]string{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := stream.GetMsg(t.Context(), seq)
		if err != nil {
			continue
		}
		out[msg.Header.Get(events.HeaderOriginalMsgID)] = msg.Header.Get(events.HeaderReason)
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for _, surface := range []jobs.Surface{jobs.SurfaceAdmin, jobs.SurfaceESignature} {
		t.Run(string(surface), func(t *testing.T) {
			t.Parallel()
			testEndToEnd(t, surface)
		})
	}
}

func testEndToEnd(t *testing.T, surface jobs.Surface) {
	f := newFixture(t)
	r := f.start(t, map[string]string{"WORKER_DOCUSIGN_SURFACE": string(surface), "WORKER_DELAYED_TASK_CHECK_INTERVAL": "200ms"})
	s := scenario{source: f.source, t0: time.Now().Add(-time.Hour)}
	at := func(step int) time.Time { return s.t0.Add(time.Duration(step) * time.Minute) }
	pub := func(ev map[string]any) { r.publish(t, subjectOf(ev), ev) }
	want := loadExpected(t, "testdata/e2e-expected-directory.json")
	runs := 0

	// Warm the caches (token, userinfo, profiles and groups of both accounts) with one joiner.
	pub(s.joined("j01", baseEmployee(1), at(0)))
	runs++
	waitOutcomes(t, r, f.queue, runs, 30*time.Second)
	f.sim.ResetCounters()

	// A joiner with warm caches: ≤ 2 calls on the Admin API, ≤ 2 per target account on eSignature.
	pub(s.joined("j03", baseEmployee(3), at(0)))
	runs++
	waitOutcomes(t, r, f.queue, runs, 30*time.Second)
	c := countCalls(f.sim)
	t.Logf("%s joiner, warm caches: token %d, userinfo %d, look-ups %d, user calls %d %v", surface, c.token, c.userinfo,
		c.lookups, c.rest, c.ops)
	require.Zero(t, c.token+c.userinfo, "token and userinfo are cached: %v", c.ops)
	require.Zero(t, c.lookups, "profile and group look-ups are cached: %v", c.ops)
	if surface == jobs.SurfaceAdmin {
		require.LessOrEqual(t, c.rest, 2, "a joiner costs ≤ 2 Admin API calls: %v", c.ops)
	} else {
		require.Len(t, c.restByAccount, 2, "both target accounts are called: %v", c.ops)
		for acct, n := range c.restByAccount {
			require.LessOrEqual(t, n, 2, "a joiner costs ≤ 2 eSignature calls in account %s: %v", acct, c.ops)
		}
	}

	// A duplicate (same source and id, a new NATS message id so the stream's own dedup does not hide it) costs 0.
	f.sim.ResetCounters()
	body, err := json.Marshal(s.joined("j03", baseEmployee(3), at(0)))
	require.NoError(t, err)
	r.publishRaw(t, "hr.employee.joined", body, "j03-redelivered")
	waitFor(t, 10*time.Second, "the duplicate is recognised", func() bool {
		return r.metric(t, "docusign_worker_events_duplicates_total", nil) == 1
	})
	require.Empty(t, countCalls(f.sim).ops, "a duplicate costs no DocuSign call")

	// An unchanged mover reads, never writes.
	pub(s.updated("u03", baseEmployee(3), at(1)))
	runs++
	waitOutcomes(t, r, f.queue, runs, 30*time.Second)
	c = countCalls(f.sim)
	require.Zero(t, c.writes, "an unchanged mover sends no write: %v", c.ops)
	require.Equal(t, 1.0, r.metric(t, "docusign_worker_jobs_total", map[string]string{"queue": f.queue, "result": jobs.OutcomeUnchanged}))

	// The bulk: every other joiner, E35's mover before its joiner, and malformed events among them.
	mover35 := baseEmployee(35)
	mover35.access = []membership{{acctNA2, profSender, []string{"Finance"}}, {acctEU, profViewer, []string{"Sales"}}}
	pub(s.updated("u35", mover35, at(2)))
	runs++
	badJoined := func(mutate func(ev map[string]any)) []byte {
		ev := s.joined("bad", baseEmployee(99), at(0))
		mutate(ev)
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		return b
	}
	malformed := []struct {
		msgID, subject, reason string
		body                   []byte
	}{
		{"bad-json", "hr.employee.joined", string(events.ReasonBadJSON), []byte(`{"specversion": "1.0", "id": `)},
		{"bad-missing-email", "hr.employee.joined", string(events.ReasonMissingField), badJoined(func(ev map[string]any) {
			ev["id"] = "bad-missing-email"
			delete(ev["data"].(map[string]any), "email")
		})},
		{"bad-unknown-type", "hr.employee.promoted", string(events.ReasonUnknownType), badJoined(func(ev map[string]any) {
			ev["id"], ev["type"] = "bad-unknown-type", "hr.employee.promoted"
		})},
		{"bad-wrong-type", "hr.employee.joined", string(events.ReasonSchema), badJoined(func(ev map[string]any) {
			ev["id"] = "bad-wrong-type"
			ev["data"].(map[string]any)["first_name"] = 42
		})},
		{"bad-oversized", "hr.employee.joined", string(events.ReasonOversized), badJoined(func(ev map[string]any) {
			ev["id"] = "bad-oversized"
			ev["data"].(map[string]any)["job_title"] = strings.Repeat("x", events.DefaultMaxEventBytes)
		})},
	}
	for n := 2; n <= 50; n++ {
		if n == 3 {
			continue
		}
		pub(s.joined(fmt.Sprintf("j%02d", n), baseEmployee(n), at(0)))
		runs++
		if n%10 == 0 {
			m := malformed[n/10-1]
			r.publishRaw(t, m.subject, m.body, m.msgID)
		}
	}
	waitOutcomes(t, r, f.queue, runs, 90*time.Second)

	// Malformed events are dead-lettered with their reason; the good ones around them were processed.
	waitFor(t, 10*time.Second, "the malformed events are dead-lettered", func() bool {
		return len(deadLetters(t, r.natsURL)) == len(malformed)
	})
	dl := deadLetters(t, r.natsURL)
	for _, m := range malformed {
		require.Equal(t, m.reason, dl[m.msgID], "dead letter of %s", m.msgID)
	}

	// Changes: movers, leavers, a newer update, a re-published joiner, a rehire's leave, an email change, and a
	// future-dated leaver that is cancelled before it is due.
	e10 := baseEmployee(10)
	e10.access = []membership{{acctNA2, profSender, []string{"Sales"}}, {acctEU, profViewer, []string{"Finance"}}}
	e11 := baseEmployee(11)
	e11.last = "Moved11"
	e11.access = []membership{{acctNA2, profViewer, []string{"Engineering"}}, {acctEU, profSender, []string{"Sales"}}}
	e12 := baseEmployee(12)
	e12.access = []membership{{acctNA2, profViewer, []string{"Engineering"}}}
	e13 := baseEmployee(13)
	e13.first = "Renamed13"
	e30 := baseEmployee(30)
	e30.access = []membership{{acctEU, profViewer, []string{"Engineering"}}}
	e34 := baseEmployee(34)
	e34.email = "e34.new@example.com"
	u33, ok := f.sim.User("e33@example.com")
	require.True(t, ok)
	userID33 := u33.ID
	due := time.Now().Add(4 * time.Second)
	future := s.left("l32", 32, at(3))
	future["data"].(map[string]any)["effective_at"] = due.UTC().Format(time.RFC3339Nano)
	for _, ev := range []map[string]any{
		s.updated("u10", e10, at(3)), s.updated("u11", e11, at(3)), s.updated("u12", e12, at(3)), s.updated("u13", e13, at(3)),
		s.left("l20", 20, at(3)), s.left("l21", 21, at(3)), s.left("l22", 22, at(3)),
		s.updated("u30-new", e30, at(5)),
		s.joined("j31-again", baseEmployee(31), at(0)),
		s.left("l33", 33, at(3)),
		s.updated("u34", e34, at(3)),
		future,
	} {
		pub(ev)
		if ev["id"] != "l32" {
			runs++
		}
	}
	futureTask := jobs.TaskID(s.source, "l32", jobs.TypeUserClose)
	waitFor(t, 10*time.Second, "the future leaver is scheduled", func() bool {
		info, err := asynq.NewInspectorFromRedisClient(f.rdb).GetTaskInfo(f.queue, futureTask)
		return err == nil && info.State == asynq.TaskStateScheduled
	})
	cancel := s.event("c32", events.TypeCancelled, 32, at(4), map[string]any{"cancels": "l32"})
	pub(cancel)
	waitOutcomes(t, r, f.queue, runs, 60*time.Second)
	waitFor(t, 10*time.Second, "the cancellation deletes the scheduled leaver", func() bool {
		_, err := asynq.NewInspectorFromRedisClient(f.rdb).GetTaskInfo(f.queue, futureTask)
		return err != nil
	})

	// An old event after a newer one is stale; the rehire comes after the leave.
	stale30 := baseEmployee(30)
	stale30.access = []membership{{acctEU, profSender, []string{"Sales"}}}
	pub(s.updated("u30-old", stale30, at(4)))
	pub(s.joined("j33-rehire", baseEmployee(33), at(6)))
	runs += 2
	waitOutcomes(t, r, f.queue, runs, 30*time.Second)
	require.GreaterOrEqual(t, r.metric(t, "docusign_worker_jobs_total", map[string]string{"queue": f.queue, "result": jobs.OutcomeStale}),
		1.0, "the old update was skipped as stale")
	require.Equal(t, 1.0, r.metric(t, "docusign_worker_jobs_total", map[string]string{"queue": f.queue, "result": jobs.OutcomeReactivated}),
		"the rehire reactivates")

	// The cancelled leaver stays cancelled past its due time.
	waitFor(t, 15*time.Second, "the cancelled leaver's due time has passed", func() bool {
		return time.Now().After(due.Add(1500 * time.Millisecond))
	})
	waitOutcomes(t, r, f.queue, runs, 5*time.Second)

	got := directory(t, f.sim)
	require.Equal(t, want, got)
	u33, ok = f.sim.User("e33@example.com")
	require.True(t, ok)
	require.Equal(t, userID33, u33.ID, "the rehire reactivates the same user")
	require.Zero(t, r.metric(t, "docusign_worker_tasks_archived_total", map[string]string{"queue": f.queue}), "nothing archived")
	require.Zero(t, f.sim.Dump().TooManyRequests)
	require.Equal(t, 0, r.stop(t, 20*time.Second))
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
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

// e2eRules maps Sales to both accounts (two environments) with settings in one of them, Engineering to one
// account; scope: employees and contractors, not the Board; leaving scope closes.
const e2eRules = `version: 1
match: first
event_accounts: prefer_event
scope:
  include:
    employment_type: {in: [employee, contractor]}
  exclude:
    department: Board
  on_exit: close
rules:
  - name: sales
    when: {department: Sales}
    accounts:
      - account_id: "` + docusignsim.DemoAccountNA2 + `"
        permission_profile: DocuSign Sender
        groups: [Sales]
        settings: {canSendEnvelope: "true", locale: en}
      - account_id: "` + docusignsim.DemoAccountEU + `"
        permission_profile: DocuSign Viewer
        groups: [Sales]
  - name: engineering
    when: {department: Engineering}
    accounts:
      - account_id: "` + docusignsim.DemoAccountNA2 + `"
        permission_profile: DocuSign Viewer
        groups: [Engineering]
`

// writeRules writes a rules file atomically (as operators should) and returns its path.
func writeRules(t *testing.T, dir, content string) string {
	t.Helper()
	path := filepath.Join(dir, "rules.yaml")
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
	return path
}

// hrEvent is an event of the fixture's source without data.accounts: the rules decide them.
func (f *fixture) hrEvent(id, typ, employee string, data map[string]any) map[string]any {
	d := map[string]any{"employee_id": employee}
	for k, v := range data {
		d[k] = v
	}
	return map[string]any{"specversion": "1.0", "id": id, "source": f.source, "type": typ, "subject": employee,
		"time": time.Now().UTC().Format(time.RFC3339Nano), "data": d}
}

// person is the record of a joiner or mover: names, email and HR attributes.
func person(employee, department, employmentType string) map[string]any {
	return map[string]any{"email": strings.ToLower(employee) + "@example.com", "first_name": "Rule", "last_name": employee,
		"department": department, "employment_type": employmentType}
}

// auditLog reads the AUDIT stream of a worker's NATS.
func auditLog(t *testing.T, natsURL string) []jobs.AuditEvent {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(t.Context(), jobs.DefaultAuditStream)
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	var out []jobs.AuditEvent
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		require.NoError(t, err)
		var ev jobs.AuditEvent
		require.NoError(t, json.Unmarshal(m.Data, &ev))
		out = append(out, ev)
	}
	return out
}

// auditOf waits for the audit event of an HR event and returns it.
func auditOf(t *testing.T, r *workerRun, eventID string) jobs.AuditEvent {
	t.Helper()
	var found jobs.AuditEvent
	waitFor(t, 30*time.Second, "the audit event of "+eventID, func() bool {
		for _, ev := range auditLog(t, r.natsURL) {
			if ev.Data.Event.ID == eventID && ev.Data.Outcome != jobs.OutcomeFailed {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// writes lists the write calls of an audit event ("api operation method account").
func writes(ev jobs.AuditEvent) []string {
	var out []string
	for _, c := range ev.Data.Calls {
		if c.Method != http.MethodGet {
			out = append(out, c.API+" "+c.Operation+" "+c.Method)
		}
	}
	return out
}

// planned lists the planned calls in the same form.
func planned(calls []jobs.PlannedCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.API+" "+c.Operation+" "+c.Method)
	}
	return out
}

// groupsOf lists a membership's groups other than Everyone.
func groupsOf(m docusignsim.MembershipState) []string {
	var out []string
	for _, g := range m.Groups {
		if g.Name != "Everyone" {
			out = append(out, g.Name)
		}
	}
	slices.Sort(out)
	return out
}

// TestRulesEndToEnd runs the worker with a rules file: a joiner without accounts is provisioned per the rules in
// two accounts in two environments (with the rule's user settings, one eSignature update per account); a
// department change moves the user between profiles and groups with only the differences written; a move out of
// scope closes the user; an out-of-scope joiner is skipped and audited. A plan of each event lists, call for
// call, the writes its live run then makes.
func TestRulesEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rulesPath := writeRules(t, t.TempDir(), e2eRules)
	r := f.start(t, map[string]string{"WORKER_RULES_FILE": rulesPath})
	_, ok := r.out.find(t, "mapping rules loaded and checked against DocuSign")
	require.True(t, ok)

	// plan asks the running worker what an event would do.
	plan := func(event map[string]any) jobs.PlanReport {
		raw, err := json.Marshal(event)
		require.NoError(t, err)
		body, err := json.Marshal(planRequest{Event: raw})
		require.NoError(t, err)
		resp, err := http.Post(r.baseURL+"/plan", "application/json", bytes.NewReader(body)) //nolint:noctx // test
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var rep jobs.PlanReport
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))
		return rep
	}
	// step plans an event, checks nothing was written, applies it and checks the writes equal the plan.
	step := func(id, typ, employee string, data map[string]any) jobs.AuditEvent {
		before := f.sim.Dump().Users
		ev := f.hrEvent(id, typ, employee, data)
		rep := plan(ev)
		require.Equal(t, before, f.sim.Dump().Users, "a plan writes nothing")
		r.publish(t, typ, ev)
		a := auditOf(t, r, id)
		require.Equal(t, rep.Outcome, a.Data.Outcome, "%s: the plan's outcome", id)
		require.Equal(t, planned(rep.Planned), writes(a), "%s: the plan's writes, call for call", id)
		return a
	}

	// A salesperson joins without accounts: both accounts, in na2 and eu, with the settings in na2.
	joined := step("r-1", events.TypeJoined, "R1", person("R1", "Sales", "employee"))
	require.Equal(t, jobs.OutcomeCreated, joined.Data.Outcome)
	require.Equal(t, []string{"sales"}, joined.Data.Rules.Matched)
	require.Equal(t, []string{docusignsim.DemoAccountNA2}, joined.Data.Settings, "settings cost one eSignature update, in na2")
	u, ok := f.sim.User("r1@example.com")
	require.True(t, ok)
	na2, ok := u.Membership(docusignsim.DemoAccountNA2)
	require.True(t, ok)
	eu, ok := u.Membership(docusignsim.DemoAccountEU)
	require.True(t, ok)
	require.Equal(t, "DocuSign Sender", na2.PermissionProfile.Name)
	require.Equal(t, []string{"Sales"}, groupsOf(na2))
	require.Equal(t, "true", na2.Settings["canSendEnvelope"])
	require.Equal(t, "DocuSign Viewer", eu.PermissionProfile.Name)
	require.Equal(t, []string{"Sales"}, groupsOf(eu))

	// Moving to Engineering: na2 becomes Viewer in Engineering; only that is written (one Admin update).
	moved := step("r-2", events.TypeUpdated, "R1", person("R1", "Engineering", "employee"))
	require.Equal(t, jobs.OutcomeUpdated, moved.Data.Outcome)
	require.Equal(t, []string{"admin User_Users_UpdateV2 POST"}, writes(moved), "the difference only")
	u, _ = f.sim.User("r1@example.com")
	na2, _ = u.Membership(docusignsim.DemoAccountNA2)
	require.Equal(t, "DocuSign Viewer", na2.PermissionProfile.Name)
	require.Equal(t, []string{"Engineering"}, groupsOf(na2))

	// Moving to the Board: out of scope, closed like a leaver.
	out := step("r-3", events.TypeUpdated, "R1", person("R1", "Board", "employee"))
	require.Equal(t, jobs.OutcomeClosed, out.Data.Outcome)
	require.False(t, out.Data.Rules.InScope)
	require.Contains(t, out.Data.Reason, "out of scope")
	u, _ = f.sim.User("r1@example.com")
	for _, m := range u.Memberships {
		require.Equal(t, docusignsim.StatusClosed, m.Status, m.AccountID)
	}

	// An intern is out of scope: skipped and audited, nothing in DocuSign.
	intern := step("r-4", events.TypeJoined, "R2", person("R2", "Sales", "intern"))
	require.Equal(t, jobs.OutcomeOutOfScope, intern.Data.Outcome)
	require.Empty(t, writes(intern))
	_, ok = f.sim.User("r2@example.com")
	require.False(t, ok)
}

// TestRulesReload: a changed rules file is picked up; an invalid one is refused with its problems logged and
// counted while the rules in force stay; a worker does not start on an invalid file.
func TestRulesReload(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	path := writeRules(t, dir, e2eRules)
	r := f.start(t, map[string]string{"WORKER_RULES_FILE": path, "WORKER_RULES_WATCH_INTERVAL": "1s"})
	version := r.metricLabel(t, "docusign_worker_rules_info", "version")

	writeRules(t, dir, strings.Replace(e2eRules, "DocuSign Viewer\n        groups: [Engineering]", "DocuSign Sender\n        groups: [Engineering]", 1))
	waitFor(t, 20*time.Second, "the changed file is loaded", func() bool {
		v := r.metricLabel(t, "docusign_worker_rules_info", "version")
		return v != "" && v != version
	})
	require.Equal(t, 2.0, r.metric(t, "docusign_worker_rules_loads_total", nil))

	writeRules(t, dir, strings.Replace(e2eRules, "groups: [Engineering]", "groups: [No Such Group]", 1))
	waitFor(t, 20*time.Second, "the invalid file is refused", func() bool {
		return r.metric(t, "docusign_worker_rules_reload_failures_total", nil) == 1
	})
	require.Equal(t, 0.0, r.metric(t, "docusign_worker_rules_file_valid", nil))
	line, ok := r.out.find(t, "rules file refused; the rules in force stay")
	require.True(t, ok)
	problems := strings.Join(toStrings(line["problems"]), "\n")
	require.Regexp(t, `rules\.yaml:26:.*No Such Group`, problems, "a group unknown in its account, with its line")

	// The old rules still apply: an engineer joins as a Sender (the second file's rules).
	r.publish(t, events.TypeJoined, f.hrEvent("rr-1", events.TypeJoined, "RR1", person("RR1", "Engineering", "employee")))
	waitFor(t, 30*time.Second, "the engineer is provisioned by the rules in force", func() bool {
		u, ok := f.sim.User("rr1@example.com")
		if !ok {
			return false
		}
		m, ok := u.Membership(docusignsim.DemoAccountNA2)
		return ok && m.PermissionProfile.Name == "DocuSign Sender"
	})

	// A worker refuses to start on an invalid file.
	bad := writeRules(t, t.TempDir(), "version: 1\nmatch: sometimes\nrules: []\n")
	env := map[string]string{"WORKER_RULES_FILE": bad, "WORKER_NATS_DATA_DIR": t.TempDir()}
	for k, v := range f.env {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	var out syncBuffer
	code := run(t.Context(), nil, getenvFrom(env), &out, &out)
	require.Equal(t, 1, code)
	require.Contains(t, out.String(), "does not start on an invalid rules file")
	require.Contains(t, out.String(), "rules.yaml:2:")
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// auditWhere waits for the audit event of an HR event from a shadow (or a live) run.
func auditWhere(t *testing.T, r *workerRun, eventID string, shadow bool) jobs.AuditEvent {
	t.Helper()
	var found jobs.AuditEvent
	waitFor(t, 30*time.Second, "the audit event of "+eventID, func() bool {
		for _, ev := range auditLog(t, r.natsURL) {
			if ev.Data.Event.ID == eventID && ev.Data.Shadow == shadow {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// TestShadowMode runs the same events through a worker in shadow mode and then through a live worker: the shadow
// run leaves DocuSign untouched, and its audit events list, call for call, the writes the live run then makes.
func TestShadowMode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// Two employees exist already.
	live := f.start(t, nil)
	live.publish(t, events.TypeJoined, f.joiner("s-1", "S1", "s1@example.com"))
	live.publish(t, events.TypeJoined, f.joiner("s-2", "S2", "s2@example.com"))
	waitFor(t, 30*time.Second, "S1 and S2 provisioned", func() bool {
		return f.provisioned("s1@example.com") && f.provisioned("s2@example.com")
	})
	require.Equal(t, 0, live.stop(t, 30*time.Second))
	before := f.sim.Dump().Users

	// Shadow: a joiner, a mover with new profile and groups, a leaver.
	shadow := f.start(t, map[string]string{"WORKER_SHADOW": "true"})
	_, ok := shadow.out.find(t, "SHADOW MODE: events are processed fully, DocuSign is read but never written; audit events list the writes a live run would send")
	require.True(t, ok)
	// The shadow run sees the earlier events first, as it would have when run from the start: its identity map
	// (its own keys) learns S1 and S2 from them.
	for _, id := range []string{"s-1", "s-2"} {
		auditWhere(t, shadow, id, true)
	}
	mover := f.joiner("s-3", "S1", "s1@example.com")
	mover["type"] = events.TypeUpdated
	mover["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	mover["data"].(map[string]any)["accounts"] = []any{
		map[string]any{"account_id": acctNA2, "permission_profile": "DocuSign Viewer", "groups": []string{"Finance"}},
		map[string]any{"account_id": acctEU, "permission_profile": "DocuSign Viewer", "groups": []string{"Engineering", "Finance"}},
	}
	leaver := f.hrEvent("s-4", events.TypeLeft, "S2", nil)
	joiner := f.joiner("s-5", "S3", "s3@example.com")
	batch := []map[string]any{mover, leaver, joiner}
	for _, ev := range batch {
		shadow.publish(t, ev["type"].(string), ev)
	}
	shadowAudits := map[string]jobs.AuditEvent{}
	for _, ev := range batch {
		id := ev["id"].(string)
		shadowAudits[id] = auditWhere(t, shadow, id, true)
	}
	require.Equal(t, 0, shadow.stop(t, 30*time.Second))
	require.Equal(t, before, f.sim.Dump().Users, "shadow mode wrote nothing to DocuSign")
	for id, a := range shadowAudits {
		require.NotEmpty(t, a.Data.Planned, "%s: the shadow run lists the writes it would send", id)
		require.True(t, strings.HasPrefix(a.Type, jobs.DefaultAuditSubjectPrefix+".shadow."), a.Type)
		require.Empty(t, writes(a), "%s: no write was sent", id)
	}

	// Live: the same events (the live consumer has not seen them) make exactly the writes the shadow listed.
	live = f.start(t, nil)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("live worker log:\n%s", live.out.String())
		}
	})
	for _, ev := range batch {
		id := ev["id"].(string)
		a := auditWhere(t, live, id, false)
		require.Equal(t, shadowAudits[id].Data.Outcome, a.Data.Outcome, id)
		require.Equal(t, planned(shadowAudits[id].Data.Planned), writes(a), "%s: call for call", id)
	}
	u, ok := f.sim.User("s3@example.com")
	require.True(t, ok, "the live run created the joiner")
	require.Len(t, u.Memberships, 2)
}

// TestCloseGuard: with a threshold of two closes in the window, two leavers are closed at once, the third trips
// the guard and is held (DocuSign untouched, the trip audited and counted) until an operator approves.
func TestCloseGuard(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t, map[string]string{"WORKER_GUARD_MAX_CLOSES": "2", "WORKER_GUARD_WINDOW": "1h"})
	for _, e := range []string{"G1", "G2", "G3"} {
		r.publish(t, events.TypeJoined, f.joiner("g-join-"+e, e, strings.ToLower(e)+"@example.com"))
	}
	waitFor(t, 30*time.Second, "three joiners provisioned", func() bool {
		return f.provisioned("g1@example.com") && f.provisioned("g2@example.com") && f.provisioned("g3@example.com")
	})
	closed := func(email string) bool {
		u, ok := f.sim.User(email)
		if !ok {
			return false
		}
		for _, m := range u.Memberships {
			if m.Status != docusignsim.StatusClosed {
				return false
			}
		}
		return true
	}
	for _, e := range []string{"G1", "G2"} {
		r.publish(t, events.TypeLeft, f.hrEvent("g-left-"+e, events.TypeLeft, e, nil))
	}
	waitFor(t, 30*time.Second, "two leavers below the threshold closed", func() bool {
		return closed("g1@example.com") && closed("g2@example.com")
	})
	r.publish(t, events.TypeLeft, f.hrEvent("g-left-G3", events.TypeLeft, "G3", nil))
	waitFor(t, 30*time.Second, "the third close trips the guard", func() bool {
		return r.metric(t, "docusign_worker_guard_tripped", nil) == 1 && r.metric(t, "docusign_worker_guard_held_closes", nil) == 1
	})
	require.Equal(t, 1.0, r.metric(t, "docusign_worker_guard_trips_total", nil))
	require.False(t, closed("g3@example.com"), "the held close did not reach DocuSign")

	ctl, err := jobs.NewGuardControl(jobs.GuardConfig{Redis: f.rdb, KeyPrefix: jobs.GuardKeyPrefix(f.env["WORKER_REDIS_KEY_PREFIX"])})
	require.NoError(t, err)
	dec, err := ctl.Approve(t.Context(), "test", 0)
	require.NoError(t, err)
	require.True(t, dec.WasTripped)
	require.Len(t, dec.Tasks, 1)
	insp := asynq.NewInspectorFromRedisClient(f.rdb)
	for _, task := range dec.Tasks {
		require.NoError(t, insp.RunTask(task.Queue, task.TaskID))
	}
	waitFor(t, 30*time.Second, "the approved close is made", func() bool { return closed("g3@example.com") })
	require.Equal(t, 0.0, r.metric(t, "docusign_worker_guard_tripped", nil))
}

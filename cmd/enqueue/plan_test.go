package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
)

// TestPlanAsksTheWorker: `enqueue plan` sends the event (built from flags, or read from a file) and a proposed
// rules file to the worker's POST /plan, prints the plan as a table or JSON, and maps the worker's refusals to
// exit codes. The worker side (real look-ups, no writes, plan = apply) is tested in cmd/worker.
func TestPlanAsksTheWorker(t *testing.T) {
	t.Parallel()
	var got PlanRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/plan", r.URL.Path)
		require.NoError(t, json.NewDecoder(r.Body).Decode(&got))
		ev, err := events.NewDecoder(0, events.WithRules())
		require.NoError(t, err)
		decoded, err := ev.Decode(nats.Header{"Content-Type": {events.ContentTypeStructured}}, got.Event)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(planError{Error: err.Error()})
			return
		}
		if got.Rules == "version: 1\nbroken" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(planError{Error: "the rules file is invalid", Problems: []string{"request:2: bad"}})
			return
		}
		_ = json.NewEncoder(w).Encode(jobs.PlanReport{TaskType: decoded.TaskType(), TaskID: "t1", Outcome: jobs.OutcomeCreated,
			Rules:    &jobs.AuditRules{Version: "abcdef0123456789", InScope: true, Matched: []string{"sales"}},
			Accounts: []jobs.Membership{{AccountID: "acct-1", PermissionProfile: "DocuSign Sender", Groups: []string{"Sales"}}},
			Planned:  []jobs.PlannedCall{{API: "admin", Operation: "OrganizationUser_Users_AddV2", Method: http.MethodPost}},
			Lookups:  []jobs.CallRecord{{API: "admin", Operation: "OrganizationUser_OrganizationUsers_GetProfileV2"}}})
	}))
	t.Cleanup(srv.Close)
	w := &world{env: map[string]string{}}

	code, out, errOut := w.cli(t, "", "plan", "--worker-url", srv.URL, "--employee", "E5", "--email", "e5@corp.example",
		"--first-name", "Ada", "--last-name", "L", "--department", "Sales", "--attribute", "level=L5")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "outcome:   created")
	require.Contains(t, out, "rules:     in scope; matched sales (file abcdef012345)")
	require.Regexp(t, `1\s+admin\s+OrganizationUser_Users_AddV2\s+POST`, out)
	require.Contains(t, out, "look-ups:  1 DocuSign calls")
	var sent map[string]any
	require.NoError(t, json.Unmarshal(got.Event, &sent))
	require.Equal(t, events.TypeJoined, sent["type"])
	require.Equal(t, "Sales", sent["data"].(map[string]any)["department"])
	require.Empty(t, got.Rules)

	// From a file, with a proposed rules file, as JSON.
	dir := t.TempDir()
	evFile := filepath.Join(dir, "event.json")
	require.NoError(t, os.WriteFile(evFile, []byte(hrEvent("evt-p", "E6")), 0o600))
	rulesFile := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("version: 1\nmatch: first\nrules:\n  - name: all\n    accounts:\n      - account_id: acct-1\n"), 0o600))
	code, out, errOut = w.cli(t, "", "plan", "--worker-url", srv.URL, "--event", evFile, "--rules", rulesFile, "--json")
	require.Equal(t, exitOK, code, errOut)
	var rep jobs.PlanReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, jobs.OutcomeCreated, rep.Outcome)
	require.Contains(t, got.Rules, "name: all")

	// A rules file that does not parse is refused before asking; the worker's refusals are usage errors.
	require.NoError(t, os.WriteFile(rulesFile, []byte("version: 1\nmatch: sometimes\n"), 0o600))
	code, _, errOut = w.cli(t, "", "plan", "--worker-url", srv.URL, "--event", evFile, "--rules", rulesFile)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "rules.yaml:2:")
	code, _, errOut = w.cli(t, "", "plan", "--worker-url", srv.URL, "--employee", "E7", "--type", "left")
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = w.cli(t, "", "plan", "--worker-url", "http://127.0.0.1:1", "--event", evFile)
	require.Equal(t, exitUnreachable, code)
	require.Contains(t, errOut, "cannot reach the worker")
}

func TestRulesCheck(t *testing.T) {
	t.Parallel()
	w := &world{env: map[string]string{}}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte("version: 1\nmatch: first\nrules:\n  - name: sales\n    when: {department: Sales}\n"+
		"    accounts:\n      - account_id: acct-1\n        permission_profile: DocuSign Sender\n"), 0o600))
	code, out, errOut := w.cli(t, "", "rules", "check", good)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "valid: 1 rules (sales)")

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("version: 1\nmatch: first\nrules:\n  - name: sales\n    when: {department: {regex: \"(\"}}\n"+
		"    acounts: []\n"), 0o600))
	code, out, _ = w.cli(t, "", "rules", "check", bad)
	require.Equal(t, exitFailed, code)
	require.Contains(t, out, "bad.yaml:5:")
	require.Contains(t, out, "bad.yaml:6:")
}

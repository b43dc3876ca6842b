package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
)

const (
	acctNA2 = docusignsim.DemoAccountNA2
	acctEU  = docusignsim.DemoAccountEU
	// opAdminCreate is the Admin API's create-user operation.
	opAdminCreate = "OrganizationUser_Users_AddV2"
)

// syncBuffer is a log sink safe for the worker's goroutines and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p) //nolint:wrapcheck // bytes.Buffer
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLines decodes the JSON log lines written so far.
func (s *syncBuffer) logLines(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(s.String(), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		require.NoError(tb, json.Unmarshal([]byte(line), &m), "log line is not JSON: %s", line)
		out = append(out, m)
	}
	return out
}

// find returns the first log line whose message contains msg.
func (s *syncBuffer) find(tb testing.TB, msg string) (map[string]any, bool) {
	tb.Helper()
	for _, l := range s.logLines(tb) {
		if m, _ := l["message"].(string); strings.Contains(m, msg) {
			return l, true
		}
	}
	return nil, false
}

// waitFor polls cond every 20 ms until it holds, failing the test after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
		<-tick.C
	}
}

// fixture is one test's world: a simulator, a Redis key prefix and an asynq queue of the test alone, a key file
// and a NATS store directory, and the worker's environment pointing at all of them.
type fixture struct {
	sim    *docusignsim.Server
	rdb    *redis.Client
	prefix string
	queue  string
	source string
	env    map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rdb := testenv.RedisClient(t)
	prefix := testenv.Prefix(t, rdb)
	keys, err := keyPair()
	require.NoError(t, err)
	// A 10 s "hour" keeps the limiter's pacing line (which starts at the window start) from delaying the test.
	sim, err := docusignsim.Start(docusignsim.Options{PublicKeyPEM: keys[1], Window: 10 * time.Second,
		BurstWindow: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sim.Close()) })

	// asynq's queue names are global in the Redis database: the test's own queue keeps other test packages from
	// taking its tasks and it from taking theirs.
	queue := "test-" + prefix[5:17]
	t.Cleanup(func() { _ = asynq.NewInspectorFromRedisClient(rdb).DeleteQueue(queue, true) })
	keyFile := filepath.Join(t.TempDir(), "private.pem")
	require.NoError(t, os.WriteFile(keyFile, keys[0], 0o600))

	return &fixture{sim: sim, rdb: rdb, prefix: prefix, queue: queue, source: "hris://test/" + prefix[5:17],
		env: map[string]string{
			"WORKER_REDIS_URL":                 testenv.RedisURL(t),
			"WORKER_REDIS_KEY_PREFIX":          prefix + "worker:",
			"WORKER_RATELIMIT_KEY_PREFIX":      prefix + "rl:",
			"WORKER_RATELIMIT_WINDOW":          "10s",
			"WORKER_RATELIMIT_BURST_WINDOW":    "5s",
			"WORKER_NATS_LISTEN":               "127.0.0.1:-1",
			"WORKER_NATS_DATA_DIR":             t.TempDir(),
			"WORKER_HTTP_ADDR":                 "127.0.0.1:0",
			"WORKER_QUEUES":                    queue + "=1",
			"WORKER_INTAKE_QUEUE":              queue,
			"WORKER_SHUTDOWN_TIMEOUT":          "5s",
			"WORKER_DOCUSIGN_AUTH_URL":         sim.AuthURL(),
			"WORKER_DOCUSIGN_ADMIN_URL":        sim.AdminURL(),
			"WORKER_DOCUSIGN_INTEGRATION_KEY":  sim.IntegrationKey(),
			"WORKER_DOCUSIGN_USER_ID":          docusignsim.DemoAdminUserID,
			"WORKER_DOCUSIGN_PRIVATE_KEY_FILE": keyFile,
			"WORKER_DOCUSIGN_ORGANIZATION_ID":  sim.OrganizationID(),
			"WORKER_DOCUSIGN_ACCOUNTS":         acctNA2 + "," + acctEU,
		}}
}

// workerRun is run(…) going on in a goroutine.
type workerRun struct {
	out     *syncBuffer
	cancel  context.CancelFunc
	done    chan int
	code    int
	exited  bool
	baseURL string
	natsURL string
}

// start runs the worker with the fixture's environment plus extra, and waits until it serves HTTP.
func (f *fixture) start(t *testing.T, extra map[string]string) *workerRun {
	t.Helper()
	env := maps.Clone(f.env)
	maps.Copy(env, extra)
	ctx, cancel := context.WithCancel(context.Background())
	r := &workerRun{out: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { r.done <- run(ctx, nil, getenvFrom(env), r.out, r.out) }()
	t.Cleanup(func() {
		cancel()
		if !r.exited {
			select {
			case <-r.done:
			case <-time.After(60 * time.Second):
				t.Errorf("worker did not stop; log:\n%s", r.out.String())
			}
		}
	})
	var line map[string]any
	waitFor(t, 30*time.Second, "the worker serves HTTP", func() bool {
		select {
		case code := <-r.done:
			r.exited = true
			t.Fatalf("worker exited with %d during start; log:\n%s", code, r.out.String())
		default:
		}
		var ok bool
		line, ok = r.out.find(t, "http server listening")
		return ok
	})
	r.baseURL = "http://" + line["addr"].(string)
	nl, ok := r.out.find(t, "running the embedded NATS server")
	require.True(t, ok, "the embedded NATS server is announced")
	r.natsURL = nl["url"].(string)
	return r
}

// stop cancels the worker's context (what SIGTERM does) and returns its exit code, failing after within.
func (r *workerRun) stop(t *testing.T, within time.Duration) int {
	t.Helper()
	start := time.Now()
	r.cancel()
	select {
	case r.code = <-r.done:
		r.exited = true
	case <-time.After(within):
		t.Fatalf("run did not return within %s of the signal; log:\n%s", within, r.out.String())
	}
	t.Logf("worker stopped in %s", time.Since(start).Round(time.Millisecond))
	return r.code
}

// publish sends a structured-mode CloudEvent to the worker's embedded NATS.
func (r *workerRun) publish(t *testing.T, subject string, event map[string]any) {
	t.Helper()
	body, err := json.Marshal(event)
	require.NoError(t, err)
	r.publishRaw(t, subject, body, event["id"].(string))
}

// publishRaw sends body with the Nats-Msg-Id msgID.
func (r *workerRun) publishRaw(t *testing.T, subject string, body []byte, msgID string) {
	t.Helper()
	nc, err := nats.Connect(r.natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: body,
		Header: nats.Header{"Content-Type": []string{events.ContentTypeStructured}}}, jetstream.WithMsgID(msgID))
	require.NoError(t, err)
}

// get fetches a path of the worker's HTTP server.
func (r *workerRun) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, r.baseURL+path, nil)
	require.NoError(t, err)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// metric sums the samples of a family whose labels include want (counter, gauge, or a histogram's count).
func (r *workerRun) metric(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	code, body := r.get(t, "/metrics")
	require.Equal(t, http.StatusOK, code)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	fam, ok := fams[name]
	if !ok {
		return 0
	}
	sum := 0.0
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// metricLabel returns the value of label on the first sample of a family ("" when there is none).
func (r *workerRun) metricLabel(t *testing.T, name, label string) string {
	t.Helper()
	code, body := r.get(t, "/metrics")
	require.Equal(t, http.StatusOK, code)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				return l.GetValue()
			}
		}
	}
	return ""
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// joiner is an hr.employee.joined event for an employee in both demo accounts.
func (f *fixture) joiner(id, employee, email string) map[string]any {
	return map[string]any{
		"specversion": "1.0", "id": id, "source": f.source, "type": events.TypeJoined, "subject": employee,
		"time": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
		"data": map[string]any{
			"employee_id": employee, "email": email, "first_name": "Grace", "last_name": "Hopper", "job_title": "Engineer",
			"accounts": []any{
				map[string]any{"account_id": acctNA2, "permission_profile": "DocuSign Sender", "groups": []string{"Sales"}},
				map[string]any{"account_id": acctEU, "permission_profile": "DocuSign Viewer", "groups": []string{"Engineering", "Finance"}},
			},
		},
	}
}

// provisioned reports whether the simulator's directory holds the joiner with exactly the memberships asked for.
func (f *fixture) provisioned(email string) bool {
	u, ok := f.sim.User(email)
	if !ok || u.FirstName != "Grace" || u.LastName != "Hopper" {
		return false
	}
	want := map[string]struct {
		profile string
		groups  []string
	}{acctNA2: {"DocuSign Sender", []string{"Sales"}}, acctEU: {"DocuSign Viewer", []string{"Engineering", "Finance"}}}
	seen := 0
	for _, m := range u.Memberships {
		w, ok := want[m.AccountID]
		if !ok {
			continue
		}
		var groups []string
		for _, g := range m.Groups {
			if g.Name != "Everyone" {
				groups = append(groups, g.Name)
			}
		}
		slices.Sort(groups)
		if m.Status != "active" || m.PermissionProfile.Name != w.profile || !slices.Equal(groups, w.groups) {
			return false
		}
		seen++
	}
	return seen == len(want)
}

// usersWithEmail counts the directory's users with the email.
func (f *fixture) usersWithEmail(email string) int {
	n := 0
	for _, u := range f.sim.Dump().Users {
		if strings.EqualFold(u.Email, email) {
			n++
		}
	}
	return n
}

func (f *fixture) taskState(t *testing.T, eventID string) asynq.TaskState {
	t.Helper()
	info, err := asynq.NewInspectorFromRedisClient(f.rdb).GetTaskInfo(f.queue, jobs.TaskID(f.source, eventID, jobs.TypeUserCreate))
	require.NoError(t, err)
	return info.State
}

func TestWorkerEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t, nil)
	for _, msg := range []string{"worker starting", "redis connected", "nats connected", "streams ready", "rate limiter ready",
		"docusign credentials, consent and accounts verified", "task processing started", "intake consuming", "worker ready"} {
		_, ok := r.out.find(t, msg)
		require.True(t, ok, "start log lacks %q", msg)
	}

	email := "grace.hopper." + f.prefix[5:11] + "@example.com"
	eventID := "evt-" + f.prefix[5:17]
	r.publish(t, "hr.employee.joined", f.joiner(eventID, "E-"+f.prefix[5:11], email))
	waitFor(t, 20*time.Second, "the simulator shows the joiner with both memberships", func() bool { return f.provisioned(email) })
	waitFor(t, 10*time.Second, "the task is counted as created", func() bool {
		return r.metric(t, "docusign_worker_jobs_total", map[string]string{"result": jobs.OutcomeCreated, "queue": f.queue}) == 1
	})
	require.Equal(t, 1, f.usersWithEmail(email))
	require.Equal(t, asynq.TaskStateCompleted, f.taskState(t, eventID), "completed and retained, so a redelivery deduplicates")

	// Health and readiness.
	code, body := r.get(t, "/healthz")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"status":"alive"}`, string(body))
	for i := range 2 {
		code, body = r.get(t, "/readyz")
		require.Equal(t, http.StatusOK, code, string(body))
		var ready readyReply
		require.NoError(t, json.Unmarshal(body, &ready))
		require.Equal(t, "ready", ready.Status)
		require.Len(t, ready.Checks, 3)
		for name, c := range ready.Checks {
			require.True(t, c.OK, "check %s: %s", name, c.Error)
		}
		require.Equal(t, i == 1, ready.Checks["docusign"].Cached, "the second probe reuses the DocuSign check")
	}

	// Metrics: intake, jobs, DocuSign calls and latency, limiter, queue.
	for _, m := range []struct {
		name   string
		labels map[string]string
	}{
		{"docusign_worker_events_received_total", map[string]string{"type": events.TypeJoined}},
		{"docusign_worker_events_enqueued_total", nil},
		{"docusign_worker_jobs_total", map[string]string{"task_type": jobs.TypeUserCreate, "result": jobs.OutcomeCreated}},
		{"docusign_worker_docusign_requests_total", map[string]string{"api": "admin", "operation": opAdminCreate}},
		{"docusign_worker_docusign_request_duration_seconds", map[string]string{"operation": opAdminCreate}},
		{"docusign_worker_ratelimit_granted_tokens_total", map[string]string{"account": acctNA2}},
		{"docusign_worker_ratelimit_limit", map[string]string{"account": acctNA2}},
		{"docusign_worker_queue_tasks", map[string]string{"queue": f.queue, "state": "completed"}},
	} {
		require.Positive(t, r.metric(t, m.name, m.labels), "metric %s%v", m.name, m.labels)
	}
	require.Zero(t, r.metric(t, "docusign_worker_ratelimit_throttled_total", nil), "no 429")
	_, metricsBody := r.get(t, "/metrics")
	for _, name := range []string{"docusign_worker_events_dead_lettered_total", "docusign_worker_events_duplicates_total",
		"docusign_worker_ratelimit_remaining", "docusign_worker_ratelimit_waits_total", "go_goroutines"} {
		require.Contains(t, string(metricsBody), name)
	}

	// The outcome was audited with the causing event.
	ensureAudited(t, r, eventID)

	// An event that is not JSON is dead-lettered; one naming an unknown permission profile fails permanently
	// and is archived through the ErrorHandler.
	r.publishRaw(t, "hr.employee.joined", []byte(`{"specversion": "1.0", "id": `), "bad-json-"+f.prefix[5:17])
	badID := "evt-bad-" + f.prefix[5:17]
	bad := f.joiner(badID, "E-bad-"+f.prefix[5:11], "bad."+f.prefix[5:11]+"@example.com")
	bad["data"].(map[string]any)["accounts"] = []any{map[string]any{"account_id": acctNA2, "permission_profile": "No Such Profile"}}
	r.publish(t, "hr.employee.joined", bad)
	waitFor(t, 10*time.Second, "the invalid event is dead-lettered", func() bool {
		return r.metric(t, "docusign_worker_events_dead_lettered_total", map[string]string{"reason": string(events.ReasonBadJSON)}) == 1
	})
	waitFor(t, 10*time.Second, "the failing task is archived", func() bool {
		return r.metric(t, "docusign_worker_tasks_archived_total",
			map[string]string{"reason": jobs.ReasonUnknownPermissionProfile, "queue": f.queue}) == 1
	})
	archived, ok := r.out.find(t, "task failed permanently, archived")
	require.True(t, ok)
	require.Equal(t, badID, archived["event_id"])
	require.Equal(t, jobs.ReasonUnknownPermissionProfile, archived["reason"])
	require.Equal(t, asynq.TaskStateArchived, f.taskState(t, badID))

	// The task's log line carries the ids; emails never appear at info; the key never appears.
	done, ok := r.out.find(t, "task done")
	require.True(t, ok)
	require.Equal(t, eventID, done["event_id"])
	require.Equal(t, "E-"+f.prefix[5:11], done["employee_id"])
	require.Equal(t, jobs.TaskID(f.source, eventID, jobs.TypeUserCreate), done["task_id"])
	require.Equal(t, "worker", done["service"])
	keys, err := keyPair()
	require.NoError(t, err)
	logs := r.out.String()
	require.NotContains(t, logs, email)
	require.NotContains(t, logs, "bad."+f.prefix[5:11]+"@example.com")
	require.NotContains(t, logs, keyBody(keys[0]))

	require.Equal(t, 0, r.stop(t, 20*time.Second))
	// The stop order: intake, tasks, embedded NATS last.
	var order []string
	for _, l := range r.out.logLines(t) {
		switch m, _ := l["message"].(string); m {
		case "intake stopped", "task processing stopped", "embedded NATS server stopped", "worker stopped":
			order = append(order, m)
		}
	}
	require.Equal(t, []string{"intake stopped", "task processing stopped", "embedded NATS server stopped", "worker stopped"}, order)
}

// ensureAudited checks the AUDIT stream holds the provisioning.created event of eventID.
func ensureAudited(t *testing.T, r *workerRun, eventID string) {
	t.Helper()
	nc, err := nats.Connect(r.natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(t.Context(), jobs.DefaultAuditStream)
	require.NoError(t, err)
	msg, err := stream.GetLastMsgForSubject(t.Context(), jobs.DefaultAuditSubjectPrefix+"."+jobs.OutcomeCreated)
	require.NoError(t, err)
	var ev jobs.AuditEvent
	require.NoError(t, json.Unmarshal(msg.Data, &ev))
	require.Equal(t, eventID, ev.Data.Event.ID)
}

// TestWorkerShutdownLosesNothing stops a worker while its task waits on a slow DocuSign reply: the task goes back
// to its queue within the shutdown timeout, and the next worker (same Redis, same NATS store) provisions the
// employee exactly once, without waiting for the first worker's employee lease to expire.
func TestWorkerShutdownLosesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	require.NoError(t, f.sim.SetFault(docusignsim.Fault{Operation: opAdminCreate, Latency: time.Minute}))
	r1 := f.start(t, map[string]string{"WORKER_SHUTDOWN_TIMEOUT": "1s"})

	email := "ada.lovelace." + f.prefix[5:11] + "@example.com"
	eventID := "evt-" + f.prefix[5:17]
	r1.publish(t, "hr.employee.joined", f.joiner(eventID, "E-"+f.prefix[5:11], email))
	waitFor(t, 20*time.Second, "the create call reaches DocuSign", func() bool { return f.sim.RequestCount(opAdminCreate) >= 1 })

	require.Equal(t, 0, r1.stop(t, 15*time.Second))
	require.Equal(t, asynq.TaskStatePending, f.taskState(t, eventID), "the running task went back to its queue")
	require.Zero(t, f.usersWithEmail(email), "the aborted call created nothing")
	_, ok := r1.out.find(t, "handlers still running")
	require.False(t, ok, "the aborted handler returned (and released its lease) before Redis was closed")

	f.sim.ClearFaults()
	restarted := time.Now()
	r2 := f.start(t, nil)
	waitFor(t, 20*time.Second, "the next worker provisions the joiner", func() bool { return f.provisioned(email) })
	require.Less(t, time.Since(restarted), 15*time.Second, "not held up by a stale employee lease (TTL 30 s)")
	waitFor(t, 10*time.Second, "the task completes", func() bool { return f.taskState(t, eventID) == asynq.TaskStateCompleted })
	require.Equal(t, 1, f.usersWithEmail(email))
	require.Equal(t, 0, r2.stop(t, 20*time.Second))
}

func TestWorkerStartFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		redis bool // needs the test Redis and the simulator
		env   func(f *fixture) map[string]string
		want  []string
	}{
		{name: "redis unreachable",
			env: func(*fixture) map[string]string {
				return map[string]string{"WORKER_REDIS_URL": "redis://:pw@127.0.0.1:1/0"}
			},
			want: []string{"worker cannot start", "redis: cannot reach redis://:xxxxx@127.0.0.1:1/0", "is redis-server running"}},
		{name: "account the user does not belong to", redis: true,
			env: func(f *fixture) map[string]string {
				return map[string]string{"WORKER_DOCUSIGN_ACCOUNTS": acctNA2 + ",7c8f3a52-0000-4000-8000-00000000abcd"}
			},
			want: []string{"worker cannot start", "7c8f3a52-0000-4000-8000-00000000abcd", acctEU}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var env map[string]string
			if tt.redis {
				f := newFixture(t)
				env = maps.Clone(f.env)
				maps.Copy(env, tt.env(f))
			} else {
				env = minimalEnv(t)
				env["WORKER_NATS_LISTEN"] = "127.0.0.1:-1"
				env["WORKER_NATS_DATA_DIR"] = t.TempDir()
				maps.Copy(env, tt.env(nil))
			}
			var out syncBuffer
			code := run(t.Context(), nil, getenvFrom(env), &out, &out)
			require.Equal(t, 1, code, out.String())
			logs := out.String()
			for _, w := range tt.want {
				require.Contains(t, logs, w)
			}
			require.NotContains(t, logs, ":pw@")
			_, ok := out.find(t, "http server listening")
			require.False(t, ok, "nothing is served after a failed start")
		})
	}
}

func TestTrackedHandlerWait(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	h := &trackedHandler{next: asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		close(started)
		<-release
		return nil
	})}
	errc := make(chan error, 1)
	go func() { errc <- h.ProcessTask(t.Context(), asynq.NewTask("t", nil)) }()
	<-started
	require.False(t, h.wait(50*time.Millisecond), "a running handler is waited for")
	close(release)
	require.True(t, h.wait(5*time.Second))
	require.NoError(t, <-errc)
	require.True(t, h.wait(time.Millisecond), "nothing running: returns at once")
}

func TestMergeQueues(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"a", "b", "c"}, mergeQueues([]string{"a", "b"}, []string{"b", "c"}))
	require.Equal(t, []string{"x"}, mergeQueues(nil, []string{"x", "x"}))
	require.Equal(t, []string{"a"}, mergeQueues([]string{"a"}, nil))
}

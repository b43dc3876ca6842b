package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// Demo seed accounts: Example Corp on na2, Example Europe Ltd on eu.
const (
	acctNA2 = docusignsim.DemoAccountNA2
	acctEU  = docusignsim.DemoAccountEU
)

// keyPair is generated once per test binary (RSA key generation is slow
// under -race).
var keyPair = sync.OnceValues(func() ([2][]byte, error) { //nolint:gochecknoglobals // test fixture
	priv, pub, err := docusignsim.GenerateKeyPair()
	return [2][]byte{priv, pub}, err
})

// startNATS runs an embedded JetStream server for one test.
func startNATS(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: tb.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(tb, err)
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(tb, err)
	tb.Cleanup(func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	js, err := jetstream.New(nc)
	require.NoError(tb, err)
	return js
}

// recMetrics records what the handlers count.
type recMetrics struct {
	mu      sync.Mutex
	results []string
	stale   int
	paused  []string
	calls   int
	applied map[string]int
}

func (m *recMetrics) TaskFinished(_, _, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results = append(m.results, result)
}

func (m *recMetrics) StaleSkipped(string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stale++
}

func (m *recMetrics) DocuSignCall(string, string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
}

func (m *recMetrics) IntegrationPaused(queue string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.paused = append(m.paused, queue)
}

func (m *recMetrics) TimeToApply(kind string, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.applied == nil {
		m.applied = map[string]int{}
	}
	m.applied[kind]++
}

func (m *recMetrics) appliedCount(kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applied[kind]
}

func (m *recMetrics) last() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.results) == 0 {
		return ""
	}
	return m.results[len(m.results)-1]
}

// recPauser records paused queues.
type recPauser struct {
	mu     sync.Mutex
	queues []string
}

func (p *recPauser) PauseQueue(queue string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queues = append(p.queues, queue)
	return nil
}

func (p *recPauser) paused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queues...)
}

// prioLimiter records the priority of every token request.
type prioLimiter struct {
	jobs.Limiter
	mu    sync.Mutex
	prios []ratelimit.Priority
}

func (l *prioLimiter) Wait(ctx context.Context, key string, n int, p ratelimit.Priority) (ratelimit.Grant, error) {
	l.mu.Lock()
	l.prios = append(l.prios, p)
	l.mu.Unlock()
	return l.Limiter.Wait(ctx, key, n, p)
}

// take returns the priorities recorded since the last call.
func (l *prioLimiter) take() []ratelimit.Priority {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.prios
	l.prios = nil
	return out
}

// flakyPublisher fails the first failures publications.
type flakyPublisher struct {
	jetstream.JetStream
	mu       sync.Mutex
	failures int
}

func (f *flakyPublisher) Publish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	f.mu.Lock()
	fail := f.failures > 0
	if fail {
		f.failures--
	}
	f.mu.Unlock()
	if fail {
		return nil, errors.New("nats: timeout")
	}
	return f.JetStream.Publish(ctx, subject, data, opts...)
}

// envOptions change the environment of one test.
type envOptions struct {
	sim       func(*docusignsim.Options)
	client    func(*docusign.Config)
	noLimiter bool
	noVerify  bool
	// window is the length of the simulator's and the limiter's "hourly"
	// window (default 10 s: the limiter paces from the window start, so a
	// short window keeps the tests from waiting at the top of an hour).
	window   time.Duration
	flaky    int
	handlers func(*jobs.Config)
}

// env is one test's world: a simulator, a DocuSign client routed through the
// jobs hook and a real limiter, Redis, an embedded NATS with the AUDIT
// stream, and the handlers of one surface behind their middleware.
type env struct {
	t       *testing.T
	surface jobs.Surface
	sim     *docusignsim.Server
	client  *docusign.Client
	rdb     *redis.Client
	prefix  string
	js      jetstream.JetStream
	stream  jetstream.Stream
	metrics *recMetrics
	pauser  *recPauser
	prios   *prioLimiter
	h       *jobs.Handlers
	mux     *asynq.ServeMux
	seq     int
	base    time.Time
}

func newEnv(t *testing.T, surface jobs.Surface, o envOptions) *env {
	t.Helper()
	keys, err := keyPair()
	require.NoError(t, err)
	window := o.window
	if window == 0 {
		window = 10 * time.Second
	}
	burstWindow := min(window, 5*time.Second)
	simOpts := docusignsim.Options{PublicKeyPEM: keys[1], Window: window, BurstWindow: burstWindow}
	if o.sim != nil {
		o.sim(&simOpts)
	}
	sim, err := docusignsim.Start(simOpts)
	require.NoError(t, err)
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		require.NoError(t, sim.Close())
	})

	rdb := testenv.RedisClient(t)
	prefix := testenv.Prefix(t, rdb)
	metrics := &recMetrics{}
	var limiter jobs.Limiter
	var prios *prioLimiter
	if !o.noLimiter {
		l, err := ratelimit.New(rdb, ratelimit.Config{KeyPrefix: prefix + "rl:", Window: window, BurstWindow: burstWindow})
		require.NoError(t, err)
		prios = &prioLimiter{Limiter: l}
		limiter = prios
	}
	cfg := docusign.Config{
		AuthBaseURL:    sim.AuthURL(),
		AdminBaseURL:   sim.AdminURL(),
		IntegrationKey: sim.IntegrationKey(),
		UserID:         docusignsim.DemoAdminUserID,
		PrivateKeyPEM:  keys[0],
		OrganizationID: docusignsim.DemoOrganizationID,
		Accounts:       []string{acctNA2, acctEU},
		HTTPClient:     &http.Client{Transport: tr, Timeout: 10 * time.Second},
		Hook:           jobs.NewLimiterHook(limiter, metrics),
	}
	if o.client != nil {
		o.client(&cfg)
	}
	client, err := docusign.New(cfg)
	require.NoError(t, err)
	if !o.noVerify {
		require.NoError(t, client.Verify(t.Context()))
		sim.ResetCounters() // count only what the handlers call
	}
	dir, err := jobs.NewDirectory(surface, client, jobs.AdminOptions{})
	require.NoError(t, err)

	js := startNATS(t)
	stream, err := jobs.EnsureAuditStream(t.Context(), js, jobs.AuditStreamConfig{MaxAge: time.Hour})
	require.NoError(t, err)
	var pub jobs.AuditPublisher = js
	if o.flaky > 0 {
		pub = &flakyPublisher{JetStream: js, failures: o.flaky}
	}
	pauser := &recPauser{}
	hcfg := jobs.Config{
		Directory:   dir,
		Accounts:    []string{acctNA2, acctEU},
		Redis:       rdb,
		KeyPrefix:   prefix,
		Audit:       pub,
		Queues:      pauser,
		Metrics:     metrics,
		Logger:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel),
		BurstWindow: burstWindow,
	}
	if o.handlers != nil {
		o.handlers(&hcfg)
	}
	h, err := jobs.NewHandlers(hcfg)
	require.NoError(t, err)
	mux := asynq.NewServeMux()
	h.Register(mux)
	return &env{t: t, surface: surface, sim: sim, client: client, rdb: rdb, prefix: prefix, js: js, stream: stream,
		metrics: metrics, pauser: pauser, prios: prios, h: h, mux: mux, base: time.Now().UTC().Truncate(time.Second).Add(-24 * time.Hour)}
}

// employee is an HR record in the simulator's claimed domain.
func employee(id string) jobs.Employee {
	return jobs.Employee{EmployeeID: id, Email: strings.ToLower(id) + "@example.com", FirstName: "First" + id,
		LastName: "Last", JobTitle: "Engineer"}
}

// bothAccounts is the default desired membership set.
func bothAccounts() []jobs.Membership {
	return []jobs.Membership{
		{AccountID: acctNA2, PermissionProfile: "DocuSign Sender", Groups: []string{"Sales"}},
		{AccountID: acctEU, PermissionProfile: "DocuSign Sender", Groups: []string{"Sales"}},
	}
}

// event is a payload with a fresh event id whose time is one minute after
// the previous event's.
func (e *env) event(eventType string, emp jobs.Employee, accounts []jobs.Membership) jobs.Payload {
	e.seq++
	return jobs.Payload{EventSource: "hris-test", EventID: fmt.Sprintf("evt-%d", e.seq), EventType: eventType,
		EventTime: e.base.Add(time.Duration(e.seq) * time.Minute), Employee: emp, Accounts: accounts}
}

func (e *env) task(taskType string, p jobs.Payload) *asynq.Task {
	e.t.Helper()
	task, err := jobs.NewTask(taskType, p, jobs.TaskOptions{})
	require.NoError(e.t, err)
	return task
}

// run processes one task through the middleware and handlers, as the asynq
// server would, and returns the error and the result the metrics saw.
func (e *env) run(taskType string, p jobs.Payload) (string, error) {
	e.t.Helper()
	err := e.mux.ProcessTask(e.t.Context(), e.task(taskType, p))
	return e.metrics.last(), err
}

// mustRun requires the task to succeed with the outcome.
func (e *env) mustRun(taskType string, p jobs.Payload, outcome string) {
	e.t.Helper()
	got, err := e.run(taskType, p)
	require.NoError(e.t, err)
	require.Equal(e.t, outcome, got)
}

func (e *env) create(emp jobs.Employee, accounts []jobs.Membership) jobs.Payload {
	return e.event("hr.employee.joined", emp, accounts)
}

func (e *env) update(emp jobs.Employee, accounts []jobs.Membership) jobs.Payload {
	return e.event("hr.employee.updated", emp, accounts)
}

func (e *env) leave(emp jobs.Employee, accounts []jobs.Membership) jobs.Payload {
	return e.event("hr.employee.left", jobs.Employee{EmployeeID: emp.EmployeeID}, accounts)
}

// user returns the simulator's user with the email.
func (e *env) user(email string) docusignsim.UserState {
	e.t.Helper()
	u, ok := e.sim.User(email)
	require.True(e.t, ok, "the simulator has no user %s", email)
	return u
}

// usersWithEmail counts the directory's users with the email.
func (e *env) usersWithEmail(email string) int {
	n := 0
	for _, u := range e.sim.Dump().Users {
		if strings.EqualFold(u.Email, email) {
			n++
		}
	}
	return n
}

func membership(tb testing.TB, u docusignsim.UserState, acct string) docusignsim.MembershipState {
	tb.Helper()
	for _, m := range u.Memberships {
		if m.AccountID == acct {
			return m
		}
	}
	tb.Fatalf("user %s has no membership in account %s", u.ID, acct)
	return docusignsim.MembershipState{}
}

func groupNames(m docusignsim.MembershipState) []string {
	var out []string
	for _, g := range m.Groups {
		out = append(out, g.Name)
	}
	return out
}

// apiCalls are the simulator's logged Admin and eSignature calls since the
// last reset (token and userinfo calls left out).
func (e *env) apiCalls() []docusignsim.CallRecord {
	var out []docusignsim.CallRecord
	for _, c := range e.sim.Dump().Calls {
		if c.Operation == docusignsim.OpToken || c.Operation == docusignsim.OpUserinfo {
			continue
		}
		out = append(out, c)
	}
	return out
}

// writes are the calls that are not GETs.
func writes(calls []docusignsim.CallRecord) []string {
	var out []string
	for _, c := range calls {
		if c.Method != http.MethodGet {
			out = append(out, c.Operation)
		}
	}
	return out
}

func operations(calls []docusignsim.CallRecord) []string {
	out := make([]string, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.Operation)
	}
	return out
}

// auditMsg is one record of the AUDIT stream.
type auditMsg struct {
	Subject string
	MsgID   string
	Event   jobs.AuditEvent
}

// audits reads the whole AUDIT stream.
func (e *env) audits() []auditMsg {
	e.t.Helper()
	info, err := e.stream.Info(e.t.Context())
	require.NoError(e.t, err)
	var out []auditMsg
	if info.State.Msgs == 0 {
		return out
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		raw, err := e.stream.GetMsg(e.t.Context(), seq)
		require.NoError(e.t, err)
		var ev jobs.AuditEvent
		require.NoError(e.t, json.Unmarshal(raw.Data, &ev))
		out = append(out, auditMsg{Subject: raw.Subject, MsgID: raw.Header.Get(jetstream.MsgIDHeader), Event: ev})
	}
	return out
}

// auditOutcomes lists the outcomes in the AUDIT stream for the task of p.
func (e *env) auditOutcomes(taskType string, p jobs.Payload) []string {
	id := jobs.TaskID(p.EventSource, p.EventID, taskType)
	var out []string
	for _, m := range e.audits() {
		if m.Event.Data.Task.ID == id {
			out = append(out, m.Event.Data.Outcome)
		}
	}
	return out
}

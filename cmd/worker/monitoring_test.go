package main

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
)

// Credentials of the dashboard tests' basic auth.
const (
	dashUser     = "ops"
	dashPassword = "correct horse battery staple"
)

// --- helpers ---

// dashboardRedis returns the URL of, and a client for, a Redis database of the dashboard tests alone: they use the
// production queue names (critical, default, low), which in TEST_REDIS_URL's database other packages' tests would
// see, and asynqmon's queue list fails while another test deletes a queue. Database 13 (12 if TEST_REDIS_URL is
// 13). The tests in it only add tasks and delete their own, never whole queues.
func dashboardRedis(tb testing.TB) (string, *redis.Client) {
	tb.Helper()
	u, err := url.Parse(testenv.RedisURL(tb))
	require.NoError(tb, err)
	opts, err := redis.ParseURL(u.String())
	require.NoError(tb, err)
	db := 13
	if opts.DB == db {
		db = 12
	}
	u.Path = "/" + strconv.Itoa(db)
	opts.DB = db
	c := redis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		testenv.SkipOrFail(tb, "redis database "+strconv.Itoa(db)+" at TEST_REDIS_URL does not answer: "+err.Error())
	}
	return u.String(), c
}

// startDashboardWorker runs the fixture's worker against the dashboard tests' database, with extra settings. Its
// keys there are deleted when the test ends.
func startDashboardWorker(t *testing.T, extra map[string]string) (*fixture, *workerRun, *redis.Client) {
	t.Helper()
	f := newFixture(t)
	redisURL, rdb := dashboardRedis(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, f.prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	env := map[string]string{"WORKER_REDIS_URL": redisURL}
	maps.Copy(env, extra)
	return f, f.start(t, env), rdb
}

// ourTask is a task enqueued by enqueueOurTasks.
type ourTask struct {
	queue, id string
}

// dashEmployee is the employee of the dashboard tests' tasks.
func dashEmployee(id string) jobs.Employee {
	return jobs.Employee{EmployeeID: id, Email: "grace.hopper@corp.example", FirstName: "Grace", LastName: "Hopper",
		JobTitle: "Rear Admiral", Department: "Navy"}
}

// enqueueOurTasks puts one task of ours in each of critical (a leaver), default (a joiner) and low (a mover sent
// to the backfill queue), as the intake would; nothing serves these queues in the tests, so they stay pending
// until the test deletes them at its end.
func enqueueOurTasks(t *testing.T, rdb *redis.Client, source string) map[string]ourTask {
	t.Helper()
	client := asynq.NewClientFromRedisClient(rdb) // shares rdb: nothing to close
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	out := map[string]ourTask{}
	for _, tt := range []struct {
		typ, queue string
	}{
		{jobs.TypeUserClose, jobs.QueueCritical},
		{jobs.TypeUserCreate, jobs.QueueDefault},
		{jobs.TypeMembershipSet, jobs.QueueLow},
	} {
		p := jobs.Payload{EventSource: source, EventID: "evt-" + tt.queue, EventType: "hr.employee.test",
			EventTime: time.Now().UTC().Truncate(time.Second), Employee: dashEmployee("E-" + tt.queue),
			Accounts: []jobs.Membership{{AccountID: acctNA2, PermissionProfile: profSender, Groups: []string{"Sales"}}}}
		task, err := jobs.NewTask(tt.typ, p, jobs.TaskOptions{Queue: tt.queue})
		require.NoError(t, err)
		info, err := client.EnqueueContext(t.Context(), task)
		require.NoError(t, err)
		require.Equal(t, tt.queue, info.Queue)
		out[tt.queue] = ourTask{queue: info.Queue, id: info.ID}
		t.Cleanup(func() { _ = inspector.DeleteTask(info.Queue, info.ID) })
	}
	return out
}

// dashboardDo sends a request to a running worker, with basic auth when user is not empty.
func dashboardDo(t *testing.T, method, rawURL, user, password string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// dashboardRoutes is the worker's HTTP handler with the dashboard of cfg mounted, as run builds it.
func dashboardRoutes(t *testing.T, cfg *Config) http.Handler {
	t.Helper()
	routes := newHTTPHandler(&readiness{now: time.Now}, prometheus.NewRegistry())
	d := newDashboard(cfg)
	require.NotNil(t, d)
	t.Cleanup(func() { require.NoError(t, d.close()) })
	d.mount(routes)
	return routes
}

// serve sends one request to h.
func serve(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, target, nil)
	maps.Copy(req.Header, header)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func basicHeader(user, password string) http.Header {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, password)
	return req.Header
}

// --- configuration ---

func TestMonitoringPath(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want, err string
	}{
		{in: "/monitoring", want: "/monitoring"},
		{in: "/monitoring/", want: "/monitoring"},
		{in: "/ops/asynq-ui_v2.0~x", want: "/ops/asynq-ui_v2.0~x"},
		{in: "off", want: ""},
		{in: "OFF", want: ""},
		{in: "", want: ""},
		{in: "monitoring", err: "does not start with /"},
		{in: "/", err: "every URL"},
		{in: "//", err: "every URL"},
		{in: "/a//b", err: "empty, . or .. segment"},
		{in: "/a/../b", err: "empty, . or .. segment"},
		{in: "/monitoring//", err: "empty, . or .. segment"},
		{in: "/{queue}", err: "contains '{'"},
		{in: "/mon itoring", err: "contains ' '"},
		{in: "/mon?x=1", err: "contains '?'"},
		{in: "/metrics", err: "/metrics endpoint"},
		{in: "/healthz/ui", err: "/healthz endpoint"},
		{in: "/readyz", err: "/readyz endpoint"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseMonitoringPath(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestMonitoringConfig(t *testing.T) {
	t.Parallel()
	base := minimalEnv(t)
	load := func(args []string, extra map[string]string) (Config, error) {
		env := maps.Clone(base)
		maps.Copy(env, extra)
		return loadConfig(args, getenvFrom(env))
	}

	c, err := load(nil, nil)
	require.NoError(t, err)
	require.Equal(t, "/monitoring", c.MonitoringPath, "on by default")
	require.Empty(t, c.MonitoringUser)
	require.Empty(t, c.MonitoringPassword)
	require.False(t, c.MonitoringReadOnly)
	require.False(t, c.MonitoringShowPII)

	c, err = load([]string{"-monitoring-path=off"}, nil)
	require.NoError(t, err)
	require.Empty(t, c.MonitoringPath)
	require.Nil(t, newDashboard(&c), "off: no dashboard")

	c, err = load([]string{"-monitoring-read-only=true", "-monitoring-show-pii=true"}, map[string]string{
		"WORKER_MONITORING_PATH": "/ops/queues/", "WORKER_MONITORING_USER": dashUser, "WORKER_MONITORING_PASSWORD": dashPassword})
	require.NoError(t, err)
	require.Equal(t, "/ops/queues", c.MonitoringPath)
	require.Equal(t, dashUser, c.MonitoringUser)
	require.Equal(t, dashPassword, string(c.MonitoringPassword))
	require.True(t, c.MonitoringReadOnly)
	require.True(t, c.MonitoringShowPII)
	// The password is never printed: not in the start log, not in any formatting of the Config.
	require.NotContains(t, fmtAll(c), dashPassword)
	out := &syncBuffer{}
	logger := newLogger(out, 0)
	logger.Info().Dict("config", c.logDict()).Msg("worker starting")
	require.Contains(t, out.String(), `"WORKER_MONITORING_PASSWORD":"[REDACTED]"`)
	require.Contains(t, out.String(), `"WORKER_MONITORING_USER":"ops"`)
	require.NotContains(t, out.String(), dashPassword)

	// Environment only: no flag carries the password.
	_, err = load([]string{"-monitoring-password=" + dashPassword}, nil)
	require.ErrorContains(t, err, "flag provided but not defined")

	for name, extra := range map[string]map[string]string{
		"user alone":     {"WORKER_MONITORING_USER": dashUser},
		"password alone": {"WORKER_MONITORING_PASSWORD": dashPassword},
	} {
		_, err = load(nil, extra)
		require.ErrorContains(t, err, "set both WORKER_MONITORING_USER and WORKER_MONITORING_PASSWORD", name)
	}
	_, err = load(nil, map[string]string{"WORKER_MONITORING_USER": "a:b", "WORKER_MONITORING_PASSWORD": "x"})
	require.ErrorContains(t, err, "WORKER_MONITORING_USER (-monitoring-user): \"a:b\" contains a colon")
	_, err = load(nil, map[string]string{"WORKER_MONITORING_PATH": "/metrics"})
	require.ErrorContains(t, err, "WORKER_MONITORING_PATH (-monitoring-path)")
}

// --- payload masking ---

func TestMonitoringPayloadFormatter(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	full := jobs.Payload{EventSource: "hris://workday/acme", EventID: "evt-42", EventType: "hr.employee.joined",
		EventTime: at, EffectiveAt: at.Add(time.Hour),
		Employee: jobs.Employee{EmployeeID: "E-42", Email: "grace.hopper@corp.example", FirstName: "Grace",
			LastName: "Hopper", JobTitle: "Rear Admiral", Department: "Navy", Company: "ACME", Language: "en"},
		Accounts: []jobs.Membership{
			{AccountID: acctNA2, PermissionProfile: profSender, Groups: []string{"Sales", "Finance"}},
			{AccountID: acctEU, PermissionProfileID: "12345", GroupIDs: []string{"67"}},
		}}
	masked := full
	masked.Employee.Email, masked.Employee.FirstName, masked.Employee.LastName, masked.Employee.JobTitle =
		"g***@corp.example", "G***", "H***", "R***"
	leaver := jobs.Payload{EventSource: "hris://workday/acme", EventID: "evt-43", EventType: "hr.employee.left",
		EventTime: at, Employee: jobs.Employee{EmployeeID: "E-42"}}
	emailID := leaver
	emailID.Employee.EmployeeID = "grace@corp.example"
	emailIDMasked := emailID
	emailIDMasked.Employee.EmployeeID = "g***@corp.example"
	unicode := leaver
	unicode.Employee.FirstName, unicode.Employee.LastName = "Élodie", "Ørsted"
	unicodeMasked := leaver
	unicodeMasked.Employee.FirstName, unicodeMasked.Employee.LastName = "É***", "Ø***"

	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return string(b)
	}
	hidden := func(n int) string {
		return "(" + strconv.Itoa(n) + " bytes hidden: not JSON; WORKER_MONITORING_SHOW_PII=true shows them)"
	}
	for _, tt := range []struct {
		name, in, want string
	}{
		{"joiner: email, names and title masked, the rest shown", enc(full), enc(masked)},
		{"leaver: ids only, nothing to mask", enc(leaver), enc(leaver)},
		{"an employee id that is an email is masked", enc(emailID), enc(emailIDMasked)},
		{"first character kept whole", enc(unicode), enc(unicodeMasked)},
		{"free-form attributes: names shown, values masked",
			`{"employee":{"employee_id":"E-1","location":"Berlin","attributes":{"badge":"B-1234","department":"Navy"}}}`,
			`{"employee":{"employee_id":"E-1","location":"Berlin","attributes":{"badge":"B***","department":"Navy"}}}`},
		{"unknown fields are masked by default",
			`{"event_id":"e1","phone":"+1 555 0100","manager":{"name":"Ada","email":"ada@corp.example"},"tags":["vip"]}`,
			`{"event_id":"e1","phone":"+***","manager":{"name":"A***","email":"a***@corp.example"},"tags":["v***"]}`},
		{"numbers, booleans, null and empty strings kept",
			`{"replays":2,"ratio":1.50,"ok":true,"x":null,"email":"","big":12345678901234567890}`,
			`{"replays":2,"ratio":1.50,"ok":true,"x":null,"email":"","big":12345678901234567890}`},
		{"an email as an object key", `{"grace@corp.example":1}`, `{"g***@corp.example":1}`},
		{"a bare JSON string", `"Grace Hopper"`, `"G***"`},
		{"white space is dropped", "{ \"event_id\" : \"e1\" ,\n \"employee\": {\"email\": \"g@x.example\"} }",
			`{"event_id":"e1","employee":{"email":"g***@x.example"}}`},
		{"HTML in values is escaped", `{"first_name":"<script>"}`, `{"first_name":"\u003c***"}`},
		{"empty payload", "", ""},
		{"not JSON", "grace.hopper@corp.example", hidden(25)},
		{"binary", "\x00\x01\xff", hidden(3)},
		{"truncated JSON", `{"email":"grace@corp.example"`, hidden(29)},
		{"two JSON values", `{} {"email":"grace@corp.example"}`, hidden(33)},
		{"nested too deeply", strings.Repeat("[", 40) + strings.Repeat("]", 40), hidden(80)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, maskPayload(jobs.TypeUserCreate, []byte(tt.in)))
		})
	}
}

// TestMonitoringPayloadFieldsClassified makes whoever adds a text field to the task payload or result decide
// whether the dashboard shows it (visibleKey) or masks it (personal): unlisted fields are masked, which is safe
// but may hide what an operator needs.
func TestMonitoringPayloadFieldsClassified(t *testing.T) {
	t.Parallel()
	personal := []string{"email", "first_name", "last_name", "job_title"}
	timeType := reflect.TypeFor[time.Time]()
	var walk func(typ reflect.Type)
	walk = func(typ reflect.Type) {
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			switch {
			case ft == timeType || ft.Kind() == reflect.String:
				require.True(t, visibleKey(name) != slices.Contains(personal, name),
					"jobs.%s.%s (json %q): list it in visibleKey or in personal", typ.Name(), f.Name, name)
			case ft.Kind() == reflect.Struct:
				walk(ft)
			case ft.Kind() == reflect.Map: // free-form: its values are masked unless their key is visible
				require.False(t, visibleKey(name), "jobs.%s.%s", typ.Name(), f.Name)
			}
		}
	}
	walk(reflect.TypeFor[jobs.Payload]())
	walk(reflect.TypeFor[jobs.TaskResult]())

	// A result as a task writes it keeps everything.
	result := `{"outcome":"created","docusign_user_id":"5f1c0e2a-0b6e-4c1f-9d3a-6a3f1e2b9c01","docusign_calls":3,"docusign_writes":1}`
	require.Equal(t, result, maskPayload(jobs.TypeUserCreate, []byte(result)))
}

// --- HTTP: routing, auth, read-only, masking through asynqmon ---

func TestMonitoringBasicAuth(t *testing.T) {
	t.Parallel()
	// The routes below never reach Redis: an address nothing listens on proves it.
	cfg := &Config{MonitoringPath: "/monitoring", MonitoringUser: dashUser, MonitoringPassword: []byte(dashPassword),
		redisOptions: &redis.Options{Addr: "127.0.0.1:1"}}
	h := dashboardRoutes(t, cfg)
	good := basicHeader(dashUser, dashPassword)

	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		require.Equal(t, http.StatusOK, serve(t, h, http.MethodGet, path, nil).Code, "%s needs no credentials", path)
	}
	for name, header := range map[string]http.Header{
		"no credentials":  nil,
		"wrong user":      basicHeader("admin", dashPassword),
		"wrong password":  basicHeader(dashUser, dashPassword+"!"),
		"password prefix": basicHeader(dashUser, dashPassword[:5]),
		"empty":           basicHeader("", ""),
		"not basic":       {"Authorization": {"Bearer " + dashPassword}},
	} {
		for _, path := range []string{"/monitoring/", "/monitoring/api/queues", "/monitoring/static/js/x.js"} {
			rec := serve(t, h, http.MethodGet, path, header)
			require.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", name, path)
			require.Equal(t, `Basic realm="docusign-worker dashboard", charset="UTF-8"`, rec.Header().Get("WWW-Authenticate"))
			require.NotContains(t, rec.Body.String(), "Asynq")
		}
	}

	rec := serve(t, h, http.MethodGet, "/monitoring/", good)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "<title>Asynq - Monitoring</title>")
	require.Contains(t, rec.Body.String(), `window.FLAG_ROOT_PATH="\/monitoring"`, "the app knows where it is mounted")
	require.Contains(t, rec.Body.String(), `window.FLAG_READ_ONLY="false"`)
	require.Contains(t, rec.Body.String(), `src="/monitoring/static/js/`)
	// The app's routes are its own: a deep link serves the app too.
	rec = serve(t, h, http.MethodGet, "/monitoring/queues/critical", good)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "<title>Asynq - Monitoring</title>")

	// The bare path redirects to the app.
	rec = serve(t, h, http.MethodGet, "/monitoring", nil)
	require.Equal(t, 3, rec.Code/100, "a redirect, not %d", rec.Code)
	require.Equal(t, "/monitoring/", rec.Header().Get("Location"))
	// Nothing else moved under the dashboard.
	require.Equal(t, http.StatusNotFound, serve(t, h, http.MethodGet, "/monitoringx", good).Code)

	// A foreign page cannot use the operator's cached credentials to change queues.
	cross := maps.Clone(good)
	cross.Set("Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, serve(t, h, http.MethodPost, "/monitoring/api/queues/critical:pause", cross).Code)
	cross.Del("Sec-Fetch-Site")
	cross.Set("Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, serve(t, h, http.MethodDelete, "/monitoring/api/queues/critical", cross).Code)
}

func TestMonitoringReadOnly(t *testing.T) {
	t.Parallel()
	redisURL, rdb := dashboardRedis(t)
	opts, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	// A queue of this test alone, never created: pausing needs only its name.
	queue := "test-dash-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	pausedKey := "asynq:{" + queue + "}:paused"
	t.Cleanup(func() { rdb.Del(context.Background(), pausedKey) })
	paused := func() bool {
		n, err := rdb.Exists(t.Context(), pausedKey).Result()
		require.NoError(t, err)
		return n == 1
	}
	pause := "/monitoring/api/queues/" + queue + ":pause"
	resume := "/monitoring/api/queues/" + queue + ":resume"

	ro := dashboardRoutes(t, &Config{MonitoringPath: "/monitoring", MonitoringReadOnly: true, redisOptions: opts})
	rec := serve(t, ro, http.MethodPost, pause, nil)
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Contains(t, rec.Body.String(), "read-only mode")
	require.False(t, paused())
	for _, method := range []string{http.MethodDelete, http.MethodPost} {
		rec = serve(t, ro, method, "/monitoring/api/queues/"+queue+"/pending_tasks:delete_all", nil)
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code, method)
	}
	require.Equal(t, http.StatusOK, serve(t, ro, http.MethodGet, "/monitoring/api/queues", nil).Code, "reading works")
	require.Contains(t, serve(t, ro, http.MethodGet, "/monitoring/", nil).Body.String(), `window.FLAG_READ_ONLY="true"`,
		"the app hides its buttons")

	rw := dashboardRoutes(t, &Config{MonitoringPath: "/monitoring", redisOptions: opts})
	require.Equal(t, http.StatusNoContent, serve(t, rw, http.MethodPost, pause, nil).Code)
	require.True(t, paused())
	require.Equal(t, http.StatusMethodNotAllowed, serve(t, ro, http.MethodPost, resume, nil).Code)
	require.True(t, paused())
	require.Equal(t, http.StatusNoContent, serve(t, rw, http.MethodPost, resume, nil).Code)
	require.False(t, paused())
}

func TestMonitoringShowPII(t *testing.T) {
	t.Parallel()
	redisURL, rdb := dashboardRedis(t)
	opts, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	source := "hris://test/dash-pii-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	tasks := enqueueOurTasks(t, rdb, source)

	task := func(h http.Handler, tk ourTask) map[string]any {
		rec := serve(t, h, http.MethodGet, "/monitoring/api/queues/"+tk.queue+"/tasks/"+tk.id, nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var info struct {
			Type    string `json:"type"`
			Payload string `json:"payload"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &info))
		var p map[string]any
		require.NoError(t, json.Unmarshal([]byte(info.Payload), &p), "the payload shown is JSON: %s", info.Payload)
		return p
	}
	masked := dashboardRoutes(t, &Config{MonitoringPath: "/monitoring", redisOptions: opts})
	shown := dashboardRoutes(t, &Config{MonitoringPath: "/monitoring", MonitoringShowPII: true, redisOptions: opts})
	for _, tk := range tasks {
		p := task(masked, tk)
		require.Equal(t, map[string]any{"employee_id": "E-" + tk.queue, "email": "g***@corp.example", "first_name": "G***",
			"last_name": "H***", "job_title": "R***", "department": "Navy"}, p["employee"])
		require.Equal(t, source, p["event_source"])
		require.Equal(t, "evt-"+tk.queue, p["event_id"])
		require.Equal(t, []any{map[string]any{"account_id": acctNA2, "permission_profile": profSender, "groups": []any{"Sales"}}},
			p["accounts"])

		p = task(shown, tk)
		require.Equal(t, map[string]any{"employee_id": "E-" + tk.queue, "email": "grace.hopper@corp.example",
			"first_name": "Grace", "last_name": "Hopper", "job_title": "Rear Admiral", "department": "Navy"}, p["employee"])
	}

	// The task lists use the same formatter.
	rec := serve(t, masked, http.MethodGet, "/monitoring/api/queues/"+jobs.QueueDefault+"/pending_tasks?page_size=100", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), tasks[jobs.QueueDefault].id)
	require.NotContains(t, rec.Body.String(), "grace.hopper")
	require.NotContains(t, rec.Body.String(), "Hopper")
}

// --- the worker ---

func TestMonitoringWorker(t *testing.T) {
	t.Parallel()
	f, r, rdb := startDashboardWorker(t, map[string]string{
		"WORKER_MONITORING_USER": dashUser, "WORKER_MONITORING_PASSWORD": dashPassword})
	tasks := enqueueOurTasks(t, rdb, f.source)

	line, ok := r.out.find(t, "http server listening")
	require.True(t, ok)
	require.Equal(t, "http server listening: /healthz /readyz /metrics /monitoring", line["message"])
	require.Equal(t, r.baseURL+"/monitoring/", line["dashboard_url"])
	require.Equal(t, true, line["dashboard_auth"])
	require.Equal(t, false, line["dashboard_read_only"])
	require.Equal(t, false, line["dashboard_show_pii"])
	require.NotContains(t, r.out.String(), dashPassword)
	_, warned := r.out.find(t, "no basic auth")
	require.False(t, warned)

	// Health and metrics stay open; the dashboard asks.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		code, body := r.get(t, path)
		require.Equal(t, http.StatusOK, code, "%s: %s", path, body)
	}
	code, _ := dashboardDo(t, http.MethodGet, r.baseURL+"/monitoring/api/queues", "", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = dashboardDo(t, http.MethodGet, r.baseURL+"/monitoring/api/queues", dashUser, "wrong")
	require.Equal(t, http.StatusUnauthorized, code)
	// Both the bare path (redirected) and the slash serve the app.
	for _, path := range []string{"/monitoring", "/monitoring/"} {
		code, body := dashboardDo(t, http.MethodGet, r.baseURL+path, dashUser, dashPassword)
		require.Equal(t, http.StatusOK, code, path)
		require.Contains(t, string(body), "<title>Asynq - Monitoring</title>", path)
	}

	// The API lists our queues, each holding our task.
	code, body := dashboardDo(t, http.MethodGet, r.baseURL+"/monitoring/api/queues", dashUser, dashPassword)
	require.Equal(t, http.StatusOK, code, string(body))
	var list struct {
		Queues []struct {
			Queue string `json:"queue"`
			Size  int    `json:"size"`
		} `json:"queues"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	sizes := map[string]int{}
	for _, q := range list.Queues {
		sizes[q.Queue] = q.Size
	}
	for _, q := range []string{jobs.QueueCritical, jobs.QueueDefault, jobs.QueueLow} {
		require.GreaterOrEqual(t, sizes[q], 1, "queue %s in %s", q, body)
	}
	code, body = dashboardDo(t, http.MethodGet,
		r.baseURL+"/monitoring/api/queues/"+jobs.QueueDefault+"/tasks/"+tasks[jobs.QueueDefault].id, dashUser, dashPassword)
	require.Equal(t, http.StatusOK, code, string(body))
	require.Contains(t, string(body), `g***@corp.example`)
	require.NotContains(t, string(body), "grace.hopper")

	// asynqmon's Redis connections carry the worker's key prefix as their name and are closed on stop.
	name := f.prefix + "worker:dashboard"
	dashConns := func() int {
		list, err := rdb.ClientList(context.Background()).Result()
		require.NoError(t, err)
		return strings.Count(list, " name="+name+" ")
	}
	require.Positive(t, dashConns())
	require.Equal(t, 0, r.stop(t, 30*time.Second))
	waitFor(t, 5*time.Second, "the dashboard's Redis connections are closed", func() bool { return dashConns() == 0 })
}

func TestMonitoringOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t, map[string]string{"WORKER_MONITORING_PATH": "off"})
	line, ok := r.out.find(t, "http server listening")
	require.True(t, ok)
	require.Equal(t, "http server listening: /healthz /readyz /metrics", line["message"])
	require.NotContains(t, line, "dashboard_url")
	code, _ := r.get(t, "/monitoring/")
	require.Equal(t, http.StatusNotFound, code)
}

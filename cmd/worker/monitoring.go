package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Dashboard bounds that are not settings.
const (
	// dashboardPoolSize caps each of asynqmon's two Redis pools (its inspector and its Redis-info client): a few
	// operators' browsers poll it, nothing more.
	dashboardPoolSize = 4
	// maskMaxDepth bounds the nesting of a payload the masking formatter walks; deeper payloads are hidden.
	maskMaxDepth = 32
	// dashboardRealm is the basic-auth realm the browser shows.
	dashboardRealm = "docusign-worker dashboard"
)

// dashboard is asynqmon, the asynq web UI, served by the worker's HTTP server under WORKER_MONITORING_PATH: the
// single-page app, its assets and its JSON API (<path>/api/...). It wraps asynqmon with optional basic auth and
// cross-origin protection (the UI's pause, delete, run and archive calls are plain POSTs and DELETEs that a foreign
// page could otherwise make with the operator's cached credentials), and hides personal data in task payloads
// unless WORKER_MONITORING_SHOW_PII is set. /healthz, /readyz and /metrics are not behind the auth.
type dashboard struct {
	path     string // no trailing slash
	readOnly bool
	showPII  bool
	auth     bool
	ui       *asynqmon.HTTPHandler
	handler  http.Handler
}

// newDashboard builds the dashboard of cfg, or returns nil when it is off. asynqmon gets Redis clients of its own,
// made from the worker's parsed WORKER_REDIS_URL; close releases them.
func newDashboard(cfg *Config) *dashboard {
	if cfg.MonitoringPath == "" {
		return nil
	}
	opts := asynqmon.Options{
		RootPath:     cfg.MonitoringPath,
		RedisConnOpt: redisConnOpt{opts: cfg.redisOptions, name: cfg.RedisKeyPrefix + "dashboard"},
		ReadOnly:     cfg.MonitoringReadOnly,
	}
	if !cfg.MonitoringShowPII {
		opts.PayloadFormatter = asynqmon.PayloadFormatterFunc(maskPayload)
		opts.ResultFormatter = asynqmon.ResultFormatterFunc(maskPayload)
	}
	d := &dashboard{path: cfg.MonitoringPath, readOnly: cfg.MonitoringReadOnly, showPII: cfg.MonitoringShowPII,
		ui: asynqmon.New(opts)}
	var h http.Handler = d.ui
	if cfg.MonitoringUser != "" {
		h = newBasicAuth(cfg.MonitoringUser, cfg.MonitoringPassword, h)
		d.auth = true
	}
	d.handler = http.NewCrossOriginProtection().Handler(h)
	return d
}

// mount adds the dashboard to the worker's routes. The subtree pattern takes the app and its API; ServeMux
// redirects the bare path (/monitoring) to it (/monitoring/).
func (d *dashboard) mount(mux *http.ServeMux) {
	mux.Handle(d.path+"/", d.handler)
}

// close releases asynqmon's Redis clients. Call it after the HTTP server has stopped.
func (d *dashboard) close() error {
	if err := d.ui.Close(); err != nil {
		return fmt.Errorf("dashboard: close redis clients: %w", err)
	}
	return nil
}

// url is where an operator opens the dashboard on the listener at addr: a wildcard host is shown as localhost.
func (d *dashboard) url(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return d.path + "/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + d.path + "/"
}

// logFields adds the dashboard's URL and modes to the HTTP server's start line.
func (d *dashboard) logFields(e *zerolog.Event, addr net.Addr) *zerolog.Event {
	return e.Str("dashboard_url", d.url(addr)).Bool("dashboard_auth", d.auth).
		Bool("dashboard_read_only", d.readOnly).Bool("dashboard_show_pii", d.showPII)
}

// warnIfOpen warns when anyone who reaches a non-loopback listener could change queues and tasks.
func (d *dashboard) warnIfOpen(log *zerolog.Logger, addr net.Addr) {
	if d.auth || d.readOnly {
		return
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return
		}
	}
	log.Warn().Str("dashboard_url", d.url(addr)).
		Msg("the dashboard has no basic auth and is not read-only: whoever reaches WORKER_HTTP_ADDR can pause queues " +
			"and delete, run or archive tasks; set WORKER_MONITORING_USER and WORKER_MONITORING_PASSWORD, or " +
			"WORKER_MONITORING_READ_ONLY=true")
}

// redisConnOpt makes asynqmon's Redis clients from the worker's parsed options, so that every option of
// WORKER_REDIS_URL (TLS, user, timeouts) applies to them too. asynqmon cannot share the worker's client: its
// Close closes the clients it was given. The clients carry a name (CLIENT LIST) and a small pool.
type redisConnOpt struct {
	opts *redis.Options
	name string
}

// MakeRedisClient implements asynq.RedisConnOpt.
func (o redisConnOpt) MakeRedisClient() any {
	c := *o.opts
	c.ClientName = o.name
	if c.PoolSize == 0 || c.PoolSize > dashboardPoolSize {
		c.PoolSize = dashboardPoolSize
	}
	return redis.NewClient(&c)
}

// basicAuth asks for one user name and password. It compares SHA-256 digests in constant time, both of them
// every time, so that neither the length nor the first wrong byte of either shows in the response time.
type basicAuth struct {
	user, password [sha256.Size]byte
	next           http.Handler
}

func newBasicAuth(user string, password []byte, next http.Handler) *basicAuth {
	return &basicAuth{user: sha256.Sum256([]byte(user)), password: sha256.Sum256(password), next: next}
}

func (a *basicAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, password, ok := r.BasicAuth()
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	match := subtle.ConstantTimeCompare(u[:], a.user[:]) & subtle.ConstantTimeCompare(p[:], a.password[:])
	if !ok || match != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+dashboardRealm+`", charset="UTF-8"`)
		http.Error(w, "401 unauthorized: the dashboard needs the user and password of WORKER_MONITORING_USER", http.StatusUnauthorized)
		return
	}
	a.next.ServeHTTP(w, r)
}

// parseMonitoringPath reads WORKER_MONITORING_PATH: "off" (or empty) turns the dashboard off; otherwise an absolute
// URL path of letters, digits and - _ . ~, one trailing slash ignored, neither "/" (the dashboard would answer
// every unknown URL) nor the health or metrics paths.
func parseMonitoringPath(v string) (string, error) {
	if v == "" || strings.EqualFold(v, "off") {
		return "", nil
	}
	example := "use a URL path such as /monitoring or /ops/queues, or off"
	if !strings.HasPrefix(v, "/") {
		return "", fmt.Errorf("%q does not start with /: %s", v, example)
	}
	p := v
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if p == "/" {
		return "", fmt.Errorf("%q would put the dashboard over every URL: %s", v, example)
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%q has an empty, . or .. segment: %s", v, example)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.~", r)) {
				return "", fmt.Errorf("%q contains %q: %s", v, r, example)
			}
		}
	}
	for _, taken := range []string{"/healthz", "/readyz", "/metrics"} {
		if p == taken || strings.HasPrefix(p, taken+"/") {
			return "", fmt.Errorf("%q is the worker's %s endpoint: %s", v, taken, example)
		}
	}
	return p, nil
}

// checkMonitoringUser reads WORKER_MONITORING_USER: basic auth cannot carry a colon in the user name.
func checkMonitoringUser(v string) error {
	if strings.ContainsRune(v, ':') {
		return fmt.Errorf("%q contains a colon, which basic auth cannot carry in a user name", v)
	}
	for _, r := range v {
		if r < ' ' || r == 0x7f {
			return errors.New("the user name contains a control character")
		}
	}
	return nil
}

// maskPayload is the dashboard's payload (and result) formatter while WORKER_MONITORING_SHOW_PII is off. Task
// payloads carry employees' emails and names (jobs.Payload): it shows the JSON with the string values of
// visibleKey fields as they are and every other string masked, "g***@corp.example" for an email and "G***" for
// anything else. Deny by default: a field added to the payload later is masked until it is listed as visible. A
// value that looks like an email is masked under any key (an employee id can be one). A payload that is not JSON
// is hidden whole rather than shown as raw bytes.
func maskPayload(_ string, payload []byte) string {
	if len(payload) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var out bytes.Buffer
	err := maskValue(dec, &out, "", 0)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the JSON value")
		}
	}
	if err != nil {
		return "(" + strconv.Itoa(len(payload)) + " bytes hidden: not JSON; WORKER_MONITORING_SHOW_PII=true shows them)"
	}
	return out.String()
}

// maskValue copies one JSON value from dec to out, masking the strings that key (the nearest object key) does
// not allow to show.
func maskValue(dec *json.Decoder, out *bytes.Buffer, key string, depth int) error {
	if depth > maskMaxDepth {
		return errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return err //nolint:wrapcheck // only tells maskPayload to hide the payload
	}
	switch v := tok.(type) {
	case json.Delim:
		return maskContainer(dec, out, v, key, depth)
	case string:
		if !visibleKey(key) || looksLikeEmail(v) {
			v = maskString(v)
		}
		writeJSONString(out, v)
	case json.Number:
		out.WriteString(v.String())
	case bool:
		out.WriteString(strconv.FormatBool(v))
	case nil:
		out.WriteString("null")
	default:
		return fmt.Errorf("unexpected token %T", tok)
	}
	return nil
}

// maskContainer copies the object or array that open starts; array elements are masked by the array's key.
func maskContainer(dec *json.Decoder, out *bytes.Buffer, open json.Delim, key string, depth int) error {
	closing := byte(']')
	if open == '{' {
		closing = '}'
	}
	out.WriteByte(byte(open))
	for i := 0; dec.More(); i++ {
		if i > 0 {
			out.WriteByte(',')
		}
		if open == '{' {
			tok, err := dec.Token()
			if err != nil {
				return err //nolint:wrapcheck // only tells maskPayload to hide the payload
			}
			k, ok := tok.(string)
			if !ok {
				return fmt.Errorf("object key is %T", tok)
			}
			key = k
			if looksLikeEmail(k) {
				k = maskString(k)
			}
			writeJSONString(out, k)
			out.WriteByte(':')
		}
		if err := maskValue(dec, out, key, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err //nolint:wrapcheck // only tells maskPayload to hide the payload
	}
	out.WriteByte(closing)
	return nil
}

// visibleKey lists the payload fields (jobs.Payload, jobs.Employee, jobs.Membership) and result fields
// (jobs.TaskResult) whose string values identify events, employees by id, the organisational attributes the
// mapping rules match on, accounts, access and outcomes, not persons: the dashboard shows them. The rest — email,
// first_name, last_name, job_title, the values of the free-form attributes map, and any field not listed here —
// is masked.
func visibleKey(key string) bool {
	switch key {
	case "event_source", "event_id", "event_type", "event_time", "effective_at",
		"employee_id", "department", "company", "language", "location", "employment_type", "cost_center",
		"account_id", "permission_profile", "permission_profile_id", "groups", "group_ids",
		"outcome", "docusign_user_id":
		return true
	}
	return false
}

// maskString keeps the first character of s, and the domain of an email: "grace@corp.example" → "g***@corp.example",
// "Grace" → "G***". The empty string stays empty.
func maskString(s string) string {
	if s == "" {
		return ""
	}
	if looksLikeEmail(s) {
		local, domain, _ := strings.Cut(s, "@")
		return firstRune(local) + "***@" + domain
	}
	return firstRune(s) + "***"
}

// looksLikeEmail reports whether s has the shape local@domain.tld, without spaces.
func looksLikeEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.ContainsAny(s, " \t\r\n") &&
		!strings.Contains(domain, "@")
}

func firstRune(s string) string {
	_, n := utf8.DecodeRuneInString(s)
	return s[:n]
}

// writeJSONString writes s as a JSON string.
func writeJSONString(out *bytes.Buffer, s string) {
	b, err := json.Marshal(s)
	if err != nil { // a string always marshals; invalid UTF-8 is replaced
		b = []byte(`""`)
	}
	out.Write(b)
}

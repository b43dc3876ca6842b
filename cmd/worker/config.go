package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// envPrefix starts the name of every environment variable of the worker.
const envPrefix = "WORKER_"

// Config is the worker's whole configuration, read from the environment and flags by loadConfig.
type Config struct {
	LogLevel        zerolog.Level
	HTTPAddr        string
	ShutdownTimeout time.Duration

	// MonitoringPath is where the dashboard is served; "" when it is off.
	MonitoringPath     string
	MonitoringUser     string
	MonitoringPassword docusign.SecretBytes
	MonitoringReadOnly bool
	MonitoringShowPII  bool

	RulesFile          string
	RulesWatchInterval time.Duration
	Shadow             bool
	GuardMaxCloses     int
	GuardMaxPercent    float64
	GuardWindow        time.Duration

	RedisURL       string
	redisOptions   *redis.Options
	RedisKeyPrefix string

	NATSURL     string
	NATSListen  string
	natsHost    string
	natsPort    int
	NATSDataDir string

	HRStream                string
	HRSubjects              []string
	HRMaxAge                time.Duration
	DeadLetterStream        string
	DeadLetterPrefix        string
	DeadLetterMaxAge        time.Duration
	DeadLetterMaxMsgs       int
	DeadLetterMaxBytes      int
	DeadLetterSweepInterval time.Duration
	AuditStream             string
	AuditPrefix             string
	AuditMaxAge             time.Duration
	AuditSource             string
	StreamDuplicates        time.Duration
	StreamReplicas          int

	ConsumerName          string
	ConsumerConcurrency   int
	ConsumerAckWait       time.Duration
	ConsumerMaxDeliver    int
	ConsumerMaxAckPending int
	MaxEventBytes         int

	TaskConcurrency          int
	TaskCheckInterval        time.Duration
	DelayedTaskCheckInterval time.Duration
	Queues                   map[string]int
	StrictPriority           bool
	IntakeQueue              string
	RetryLimit               int
	RetryBackoffBase         time.Duration
	RetryBackoffCap          time.Duration
	TaskRetention            time.Duration

	DocuSignEnvironment        docusign.Environment
	DocuSignAuthURL            string
	DocuSignAdminURL           string
	DocuSignIntegrationKey     string
	DocuSignUserID             string
	DocuSignPrivateKeyFile     string
	DocuSignPrivateKey         docusign.SecretBytes
	DocuSignOrganizationID     string
	DocuSignAccounts           []string
	DocuSignAdminBudgetAccount string
	DocuSignSurface            jobs.Surface
	DocuSignScopes             []string
	DocuSignConsentRedirectURI string
	DocuSignHTTPTimeout        time.Duration
	DocuSignNoAutoActivate     bool

	RateLimitKeyPrefix   string
	RateLimitWindow      time.Duration
	RateLimitBurstWindow time.Duration
	RateLimitLimit       int
	RateLimitBurstLimit  int
	RateLimitReserve     float64
	RateLimitMaxWait     time.Duration
	RateLimitFailOpen    bool

	// effective holds every setting's value as given (or its default), in table order, printable (secrets
	// redacted, URL passwords masked), for the start log.
	effective []effectiveValue
}

// String lists the effective settings, printable: secrets redacted, URL passwords masked (Config holds the
// Redis URL and the private key, so no formatting may print its fields).
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("Config{")
	for i, e := range c.effective {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%q", e.env, e.value)
	}
	b.WriteByte('}')
	return b.String()
}

// GoString is String.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// effectiveValue is one setting's value and where it came from.
type effectiveValue struct {
	env    string
	value  string
	source string // "default", "env" or "flag"
}

// setting is one row of the configuration table: an environment variable, the flag of the same meaning, its
// default and what it does. The table (settings) is the one place that lists them; -h, the start log and the
// README are derived from it.
type setting struct {
	// env is the environment variable; the flag is derived from it (flagName).
	env string
	// def is the default, written as an operator would write the value.
	def string
	// usage says what the setting does.
	usage string
	// group is the section of -h the setting is listed in.
	group string
	// secret marks a value that is never printed and has no flag (a flag would show it in the process list).
	secret bool
	// hasURL marks a URL whose password is redacted when printed.
	hasURL bool
	// set parses a value into the Config; its error names the problem and the fix, not the setting.
	set func(c *Config, v string) error
}

// flagName is the flag of the setting: the variable without WORKER_, lower case, '_' → '-'; "" for secrets.
func (s setting) flagName() string {
	if s.secret {
		return ""
	}
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.env, envPrefix)), "_", "-")
}

// label names the setting in error messages: the variable and its flag.
func (s setting) label() string {
	if f := s.flagName(); f != "" {
		return s.env + " (-" + f + ")"
	}
	return s.env
}

// Groups of settings, in the order -h lists them.
const (
	groupGeneral  = "General"
	groupRedis    = "Redis"
	groupNATS     = "NATS"
	groupStreams  = "Streams"
	groupIntake   = "Intake (JetStream consumer)"
	groupTasks    = "Tasks (asynq)"
	groupDocuSign = "DocuSign"
	groupLimiter  = "Rate limiter"

	groupDashboard = "Dashboard"
	groupRules     = "Mapping rules, shadow mode and the close guard"
)

// Defaults that other code refers to.
const (
	defaultNATSListen  = "127.0.0.1:4222"
	defaultNATSDataDir = "./data/nats"
	defaultQueues      = "critical=6,default=3,low=1"
)

// settings is the configuration table. Keep it the only list of environment variables.
func settings() []setting {
	return []setting{
		{env: "WORKER_LOG_LEVEL", def: "info", group: groupGeneral,
			usage: "log level: trace, debug (adds employees' emails), info, warn or error",
			set: func(c *Config, v string) error {
				l, err := zerolog.ParseLevel(strings.ToLower(v))
				if err != nil || v == "" || l == zerolog.NoLevel {
					return fmt.Errorf("unknown level %q: use trace, debug, info, warn or error", v)
				}
				c.LogLevel = l
				return nil
			}},
		{env: "WORKER_HTTP_ADDR", def: ":8080", group: groupGeneral,
			usage: "listen address of /healthz, /readyz, /metrics, the dashboard (WORKER_MONITORING_PATH) and POST /plan (port 0: any free port)",
			set:   hostPort(func(c *Config) *string { return &c.HTTPAddr })},
		{env: "WORKER_SHUTDOWN_TIMEOUT", def: "8s", group: groupGeneral,
			usage: "on SIGTERM, how long the intake may drain and, then, running tasks may finish before they go back to their queue; keep twice this plus 10 s below the orchestrator's grace period (Kubernetes: 30 s)",
			set:   duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, time.Second, 10*time.Minute)},

		{env: "WORKER_REDIS_URL", def: "redis://127.0.0.1:6379/0", group: groupRedis, hasURL: true,
			usage: "Redis holding the task queues, the rate limiter, the identity map and the ordering state: redis:// or rediss://, password in the URL",
			set: func(c *Config, v string) error {
				o, err := redis.ParseURL(v)
				var uerr *url.Error
				if errors.As(err, &uerr) {
					err = errors.New("not a URL") // url.Error quotes the URL, password included
				}
				if err != nil {
					return fmt.Errorf("%w: use redis://[:password@]host:port/db, or rediss:// for TLS", err)
				}
				c.RedisURL, c.redisOptions = v, o
				return nil
			}},
		{env: "WORKER_REDIS_KEY_PREFIX", def: "docusign-worker:", group: groupRedis,
			usage: "prefix of the worker's own Redis keys (identity map, watermarks, leases, tombstones); give a second deployment or shadow mode its own",
			set: func(c *Config, v string) error {
				if v == "" || strings.ContainsAny(v, "{} \t") {
					return fmt.Errorf("%q: use a non-empty prefix without braces or spaces, such as the default docusign-worker: (with its colon)", v)
				}
				c.RedisKeyPrefix = v
				return nil
			}},

		{env: "WORKER_NATS_URL", def: "", group: groupNATS, hasURL: true,
			usage: "NATS server URL(s), comma-separated; empty runs the embedded NATS server (single-machine setup)",
			set: func(c *Config, v string) error {
				for _, u := range splitList(v) {
					p, err := url.Parse(u)
					if err != nil || p.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, p.Scheme) {
						return fmt.Errorf("%q is not a NATS URL: use nats://host:4222 (or tls://, ws://, wss://)", redactURL(u))
					}
				}
				c.NATSURL = v
				return nil
			}},
		{env: "WORKER_NATS_LISTEN", def: defaultNATSListen, group: groupNATS,
			usage: "listen address of the embedded NATS server, for cmd/enqueue and HR publishers (port 0 or -1: any free port)",
			set: func(c *Config, v string) error {
				host, port, err := net.SplitHostPort(v)
				p, perr := strconv.Atoi(port)
				if err != nil || perr != nil || p < -1 || p > 65535 {
					return fmt.Errorf("%q: use host:port, e.g. %s or 127.0.0.1:-1 for any free port", v, defaultNATSListen)
				}
				c.NATSListen, c.natsHost, c.natsPort = v, host, p
				return nil
			}},
		{env: "WORKER_NATS_DATA_DIR", def: defaultNATSDataDir, group: groupNATS,
			usage: "JetStream store directory of the embedded NATS server",
			set:   nonEmpty(func(c *Config) *string { return &c.NATSDataDir }, "a directory, e.g. "+defaultNATSDataDir)},

		{env: "WORKER_HR_STREAM", def: events.DefaultStream, group: groupStreams,
			usage: "JetStream stream of HR events",
			set:   streamName(func(c *Config) *string { return &c.HRStream })},
		{env: "WORKER_HR_SUBJECTS", def: events.DefaultSubject, group: groupStreams,
			usage: "subjects of the HR stream, comma-separated",
			set: func(c *Config, v string) error {
				subs := splitList(v)
				if len(subs) == 0 {
					return errors.New("no subject: use e.g. " + events.DefaultSubject)
				}
				for _, s := range subs {
					if strings.ContainsAny(s, " \t") {
						return fmt.Errorf("subject %q contains white space", s)
					}
				}
				c.HRSubjects = subs
				return nil
			}},
		{env: "WORKER_HR_MAX_AGE", def: durString(events.DefaultStreamMaxAge), group: groupStreams,
			usage: "how long the HR stream keeps events",
			set:   duration(func(c *Config) *time.Duration { return &c.HRMaxAge }, time.Minute, 0)},
		{env: "WORKER_DEADLETTER_STREAM", def: events.DefaultDeadLetterStream, group: groupStreams,
			usage: "JetStream stream of dead letters (invalid events, archived tasks)",
			set:   streamName(func(c *Config) *string { return &c.DeadLetterStream })},
		{env: "WORKER_DEADLETTER_PREFIX", def: events.DefaultDeadLetterPrefix, group: groupStreams,
			usage: "subject prefix of dead letters: <prefix>.intake.<reason>, <prefix>.task.<task type>.<task id>",
			set:   subjectPrefix(func(c *Config) *string { return &c.DeadLetterPrefix })},
		{env: "WORKER_DEADLETTER_MAX_AGE", def: durString(events.DefaultDeadLetterMaxAge), group: groupStreams,
			usage: "how long dead letters are kept",
			set:   duration(func(c *Config) *time.Duration { return &c.DeadLetterMaxAge }, time.Minute, 0)},
		{env: "WORKER_DEADLETTER_MAX_MSGS", def: strconv.Itoa(events.DefaultDeadLetterMaxMsgs), group: groupStreams,
			usage: "most dead letters kept (-1: no limit); a full stream refuses new ones (logged as an alert, counted in docusign_worker_deadletter_write_failures_total) and they are written once there is room, never dropped",
			set:   integer(func(c *Config) *int { return &c.DeadLetterMaxMsgs }, -1, 1<<40)},
		{env: "WORKER_DEADLETTER_MAX_BYTES", def: strconv.Itoa(events.DefaultDeadLetterMaxBytes), group: groupStreams,
			usage: "most bytes of dead letters kept (-1: no limit); same behaviour as WORKER_DEADLETTER_MAX_MSGS",
			set:   integer(func(c *Config) *int { return &c.DeadLetterMaxBytes }, -1, 1<<50)},
		{env: "WORKER_DEADLETTER_SWEEP_INTERVAL", def: durString(jobs.DefaultSweepInterval), group: groupStreams,
			usage: "how often asynq's archive is swept for archived tasks without a dead-letter record (asynq's recoverer archives without telling the worker)",
			set:   duration(func(c *Config) *time.Duration { return &c.DeadLetterSweepInterval }, time.Second, time.Hour)},
		{env: "WORKER_AUDIT_STREAM", def: jobs.DefaultAuditStream, group: groupStreams,
			usage: "JetStream stream of provisioning.* audit events",
			set:   streamName(func(c *Config) *string { return &c.AuditStream })},
		{env: "WORKER_AUDIT_PREFIX", def: jobs.DefaultAuditSubjectPrefix, group: groupStreams,
			usage: "subject prefix of audit events: <prefix>.<outcome>",
			set:   subjectPrefix(func(c *Config) *string { return &c.AuditPrefix })},
		{env: "WORKER_AUDIT_MAX_AGE", def: durString(jobs.DefaultAuditMaxAge), group: groupStreams,
			usage: "how long audit events are kept",
			set:   duration(func(c *Config) *time.Duration { return &c.AuditMaxAge }, time.Minute, 0)},
		{env: "WORKER_AUDIT_SOURCE", def: jobs.DefaultAuditSource, group: groupStreams,
			usage: "CloudEvents source of audit events; give each deployment its own",
			set:   nonEmpty(func(c *Config) *string { return &c.AuditSource }, "a URI reference, e.g. "+jobs.DefaultAuditSource)},
		{env: "WORKER_STREAM_DUPLICATES", def: durString(events.DefaultDuplicates), group: groupStreams,
			usage: "Nats-Msg-Id deduplication window of the HR and dead-letter streams",
			set:   duration(func(c *Config) *time.Duration { return &c.StreamDuplicates }, time.Second, 0)},
		{env: "WORKER_STREAM_REPLICAS", def: "1", group: groupStreams,
			usage: "replicas of every stream (3 in a NATS cluster)",
			set:   integer(func(c *Config) *int { return &c.StreamReplicas }, 1, 5)},

		{env: "WORKER_CONSUMER_NAME", def: events.DefaultDurable, group: groupIntake,
			usage: "durable pull consumer on the HR stream, shared by every worker process",
			set:   streamName(func(c *Config) *string { return &c.ConsumerName })},
		{env: "WORKER_CONSUMER_CONCURRENCY", def: strconv.Itoa(events.DefaultConcurrency), group: groupIntake,
			usage: "HR events decoded and enqueued at once",
			set:   integer(func(c *Config) *int { return &c.ConsumerConcurrency }, 1, 1024)},
		{env: "WORKER_CONSUMER_ACK_WAIT", def: durString(events.DefaultAckWait), group: groupIntake,
			usage: "redelivery delay of an event whose delivery was not acknowledged",
			set:   duration(func(c *Config) *time.Duration { return &c.ConsumerAckWait }, time.Second, time.Hour)},
		{env: "WORKER_CONSUMER_MAX_DELIVER", def: strconv.Itoa(events.DefaultMaxDeliver), group: groupIntake,
			usage: "deliveries of one event before it is dead-lettered (max_deliveries)",
			set:   integer(func(c *Config) *int { return &c.ConsumerMaxDeliver }, 2, 10000)},
		{env: "WORKER_CONSUMER_MAX_ACK_PENDING", def: strconv.Itoa(events.DefaultMaxAckPending), group: groupIntake,
			usage: "unacknowledged events across all worker processes",
			set:   integer(func(c *Config) *int { return &c.ConsumerMaxAckPending }, 2, 1000000)},
		{env: "WORKER_MAX_EVENT_BYTES", def: strconv.Itoa(events.DefaultMaxEventBytes), group: groupIntake,
			usage: "larger events are dead-lettered as oversized",
			set:   integer(func(c *Config) *int { return &c.MaxEventBytes }, 256, 8<<20)},

		{env: "WORKER_TASK_CONCURRENCY", def: "10", group: groupTasks,
			usage: "tasks run at once by this process",
			set:   integer(func(c *Config) *int { return &c.TaskConcurrency }, 1, 1000)},
		{env: "WORKER_TASK_CHECK_INTERVAL", def: "50ms", group: groupTasks,
			usage: "how often an idle worker polls the queues (jittered 0.5–1.5×): the pickup latency of a new task; each poll is one Redis script call per queue",
			set:   duration(func(c *Config) *time.Duration { return &c.TaskCheckInterval }, time.Millisecond, 10*time.Second)},
		{env: "WORKER_DELAYED_TASK_CHECK_INTERVAL", def: "1s", group: groupTasks,
			usage: "how often scheduled and retried tasks are moved to their queue: the resolution of retries and effective dates",
			set:   duration(func(c *Config) *time.Duration { return &c.DelayedTaskCheckInterval }, 100*time.Millisecond, time.Minute)},
		{env: "WORKER_QUEUES", def: defaultQueues, group: groupTasks,
			usage: "queues this process serves, as name=priority: critical (leavers), default (joiners, movers), low (backfill)",
			set: func(c *Config, v string) error {
				q, err := parseQueues(v)
				if err != nil {
					return err
				}
				c.Queues = q
				return nil
			}},
		{env: "WORKER_STRICT_PRIORITY", def: "true", group: groupTasks,
			usage: "true: always serve the queue of highest priority first (leavers never wait behind joiners); false: pick queues at random, weighted by priority",
			set:   boolean(func(c *Config) *bool { return &c.StrictPriority })},
		{env: "WORKER_INTAKE_QUEUE", def: "", group: groupTasks,
			usage: "queue every intake task goes to (e.g. low for a backfill worker); empty: by task type",
			set:   str(func(c *Config) *string { return &c.IntakeQueue })},
		{env: "WORKER_RETRY_LIMIT", def: strconv.Itoa(jobs.DefaultRetryLimit), group: groupTasks,
			usage: "retries of a task that failed transiently (5xx, timeouts) before it is archived; rate-limit waits never count",
			set:   integer(func(c *Config) *int { return &c.RetryLimit }, 0, 1000)},
		{env: "WORKER_RETRY_BACKOFF_BASE", def: durString(jobs.DefaultBackoffBase), group: groupTasks,
			usage: "upper bound of the first transient retry delay (exponential, full jitter)",
			set:   duration(func(c *Config) *time.Duration { return &c.RetryBackoffBase }, time.Millisecond, time.Hour)},
		{env: "WORKER_RETRY_BACKOFF_CAP", def: durString(jobs.DefaultBackoffCap), group: groupTasks,
			usage: "cap of the transient retry delay",
			set:   duration(func(c *Config) *time.Duration { return &c.RetryBackoffCap }, time.Millisecond, 24*time.Hour)},
		{env: "WORKER_TASK_RETENTION", def: durString(jobs.DefaultRetention), group: groupTasks,
			usage: "how long a completed task (and so its TaskID) is kept: the window in which a redelivered or re-published event is recognised",
			set:   duration(func(c *Config) *time.Duration { return &c.TaskRetention }, time.Hour, 0)},

		{env: "WORKER_DOCUSIGN_ENVIRONMENT", def: string(docusign.EnvironmentDemo), group: groupDocuSign,
			usage: "demo or production: fills the auth and Admin URLs that are not set",
			set: func(c *Config, v string) error {
				switch e := docusign.Environment(strings.ToLower(v)); e {
				case docusign.EnvironmentDemo, docusign.EnvironmentProduction:
					c.DocuSignEnvironment = e
					return nil
				}
				return fmt.Errorf("unknown environment %q: use demo or production", v)
			}},
		{env: "WORKER_DOCUSIGN_AUTH_URL", def: "", group: groupDocuSign,
			usage: "OAuth server (token, userinfo); empty: by environment (account-d.docusign.com, account.docusign.com)",
			set:   baseURL(func(c *Config) *string { return &c.DocuSignAuthURL })},
		{env: "WORKER_DOCUSIGN_ADMIN_URL", def: "", group: groupDocuSign,
			usage: "Admin API base including /management; empty: by environment",
			set:   baseURL(func(c *Config) *string { return &c.DocuSignAdminURL })},
		{env: "WORKER_DOCUSIGN_INTEGRATION_KEY", def: "", group: groupDocuSign,
			usage: "integration key (OAuth client id) of the app (required)",
			set:   str(func(c *Config) *string { return &c.DocuSignIntegrationKey })},
		{env: "WORKER_DOCUSIGN_USER_ID", def: "", group: groupDocuSign,
			usage: "GUID of the impersonated user, an organization administrator for the Admin API (required)",
			set:   str(func(c *Config) *string { return &c.DocuSignUserID })},
		{env: "WORKER_DOCUSIGN_PRIVATE_KEY_FILE", def: "", group: groupDocuSign,
			usage: "file holding the integration key's RSA private key (PEM); or set WORKER_DOCUSIGN_PRIVATE_KEY",
			set:   str(func(c *Config) *string { return &c.DocuSignPrivateKeyFile })},
		{env: "WORKER_DOCUSIGN_PRIVATE_KEY", def: "", group: groupDocuSign, secret: true,
			usage: "the RSA private key itself: PEM, PEM with literal \\n, or base64 (environment only, never a flag; never logged)",
			set: func(c *Config, v string) error {
				c.DocuSignPrivateKey = docusign.SecretBytes(v)
				return nil
			}},
		{env: "WORKER_DOCUSIGN_ORGANIZATION_ID", def: "", group: groupDocuSign,
			usage: "DocuSign organization id (not an account id); required for the admin surface",
			set:   str(func(c *Config) *string { return &c.DocuSignOrganizationID })},
		{env: "WORKER_DOCUSIGN_ACCOUNTS", def: "", group: groupDocuSign,
			usage: "account ids the worker manages, comma-separated; each is checked against the user's accounts at start (required)",
			set: func(c *Config, v string) error {
				c.DocuSignAccounts = splitList(v)
				return nil
			}},
		{env: "WORKER_DOCUSIGN_ADMIN_BUDGET_ACCOUNT", def: "", group: groupDocuSign,
			usage: "account whose rate-limit budget Admin API calls spend; empty: the organization's default account (an assumption)",
			set:   str(func(c *Config) *string { return &c.DocuSignAdminBudgetAccount })},
		{env: "WORKER_DOCUSIGN_SURFACE", def: string(jobs.SurfaceAdmin), group: groupDocuSign,
			usage: "admin (Admin API: one call creates a user in every account) or esignature (eSignature Users API, per account)",
			set: func(c *Config, v string) error {
				s, err := jobs.ParseSurface(strings.ToLower(v))
				if err != nil {
					return fmt.Errorf("unknown surface %q: use admin or esignature", v)
				}
				c.DocuSignSurface = s
				return nil
			}},
		{env: "WORKER_DOCUSIGN_SCOPES", def: docusign.DefaultScopes, group: groupDocuSign,
			usage: "OAuth scopes, separated by spaces or commas; consent must cover all of them",
			set: func(c *Config, v string) error {
				c.DocuSignScopes = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
				if len(c.DocuSignScopes) == 0 {
					return errors.New("no scope: use e.g. " + strconv.Quote(docusign.DefaultScopes))
				}
				return nil
			}},
		{env: "WORKER_DOCUSIGN_CONSENT_REDIRECT_URI", def: "", group: groupDocuSign,
			usage: "a redirect URI of the integration key, used to print the consent URL when consent is missing",
			set:   str(func(c *Config) *string { return &c.DocuSignConsentRedirectURI })},
		{env: "WORKER_DOCUSIGN_HTTP_TIMEOUT", def: "30s", group: groupDocuSign,
			usage: "bound of one DocuSign HTTP exchange",
			set:   duration(func(c *Config) *time.Duration { return &c.DocuSignHTTPTimeout }, time.Second, 5*time.Minute)},
		{env: "WORKER_DOCUSIGN_NO_AUTO_ACTIVATE", def: "false", group: groupDocuSign,
			usage: "admin surface: do not auto-activate new memberships of the organization's claimed domains (users get an activation email)",
			set:   boolean(func(c *Config) *bool { return &c.DocuSignNoAutoActivate })},

		{env: "WORKER_RATELIMIT_KEY_PREFIX", def: ratelimit.DefaultKeyPrefix, group: groupLimiter,
			usage: "Redis key prefix of the shared budgets; every process (and cmd/loadgen) spending the same accounts must use the same",
			set:   nonEmpty(func(c *Config) *string { return &c.RateLimitKeyPrefix }, "e.g. "+ratelimit.DefaultKeyPrefix)},
		{env: "WORKER_RATELIMIT_WINDOW", def: durString(ratelimit.DefaultWindow), group: groupLimiter,
			usage: "length of DocuSign's hourly window (shorter only against the simulator)",
			set:   duration(func(c *Config) *time.Duration { return &c.RateLimitWindow }, time.Second, 24*time.Hour)},
		{env: "WORKER_RATELIMIT_BURST_WINDOW", def: durString(ratelimit.DefaultBurstWindow), group: groupLimiter,
			usage: "length of DocuSign's burst window",
			set:   duration(func(c *Config) *time.Duration { return &c.RateLimitBurstWindow }, 100*time.Millisecond, time.Hour)},
		{env: "WORKER_RATELIMIT_LIMIT", def: "3000", group: groupLimiter,
			usage: "hourly limit per account assumed until DocuSign's X-RateLimit-Limit says otherwise",
			set:   integer(func(c *Config) *int { return &c.RateLimitLimit }, 1, 10000000)},
		{env: "WORKER_RATELIMIT_BURST_LIMIT", def: "500", group: groupLimiter,
			usage: "burst limit per account assumed until X-BurstLimit-Limit says otherwise (200 in demo)",
			set:   integer(func(c *Config) *int { return &c.RateLimitBurstLimit }, 1, 10000000)},
		{env: "WORKER_RATELIMIT_RESERVE", def: strconv.FormatFloat(ratelimit.DefaultReserve, 'f', -1, 64), group: groupLimiter,
			usage: "fraction of each hourly budget left to the other integrations on the account (0 to 0.9)",
			set:   fraction(func(c *Config) *float64 { return &c.RateLimitReserve }, 0, 0.9)},
		{env: "WORKER_RATELIMIT_MAX_WAIT", def: durString(ratelimit.DefaultMaxWait), group: groupLimiter,
			usage: "longest a task waits in place for a token; a longer wait reschedules it without spending a retry",
			set:   duration(func(c *Config) *time.Duration { return &c.RateLimitMaxWait }, 0, time.Minute)},
		{env: "WORKER_RATELIMIT_FAIL_OPEN", def: "false", group: groupLimiter,
			usage: "DANGEROUS: call DocuSign unpaced while Redis is unavailable (can exhaust the account for every integration on it)",
			set:   boolean(func(c *Config) *bool { return &c.RateLimitFailOpen })},

		{env: "WORKER_MONITORING_PATH", def: "/monitoring", group: groupDashboard,
			usage: "URL path of the asynqmon dashboard (queues, tasks) on WORKER_HTTP_ADDR, its API under <path>/api; a trailing slash is ignored; off: no dashboard",
			set: func(c *Config, v string) error {
				p, err := parseMonitoringPath(v)
				if err != nil {
					return err
				}
				c.MonitoringPath = p
				return nil
			}},
		{env: "WORKER_MONITORING_USER", def: "", group: groupDashboard,
			usage: "user of the dashboard's HTTP basic auth, with WORKER_MONITORING_PASSWORD; both empty: no auth (/healthz, /readyz and /metrics never ask)",
			set: func(c *Config, v string) error {
				if err := checkMonitoringUser(v); err != nil {
					return err
				}
				c.MonitoringUser = v
				return nil
			}},
		{env: "WORKER_MONITORING_PASSWORD", def: "", group: groupDashboard, secret: true,
			usage: "password of the dashboard's basic auth (environment only, never a flag; never logged)",
			set: func(c *Config, v string) error {
				c.MonitoringPassword = docusign.SecretBytes(v)
				return nil
			}},
		{env: "WORKER_MONITORING_READ_ONLY", def: "false", group: groupDashboard,
			usage: "true: the dashboard only shows; pausing queues and deleting, running, archiving or cancelling tasks is refused",
			set:   boolean(func(c *Config) *bool { return &c.MonitoringReadOnly })},
		{env: "WORKER_MONITORING_SHOW_PII", def: "false", group: groupDashboard,
			usage: "true: the dashboard shows task payloads as they are; false: employees' emails, names and job titles are masked (g***@corp.example, G***)",
			set:   boolean(func(c *Config) *bool { return &c.MonitoringShowPII })},

		{env: "WORKER_RULES_FILE", def: "", group: groupRules,
			usage: "YAML mapping rules (scope, HR attributes → accounts, profiles, groups, settings); checked against DocuSign at start (the worker refuses an invalid file) and reloaded on SIGHUP and on change; empty: events must carry data.accounts",
			set: func(c *Config, v string) error {
				c.RulesFile = v
				return nil
			}},
		{env: "WORKER_RULES_WATCH_INTERVAL", def: "10s", group: groupRules,
			usage: "how often the rules file is checked for changes (0: only on SIGHUP); an invalid new file keeps the old rules, logs every problem and shows in docusign_worker_rules_reload_failures_total",
			set: func(c *Config, v string) error {
				if v == "0" {
					c.RulesWatchInterval = 0
					return nil
				}
				return duration(func(c *Config) *time.Duration { return &c.RulesWatchInterval }, time.Second, time.Hour)(c, v)
			}},
		{env: "WORKER_SHADOW", def: "false", group: groupRules,
			usage: "true: process events fully but send no DocuSign write; audit events (<audit prefix>.shadow.<outcome>) list the writes a live run would send. Shadow mode keeps its own Redis keys (prefix + shadow:), queues (shadow-critical, ...) and consumer (<name>-shadow), so switching to live starts clean",
			set:   boolean(func(c *Config) *bool { return &c.Shadow })},
		{env: "WORKER_GUARD_MAX_CLOSES", def: "500", group: groupRules,
			usage: "mass-deprovisioning guard: when a close would make more than this many closes in WORKER_GUARD_WINDOW, closes are held until `enqueue approve` or `enqueue reject` (0: no count limit)",
			set:   integer(func(c *Config) *int { return &c.GuardMaxCloses }, 0, 1000000)},
		{env: "WORKER_GUARD_MAX_PERCENT", def: "0", group: groupRules,
			usage: "mass-deprovisioning guard by share: more closes in WORKER_GUARD_WINDOW than this % of the employees the worker manages (its identity map) holds them (0: no % limit; with both limits the lower wins)",
			set:   fraction(func(c *Config) *float64 { return &c.GuardMaxPercent }, 0, 100)},
		{env: "WORKER_GUARD_WINDOW", def: "1h", group: groupRules,
			usage: "sliding window of the mass-deprovisioning guard",
			set:   duration(func(c *Config) *time.Duration { return &c.GuardWindow }, time.Minute, 30*24*time.Hour)},
	}
}

// loadConfig reads every setting from getenv, lets flags of the same meaning override them, and validates the
// result, reporting every problem at once. -h returns flag.ErrHelp; print usage then.
func loadConfig(args []string, getenv func(string) string) (Config, error) {
	table := settings()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	flags := make(map[string]string)
	for _, s := range table {
		name := s.flagName()
		if name == "" {
			continue
		}
		fs.Func(name, s.usage, func(v string) error {
			flags[name] = v
			return nil
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, flag.ErrHelp
		}
		return Config{}, fmt.Errorf("%w (run with -h for the settings)", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q: every setting is a -flag or a WORKER_ variable (run with -h)", fs.Args())
	}

	var c Config
	var errs []error
	for _, s := range table {
		v, source := s.def, "default"
		if e := getenv(s.env); e != "" {
			v, source = e, "env"
		}
		if f, ok := flags[s.flagName()]; ok && !s.secret {
			v, source = f, "flag"
		}
		c.effective = append(c.effective, effectiveValue{env: s.env, value: s.printable(v), source: source})
		// The default first, so that a value that does not parse leaves the default for the checks below,
		// which then report the problems of the other settings in the same run.
		if err := s.set(&c, s.def); err != nil {
			errs = append(errs, fmt.Errorf("%s: default %q: %w", s.label(), s.def, err))
		}
		if source == "default" {
			continue
		}
		if err := s.set(&c, strings.TrimSpace(v)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.label(), err))
		}
	}
	errs = append(errs, c.validate()...)
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	c.applyShadow()
	return c, nil
}

// applyShadow gives a worker in shadow mode its own queues, consumer and audit subjects, so that a live worker
// started later (on the same Redis and NATS) sees every event afresh: none of the shadow's TaskIDs, identity map
// entries, watermarks or acknowledgements is in its way. The Redis keys get their prefix from keyPrefix.
func (c *Config) applyShadow() {
	if !c.Shadow {
		return
	}
	queues := make(map[string]int, len(c.Queues))
	for q, p := range c.Queues {
		queues[jobs.ShadowQueuePrefix+strings.TrimPrefix(q, jobs.ShadowQueuePrefix)] = p
	}
	c.Queues = queues
	if c.IntakeQueue != "" && !strings.HasPrefix(c.IntakeQueue, jobs.ShadowQueuePrefix) {
		c.IntakeQueue = jobs.ShadowQueuePrefix + c.IntakeQueue
	}
	if !strings.HasSuffix(c.ConsumerName, "-shadow") {
		c.ConsumerName += "-shadow"
	}
	c.AuditPrefix += ".shadow"
}

// queuePrefix is put before the per-type queue names: jobs.ShadowQueuePrefix in shadow mode.
func (c *Config) queuePrefix() string {
	if c.Shadow {
		return jobs.ShadowQueuePrefix
	}
	return ""
}

// keyPrefix is the prefix of the worker's own Redis keys: WORKER_REDIS_KEY_PREFIX, plus "shadow:" in shadow mode.
func (c *Config) keyPrefix() string {
	if c.Shadow {
		return c.RedisKeyPrefix + "shadow:"
	}
	return c.RedisKeyPrefix
}

// validate checks what involves several settings; each error names the variables and the fix.
func (c *Config) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.DocuSignIntegrationKey == "" {
		bad("WORKER_DOCUSIGN_INTEGRATION_KEY is empty: set the integration key (client id) from DocuSign's Apps and Keys page")
	}
	if c.DocuSignUserID == "" {
		bad("WORKER_DOCUSIGN_USER_ID is empty: set the GUID of the user to impersonate (Apps and Keys page, \"User ID\")")
	}
	if len(c.DocuSignAccounts) == 0 {
		bad("WORKER_DOCUSIGN_ACCOUNTS is empty: list the account ids the worker manages, comma-separated")
	}
	if c.DocuSignSurface == jobs.SurfaceAdmin && c.DocuSignOrganizationID == "" {
		bad("WORKER_DOCUSIGN_ORGANIZATION_ID is empty but WORKER_DOCUSIGN_SURFACE is admin: set the organization id " +
			"(Admin console, Overview) or use WORKER_DOCUSIGN_SURFACE=esignature")
	}
	switch {
	case c.DocuSignPrivateKeyFile != "" && len(c.DocuSignPrivateKey) > 0:
		bad("both WORKER_DOCUSIGN_PRIVATE_KEY_FILE and WORKER_DOCUSIGN_PRIVATE_KEY are set: keep one")
	case c.DocuSignPrivateKeyFile != "":
		key, err := docusign.LoadPrivateKey(c.DocuSignPrivateKeyFile)
		if err != nil {
			bad("WORKER_DOCUSIGN_PRIVATE_KEY_FILE: %w", err)
		}
		c.DocuSignPrivateKey = key
	case len(c.DocuSignPrivateKey) > 0:
		key, err := docusign.PrivateKeyFromEnvValue(string(c.DocuSignPrivateKey))
		if err != nil {
			bad("WORKER_DOCUSIGN_PRIVATE_KEY: %w", err)
		}
		c.DocuSignPrivateKey = key
	default:
		bad("no DocuSign private key: set WORKER_DOCUSIGN_PRIVATE_KEY_FILE to the RSA private key's PEM file, " +
			"or WORKER_DOCUSIGN_PRIVATE_KEY to the key itself")
	}
	if len(errs) == 0 {
		if err := c.docuSignConfig(nil).Validate(); err != nil {
			bad("DocuSign settings: %w", err)
		}
	}
	if err := c.limiterConfig().Validate(); err != nil {
		bad("rate limiter settings (WORKER_RATELIMIT_*): %w", err)
	}

	if (c.MonitoringUser == "") != (len(c.MonitoringPassword) == 0) {
		bad("set both WORKER_MONITORING_USER and WORKER_MONITORING_PASSWORD for the dashboard's basic auth, or neither")
	}
	if c.RetryBackoffCap < c.RetryBackoffBase {
		bad("WORKER_RETRY_BACKOFF_CAP %v is below WORKER_RETRY_BACKOFF_BASE %v: raise the cap", c.RetryBackoffCap, c.RetryBackoffBase)
	}
	if c.StreamDuplicates > c.HRMaxAge || c.StreamDuplicates > c.DeadLetterMaxAge {
		bad("WORKER_STREAM_DUPLICATES %v exceeds WORKER_HR_MAX_AGE or WORKER_DEADLETTER_MAX_AGE: lower it", c.StreamDuplicates)
	}
	if c.ConsumerMaxAckPending < 2*c.ConsumerConcurrency {
		bad("WORKER_CONSUMER_MAX_ACK_PENDING %d is below twice WORKER_CONSUMER_CONCURRENCY (%d): raise it",
			c.ConsumerMaxAckPending, 2*c.ConsumerConcurrency)
	}
	names := map[string]string{"WORKER_HR_STREAM": c.HRStream, "WORKER_DEADLETTER_STREAM": c.DeadLetterStream, "WORKER_AUDIT_STREAM": c.AuditStream}
	seen := map[string]string{}
	for _, env := range []string{"WORKER_HR_STREAM", "WORKER_DEADLETTER_STREAM", "WORKER_AUDIT_STREAM"} {
		if other, ok := seen[names[env]]; ok {
			bad("%s and %s are both %q: give each stream its own name", other, env, names[env])
		}
		seen[names[env]] = env
	}
	if c.DeadLetterPrefix == c.AuditPrefix {
		bad("WORKER_DEADLETTER_PREFIX and WORKER_AUDIT_PREFIX are both %q: give each its own subjects", c.AuditPrefix)
	}
	for _, s := range c.HRSubjects {
		for _, p := range []string{c.DeadLetterPrefix, c.AuditPrefix} {
			if s == ">" || strings.HasPrefix(s, p+".") || s == p {
				bad("WORKER_HR_SUBJECTS %q overlaps the subjects %s.>: use e.g. %s", s, p, events.DefaultSubject)
			}
		}
	}
	return errs
}

// docuSignConfig is the client configuration (hook given by the caller).
func (c *Config) docuSignConfig(hook docusign.Hook) docusign.Config {
	return docusign.Config{
		Environment:          c.DocuSignEnvironment,
		AuthBaseURL:          c.DocuSignAuthURL,
		AdminBaseURL:         c.DocuSignAdminURL,
		IntegrationKey:       c.DocuSignIntegrationKey,
		UserID:               c.DocuSignUserID,
		PrivateKeyPEM:        c.DocuSignPrivateKey,
		Scopes:               c.DocuSignScopes,
		ConsentRedirectURI:   c.DocuSignConsentRedirectURI,
		OrganizationID:       c.DocuSignOrganizationID,
		Accounts:             c.DocuSignAccounts,
		AdminBudgetAccountID: c.DocuSignAdminBudgetAccount,
		Hook:                 hook,
	}
}

// docuSignURLs are the auth and Admin API URLs in effect: as set, else the environment's.
func (c *Config) docuSignURLs() (auth, admin string) {
	auth, admin = c.DocuSignAuthURL, c.DocuSignAdminURL
	prod := c.DocuSignEnvironment == docusign.EnvironmentProduction
	if auth == "" {
		auth = docusign.DemoAuthBaseURL
		if prod {
			auth = docusign.ProductionAuthBaseURL
		}
	}
	if admin == "" {
		admin = docusign.DemoAdminBaseURL
		if prod {
			admin = docusign.ProductionAdminBaseURL
		}
	}
	return auth, admin
}

// limiterConfig is the rate limiter's configuration.
func (c *Config) limiterConfig() ratelimit.Config {
	reserve := c.RateLimitReserve
	if reserve == 0 {
		reserve = -1 // ratelimit: negative means none; zero would mean its default
	}
	maxWait := c.RateLimitMaxWait
	if maxWait == 0 {
		maxWait = -1 // never wait in place
	}
	return ratelimit.Config{
		KeyPrefix:         c.RateLimitKeyPrefix,
		Window:            c.RateLimitWindow,
		BurstWindow:       c.RateLimitBurstWindow,
		DefaultLimit:      c.RateLimitLimit,
		DefaultBurstLimit: c.RateLimitBurstLimit,
		Reserve:           reserve,
		MaxWait:           maxWait,
		FailOpen:          c.RateLimitFailOpen,
	}
}

// eventsConfig is the intake's configuration.
func (c *Config) eventsConfig(logger zerolog.Logger, maxRetry int) events.Config {
	return events.Config{
		Stream:             c.HRStream,
		Subjects:           c.HRSubjects,
		StreamMaxAge:       c.HRMaxAge,
		Duplicates:         c.StreamDuplicates,
		Replicas:           c.StreamReplicas,
		DeadLetterStream:   c.DeadLetterStream,
		DeadLetterPrefix:   c.DeadLetterPrefix,
		DeadLetterMaxAge:   c.DeadLetterMaxAge,
		DeadLetterMaxMsgs:  int64(c.DeadLetterMaxMsgs),
		DeadLetterMaxBytes: int64(c.DeadLetterMaxBytes),
		Durable:            c.ConsumerName,
		AckWait:            c.ConsumerAckWait,
		MaxDeliver:         c.ConsumerMaxDeliver,
		MaxAckPending:      c.ConsumerMaxAckPending,
		Concurrency:        c.ConsumerConcurrency,
		MaxEventBytes:      c.MaxEventBytes,
		Retention:          c.TaskRetention,
		MaxRetry:           maxRetry,
		Queue:              c.IntakeQueue,
		QueuePrefix:        c.queuePrefix(),
		Rules:              c.RulesFile != "",
		Logger:             logger,
	}
}

// tombstonePrefix and jobsPrefix split the worker's key prefix like jobs' defaults do.
func (c *Config) tombstonePrefix() string { return c.keyPrefix() + "tombstone:" }
func (c *Config) jobsPrefix() string      { return c.keyPrefix() + "jobs:" }

// printable is v as it may be logged: a secret as "[REDACTED]", a URL without its password.
func (s setting) printable(v string) string {
	switch {
	case s.secret && v != "":
		return "[REDACTED]"
	case s.hasURL:
		return redactURLs(v)
	}
	return v
}

// logDict renders the effective configuration for the start log (secrets redacted, URL passwords masked) and,
// under "_given", which settings came from the environment or a flag rather than their default.
func (c *Config) logDict() *zerolog.Event {
	d := zerolog.Dict()
	var given []string
	for _, e := range c.effective {
		d = d.Str(e.env, e.value)
		if e.source != "default" {
			given = append(given, e.env+"="+e.source)
		}
	}
	return d.Strs("_given", given)
}

// usage prints every setting with its flag, default and meaning, grouped.
func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: worker [flags]

The DocuSign provisioning worker: consumes HR joiner/mover/leaver events (CloudEvents) from NATS JetStream,
turns them into asynq tasks in Redis and applies them to DocuSign through the shared rate limiter. Without
WORKER_NATS_URL it runs an embedded NATS server.

Every setting is an environment variable; the flag of the same meaning overrides it.
HTTP: /healthz (alive), /readyz (Redis, NATS, DocuSign token), /metrics (Prometheus), /monitoring (dashboard).
`)
	group := ""
	for _, s := range settings() {
		if s.group != group {
			group = s.group
			fmt.Fprintf(w, "\n%s\n", group)
		}
		flagText := "(environment only)"
		if f := s.flagName(); f != "" {
			flagText = "-" + f
		}
		def := s.def
		if def == "" {
			def = "none"
		} else {
			def = strconv.Quote(def)
		}
		fmt.Fprintf(w, "  %s  %s  default %s\n      %s\n", s.env, flagText, def, s.usage)
	}
}

// --- value parsers ---

func str(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*field(c) = v
		return nil
	}
}

func nonEmpty(field func(*Config) *string, example string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			return errors.New("empty: set " + example)
		}
		*field(c) = v
		return nil
	}
}

func duration(field func(*Config) *time.Duration, lo, hi time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration: write it like 50ms, 30s, 5m or 168h", v)
		}
		if d < lo || (hi > 0 && d > hi) {
			if hi > 0 {
				return fmt.Errorf("%v is out of range: use %v to %v", d, lo, hi)
			}
			return fmt.Errorf("%v is too short: use at least %v", d, lo)
		}
		*field(c) = d
		return nil
	}
}

func integer(field func(*Config) *int, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not an integer: use a whole number from %d to %d", v, lo, hi)
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is out of range: use %d to %d", n, lo, hi)
		}
		*field(c) = n
		return nil
	}
}

func fraction(field func(*Config) *float64, lo, hi float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < lo || f > hi {
			return fmt.Errorf("%q: use a number from %g to %g", v, lo, hi)
		}
		*field(c) = f
		return nil
	}
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q: use true or false", v)
		}
		*field(c) = b
		return nil
	}
}

func hostPort(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		_, port, err := net.SplitHostPort(v)
		if _, perr := strconv.Atoi(port); err != nil || perr != nil {
			return fmt.Errorf("%q: use host:port or :port, e.g. :8080 or 127.0.0.1:8080", v)
		}
		*field(c) = v
		return nil
	}
}

func baseURL(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("%q: use an absolute http(s) URL, e.g. %s", v, docusign.DemoAuthBaseURL)
			}
		}
		*field(c) = v
		return nil
	}
}

func streamName(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" || strings.ContainsAny(v, " \t.*>/\\") {
			return fmt.Errorf("%q: use letters, digits, '-' and '_'", v)
		}
		*field(c) = v
		return nil
	}
}

func subjectPrefix(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" || strings.ContainsAny(v, " \t*>") || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") {
			return fmt.Errorf("%q: use a subject prefix without wildcards, e.g. deadletter", v)
		}
		*field(c) = v
		return nil
	}
}

// parseQueues reads "name=priority,...".
func parseQueues(v string) (map[string]int, error) {
	q := map[string]int{}
	for _, item := range splitList(v) {
		name, p, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if !ok || name == "" || err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("%q: use name=priority pairs with priorities from 1 to 1000, e.g. %s", item, defaultQueues)
		}
		if _, dup := q[name]; dup {
			return nil, fmt.Errorf("queue %q is listed twice", name)
		}
		q[name] = n
	}
	if len(q) == 0 {
		return nil, errors.New("no queue: use e.g. " + defaultQueues)
	}
	return q, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// redactURLs masks the passwords of a comma-separated list of URLs.
func redactURLs(v string) string {
	parts := splitList(v)
	for i, p := range parts {
		parts[i] = redactURL(p)
	}
	return strings.Join(parts, ",")
}

// redactURL masks the password (or token) of a URL; a value that does not parse is replaced entirely.
func redactURL(v string) string {
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil {
		return "[UNPARSEABLE URL]"
	}
	if u.User != nil {
		if _, has := u.User.Password(); !has {
			u.User = url.User("xxxxx") // a bare user part is a token (nats://token@host)
		}
	}
	return u.Redacted()
}

// durString writes a duration without trailing zero units ("720h", "2m", "30s").
func durString(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

package main

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/jobs"
)

// minimalEnv is the least a valid configuration needs, with the key given by file.
func minimalEnv(tb testing.TB) map[string]string {
	tb.Helper()
	return map[string]string{
		"WORKER_DOCUSIGN_INTEGRATION_KEY":  "73bea189-eff3-4ad0-a8fb-4e626580f586",
		"WORKER_DOCUSIGN_USER_ID":          "31fc1df9-3f9d-482a-8353-1b5eb67f2586",
		"WORKER_DOCUSIGN_PRIVATE_KEY_FILE": writeKeyFile(tb),
		"WORKER_DOCUSIGN_ORGANIZATION_ID":  "f792f054-adb5-4657-82bf-3cdbfc7b589a",
		"WORKER_DOCUSIGN_ACCOUNTS":         "acct-1, acct-2",
	}
}

func getenvFrom(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// writeKeyFile writes the test private key to a temporary file.
func writeKeyFile(tb testing.TB) string {
	tb.Helper()
	keys, err := keyPair()
	require.NoError(tb, err)
	path := filepath.Join(tb.TempDir(), "private.pem")
	require.NoError(tb, os.WriteFile(path, keys[0], 0o600))
	return path
}

func TestSettingsTable(t *testing.T) {
	t.Parallel()
	envRe := regexp.MustCompile(`^WORKER_[A-Z0-9_]+$`)
	envs, flags := map[string]bool{}, map[string]bool{}
	for _, s := range settings() {
		require.Regexp(t, envRe, s.env)
		require.False(t, envs[s.env], "%s listed twice", s.env)
		envs[s.env] = true
		require.NotEmpty(t, s.usage, s.env)
		require.NotEmpty(t, s.group, s.env)
		require.NotNil(t, s.set, s.env)
		if s.secret {
			require.Empty(t, s.flagName(), "secret %s must not have a flag", s.env)
			require.Empty(t, s.def, "secret %s must not have a default", s.env)
			continue
		}
		f := s.flagName()
		require.NotEmpty(t, f)
		require.False(t, flags[f], "flag -%s listed twice", f)
		flags[f] = true
		// Every default must parse on its own.
		var c Config
		require.NoError(t, s.set(&c, s.def), "default of %s", s.env)
	}
	// The variables the brief names exist.
	for _, name := range []string{"WORKER_REDIS_URL", "WORKER_NATS_URL", "WORKER_NATS_DATA_DIR", "WORKER_HTTP_ADDR",
		"WORKER_DOCUSIGN_ENVIRONMENT", "WORKER_DOCUSIGN_AUTH_URL", "WORKER_DOCUSIGN_ADMIN_URL",
		"WORKER_DOCUSIGN_INTEGRATION_KEY", "WORKER_DOCUSIGN_USER_ID", "WORKER_DOCUSIGN_PRIVATE_KEY_FILE",
		"WORKER_DOCUSIGN_PRIVATE_KEY", "WORKER_DOCUSIGN_ORGANIZATION_ID", "WORKER_DOCUSIGN_ACCOUNTS",
		"WORKER_DOCUSIGN_SURFACE", "WORKER_DOCUSIGN_SCOPES", "WORKER_RATELIMIT_WINDOW", "WORKER_RATELIMIT_BURST_WINDOW",
		"WORKER_RATELIMIT_RESERVE", "WORKER_RATELIMIT_MAX_WAIT", "WORKER_RATELIMIT_FAIL_OPEN", "WORKER_TASK_CHECK_INTERVAL",
		"WORKER_SHUTDOWN_TIMEOUT", "WORKER_LOG_LEVEL", "WORKER_RETRY_LIMIT", "WORKER_TASK_RETENTION"} {
		require.True(t, envs[name], "missing %s", name)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(nil, getenvFrom(minimalEnv(t)))
	require.NoError(t, err)

	require.Equal(t, zerolog.InfoLevel, c.LogLevel)
	require.Equal(t, ":8080", c.HTTPAddr)
	require.Equal(t, 8*time.Second, c.ShutdownTimeout)
	require.Equal(t, "127.0.0.1:6379", c.redisOptions.Addr)
	require.Equal(t, 0, c.redisOptions.DB)
	require.Empty(t, c.NATSURL)
	require.Equal(t, "127.0.0.1", c.natsHost)
	require.Equal(t, 4222, c.natsPort)
	require.Equal(t, "./data/nats", c.NATSDataDir)
	require.Equal(t, "HR", c.HRStream)
	require.Equal(t, []string{"hr.employee.>"}, c.HRSubjects)
	require.Equal(t, "DEADLETTER", c.DeadLetterStream)
	require.Equal(t, "AUDIT", c.AuditStream)
	require.Equal(t, 365*24*time.Hour, c.DeadLetterMaxAge)
	require.Equal(t, "provisioner", c.ConsumerName)
	require.Equal(t, 30*time.Second, c.ConsumerAckWait)
	require.Equal(t, 10, c.ConsumerMaxDeliver)
	require.Equal(t, 50*time.Millisecond, c.TaskCheckInterval)
	require.Equal(t, time.Second, c.DelayedTaskCheckInterval)
	require.Equal(t, map[string]int{"critical": 6, "default": 3, "low": 1}, c.Queues)
	require.True(t, c.StrictPriority)
	require.Empty(t, c.IntakeQueue)
	require.Equal(t, jobs.DefaultRetryLimit, c.RetryLimit)
	require.Equal(t, 7*24*time.Hour, c.TaskRetention)
	require.Equal(t, docusign.EnvironmentDemo, c.DocuSignEnvironment)
	require.Equal(t, jobs.SurfaceAdmin, c.DocuSignSurface)
	require.Equal(t, []string{"acct-1", "acct-2"}, c.DocuSignAccounts)
	require.Equal(t, strings.Fields(docusign.DefaultScopes), c.DocuSignScopes)
	require.NotEmpty(t, c.DocuSignPrivateKey, "the key file is loaded")
	require.Equal(t, "ratelimit:", c.RateLimitKeyPrefix)
	require.Equal(t, time.Hour, c.RateLimitWindow)
	require.Equal(t, 30*time.Second, c.RateLimitBurstWindow)
	require.InDelta(t, 0.10, c.RateLimitReserve, 1e-9)
	require.Equal(t, 2*time.Second, c.RateLimitMaxWait)
	require.False(t, c.RateLimitFailOpen)
	require.Equal(t, "docusign-worker:jobs:", c.jobsPrefix())
	require.Equal(t, "docusign-worker:tombstone:", c.tombstonePrefix())
	auth, admin := c.docuSignURLs()
	require.Equal(t, docusign.DemoAuthBaseURL, auth)
	require.Equal(t, docusign.DemoAdminBaseURL, admin)
}

func TestLoadConfigFlagsOverrideEnv(t *testing.T) {
	t.Parallel()
	env := minimalEnv(t)
	env["WORKER_TASK_CHECK_INTERVAL"] = "200ms"
	env["WORKER_QUEUES"] = "critical=1"
	env["WORKER_HTTP_ADDR"] = "127.0.0.1:9000"
	env["WORKER_DOCUSIGN_SURFACE"] = "admin"
	c, err := loadConfig([]string{"-task-check-interval=25ms", "-docusign-surface", "esignature", "-strict-priority=false"},
		getenvFrom(env))
	require.NoError(t, err)
	require.Equal(t, 25*time.Millisecond, c.TaskCheckInterval, "the flag wins over the environment")
	require.Equal(t, jobs.SurfaceESignature, c.DocuSignSurface)
	require.False(t, c.StrictPriority, "the flag wins over the default")
	require.Equal(t, map[string]int{"critical": 1}, c.Queues, "the environment wins over the default")
	require.Equal(t, "127.0.0.1:9000", c.HTTPAddr)

	sources := map[string]string{}
	for _, e := range c.effective {
		sources[e.env] = e.source
	}
	require.Equal(t, "flag", sources["WORKER_TASK_CHECK_INTERVAL"])
	require.Equal(t, "env", sources["WORKER_QUEUES"])
	require.Equal(t, "default", sources["WORKER_LOG_LEVEL"])
}

func TestLoadConfigReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"WORKER_LOG_LEVEL":             "loud",
		"WORKER_HTTP_ADDR":             "8080",
		"WORKER_SHUTDOWN_TIMEOUT":      "soon",
		"WORKER_REDIS_URL":             "http://:secret-pw@127.0.0.1",
		"WORKER_NATS_URL":              "localhost:4222",
		"WORKER_NATS_LISTEN":           "127.0.0.1",
		"WORKER_TASK_CHECK_INTERVAL":   "0s",
		"WORKER_QUEUES":                "critical=high",
		"WORKER_STRICT_PRIORITY":       "maybe",
		"WORKER_RETRY_LIMIT":           "-3",
		"WORKER_CONSUMER_CONCURRENCY":  "0",
		"WORKER_DOCUSIGN_ENVIRONMENT":  "staging",
		"WORKER_DOCUSIGN_SURFACE":      "scim",
		"WORKER_DOCUSIGN_AUTH_URL":     "account-d.docusign.com",
		"WORKER_RATELIMIT_RESERVE":     "1.5",
		"WORKER_RATELIMIT_FAIL_OPEN":   "sometimes",
		"WORKER_HR_STREAM":             "H R",
		"WORKER_AUDIT_STREAM":          "DEADLETTER",
		"WORKER_RETRY_BACKOFF_BASE":    "10m",
		"WORKER_RETRY_BACKOFF_CAP":     "1m",
		"WORKER_DOCUSIGN_PRIVATE_KEY":  "not a key",
		"WORKER_DOCUSIGN_ACCOUNTS":     " , ",
		"WORKER_MAX_EVENT_BYTES":       "12",
		"WORKER_STREAM_REPLICAS":       "7",
		"WORKER_REDIS_KEY_PREFIX":      "{x}",
		"WORKER_RATELIMIT_WINDOW":      "1ms",
		"WORKER_DOCUSIGN_HTTP_TIMEOUT": "1h",
	}
	_, err := loadConfig(nil, getenvFrom(env))
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"WORKER_LOG_LEVEL (-log-level)", "WORKER_HTTP_ADDR (-http-addr)", "WORKER_SHUTDOWN_TIMEOUT (-shutdown-timeout)",
		"WORKER_REDIS_URL (-redis-url)", "WORKER_NATS_URL (-nats-url)", "WORKER_NATS_LISTEN (-nats-listen)",
		"WORKER_TASK_CHECK_INTERVAL (-task-check-interval)", "WORKER_QUEUES (-queues)",
		"WORKER_STRICT_PRIORITY (-strict-priority)", "WORKER_RETRY_LIMIT (-retry-limit)",
		"WORKER_CONSUMER_CONCURRENCY (-consumer-concurrency)", "WORKER_DOCUSIGN_ENVIRONMENT (-docusign-environment)",
		"WORKER_DOCUSIGN_SURFACE (-docusign-surface)", "WORKER_DOCUSIGN_AUTH_URL (-docusign-auth-url)",
		"WORKER_RATELIMIT_RESERVE (-ratelimit-reserve)", "WORKER_RATELIMIT_FAIL_OPEN (-ratelimit-fail-open)",
		"WORKER_HR_STREAM (-hr-stream)", "WORKER_DEADLETTER_STREAM and WORKER_AUDIT_STREAM",
		"WORKER_RETRY_BACKOFF_CAP", "WORKER_DOCUSIGN_PRIVATE_KEY:", "WORKER_DOCUSIGN_ACCOUNTS is empty",
		"WORKER_DOCUSIGN_INTEGRATION_KEY is empty", "WORKER_DOCUSIGN_USER_ID is empty",
		"WORKER_DOCUSIGN_ORGANIZATION_ID is empty", "WORKER_MAX_EVENT_BYTES (-max-event-bytes)",
		"WORKER_STREAM_REPLICAS (-stream-replicas)", "WORKER_REDIS_KEY_PREFIX (-redis-key-prefix)",
		"WORKER_RATELIMIT_WINDOW (-ratelimit-window)", "WORKER_DOCUSIGN_HTTP_TIMEOUT (-docusign-http-timeout)",
	} {
		require.Contains(t, msg, want)
	}
	// Each message says how to fix it.
	require.Contains(t, msg, "use trace, debug, info, warn or error")
	require.Contains(t, msg, "write it like 50ms")
	require.Contains(t, msg, "use demo or production")
	// Neither the Redis password nor the private key value leaks into errors.
	require.NotContains(t, msg, "secret-pw")
	require.NotContains(t, msg, "not a key")
}

func TestLoadConfigCases(t *testing.T) {
	t.Parallel()
	keys, err := keyPair()
	require.NoError(t, err)
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "key from the environment, PEM with literal \\n",
			env: map[string]string{"WORKER_DOCUSIGN_PRIVATE_KEY_FILE": "",
				"WORKER_DOCUSIGN_PRIVATE_KEY": strings.ReplaceAll(string(keys[0]), "\n", `\n`)},
			check: func(t *testing.T, c Config) {
				_, err := docusign.ParsePrivateKey(c.DocuSignPrivateKey)
				require.NoError(t, err)
			}},
		{name: "both key settings", env: map[string]string{"WORKER_DOCUSIGN_PRIVATE_KEY": string(keys[0])},
			wantErr: "both WORKER_DOCUSIGN_PRIVATE_KEY_FILE and WORKER_DOCUSIGN_PRIVATE_KEY are set"},
		{name: "no key", env: map[string]string{"WORKER_DOCUSIGN_PRIVATE_KEY_FILE": ""},
			wantErr: "no DocuSign private key"},
		{name: "missing key file", env: map[string]string{"WORKER_DOCUSIGN_PRIVATE_KEY_FILE": "/nonexistent/key.pem"},
			wantErr: "WORKER_DOCUSIGN_PRIVATE_KEY_FILE: "},
		{name: "esignature needs no organization",
			env:   map[string]string{"WORKER_DOCUSIGN_SURFACE": "esignature", "WORKER_DOCUSIGN_ORGANIZATION_ID": ""},
			check: func(t *testing.T, c Config) { require.Equal(t, jobs.SurfaceESignature, c.DocuSignSurface) }},
		{name: "production hosts", env: map[string]string{"WORKER_DOCUSIGN_ENVIRONMENT": "production"},
			check: func(t *testing.T, c Config) {
				auth, admin := c.docuSignURLs()
				require.Equal(t, docusign.ProductionAuthBaseURL, auth)
				require.Equal(t, docusign.ProductionAdminBaseURL, admin)
			}},
		{name: "explicit hosts win", env: map[string]string{"WORKER_DOCUSIGN_AUTH_URL": "http://127.0.0.1:9000"},
			check: func(t *testing.T, c Config) {
				auth, _ := c.docuSignURLs()
				require.Equal(t, "http://127.0.0.1:9000", auth)
			}},
		{name: "random embedded NATS port", env: map[string]string{"WORKER_NATS_LISTEN": "127.0.0.1:-1"},
			check: func(t *testing.T, c Config) { require.Equal(t, -1, c.natsPort) }},
		{name: "external NATS cluster", env: map[string]string{"WORKER_NATS_URL": "nats://a:4222, nats://b:4222"},
			check: func(t *testing.T, c Config) { require.Equal(t, "nats://a:4222, nats://b:4222", c.NATSURL) }},
		{name: "scopes separated by commas or spaces", env: map[string]string{"WORKER_DOCUSIGN_SCOPES": "signature, impersonation"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, []string{"signature", "impersonation"}, c.DocuSignScopes)
			}},
		{name: "scopes without impersonation", env: map[string]string{"WORKER_DOCUSIGN_SCOPES": "signature"},
			wantErr: "impersonation"},
		{name: "retry limit zero is allowed", env: map[string]string{"WORKER_RETRY_LIMIT": "0"},
			check: func(t *testing.T, c Config) { require.Equal(t, 0, c.RetryLimit) }},
		{name: "duplicate queue", env: map[string]string{"WORKER_QUEUES": "a=1,a=2"}, wantErr: `queue "a" is listed twice`},
		{name: "HR subjects overlapping the audit subjects", env: map[string]string{"WORKER_HR_SUBJECTS": "provisioning.>"},
			wantErr: "overlaps the subjects provisioning.>"},
		{name: "duplicate account", env: map[string]string{"WORKER_DOCUSIGN_ACCOUNTS": "a,A"}, wantErr: "twice"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "flag provided but not defined: -nope"},
		{name: "no flag for the secret", args: []string{"-docusign-private-key=x"}, wantErr: "not defined"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := minimalEnv(t)
			maps.Copy(env, tt.env)
			c, err := loadConfig(tt.args, getenvFrom(env))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestLoadConfigHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "-help", "--help"} {
		_, err := loadConfig([]string{arg}, getenvFrom(nil))
		require.ErrorIs(t, err, flag.ErrHelp, arg)
	}
	var out bytes.Buffer
	usage(&out)
	text := out.String()
	for _, s := range settings() {
		require.Contains(t, text, s.env)
		require.Contains(t, text, s.usage)
		if f := s.flagName(); f != "" {
			require.Contains(t, text, "-"+f+"  ")
		}
		if s.def != "" {
			require.Contains(t, text, "default \""+s.def+"\"", s.env)
		}
	}
}

func TestRunHelpAndBadConfig(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"-h"}, getenvFrom(nil), &stdout, &stderr))
	require.Contains(t, stdout.String(), "WORKER_TASK_CHECK_INTERVAL")

	stdout.Reset()
	require.Equal(t, 2, run(t.Context(), nil, getenvFrom(map[string]string{"WORKER_LOG_LEVEL": "loud"}), &stdout, &stderr))
	require.Contains(t, stderr.String(), "WORKER_LOG_LEVEL (-log-level)")
	require.Contains(t, stderr.String(), "WORKER_DOCUSIGN_ACCOUNTS is empty")
	require.Empty(t, stdout.String(), "nothing starts on a configuration error")
}

func TestConfigLogRedactsSecrets(t *testing.T) {
	t.Parallel()
	keys, err := keyPair()
	require.NoError(t, err)
	env := minimalEnv(t)
	env["WORKER_DOCUSIGN_PRIVATE_KEY_FILE"] = ""
	env["WORKER_DOCUSIGN_PRIVATE_KEY"] = string(keys[0])
	env["WORKER_REDIS_URL"] = "redis://:redis-secret@127.0.0.1:6379/3"
	env["WORKER_NATS_URL"] = "nats://alice:nats-secret@10.0.0.1:4222,nats://tok-secret@10.0.0.2:4222"
	c, err := loadConfig([]string{"-log-level=debug"}, getenvFrom(env))
	require.NoError(t, err)

	var out bytes.Buffer
	logger := newLogger(&out, zerolog.InfoLevel)
	logger.Info().Dict("config", c.logDict()).Msg("worker starting")
	line := out.String()

	require.Contains(t, line, `"WORKER_DOCUSIGN_PRIVATE_KEY":"[REDACTED]"`)
	require.Contains(t, line, `"WORKER_REDIS_URL":"redis://:xxxxx@127.0.0.1:6379/3"`)
	require.Contains(t, line, "alice:xxxxx@10.0.0.1")
	require.Contains(t, line, `"WORKER_LOG_LEVEL":"debug"`)
	require.Contains(t, line, `"service":"worker"`)
	require.Contains(t, line, "WORKER_LOG_LEVEL=flag")
	for _, secret := range []string{"redis-secret", "nats-secret", "tok-secret", "PRIVATE KEY", keyBody(keys[0])} {
		require.NotContains(t, line, secret)
	}
	// %v of the whole Config does not show the key either.
	require.NotContains(t, fmtAll(c), keyBody(keys[0]))
	require.NotContains(t, fmtAll(c), "redis-secret")
}

// keyBody is a line from the middle of a PEM key.
func keyBody(pem []byte) string {
	lines := strings.Split(string(pem), "\n")
	return lines[len(lines)/2]
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "no credentials", in: "redis://127.0.0.1:6379/0", want: "redis://127.0.0.1:6379/0"},
		{name: "password", in: "redis://:pw@h:1/0", want: "redis://:xxxxx@h:1/0"},
		{name: "user and password", in: "nats://u:pw@h:4222", want: "nats://u:xxxxx@h:4222"},
		{name: "token", in: "nats://tok@h:4222", want: "nats://xxxxx@h:4222"},
		{name: "unparseable", in: "redis://:pw@h:1/%zz", want: "[UNPARSEABLE URL]"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, redactURL(tt.in))
		})
	}
}

func TestDurString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{name: "days", in: 30 * 24 * time.Hour, want: "720h"},
		{name: "minutes", in: 2 * time.Minute, want: "2m"},
		{name: "seconds", in: 30 * time.Second, want: "30s"},
		{name: "mixed", in: 90 * time.Minute, want: "1h30m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, durString(tt.in))
			d, err := time.ParseDuration(tt.want)
			require.NoError(t, err)
			require.Equal(t, tt.in, d)
		})
	}
}

func TestAsynqLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   zerolog.Level
		want asynq.LogLevel
	}{
		{name: "trace", in: zerolog.TraceLevel, want: asynq.DebugLevel},
		{name: "debug", in: zerolog.DebugLevel, want: asynq.DebugLevel},
		{name: "info", in: zerolog.InfoLevel, want: asynq.InfoLevel},
		{name: "warn", in: zerolog.WarnLevel, want: asynq.WarnLevel},
		{name: "error", in: zerolog.ErrorLevel, want: asynq.ErrorLevel},
		{name: "disabled", in: zerolog.Disabled, want: asynq.FatalLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, asynqLevel(tt.in))
		})
	}
}

// fmtAll formats v with every common verb.
func fmtAll(v any) string { return fmt.Sprintf("%v %+v %#v %s", v, v, v, v) }

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
)

// Exit codes, documented in the README and the package comment.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitNotFound    = 4
)

// streams are the command's standard streams.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// exitError is an error with its exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &exitError{code: exitNotFound, err: fmt.Errorf(format, args...)}
}

func failed(format string, args ...any) error {
	return &exitError{code: exitFailed, err: fmt.Errorf(format, args...)}
}

func unreachable(err error) error { return &exitError{code: exitUnreachable, err: err} }

// command is one sub-command.
type command struct {
	name, args, help string
	run              func(ctx context.Context, env *env, args []string) error
}

func commands() []command {
	return []command{
		{name: "employee", args: "create|update|close --id ID [flags]",
			help: "enqueue the create, membership-set or close task of one employee (provision on demand)", run: runEmployee},
		{name: "dead", args: "list|show|replay ...", help: "list, show and replay dead letters (archived tasks and invalid events)", run: runDead},
		{name: "publish", args: "--file FILE.jsonl", help: "publish HR CloudEvents, one per line, to NATS", run: runPublish},
		{name: "queue", args: "ls|pause|resume [QUEUE]", help: "list the task queues, pause or resume one", run: runQueue},
		{name: "plan", args: "--event FILE | --employee ID [flags]",
			help: "what the worker would do for an event, against live DocuSign state; nothing is written", run: runPlan},
		{name: "rules", args: "check FILE", help: "check a mapping rules file: syntax, structure, regexes, settings, with lines", run: runRules},
		{name: "approve", args: "[--by NAME] [--for DURATION]", help: "mass-deprovisioning guard tripped: run the held closes", run: runApprove},
		{name: "reject", args: "[--by NAME]", help: "mass-deprovisioning guard tripped: delete the held closes (audited)", run: runReject},
		{name: "guard", args: "status [--json]", help: "show the mass-deprovisioning guard: trip, held closes, approval", run: runGuard},
	}
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, s streams) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(s.out)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		e := &env{getenv: getenv, s: s}
		defer e.close()
		err := c.run(ctx, e, args[1:])
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if err != nil {
			fmt.Fprintf(s.err, "enqueue %s: %v\n", c.name, err)
			var xe *exitError
			if errors.As(err, &xe) {
				return xe.code
			}
			return exitFailed
		}
		return exitOK
	}
	fmt.Fprintf(s.err, "enqueue: unknown command %q\n\n", args[0])
	printUsage(s.err)
	return exitUsage
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: enqueue COMMAND [flags]   (enqueue COMMAND -h for its flags)")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %-40s %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Connections come from the worker's variables (WORKER_REDIS_URL, WORKER_NATS_URL, ...) or flags.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 operation failed, 2 bad usage, 3 Redis or NATS unreachable, 4 unknown id.")
}

// env is what sub-commands share: settings and lazily opened connections.
type env struct {
	getenv func(string) string
	s      streams

	redisURL, natsURL              string
	redisKeyPrefix                 string
	deadLetterStream, deadLetterPx string
	hrSubjects                     string
	retention                      time.Duration
	timeout                        time.Duration

	rdb  *redis.Client
	nc   *nats.Conn
	js   jetstream.JetStream
	insp *asynq.Inspector
}

// setting reads a worker variable with a default.
func (e *env) setting(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// flags returns a flag set with the connection flags that sub-command
// needs, defaulted from the worker's variables.
func (e *env) flags(name string, redisFlags, natsFlags bool) *flag.FlagSet {
	fs := flag.NewFlagSet("enqueue "+name, flag.ContinueOnError)
	fs.SetOutput(e.s.err)
	fs.DurationVar(&e.timeout, "timeout", 10*time.Second, "bound of each Redis or NATS operation")
	if redisFlags {
		fs.StringVar(&e.redisURL, "redis-url", e.setting("WORKER_REDIS_URL", "redis://127.0.0.1:6379/0"),
			"the worker's Redis (WORKER_REDIS_URL)")
		prefix := e.setting("WORKER_REDIS_KEY_PREFIX", "docusign-worker:")
		if shadow, _ := strconv.ParseBool(e.getenv("WORKER_SHADOW")); shadow {
			prefix += "shadow:" // a worker in shadow mode keeps its own keys
		}
		fs.StringVar(&e.redisKeyPrefix, "redis-key-prefix", prefix,
			"the worker's Redis key prefix (WORKER_REDIS_KEY_PREFIX, plus shadow: when WORKER_SHADOW=true)")
		retention, err := time.ParseDuration(e.setting("WORKER_TASK_RETENTION", "168h"))
		if err != nil {
			retention = jobs.DefaultRetention
		}
		fs.DurationVar(&e.retention, "task-retention", retention, "retention of enqueued tasks (WORKER_TASK_RETENTION)")
	}
	if natsFlags {
		fs.StringVar(&e.natsURL, "nats-url", e.setting("WORKER_NATS_URL", "nats://"+e.setting("WORKER_NATS_LISTEN", "127.0.0.1:4222")),
			"NATS server (WORKER_NATS_URL; the embedded server listens on WORKER_NATS_LISTEN)")
		fs.StringVar(&e.deadLetterStream, "deadletter-stream", e.setting("WORKER_DEADLETTER_STREAM", events.DefaultDeadLetterStream),
			"dead-letter stream (WORKER_DEADLETTER_STREAM)")
		fs.StringVar(&e.deadLetterPx, "deadletter-prefix", e.setting("WORKER_DEADLETTER_PREFIX", events.DefaultDeadLetterPrefix),
			"dead-letter subject prefix (WORKER_DEADLETTER_PREFIX)")
		fs.StringVar(&e.hrSubjects, "hr-subjects", e.setting("WORKER_HR_SUBJECTS", events.DefaultSubject),
			"subjects of the HR stream (WORKER_HR_SUBJECTS); events are published under the first one's prefix")
	}
	return fs
}

// parse parses args, flags and positional arguments in any order (`dead
// replay ID --edit`), and returns the positional ones; a flag error is a
// usage error.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: exitUsage, err: err}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// redis connects to Redis once, checking that it answers.
func (e *env) redis(ctx context.Context) (*redis.Client, error) {
	if e.rdb != nil {
		return e.rdb, nil
	}
	opt, err := redis.ParseURL(e.redisURL)
	if err != nil {
		return nil, usageErr("--redis-url %s is not a Redis URL: use redis://[:password@]host:port/db", redact(e.redisURL))
	}
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, unreachable(fmt.Errorf("cannot reach Redis at %s: %w (is the worker's Redis running? set --redis-url or WORKER_REDIS_URL)",
			redact(e.redisURL), err))
	}
	e.rdb = rdb
	e.insp = asynq.NewInspectorFromRedisClient(rdb)
	return rdb, nil
}

// jetStream connects to NATS once.
func (e *env) jetStream() (jetstream.JetStream, error) {
	if e.js != nil {
		return e.js, nil
	}
	nc, err := nats.Connect(e.natsURL, nats.Name("enqueue"), nats.Timeout(e.timeout), nats.MaxReconnects(0))
	if err != nil {
		return nil, unreachable(fmt.Errorf("cannot reach NATS at %s: %w (is the worker or NATS running? set --nats-url or WORKER_NATS_URL)",
			redact(e.natsURL), err))
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	e.nc, e.js = nc, js
	return js, nil
}

func (e *env) close() {
	if e.rdb != nil {
		_ = e.rdb.Close()
	}
	if e.nc != nil {
		_ = e.nc.Drain()
	}
}

// hrSubjectPrefix is where events are published: the first HR subject
// without its trailing wildcard ("hr.employee").
func (e *env) hrSubjectPrefix() string {
	first := strings.TrimSpace(strings.Split(e.hrSubjects, ",")[0])
	return strings.TrimSuffix(strings.TrimSuffix(first, ".>"), ".*")
}

// redact hides a URL's password.
func redact(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "[unparseable URL]"
	}
	return u.Redacted()
}

// isTerminal reports whether w is a terminal (progress bars redraw in place
// only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

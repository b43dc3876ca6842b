// Command enqueue is the operator's CLI for the DocuSign worker: provision one
// employee on demand, list, show and replay dead letters, publish HR events
// from a JSONL file, list, pause and resume the task queues, preview what the
// worker would do for an event, check a rules file, and decide on closes the
// mass-deprovisioning guard holds.
//
//	enqueue employee create|update|close --id E1001 [--email ... --account ACCT[:PROFILE[:GROUP,...]]] [--wait]
//	enqueue dead list [--reason R] [--queue Q] [--kind task|intake] [--since 24h] [--json]
//	enqueue dead show ID
//	enqueue dead replay ID [--edit] | --all [--reason R]
//	enqueue publish --file events.jsonl
//	enqueue queue ls|pause|resume [QUEUE]
//	enqueue plan --event FILE | --employee ID [flags] [--rules FILE] [--json]
//	enqueue rules check FILE
//	enqueue guard status | approve --by NAME | reject --by NAME
//
// It reads the worker's environment variables (WORKER_REDIS_URL,
// WORKER_NATS_URL, WORKER_DEADLETTER_STREAM, ...), so it runs with the
// worker's environment file; flags override them. Exit codes: 0 success, 1
// the operation failed (a task archived, some replays failed), 2 bad usage,
// 3 Redis or NATS unreachable, 4 unknown id.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// quietLogger silences go-redis's internal log.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func main() {
	redis.SetLogger(quietLogger{}) // go-redis's own retries would print; the command reports errors itself
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, streams{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

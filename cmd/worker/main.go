// Command worker is the DocuSign provisioning worker: it consumes HR joiner, mover and leaver events
// (CloudEvents) from NATS JetStream, turns each into an idempotent asynq task in Redis and applies it to DocuSign
// (Admin API or eSignature Users API) through the rate limiter shared by every worker process.
//
// Every setting is an environment variable (WORKER_…) with a flag of the same meaning; run with -h for the list.
// Without WORKER_NATS_URL the worker runs an embedded NATS server with JetStream, the single-machine setup.
//
// On SIGINT or SIGTERM it shuts down in order: intake first (no new events), then task processing (running tasks
// finish or go back to their queue within WORKER_SHUTDOWN_TIMEOUT), then the clients, the embedded NATS server
// last. Exit codes: 0 after a clean stop, 1 when the worker could not start or a component failed, 2 for a
// configuration error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev" //nolint:gochecknoglobals // set by -ldflags

func main() {
	// go-redis logs through a process-wide logger: set it once, here, so
	// its messages are JSON like the rest.
	redis.SetLogger(redisLogger{log: newLogger(os.Stderr, zerolog.WarnLevel)})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

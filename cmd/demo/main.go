// Command demo runs the whole system on one machine: Redis (installed from
// Debian when missing, unless -redis-url names a running one), the DocuSign
// simulator with a generated key and the shipped seed, and the worker with
// its embedded NATS server. It publishes sample HR events (joiners, movers,
// a leaver, a future-dated leaver and one malformed event) with the enqueue
// CLI, waits until they are processed, then prints where the dashboard and
// metrics are and a summary of the simulator's directory.
//
//	make demo             # runs until Ctrl-C
//	make demo DEMO_ONCE=1 # exits after the sample events are processed
//
// Everything it starts runs in its own process group and is stopped on exit
// (and killed should the demo itself die): nothing outlives it. Its files
// live under ./.demo (logs, keys, Redis and NATS data).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

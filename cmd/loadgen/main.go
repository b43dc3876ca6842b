// Command loadgen calls DocuSign (or the simulator) as fast as the shared
// rate limiter allows, through the real docusign client with the limiter
// wired into its request hook. Several loadgen processes against one Redis
// share one budget per account: the quota test runs three of them beside a
// foreign application and checks that no call is throttled while nearly the
// whole available budget is used.
//
// It prints a JSON summary on stdout when it ends (-until, -duration or
// SIGINT/SIGTERM). Run with -h for the flags.
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

// Command docusign-sim runs the DocuSign simulator (package docusignsim) from a seed file or the
// shipped demo seed: an auth listener (JWT token, userinfo), the Admin API, one eSignature
// listener per environment and a control listener. Run with -h for the flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

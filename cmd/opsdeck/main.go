// Command opsdeck is a terminal operations console for microservices on Kubernetes: the console
// (opsdeck), and verbs for scripts (status, deploy, rollback, config check, version). Installed
// as kubectl-opsdeck it is also a kubectl plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGINT, SIGTERM and SIGHUP cancel the context: the console quits cleanly, a wait stops.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args, streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}

// Command opsdeck is a terminal operations console for microservices on Kubernetes: the console
// (opsdeck), and verbs for scripts (status, deploy, rollback, config check, version). Installed
// as kubectl-opsdeck it is also a kubectl plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// gcPercent is the GC target opsdeck runs with unless GOGC or GOMEMLIMIT is set. A process
// whose heap is mostly informer caches lets the default (100) grow the heap to twice them
// between collections: at 2,000 services 50 keeps about 20 MiB less anonymous memory for a few
// more, short collections (idle CPU unchanged within noise). It scales with the fleet, unlike a
// fixed memory limit, which a larger fleet would turn into constant collection.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(gcPercent)
	}
	// SIGINT, SIGTERM and SIGHUP cancel the context: the console quits cleanly, a wait stops.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args, streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}

// Command sandbox starts, describes and stops opsdeck's local Kubernetes sandbox: a real
// control plane with kwok nodes, the workload metrics simulator and Prometheus, on loopback.
//
//	go run ./cmd/sandbox up [--dir DIR] [--nodes N] [--services N]
//	go run ./cmd/sandbox env [--dir DIR]
//	go run ./cmd/sandbox down [--dir DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

const usage = `usage:
  sandbox up [--dir DIR] [--nodes N] [--services N] [--bin DIR]   start, print env lines, return
  sandbox env [--dir DIR]                                         print KUBECONFIG=... and PROMETHEUS_URL=...
  sandbox down [--dir DIR]                                        stop every process, remove state
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("sandbox "+verb, flag.ContinueOnError)
	dir := fs.String("dir", filepath.Join(os.TempDir(), "opsdeck-sandbox"), "folder for the sandbox's state, logs and data")
	var nodes, services *int
	var bin *string
	if verb == "up" {
		nodes = fs.Int("nodes", 3, "kwok nodes to create")
		services = fs.Int("services", 0, "extra svc-NNN Deployments to seed in namespace shop")
		bin = fs.String("bin", "", "folder of the Kubernetes, etcd and kwok binaries (default: build or reuse the cached ones)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sandbox %s: unexpected argument %q\n%s", verb, fs.Arg(0), usage)
		return 2
	}
	switch verb {
	case "up":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		start := time.Now()
		env, err := sandbox.Up(ctx, sandbox.Options{
			Dir: *dir, Nodes: *nodes, Services: *services, BinDir: *bin, Progress: os.Stderr,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox up:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "sandbox: ready in %.1fs\n", time.Since(start).Seconds())
		fmt.Print(env.Lines())
	case "env":
		env, err := sandbox.Load(*dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox env:", err)
			return 1
		}
		fmt.Print(env.Lines())
	case "down":
		if err := sandbox.Down(*dir); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox down:", err)
			return 1
		}
	default:
		fmt.Fprintf(os.Stderr, "sandbox: unknown verb %q\n%s", verb, usage)
		return 2
	}
	return 0
}

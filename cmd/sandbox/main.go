// Command sandbox starts, describes and stops opsdeck's local Kubernetes sandbox: a real
// control plane with kwok nodes, the metrics simulator and Prometheus, on loopback.
//
//	go run ./cmd/sandbox up [--dir DIR] [--nodes N] [--services N [--namespaces M]]
//	go run ./cmd/sandbox env [--dir DIR]
//	go run ./cmd/sandbox down [--dir DIR]
//	go run ./cmd/sandbox stop|start|restart|kill|freeze|thaw COMPONENT [--dir DIR]
//	go run ./cmd/sandbox ps [--dir DIR]
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
  sandbox up [--dir DIR] [--nodes N] [--services N [--namespaces M]] [--bin DIR]   start, print env lines, return
  sandbox env [--dir DIR]                                         print KUBECONFIG=... and PROMETHEUS_URL=...
  sandbox down [--dir DIR]                                        stop every process, remove state
  sandbox stop COMPONENT [--dir DIR]      SIGTERM (SIGKILL after 10s); ports and data are kept
  sandbox start COMPONENT [--dir DIR]     start a stopped component again, wait until it is ready
  sandbox restart COMPONENT [--dir DIR]   stop, then start on the same ports and data
  sandbox kill COMPONENT [--dir DIR]      SIGKILL, as a crash
  sandbox freeze COMPONENT [--dir DIR]    SIGSTOP: it holds its sockets and answers nothing
  sandbox thaw COMPONENT [--dir DIR]      SIGCONT
  sandbox ps [--dir DIR]                  each component and whether it runs
COMPONENT: etcd, kube-apiserver (or apiserver), kube-controller-manager, kube-scheduler, kwok,
simulator, prometheus
`

// aliases are the short names a game day types.
var aliases = map[string]string{
	"apiserver": "kube-apiserver", "controller-manager": "kube-controller-manager", "scheduler": "kube-scheduler",
}

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
	var nodes, services, namespaces *int
	var bin *string
	if verb == "up" {
		nodes = fs.Int("nodes", 3, "kwok nodes to create")
		services = fs.Int("services", 0, "extra svc-NNN Deployments to seed in namespace shop")
		namespaces = fs.Int("namespaces", 0, "spread the --services over this many namespaces fleet-NNN instead of shop")
		bin = fs.String("bin", "", "folder of the Kubernetes, etcd and kwok binaries (default: build or reuse the cached ones)")
	}
	component := ""
	rest := args[1:]
	switch verb {
	case "stop", "start", "restart", "kill", "freeze", "thaw":
		if len(rest) == 0 || rest[0] == "" || rest[0][0] == '-' {
			fmt.Fprintf(os.Stderr, "sandbox %s: name the component, e.g. `sandbox %s apiserver --dir DIR`\n%s", verb, verb, usage)
			return 2
		}
		component, rest = rest[0], rest[1:]
		if full, ok := aliases[component]; ok {
			component = full
		}
	}
	if err := fs.Parse(rest); err != nil {
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
			Dir: *dir, Nodes: *nodes, Services: *services, Namespaces: *namespaces, BinDir: *bin, Progress: os.Stderr,
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
	case "stop", "start", "restart", "kill", "freeze", "thaw":
		if err := control(verb, *dir, component); err != nil {
			fmt.Fprintf(os.Stderr, "sandbox %s: %v\n", verb, err)
			return 1
		}
	case "ps":
		st, err := sandbox.Status(*dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox ps:", err)
			return 1
		}
		for _, name := range sandbox.SortedNames(st) {
			state := "stopped"
			if st[name] {
				state = "running"
			}
			fmt.Printf("%-24s %s\n", name, state)
		}
	default:
		fmt.Fprintf(os.Stderr, "sandbox: unknown verb %q\n%s", verb, usage)
		return 2
	}
	return 0
}

// control performs one of the component verbs.
func control(verb, dir, component string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch verb {
	case "stop":
		return sandbox.Stop(dir, component)
	case "start":
		return sandbox.Start(ctx, dir, component)
	case "restart":
		return sandbox.Restart(ctx, dir, component)
	case "kill":
		return sandbox.Kill(dir, component)
	case "freeze":
		return sandbox.Freeze(dir, component)
	case "thaw":
		return sandbox.Thaw(dir, component)
	}
	return fmt.Errorf("unknown verb %q", verb)
}

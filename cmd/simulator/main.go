// Command simulator is the sandbox's metrics simulator: it watches the pods of every namespace
// and serves, for each Running pod, the metrics a real cluster would have (cAdvisor's CPU and
// memory, HTTP requests and latency), shaped by the pod's image tag as design.md's behaviour
// table says. The sandbox starts it; Prometheus scrapes its /metrics with honor_labels.
//
//	simulator --kubeconfig FILE [--listen 127.0.0.1:0] [--addr-file FILE]
//
// It prints LISTEN=127.0.0.1:PORT on stdout once it serves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opsdeck/opsdeck/internal/simulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	listen := fs.String("listen", "127.0.0.1:0", "address to serve /metrics and /healthz on")
	addrFile := fs.String("addr-file", "", "write the bound address (127.0.0.1:PORT) to this file")
	logsDir := fs.String("logs-dir", "", "write every pod's container log here, and a kwok Logs object naming it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if os.Getenv("GOGC") == "" {
		// A scrape of 1500 pods allocates about 20 MB of short-lived objects: collect less often.
		debug.SetGCPercent(400)
	}

	rc, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}

	sim := simulator.New()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lw *logWriter
	if *logsDir != "" {
		if lw, err = newLogWriter(rc, *logsDir, stderr); err != nil {
			return err
		}
		go lw.run(ctx)
	}
	synced, err := watchPods(ctx, cs, sim, lw)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", simulator.Handler(sim))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !synced() {
			http.Error(w, "pod cache not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok: %d pods\n", sim.Len())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	if *addrFile != "" {
		if err := writeAtomic(*addrFile, addr+"\n"); err != nil {
			srv.Close()
			return err
		}
	}
	fmt.Fprintf(stdout, "LISTEN=%s\n", addr)

	go func() {
		if cache.WaitForCacheSync(ctx.Done(), synced) {
			fmt.Fprintf(stderr, "simulator: pod cache synced, %d running pods\n", sim.Len())
		}
	}()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	return srv.Shutdown(shutdown)
}

// restConfig loads the kubeconfig: the given file, else the usual rules ($KUBECONFIG,
// ~/.kube/config, in-cluster).
func restConfig(path string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	rc.UserAgent = "opsdeck-simulator"
	return rc, nil
}

// writeAtomic writes data to path through a temporary file and a rename, so that a reader
// never sees a partial address.
func writeAtomic(path, data string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

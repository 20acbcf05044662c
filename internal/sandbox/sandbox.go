// Package sandbox starts and stops opsdeck's local, real Kubernetes: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (fake nodes whose pods follow scripted
// stages) on loopback ports, plus the metrics simulator and Debian's Prometheus
// scraping it. cmd/sandbox and the test harness in this package both use it.
package sandbox

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

//go:embed stages.yaml
var kwokStages []byte

// Options configure Up.
type Options struct {
	// Dir holds every file of the sandbox: state, logs, pids, data. Made absolute.
	Dir string
	// Nodes is how many kwok nodes to create (default 3).
	Nodes int
	// Services adds svc-NNN Deployments to namespace shop, for scale tests.
	Services int
	// Namespaces, when positive, spreads the Services over that many namespaces instead
	// (FleetNamespace(1) ... FleetNamespace(N), svc-001 onwards in each), for -A at scale.
	Namespaces int
	// BinDir holds kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd and
	// kwok. Empty means: build or reuse them with testdata/tools/build.sh.
	BinDir string
	// Tied makes every process die with the caller (the test harness); `sandbox up` leaves
	// them running instead.
	Tied bool
	// RecordingRules is a rule file for the sandbox's Prometheus (opsdeck's are
	// config/examples/prometheus-rules.yaml); empty reads $OPSDECK_SANDBOX_RULES, and loads
	// none when that is unset too.
	RecordingRules string
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

// Env is what a client of a running sandbox needs.
type Env struct {
	Dir           string
	Kubeconfig    string
	PrometheusURL string
	BinDir        string
}

// Sandbox is one sandbox being started.
type Sandbox struct {
	Dir   string
	opts  Options
	ports ports
	procs []*process
}

type ports struct {
	etcd, etcdPeer, apiserver, controllerManager, scheduler, kwok, prometheus int
}

// Kubeconfig is the path of the sandbox's kubeconfig.
func (s *Sandbox) Kubeconfig() string { return s.path("kubeconfig") }

// envFile holds the lines that `sandbox env` prints.
const envFile = "env"

// Up starts a sandbox in opts.Dir and returns when it is ready: the API server answers, the
// nodes are Ready, every seeded Deployment is available and Prometheus has samples for every
// seeded pod. On failure nothing it started is left running.
func Up(ctx context.Context, opts Options) (env *Env, err error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if running := living(dir, recordedPids(dir)); len(running) > 0 {
		sort.Strings(running)
		return nil, fmt.Errorf("sandbox in %s is %w (%s); use `sandbox env --dir %s` or `sandbox down --dir %s`",
			dir, errAlreadyRunning, strings.Join(running, ", "), dir, dir)
	}
	// What a dead sandbox left behind is stale: start afresh.
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	s := &Sandbox{Dir: dir, opts: opts}
	for _, d := range []string{"logs", "pids", "pki"} {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			return nil, err
		}
	}
	// The metrics simulator compiles while the control plane starts.
	buildCtx, cancelBuild := context.WithCancel(ctx)
	simulatorBin := make(chan buildResult, 1)
	buildDone := make(chan struct{})
	go func() {
		defer close(buildDone)
		simulatorBin <- buildSimulator(buildCtx, s.path("bin"))
	}()
	defer func() {
		if err != nil {
			cancelBuild()
			<-buildDone
			stopPids(dir, recordedPids(dir), 5*time.Second)
		}
		cancelBuild()
	}()

	if s.opts.BinDir == "" {
		s.progress("building or reusing the sandbox binaries (testdata/tools/build.sh)")
		if s.opts.BinDir, err = Binaries(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.allocatePorts(); err != nil {
		return nil, err
	}
	if err := s.writeCredentials(); err != nil {
		return nil, err
	}
	if err := s.startControlPlane(ctx); err != nil {
		return nil, err
	}
	client, err := s.client()
	if err != nil {
		return nil, err
	}
	if err := s.createNodes(ctx, client); err != nil {
		return nil, err
	}
	wb := <-simulatorBin
	if wb.err != nil {
		return nil, wb.err
	}
	promURL, err := s.startMetrics(ctx, wb.path)
	if err != nil {
		return nil, err
	}
	if err := s.seed(ctx, client); err != nil {
		return nil, err
	}
	if err := s.waitSamples(ctx, client, promURL); err != nil {
		return nil, err
	}
	env = &Env{Dir: dir, Kubeconfig: s.Kubeconfig(), PrometheusURL: promURL, BinDir: s.opts.BinDir}
	if err := os.WriteFile(s.path(envFile), []byte(env.Lines()), 0o644); err != nil {
		return nil, err
	}
	return env, nil
}

// Lines are the environment lines that `sandbox up` and `sandbox env` print.
func (e *Env) Lines() string {
	return fmt.Sprintf("KUBECONFIG=%s\nPROMETHEUS_URL=%s\nOPSDECK_SANDBOX_DIR=%s\nOPSDECK_SANDBOX_BIN=%s\n",
		e.Kubeconfig, e.PrometheusURL, e.Dir, e.BinDir)
}

// Load reads the environment of the running sandbox in dir.
func Load(dir string) (*Env, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, envFile))
	if err != nil {
		return nil, fmt.Errorf("no ready sandbox in %s: %w; start one with `go run ./cmd/sandbox up --dir %s`", dir, errors.Unwrap(err), dir)
	}
	if len(living(dir, recordedPids(dir))) == 0 {
		return nil, fmt.Errorf("the sandbox in %s is not running (its processes are gone); run `go run ./cmd/sandbox down --dir %s` and `up` again", dir, dir)
	}
	env := &Env{Dir: dir}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "KUBECONFIG":
			env.Kubeconfig = v
		case "PROMETHEUS_URL":
			env.PrometheusURL = v
		case "OPSDECK_SANDBOX_BIN":
			env.BinDir = v
		}
	}
	return env, nil
}

// Down stops every process the sandbox in dir started and removes dir.
func Down(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if stuck := stopPids(dir, recordedPids(dir), 10*time.Second); len(stuck) > 0 {
		return fmt.Errorf("could not stop %s; %s is kept", strings.Join(stuck, ", "), dir)
	}
	return os.RemoveAll(dir)
}

func (s *Sandbox) progress(format string, args ...any) {
	if s.opts.Progress != nil {
		fmt.Fprintf(s.opts.Progress, "sandbox: "+format+"\n", args...)
	}
}

func (s *Sandbox) allocatePorts() error {
	ps := []*int{&s.ports.etcd, &s.ports.etcdPeer, &s.ports.apiserver, &s.ports.controllerManager,
		&s.ports.scheduler, &s.ports.kwok, &s.ports.prometheus}
	// Hold every listener until all are chosen so that no two share a port.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for _, p := range ps {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("no free loopback port: %w", err)
		}
		held = append(held, l)
		*p = l.Addr().(*net.TCPAddr).Port
	}
	return nil
}

func (s *Sandbox) client() (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	return kubernetes.NewForConfig(cfg)
}

// waitFor polls cond every interval until it is true, ctx ends, timeout passes or a sandbox
// process dies; the error names what was awaited.
func (s *Sandbox) waitFor(ctx context.Context, what string, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var last error
	for {
		if p := s.died(); p != nil {
			return fmt.Errorf("waiting for %s: %w", what, p.deathError())
		}
		ok, err := cond(ctx)
		if ok {
			s.progress("%s (%.1fs)", what, time.Since(start).Seconds())
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("timed out after %s waiting for %s: %v", timeout, what, last)
			}
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

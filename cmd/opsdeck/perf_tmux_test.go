package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// Performance figures of the built binary in tmux against the sandbox (README "Performance").
// Timing on a shared machine is noisy, so these run only with OPSDECK_PERF=1; they log their
// figures and fail only on what does not depend on the machine's speed.
//
//	OPSDECK_PERF=1 OPSDECK_SANDBOX_DIR=/tmp/sbx500 go test -run 'TestPerf' -v -timeout 20m ./cmd/opsdeck

func needPerf(t *testing.T) {
	t.Helper()
	if os.Getenv("OPSDECK_PERF") == "" {
		t.Skip("set OPSDECK_PERF=1 to measure the console's performance")
	}
	needTmux(t)
}

// promCounter is a reverse proxy in front of Prometheus that records every request.
type promCounter struct {
	URL string
	mu  sync.Mutex
	log []promRequest
}

type promRequest struct {
	at   time.Time
	path string
}

func countPrometheus(t *testing.T, target string) *promCounter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &promCounter{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.log = append(c.log, promRequest{time.Now(), r.URL.Path})
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// since counts the requests from t on by path, and the refreshes: instant queries come in
// bursts, one burst per refresh, its queries sent at once.
func (c *promCounter) since(from time.Time) (byPath map[string]int, refreshes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byPath = map[string]int{}
	var last time.Time
	for _, r := range c.log {
		if r.at.Before(from) {
			continue
		}
		byPath[r.path]++
		if r.path == "/api/v1/query" {
			if r.at.Sub(last) > 300*time.Millisecond {
				refreshes++
			}
			last = r.at
		}
	}
	return byPath, refreshes
}

// between counts the requests after from and up to to, by path.
func (c *promCounter) between(from, to time.Time) (byPath map[string]int, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byPath = map[string]int{}
	for _, r := range c.log {
		if r.at.After(from) && !r.at.After(to) {
			byPath[r.path]++
			n++
		}
	}
	return byPath, n
}

// other counts the requests that are not queries (e.g. the health probe).
func other(byPath map[string]int) int {
	n := 0
	for p, c := range byPath {
		if p != "/api/v1/query" && p != "/api/v1/query_range" {
			n += c
		}
	}
	return n
}

// cpuTicks is the process's user+system CPU time in clock ticks (1/100 s).
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	// After the comm: state(0) ppid(1) ... utime(11) stime(12).
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// cpuPercent is CPU ticks (cpuTicks) spent over took, in % of one core.
func cpuPercent(ticks int64, took time.Duration) float64 {
	return float64(ticks) / 100 / took.Seconds() * 100
}

// rssMiB is the process's resident set.
func rssMiB(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// pipe sends everything the program writes to the terminal to a file.
func (tt *tmuxTerm) pipe(file string) {
	tt.t.Helper()
	if out, err := tt.tmux("pipe-pane", "-t", "e2e", "-o", "cat >> "+file); err != nil {
		tt.t.Fatalf("pipe-pane: %v %s", err, out)
	}
}

// fullScreen is the condition of the first full screen with n services: all of them counted in
// the services title, the API synced, and metric values in the selected row.
func fullScreen(n int) func(string) bool {
	title := fmt.Sprintf("services %d/%d ", n, n)
	values := regexp.MustCompile(`(?m)^▶\S+ +\d+/\d+ .* \d+(\.\d+)? +\d+\.\d\d +\d+ `)
	return func(s string) bool {
		return strings.Contains(s, title) && strings.Contains(s, "API ok") && strings.Contains(s, "metrics ok") && values.MatchString(s)
	}
}

// moreStarts is how many more times the console tests start opsdeck to time its start: one
// start on a shared machine varies by a factor of two.
const moreStarts = 4

// logStarts starts the console (argv, in tmux) moreStarts times more, each until listed and
// then full accept its screen, and logs every start's two times with their medians, the
// first start's (listed0, full0) included.
func logStarts(t *testing.T, what string, listed0, full0 time.Duration, listed, full func(string) bool, argv ...string) {
	t.Helper()
	if t.Failed() {
		return
	}
	rows, metrics := []time.Duration{listed0}, []time.Duration{full0}
	for range moreStarts {
		start := time.Now()
		term := startTmux(t, perfWidth, perfHeight, consoleEnv(t), argv...)
		term.waitScreen("all services listed", 60*time.Second, listed)
		rows = append(rows, time.Since(start))
		term.waitScreen("metric values on screen", 60*time.Second, full)
		metrics = append(metrics, time.Since(start))
		term.keys("q")
		if code := term.waitExit("after q", 10*time.Second); code != 0 {
			t.Errorf("exit status %d", code)
		}
	}
	t.Logf("%s, %d starts: all listed after %s (median %s), metrics on screen after %s (median %s)",
		what, len(rows), durations(rows), median(rows), durations(metrics), median(metrics))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(10 * time.Millisecond)
}

func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(10 * time.Millisecond).String()
	}
	return strings.Join(parts, ", ")
}

// TestPerfConsole measures the console on the sandbox's namespace shop (read-only; 5 services,
// or 505 with `sandbox up --services 500`) at 200x60: time to the first full screen, Prometheus
// queries per refresh, idle CPU, RSS after a minute, and terminal bytes per second.
func TestPerfConsole(t *testing.T) {
	needPerf(t)
	env := sandbox.Shared(t)
	ns := sandbox.Namespace
	// The services the console lists: what `opsdeck status` counts (a blue-green pair of
	// Deployments is one service).
	r := opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "status", "-o", "json")
	var st Status
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil {
		t.Fatalf("status: %+v %v", r, err)
	}
	n := len(st.Services)
	prom := countPrometheus(t, env.PrometheusURL)
	out := filepath.Join(t.TempDir(), "terminal.out")
	bin := binary(t)
	base := idleShared(t, env)

	start := time.Now()
	argv := []string{bin, "--kubeconfig", env.Kubeconfig, "-n", ns,
		"--prometheus", prom.URL, "--readonly", "--audit-log", filepath.Join(t.TempDir(), "audit.jsonl")}
	term := startTmux(t, perfWidth, perfHeight, consoleEnv(t), argv...)
	term.pipe(out)
	pid := term.pid()
	allListed := has(fmt.Sprintf("services %d/%d ", n, n), "API ok")
	term.waitScreen(fmt.Sprintf("all %d services listed", n), 60*time.Second, allListed)
	listed := time.Since(start)
	term.waitScreen("the first full screen", 60*time.Second, fullScreen(n))
	full := time.Since(start)
	t.Logf("%d services: all listed after %s, first full screen (with metric values) after %s",
		n, listed.Round(10*time.Millisecond), full.Round(10*time.Millisecond))
	defer logStarts(t, fmt.Sprintf("%d services", n), listed, full, allListed, fullScreen(n), argv...)

	// Settle, then a minute idle: queries, CPU, bytes.
	time.Sleep(time.Until(start.Add(10 * time.Second)))
	from, ticks0, bytes0 := time.Now(), cpuTicks(t, pid), fileSize(t, out)
	shared := startShared(t, env)
	time.Sleep(60 * time.Second)
	took := time.Since(from)
	ticks1, bytes1 := cpuTicks(t, pid), fileSize(t, out)
	byPath, refreshes := prom.since(from)
	rss := rssMiB(t, pid)
	cpu := cpuPercent(ticks1-ticks0, took)
	t.Logf("%d services idle for %s: %d refreshes, %d instant queries (%.1f per refresh), %d range queries, %d other requests",
		n, took.Round(time.Second), refreshes, byPath["/api/v1/query"], float64(byPath["/api/v1/query"])/float64(max(1, refreshes)),
		byPath["/api/v1/query_range"], other(byPath))
	t.Logf("%d services idle: CPU %.1f%% of one core, RSS %.0f MiB after %s, terminal %.0f bytes/s",
		n, cpu, rss, time.Since(start).Round(time.Second), float64(bytes1-bytes0)/took.Seconds())
	logShared(t, fmt.Sprintf("%d services idle, console", n), base, shared.stop(t))
	t.Logf("recording rules loaded: %v", rulesLoaded(t, env))
	if refreshes == 0 || byPath["/api/v1/query"] > refreshes*7 {
		t.Errorf("%d instant queries in %d refreshes, want at most 7 per refresh", byPath["/api/v1/query"], refreshes)
	}
	if byPath["/api/v1/query_range"] > 5 {
		t.Errorf("%d range queries while idle: only the selected service's backfill (5) is expected", byPath["/api/v1/query_range"])
	}
	logSteadyMinute(t, env, prom, pid, start, fmt.Sprintf("%d services idle, console", n), func() {
		term.keys("q")
		if code := term.waitExit("after q", 10*time.Second); code != 0 {
			t.Errorf("exit status %d", code)
		}
	})
}

// The terminal of the console's measurement: 120x40, as k9s was measured beside it.
const perfWidth, perfHeight = 120, 40

// sandboxPid is the pid of the sandbox's process name (prometheus, kube-apiserver).
func sandboxPid(t *testing.T, env *sandbox.Env, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.Dir, "pids", name+".pid"))
	if err != nil {
		t.Fatalf("%s pid: %v", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// sharedProcesses are the sandbox's processes opsdeck shares with everyone else: what it costs
// them is part of its cost.
var sharedProcesses = []string{"prometheus", "kube-apiserver"}

// queryEngine names, among the shared figures, the time Prometheus's query engine spent
// evaluating queries (its own prometheus_engine_query_duration_seconds), in % of one core: the
// part of its CPU that queries cost, without the scraping, compaction and garbage collection
// that make its process CPU drift by a few % from minute to minute.
const queryEngine = "prometheus query engine"

// sharedFigures are what the shared meter reports.
var sharedFigures = append(slices.Clone(sharedProcesses), queryEngine)

// sharedMeter measures the CPU of the shared processes over a window, in % of one core each,
// and the time Prometheus's query engine spent.
type sharedMeter struct {
	env    *sandbox.Env
	from   time.Time
	ticks  map[string]int64
	engine float64
}

func startShared(t *testing.T, env *sandbox.Env) *sharedMeter {
	m := &sharedMeter{env: env, from: time.Now(), ticks: map[string]int64{}, engine: engineSeconds(t, env)}
	for _, p := range sharedProcesses {
		m.ticks[p] = cpuTicks(t, sandboxPid(t, env, p))
	}
	return m
}

// stop returns each shared process's CPU since the meter started, and the query engine's.
func (m *sharedMeter) stop(t *testing.T) map[string]float64 {
	took := time.Since(m.from)
	out := map[string]float64{}
	for _, p := range sharedProcesses {
		out[p] = cpuPercent(cpuTicks(t, sandboxPid(t, m.env, p))-m.ticks[p], took)
	}
	out[queryEngine] = 100 * (engineSeconds(t, m.env) - m.engine) / took.Seconds()
	return out
}

// engineSeconds is the time Prometheus's query engine has spent preparing, evaluating and
// sorting queries (rule evaluations included) since it started, from its own /metrics: wall
// time, so on a busy machine it also counts waiting for a core. The time queries waited in
// its queue is left out.
func engineSeconds(t *testing.T, env *sandbox.Env) float64 {
	t.Helper()
	resp, err := http.Get(env.PrometheusURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "prometheus_engine_query_duration_seconds_sum{"); ok {
			if labels, v, ok := strings.Cut(rest, "} "); ok && !strings.Contains(labels, `"queue_time"`) {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("prometheus /metrics: %q: %v", line, err)
				}
				sum += f
			}
		}
	}
	return sum
}

// idleShared is the shared processes' CPU over 30 s with nothing of opsdeck running.
func idleShared(t *testing.T, env *sandbox.Env) map[string]float64 {
	m := startShared(t, env)
	time.Sleep(30 * time.Second)
	return m.stop(t)
}

// logShared prints what the measured window cost the shared processes beyond their idle
// baseline.
func logShared(t *testing.T, what string, base, with map[string]float64) {
	t.Helper()
	for _, p := range sharedFigures {
		t.Logf("%s: %s CPU %.1f%% of one core, %.1f%% before it (added %.1f%%)", what, p, with[p], base[p], with[p]-base[p])
	}
}

// steadyAfter is when, after opsdeck starts, a frame matches every service's pods by the names
// its watch knows: the watch must first have seen two rate windows of pods come and go
// (internal/metrics, knowsPods). Before that it matches them by the names Prometheus held
// (learned once per service), or by Deployment pattern until the watch has synced.
const steadyAfter = 2*time.Minute + 10*time.Second

// logSteadyMinute measures pid and the shared processes over the minute from steadyAfter
// after start, then stops opsdeck (stop) and measures the shared processes idle again: a
// young sandbox's Prometheus grows busier by itself over minutes, so the minutes just before
// and just after bound what opsdeck added.
func logSteadyMinute(t *testing.T, env *sandbox.Env, prom *promCounter, pid int, start time.Time, what string, stop func()) {
	t.Helper()
	time.Sleep(time.Until(start.Add(steadyAfter)))
	from, ticks0 := time.Now(), cpuTicks(t, pid)
	shared := startShared(t, env)
	time.Sleep(60 * time.Second)
	took := time.Since(from)
	byPath, rounds := prom.since(from)
	t.Logf("%s, steady (the minute from %s after start, pods known to the watch): CPU %.1f%% of one core, RSS %.0f MiB; %d instant queries in %d rounds",
		what, steadyAfter, cpuPercent(cpuTicks(t, pid)-ticks0, took), rssMiB(t, pid), byPath["/api/v1/query"], rounds)
	with := shared.stop(t)
	stop()
	logShared(t, what+", steady, against the idle minute after it", idleShared(t, env), with)
}

// rulesLoaded tells whether the sandbox's Prometheus records opsdeck's series.
func rulesLoaded(t *testing.T, env *sandbox.Env) bool {
	s, err := sandbox.Query(context.Background(), env.PrometheusURL, "count(namespace_replicaset:http_requests:rate1m)")
	return err == nil && len(s) > 0
}

// TestPerfGuard measures `opsdeck guard --dry-run` on namespace shop with nothing rolling
// out: its CPU and RSS and the CPU it adds to Prometheus over 60 s after 10 s to settle.
func TestPerfGuard(t *testing.T) {
	needPerf(t)
	env := sandbox.Shared(t)
	base := idleShared(t, env)
	prom := countPrometheus(t, env.PrometheusURL)
	bin := binary(t)
	cmd := exec.Command(bin, "--kubeconfig", env.Kubeconfig, "-n", sandbox.Namespace, "--prometheus", prom.URL,
		"--audit-log", filepath.Join(t.TempDir(), "audit.jsonl"), "guard", "--dry-run")
	cmd.Env = consoleEnv(t)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	start := time.Now()
	time.Sleep(10 * time.Second)
	from := time.Now()
	shared := startShared(t, env)
	ticks0 := cpuTicks(t, cmd.Process.Pid)
	time.Sleep(60 * time.Second)
	took := time.Since(from)
	cpu := cpuPercent(cpuTicks(t, cmd.Process.Pid)-ticks0, took)
	byPath, rounds := prom.since(from)
	t.Logf("guard --dry-run idle: CPU %.1f%% of one core, RSS %.0f MiB; %d instant queries in %s (%d frames read)",
		cpu, rssMiB(t, cmd.Process.Pid), byPath["/api/v1/query"], took.Round(time.Second), rounds)
	logShared(t, "guard --dry-run idle", base, shared.stop(t))
	t.Logf("recording rules loaded: %v", rulesLoaded(t, env))
	logSteadyMinute(t, env, prom, cmd.Process.Pid, start, "guard --dry-run idle", func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// TestPerfIdleBytes50 measures what the console writes to the terminal while idle with 50
// services (its own namespace), at 120x40: after 10 s to settle, the bytes over 30 s.
func TestPerfIdleBytes50(t *testing.T) {
	needPerf(t)
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	var names []string
	for i := range 50 {
		names = append(names, fmt.Sprintf("svc-%02d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, name := range names {
		wg.Go(func() {
			if err := sandbox.CreateService(ctx, client, ns, name, name+":v1", 3); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, name := range names {
		sandbox.WaitRolledOut(t, client, ns, name, 5*time.Minute)
	}

	// Prometheus needs a minute of samples of new pods for every metric: wait for them, so
	// that the time to the first full screen is opsdeck's.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		r := opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--prometheus", env.PrometheusURL, "status", "-o", "json")
		var st Status
		complete := 0
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &st) == nil {
			for _, svc := range st.Services {
				if len(svc.Metrics) == 5 {
					complete++
				}
			}
		}
		if complete == len(names) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes, %d of %d services have all their metrics: %+v", complete, len(names), r)
		}
		time.Sleep(2 * time.Second)
	}

	out := filepath.Join(t.TempDir(), "terminal.out")
	start := time.Now()
	term := startConsole(t, env, ns, filepath.Join(t.TempDir(), "audit.jsonl"), 120, 40, "--readonly")
	term.pipe(out)
	pid := term.pid()
	term.waitScreen("the first full screen", 60*time.Second, fullScreen(50))
	t.Logf("50 services: first full screen after %s", time.Since(start).Round(10*time.Millisecond))
	time.Sleep(time.Until(start.Add(10 * time.Second)))

	var sizes []int64
	from, ticks0 := time.Now(), cpuTicks(t, pid)
	b0 := fileSize(t, out)
	for range 30 {
		time.Sleep(time.Second)
		sizes = append(sizes, fileSize(t, out))
	}
	took := time.Since(from)
	total := sizes[len(sizes)-1] - b0
	per := make([]int64, len(sizes))
	for i := range sizes {
		prev := b0
		if i > 0 {
			prev = sizes[i-1]
		}
		per[i] = sizes[i] - prev
	}
	sorted := slices.Clone(per)
	slices.Sort(sorted)
	t.Logf("50 services idle at 120x40: %.0f bytes/s over %s (per second: median %d, max %d); CPU %.1f%% of one core",
		float64(total)/took.Seconds(), took.Round(time.Second), sorted[len(sorted)/2], sorted[len(sorted)-1],
		cpuPercent(cpuTicks(t, pid)-ticks0, took))
	// A whole 120x40 screen is about 5 KB of text and more with colours: a redraw of the whole
	// screen on every refresh (every 2 s) would write several KB/s.
	if bps := float64(total) / took.Seconds(); bps > 4000 {
		t.Errorf("%.0f bytes/s while idle: more than the changed cells", bps)
	}
	term.keys("q")
	term.waitExit("after q", 10*time.Second)
}

// TestPerfK9s measures k9s beside the console, as the console is measured (TestPerfConsole):
// on namespace shop, read-only, its Deployments view at 120x40, then a minute idle. It runs
// when OPSDECK_PERF_K9S names a k9s binary (`go install github.com/derailed/k9s@VERSION`).
func TestPerfK9s(t *testing.T) {
	needPerf(t)
	k9s := os.Getenv("OPSDECK_PERF_K9S")
	if k9s == "" {
		t.Skip("set OPSDECK_PERF_K9S to a k9s binary to measure it beside the console")
	}
	env := sandbox.Shared(t)
	base := idleShared(t, env)
	start := time.Now()
	// k9s reads its configuration and writes its logs under XDG_*: a private HOME, as the console's.
	term := startTmux(t, perfWidth, perfHeight, consoleEnv(t), k9s, "--kubeconfig", env.Kubeconfig, "-n", sandbox.Namespace,
		"--readonly", "--command", "deployments", "--logoless")
	pid := term.pid()
	term.waitScreen("the first Deployment row", 90*time.Second, has("cart-service"))
	t.Logf("k9s: first Deployment row after %s", time.Since(start).Round(10*time.Millisecond))

	time.Sleep(time.Until(start.Add(10 * time.Second)))
	from, ticks0 := time.Now(), cpuTicks(t, pid)
	shared := startShared(t, env)
	time.Sleep(60 * time.Second)
	cpu := cpuPercent(cpuTicks(t, pid)-ticks0, time.Since(from))
	t.Logf("k9s idle: CPU %.1f%% of one core, RSS %.0f MiB after %s", cpu, rssMiB(t, pid), time.Since(start).Round(time.Second))
	logShared(t, "k9s idle", base, shared.stop(t))
}

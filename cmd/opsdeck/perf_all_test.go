package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/metrics"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// TestPerfConsoleAllNamespaces measures the console with -A on a sandbox whose services are
// spread over many namespaces (`sandbox up --services 2000 --namespaces 100`: 100 namespaces
// of 20): the same figures as TestPerfConsole, and the same bound on queries per refresh,
// whatever the number of namespaces.
func TestPerfConsoleAllNamespaces(t *testing.T) {
	needPerf(t)
	env := sandbox.Shared(t)
	r := opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-A", "status", "-o", "json")
	var st Status
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil {
		t.Fatalf("status -A: %+v %v", r, err)
	}
	namespaces := map[string]bool{}
	for _, s := range st.Services {
		if strings.HasPrefix(s.Namespace, "fleet-") {
			namespaces[s.Namespace] = true
		}
	}
	if len(namespaces) < 2 {
		t.Skip("the sandbox has no fleet namespaces: start it with `sandbox up --services N --namespaces M`")
	}
	n := len(st.Services)
	prom := countPrometheus(t, env.PrometheusURL)
	out := filepath.Join(t.TempDir(), "terminal.out")
	base := idleShared(t, env)

	start := time.Now()
	argv := []string{binary(t), "--kubeconfig", env.Kubeconfig, "-A",
		"--prometheus", prom.URL, "--readonly", "--audit-log", filepath.Join(t.TempDir(), "audit.jsonl")}
	term := startTmux(t, perfWidth, perfHeight, consoleEnv(t), argv...)
	term.pipe(out)
	pid := term.pid()
	allListed, withMetrics := has(fmt.Sprintf("services %d/%d ", n, n), "API ok"), has("metrics ok")
	term.waitScreen(fmt.Sprintf("all %d services listed", n), 90*time.Second, allListed)
	listed := time.Since(start)
	term.waitScreen("metric values on screen", 90*time.Second, withMetrics)
	full := time.Since(start)
	t.Logf("-A, %d services in %d fleet namespaces: all listed after %s, metrics on screen after %s",
		n, len(namespaces), listed.Round(10*time.Millisecond), full.Round(10*time.Millisecond))
	defer logStarts(t, fmt.Sprintf("-A, %d services", n), listed, full, allListed, withMetrics, argv...)

	time.Sleep(time.Until(start.Add(10 * time.Second)))
	from, ticks0, bytes0 := time.Now(), cpuTicks(t, pid), fileSize(t, out)
	shared := startShared(t, env)
	time.Sleep(60 * time.Second)
	took := time.Since(from)
	ticks1, bytes1 := cpuTicks(t, pid), fileSize(t, out)
	byPath, refreshes := prom.since(from)
	cpu := cpuPercent(ticks1-ticks0, took)
	t.Logf("-A, %d services idle for %s: %d refreshes, %d instant queries (%.1f per refresh), %d range queries",
		n, took.Round(time.Second), refreshes, byPath["/api/v1/query"], float64(byPath["/api/v1/query"])/float64(max(1, refreshes)),
		byPath["/api/v1/query_range"])
	t.Logf("-A, %d services idle: CPU %.1f%% of one core, RSS %.0f MiB, terminal %.0f bytes/s",
		n, cpu, rssMiB(t, pid), float64(bytes1-bytes0)/took.Seconds())
	logShared(t, fmt.Sprintf("-A, %d services idle", n), base, shared.stop(t))
	if refreshes == 0 || byPath["/api/v1/query"] > refreshes*7 {
		t.Errorf("%d instant queries in %d refreshes, want at most 7 per refresh over %d namespaces", byPath["/api/v1/query"], refreshes, len(namespaces))
	}
	logSteadyMinute(t, env, prom, pid, start, fmt.Sprintf("-A, %d services idle", n), func() {
		term.keys("q")
		if code := term.waitExit("after q", 10*time.Second); code != 0 {
			t.Errorf("exit status %d", code)
		}
	})
}

// TestPerfGuardRevertsAtScale times auto-guard's rollback of a bad rollout while it guards
// every namespace of a sandbox at scale (`--services 2000`, with or without --namespaces): from
// the bad ReplicaSet's first sample in Prometheus to the rollback in the audit log, against the
// rule's `for` plus 3 s (the early verdict usually decides well before the `for`).
func TestPerfGuardRevertsAtScale(t *testing.T) {
	needPerf(t)
	env := sandbox.Shared(t)
	r := opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-A", "status", "-o", "json")
	var st Status
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil {
		t.Fatalf("status -A: %+v %v", r, err)
	}
	if len(st.Services) < 500 {
		t.Skipf("%d services: start the sandbox with `sandbox up --services 2000` to measure at scale", len(st.Services))
	}
	client := env.Client(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 3)
	g := startGuard(t, env, ns, "-A")
	setImage(t, client, ns, "web", "web:v2-bad")
	sandbox.WaitFor(t, 120*time.Second, "the rollback", func() (bool, string) {
		return image(t, client, ns, "web") == "web:v1" && len(rollbacks(t, g.audit)) == 1, g.output()
	})
	d := reaction(t, env, client, ns, "web", "web:v2-bad", g.audit)
	if os.Getenv("OPSDECK_PERF_VERBOSE") != "" {
		t.Log(g.output())
	}
	t.Logf("guard -A over %d services: bad rollout rolled back %.1fs after its first sample (goal: the 5xx rule's for 20s + 3s)",
		len(st.Services)+1, d.Seconds())
}

// TestPerfFrameMatch measures what a frame of -A costs Prometheus by the way it matches pods,
// from Prometheus's own timings (stats=all), so that the baselines' drift does not blur it:
// 38 rows on screen and a batch of 10 services from elsewhere, each frame's queries asked 30
// times, with the pods matched by Deployment pattern (before the watch has synced), by the
// names learned from Prometheus (from then on, for two rate windows) and by the names the
// watch knows (after).
func TestPerfFrameMatch(t *testing.T) {
	needPerf(t)
	env := sandbox.Shared(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := cluster.NewWatcher(env.Client(t), cluster.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Start(ctx)
	if !w.WaitForSync(ctx) {
		t.Fatal("the watch never synced")
	}
	st := w.Build()
	if len(st.Services) < 1600 {
		t.Skipf("%d services: start the sandbox with --services 2000", len(st.Services))
	}
	src, err := metrics.New(config.Prometheus{URL: env.PrometheusURL, Timeout: config.D(30 * time.Second)}, config.Queries{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	frame := slices.Clone(st.Services[:38])
	for i := range 10 {
		frame = append(frame, st.Services[100+150*i])
	}
	for _, mode := range []string{"by Deployment pattern", "by names learned from Prometheus", "by exact name"} {
		for i := range frame {
			switch mode {
			case "by Deployment pattern": // the watch has not synced
				frame[i].PodsKnownSince = time.Time{}
			case "by names learned from Prometheus": // it synced just now
				frame[i].PodsKnownSince = time.Now()
			default: // it has watched for longer than the lookback
				frame[i].PodsKnownSince = time.Now().Add(-time.Hour)
			}
		}
		began := time.Now()
		queries := src.FrameQueries(ctx, frame)
		if mode == "by names learned from Prometheus" {
			t.Logf("learning the pod names of %d services from Prometheus took %s", len(frame), time.Since(began).Round(time.Millisecond))
		}
		const rounds = 30
		var exec, prep float64
		each := make([]float64, len(queries))
		for range rounds {
			for i, q := range queries {
				if q != "" {
					e, p := promTimings(t, env.PrometheusURL, q)
					exec, prep, each[i] = exec+e, prep+p, each[i]+e
				}
			}
		}
		var perQuery []string
		for _, e := range each {
			perQuery = append(perQuery, fmt.Sprintf("%.0f", 1000*e/rounds))
		}
		t.Logf("a frame of %d services, pods matched %s: %.0f ms of Prometheus's time (%.0f ms of it finding the series; by query, in the order of internal/metrics: %s ms)",
			len(frame), mode, 1000*exec/rounds, 1000*prep/rounds, strings.Join(perQuery, ", "))
	}
}

// promTimings asks Prometheus q with its stats and returns its execution and preparation
// (index look-up) times, in seconds.
func promTimings(t *testing.T, promURL, q string) (exec, prep float64) {
	t.Helper()
	resp, err := http.PostForm(promURL+"/api/v1/query", url.Values{"query": {q}, "stats": {"all"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Stats struct {
				Timings struct {
					ExecTotalTime        float64 `json:"execTotalTime"`
					QueryPreparationTime float64 `json:"queryPreparationTime"`
				} `json:"timings"`
			} `json:"stats"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %.200s: %v %s", q, err, body.Status)
	}
	return body.Data.Stats.Timings.ExecTotalTime, body.Data.Stats.Timings.QueryPreparationTime
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// roundsToMeasure is how many rounds each measurement spans.
const roundsToMeasure = 8

// One metrics reader per process: the console with auto-guard on, and the headless guard,
// each send exactly 7 instant queries to Prometheus per round (the frame's 6 and the early
// verdict's counters, as a service rolled out within the guard window), counted by a proxy in
// front of the sandbox's Prometheus over rounds the process itself numbers, and no round
// comes faster than the guard's interval.
func TestQueriesPerRound(t *testing.T) {
	env, client, ns := guardedService(t, "web")
	setImage(t, client, ns, "web", "web:v2") // healthy: nothing to roll back
	sandbox.WaitRolledOut(t, client, ns, "web", 90*time.Second)
	prom := countPrometheus(t, env.PrometheusURL)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte("guard:\n  window: 15m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kube := cluster.NewKubeFlags()
	kube.KubeConfig, kube.Overrides.Context.Namespace = env.Kubeconfig, ns
	g := &globals{kube: kube, configPath: cfgPath, prometheus: prom.URL, auditLog: filepath.Join(dir, "audit.jsonl"), display: "opsdeck"}
	cfg, err := g.loadConfig()
	if err != nil {
		t.Fatal(err)
	}

	// round is what a process says of one of its rounds: its number, when the test saw it,
	// and the queries its frame says it cost.
	type round struct {
		seq     int
		at      time.Time
		queries int
		judged  bool // auto-guard's verdict on web is in the round
	}
	measure := func(t *testing.T, start func(ctx context.Context, lb *clusterParts, rounds chan<- round)) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		lb, err := g.clusterBackend(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer lb.close()
		rounds := make(chan round, 64)
		start(ctx, lb, rounds)
		next := func() round {
			select {
			case r := <-rounds:
				return r
			case <-time.After(30 * time.Second):
				t.Fatal("no round for 30 s")
				return round{}
			}
		}
		first := next()
		for first.seq < 3 { // settled: the state synced, the counters in scope
			first = next()
		}
		last, perRound := first, map[int]int{}
		for last.seq < first.seq+roundsToMeasure {
			last = next()
			perRound[last.queries]++
			if !last.judged {
				t.Errorf("round %d without auto-guard's verdict on web", last.seq)
			}
		}
		byPath, _ := prom.between(first.at, last.at)
		n := last.seq - first.seq
		got := byPath["/api/v1/query"]
		interval := roundInterval(lb.backend)
		t.Logf("%d rounds in %s (interval %s): %d instant queries (%.2f per round); frames say %v queries per round",
			n, last.at.Sub(first.at).Round(time.Millisecond), interval, got, float64(got)/float64(n), perRound)
		if got != 7*n {
			t.Errorf("%d instant queries in %d rounds, want 7 per round (%d)", got, n, 7*n)
		}
		if perRound[7] != n {
			t.Errorf("queries per round as the frames count them: %v, want 7 in each of %d", perRound, n)
		}
		if min := time.Duration(n-1) * interval * 9 / 10; last.at.Sub(first.at) < min {
			t.Errorf("%d rounds in %s: faster than one per %s", n, last.at.Sub(first.at), interval)
		}
	}

	t.Run("console", func(t *testing.T) {
		measure(t, func(ctx context.Context, lb *clusterParts, rounds chan<- round) {
			cg := newConsoleGuard(cfg, lb.backend, lb.recorder, true, false, cfg.Refresh.Duration)
			go cg.run(ctx)
			go func() { // what the console's UI reads
				for r := range cg.rounds {
					rounds <- round{r.Seq, time.Now(), r.Frame.Queries, r.Guard.Judged && r.Guard.States[ns+"/web"] != ""}
				}
			}()
		})
	})
	t.Run("guard", func(t *testing.T) {
		measure(t, func(ctx context.Context, lb *clusterParts, rounds chan<- round) {
			r := newGuardRunner(cfg, lb.backend, lb.recorder, true, nil)
			seq := 0
			r.OnEvaluate = func(ev guard.Evaluation) {
				seq++
				rounds <- round{seq, time.Now(), ev.Frame.Queries, ev.Statuses[ns+"/web"].Verdict != ""}
			}
			go func() { _ = r.Run(ctx) }()
		})
	})
}

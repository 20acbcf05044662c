package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// An outside signal (a firing alert naming a service) rolls back, at once, a rollout whose own
// metrics are healthy: Runner.Signal in a running guard on the real sandbox, through the one
// executor, with the audit line (trigger "alert", the alert's name in the reason) and the
// AutoRollback Event. A standby's Runner (not running) does nothing, and a second signal finds
// the service held.
func TestGuardSignalRollsBackAtOnce(t *testing.T) {
	env, client, ns := guardedService(t, "web")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte("guard:\n  window: 15m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	auditLog := filepath.Join(dir, "audit.jsonl")
	kube := cluster.NewKubeFlags()
	kube.KubeConfig, kube.Overrides.Context.Namespace = env.Kubeconfig, ns
	g := &globals{kube: kube, configPath: cfgPath, prometheus: env.PrometheusURL, auditLog: auditLog, display: "opsdeck"}
	cfg, err := g.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lb, err := g.clusterBackend(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.close()
	var logMu sync.Mutex
	var logBuf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logBuf}, nil))
	r := newGuardRunner(cfg, lb.backend, lb.recorder, false, log)
	var roundsMu sync.Mutex
	var rounds []time.Time
	r.OnEvaluate = func(ev guard.Evaluation) {
		roundsMu.Lock()
		rounds = append(rounds, time.Now())
		roundsMu.Unlock()
	}
	alert := guard.Signal{Namespace: ns, Service: "web", Name: "HighCheckoutFailures", Summary: "checkout failures above 2%",
		Fingerprint: "f00d", Firing: true}

	// A standby: its Runner is not running.
	standby := newGuardRunner(cfg, lb.backend, lb.recorder, false, log)
	if res := standby.Signal(ctx, alert); res.Acted || !strings.Contains(res.Message, "not the leader") {
		t.Fatalf("standby: %+v", res)
	}

	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	setImage(t, client, ns, "web", "web:v2") // a healthy image: the guard's own rules see nothing
	sandbox.WaitRolledOut(t, client, ns, "web", 90*time.Second)
	rolledOut := time.Now()
	// Two rounds after the rollout completed: the runner's state has revision 2.
	sandbox.WaitFor(t, 30*time.Second, "two guard rounds after the rollout", func() (bool, string) {
		roundsMu.Lock()
		defer roundsMu.Unlock()
		n := 0
		for _, at := range rounds {
			if at.After(rolledOut) {
				n++
			}
		}
		return n >= 2, ""
	})
	if img := image(t, client, ns, "web"); img != "web:v2" {
		t.Fatalf("the guard changed a healthy rollout to %s before any signal", img)
	}

	start := time.Now()
	res := r.Signal(ctx, alert)
	took := time.Since(start)
	if !res.Acted || res.Message != "rolled back web rev 2 -> 1: alert HighCheckoutFailures: checkout failures above 2%" {
		logMu.Lock()
		t.Fatalf("signal: %+v\n%s", res, logBuf.String())
	}
	t.Logf("signal received to rollback patched: %d ms", took.Milliseconds())
	if img := image(t, client, ns, "web"); img != "web:v1" {
		t.Fatalf("image %s after the signal's rollback, want web:v1", img)
	}
	rb := rollbacks(t, auditLog)
	if len(rb) != 1 || rb[0].Trigger != "alert" || !strings.Contains(rb[0].Reason, "alert HighCheckoutFailures: checkout failures above 2%") ||
		rb[0].FromImage != "web:v2" || rb[0].ToImage != "web:v1" {
		t.Fatalf("audit rollbacks %+v", rb)
	}
	sandbox.WaitFor(t, 20*time.Second, "the AutoRollback event", func() (bool, string) {
		evs := warningEvents(t, client, ns, "AutoRollback")
		return len(evs) == 1 && evs[0].InvolvedObject.Name == "web" && strings.Contains(evs[0].Message, "HighCheckoutFailures"), ""
	})

	// The same alert again (Alertmanager repeats): the guard holds, no second rollback.
	if res := r.Signal(ctx, alert); res.Acted || !strings.Contains(res.Message, "held") {
		t.Fatalf("second signal: %+v", res)
	}
	resolved := alert
	resolved.Firing = false
	if res := r.Signal(ctx, resolved); res.Acted || !strings.Contains(res.Message, "resolved") {
		t.Fatalf("resolved signal: %+v", res)
	}
	if rb := rollbacks(t, auditLog); len(rb) != 1 {
		t.Fatalf("%d rollbacks, want 1", len(rb))
	}
	logMu.Lock()
	out := logBuf.String()
	logMu.Unlock()
	if !strings.Contains(out, `"msg":"signal"`) || !strings.Contains(out, `"acted":true`) {
		t.Errorf("no signal line in the guard's log:\n%s", out)
	}
}

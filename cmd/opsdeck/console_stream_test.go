package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/demo"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
)

// demoForStream is the demo backend, with its audit log in the test's directory, for the life of
// the test.
func demoForStream(t *testing.T) (context.Context, *demo.Backend) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b, err := demo.New(ctx, domain.SystemClock{}, demo.WithAuditLog(filepath.Join(t.TempDir(), "audit.jsonl")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return ctx, b
}

// The console's state stream works over any backend: over the demo (--demo), its rounds carry
// the demo's metrics and auto-guard's verdict on every service, each round one frame read.
func TestConsoleStreamOverTheDemo(t *testing.T) {
	ctx, b := demoForStream(t)
	cg := newConsoleGuard(config.Default(), b, nil, true, false, 100*time.Millisecond)
	go cg.run(ctx)
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r := <-cg.rounds:
			if r.Frame.Err != nil {
				t.Fatalf("round %d: %v", r.Seq, r.Frame.Err)
			}
			if !r.Guard.Judged || len(r.Guard.States) != len(r.State.Services) || len(r.State.Services) == 0 {
				t.Fatalf("round %d: %d verdicts for %d services", r.Seq, len(r.Guard.States), len(r.State.Services))
			}
			if r.Seq < 3 {
				continue
			}
			svc := r.State.Services[0]
			if _, ok := r.Frame.Services[svc.Key()].Get(domain.MetricRequestRate); !ok {
				t.Fatalf("round %d has no request rate for %s: %+v", r.Seq, svc.Key(), r.Frame.Services[svc.Key()])
			}
			return
		case <-deadline:
			t.Fatal("no third round from the demo in 20 s")
		}
	}
}

// A console whose namespace has a guard leader stands aside: its rounds name the leader, judge
// nothing (every verdict off, though auto-guard is on here) and come at the console's refresh.
func TestConsoleStreamStandsAsideForALeader(t *testing.T) {
	ctx, b := demoForStream(t)
	cg := newConsoleGuard(config.Default(), b, nil, true, false, 300*time.Millisecond)
	cg.leader.Store(&leaderClaim{pod: "opsdeck-guard-0", expires: time.Now().Add(time.Minute)})
	if got := cg.interval(); got != 300*time.Millisecond {
		t.Errorf("interval %s while standing aside, want the refresh, 300ms", got)
	}
	go cg.run(ctx)
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r := <-cg.rounds:
			if r.Guard.Leader != "opsdeck-guard-0" {
				t.Fatalf("round %d names leader %q", r.Seq, r.Guard.Leader)
			}
			for k, v := range r.Guard.States {
				if v != string(guard.VerdictOff) {
					t.Fatalf("round %d: %s is %q while standing aside", r.Seq, k, v)
				}
			}
			if r.Seq >= 3 {
				return
			}
		case <-deadline:
			t.Fatal("no third round in 20 s")
		}
	}
}

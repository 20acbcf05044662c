package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// A guard that starts after another was killed with -9 (a standby that became leader, a
// restart) knows from the last-action annotation alone that auto-guard already rolled the bad
// revision back: it says so, by whom, when and why, and when the same bad image is deployed
// again it holds it for a human instead of rolling back a second time. The early verdict is on
// (the default): the bad image fails 30 % of its requests, so a guard without the hold would
// act within seconds.
func TestGuardHandoverHoldsFromAnnotation(t *testing.T) {
	env, client, ns := guardedService(t, "web")
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	g := startKillableGuard(t, env, ns, auditLog)
	setImage(t, client, ns, "web", "web:v2-bad")
	sandbox.WaitFor(t, 90*time.Second, "the first guard to roll back web:v2-bad", func() (bool, string) {
		return image(t, client, ns, "web") == "web:v1" && len(rollbacks(t, auditLog)) == 1, g.output()
	})
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-g.done
	first := rollbacks(t, auditLog)[0]
	host, _ := os.Hostname()

	// opsdeck status names it from the annotation alone.
	r := opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--prometheus", env.PrometheusURL, "status", "-o", "json")
	var doc Status
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Services) != 1 || doc.Services[0].LastAction == nil {
		t.Fatalf("status -o json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	if la := doc.Services[0].LastAction; la.By != "auto-guard (pod "+host+")" || la.Trigger != "guard" || la.FromImage != "web:v2-bad" ||
		la.ToImage != "web:v1" || !la.Time.Equal(first.Time) && la.Time.Sub(first.Time).Abs() > 5*time.Second || !strings.Contains(la.Reason, "web:v2-bad") {
		t.Errorf("status last_action %+v, want auto-guard's rollback (audit line %+v)", la, first)
	}

	// A fresh guard, with empty memory, on the same namespace.
	g2 := startKillableGuard(t, env, ns, auditLog)
	want := "rolled back by auto-guard (pod " + host + ") at " + first.Time.UTC().Format("15:04")
	sandbox.WaitFor(t, 30*time.Second, "the fresh guard to name the previous rollback", func() (bool, string) {
		out := g2.output()
		return strings.Contains(out, `"verdict":"held"`) && strings.Contains(out, want) && strings.Contains(out, "web:v2-bad"), out
	})

	// The same bad image deployed again (not through opsdeck, so the annotation stays): held.
	setImage(t, client, ns, "web", "web:v2-bad")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if img := image(t, client, ns, "web"); img != "web:v2-bad" {
			t.Fatalf("the fresh guard changed web to %s:\n%s", img, g2.output())
		}
		time.Sleep(time.Second)
	}
	if rb := rollbacks(t, auditLog); len(rb) != 1 || rb[0].ID != first.ID {
		t.Fatalf("%d rollbacks in the audit log, want only the first guard's: %+v", len(rb), rb)
	}
	if out := g2.output(); strings.Contains(out, `"msg":"rolled back"`) {
		t.Fatalf("the fresh guard rolled back:\n%s", out)
	}
}

// With --leader-elect: the leader rolls the bad image back and is killed with -9; the standby
// takes over with empty memory, names the leader's rollback from the annotation, and holds the
// same bad image deployed again: one rollback in all.
func TestGuardStandbyHoldsLeadersRollback(t *testing.T) {
	env, client, ns := guardedService(t, "web")
	logs := []string{filepath.Join(t.TempDir(), "a.jsonl"), filepath.Join(t.TempDir(), "b.jsonl")}
	flags := []string{"--leader-elect", "--lease-duration", "4s"}
	leader := startKillableGuardArgs(t, env, ns, logs[0], flags)
	sandbox.WaitFor(t, 30*time.Second, "the first guard to lead", func() (bool, string) {
		return strings.Contains(leader.output(), `"msg":"leading"`), leader.output()
	})
	standby := startKillableGuardArgs(t, env, ns, logs[1], flags)
	sandbox.WaitFor(t, 30*time.Second, "the second guard to stand by", func() (bool, string) {
		return strings.Contains(standby.output(), `"msg":"standby"`), standby.output()
	})
	setImage(t, client, ns, "web", "web:v2-bad")
	sandbox.WaitFor(t, 90*time.Second, "the leader to roll back web:v2-bad", func() (bool, string) {
		return image(t, client, ns, "web") == "web:v1" && len(rollbacks(t, logs[0])) == 1, leader.output()
	})
	if err := leader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-leader.done
	killed := time.Now()
	sandbox.WaitFor(t, 30*time.Second, "the standby to lead and name the leader's rollback", func() (bool, string) {
		out := standby.output()
		return strings.Contains(out, `"msg":"leading"`) && strings.Contains(out, `"verdict":"held"`) &&
			strings.Contains(out, "rolled back by auto-guard (pod "), out
	})
	t.Logf("leader killed to standby holding: %.1fs", time.Since(killed).Seconds())
	setImage(t, client, ns, "web", "web:v2-bad")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if img := image(t, client, ns, "web"); img != "web:v2-bad" {
			t.Fatalf("the new leader changed web to %s:\n%s", img, standby.output())
		}
		time.Sleep(time.Second)
	}
	if n := len(rollbacks(t, logs...)); n != 1 {
		t.Fatalf("%d rollbacks in all, want 1", n)
	}
}

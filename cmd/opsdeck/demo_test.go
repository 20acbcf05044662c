package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/demo"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// The demo is the product on a simulated cluster, not a second implementation: a deploy in
// `opsdeck --demo` goes through internal/actions' executor (its audit intent and outcome
// lines, its snapshot of the Deployment, its result message), and `--demo --readonly` is
// refused by the executor's read-only check.

// auditOf reads the audit log at path, failing the test when it cannot.
func auditOf(t *testing.T, path string) []audit.Entry {
	t.Helper()
	entries, err := audit.Read(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return entries
}

// checkDeployAudited asserts the audit log at path holds an intent and an ok outcome for a
// deploy of image to service by trigger, and that the snapshot it names exists.
func checkDeployAudited(t *testing.T, path, service, image, trigger string) {
	t.Helper()
	entries := auditOf(t, path)
	var intent, outcome *audit.Entry
	for i, e := range entries {
		if e.Service != service || e.Action != string(domain.ActionDeploy) || e.ToImage != image {
			continue
		}
		if e.Pending() {
			intent = &entries[i]
		} else {
			outcome = &entries[i]
		}
	}
	if intent == nil || outcome == nil {
		t.Fatalf("audit log %s lacks the deploy's intent and outcome: %+v", path, entries)
	}
	if outcome.ID != intent.ID || outcome.Result != audit.ResultOK || outcome.Trigger != trigger ||
		outcome.Context != "demo" || outcome.FromRevision != 1 || outcome.ToRevision != 2 {
		t.Errorf("outcome line %+v (intent %+v)", *outcome, *intent)
	}
	if outcome.Snapshot == "" {
		t.Fatalf("the deploy saved no snapshot: %+v", *outcome)
	}
	snap, err := os.ReadFile(outcome.Snapshot)
	if err != nil {
		t.Fatalf("the snapshot the audit line names: %v", err)
	}
	if !strings.Contains(string(snap), service+":v1") {
		t.Errorf("the snapshot is not the Deployment before the deploy:\n%.400s", snap)
	}
}

// demoGlobals are the globals of `opsdeck --demo --audit-log PATH [--readonly]`.
func demoGlobals(t *testing.T, readOnly bool) (*globals, config.Config) {
	return &globals{auditLog: filepath.Join(t.TempDir(), "audit.jsonl"), readOnly: readOnly, display: "opsdeck"}, config.Default()
}

// The backend --demo builds: a deploy is the executor's (its message, audit, snapshot), and
// the simulated controller rolls it out to completion.
func TestDemoDeployGoesThroughExecutor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, cfg := demoGlobals(t, false)
	start := time.Now()
	b, err := g.demoBackend(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("demo backend ready in %v", time.Since(start))
	if b.AuditLog() != g.auditLog {
		t.Fatalf("audit log at %s, --audit-log said %s", b.AuditLog(), g.auditLog)
	}
	a := domain.Action{Kind: domain.ActionDeploy, Namespace: demo.Namespace, Service: "order-service", Image: "order-service:v2",
		Trigger: domain.TriggerKey, ExpectRevision: 1}
	plan, err := b.Plan(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if want := "order-service:v1 -> order-service:v2 (revision 1 -> 2)"; !strings.Contains(plan.Sentence, want) {
		t.Errorf("the plan's sentence %q lacks %q", plan.Sentence, want)
	}
	res, err := b.Execute(ctx, plan.Confirmed())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Message, "deployed order-service:v2 to order-service") || res.ToRevision != 2 {
		t.Errorf("result %+v", res)
	}
	checkDeployAudited(t, g.auditLog, "order-service", "order-service:v2", string(domain.TriggerKey))

	// The rollout completes in the simulated cluster, and the watch shows it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := b.State()
		svc, ok := st.FindByName(demo.Namespace, "order-service")
		if ok && svc.Revision == 2 && svc.Phase == domain.PhaseComplete && svc.Image == "order-service:v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order-service did not complete revision 2: %+v", svc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// `opsdeck --demo --readonly`: the executor refuses, with its own message, and nothing is
// written to the audit log or changed in the cluster.
func TestDemoReadOnlyRefusedByExecutor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, cfg := demoGlobals(t, true)
	b, err := g.demoBackend(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := domain.Action{Kind: domain.ActionDeploy, Namespace: demo.Namespace, Service: "order-service", Image: "order-service:v2", Trigger: domain.TriggerKey}

	// Refused when planned (before the y question) and when executed.
	for what, do := range map[string]func() error{
		"plan":    func() error { _, err := b.Plan(ctx, a); return err },
		"execute": func() error { _, err := b.Execute(ctx, a); return err },
	} {
		if err := do(); !errors.Is(err, domain.ErrReadOnly) || !strings.Contains(err.Error(), "refusing to deploy order-service (started with --readonly)") {
			t.Errorf("a read-only demo's deploy, %s: %v", what, err)
		}
	}
	if entries := auditOf(t, g.auditLog); len(entries) != 0 {
		t.Errorf("a refused deploy wrote the audit log: %+v", entries)
	}
	if svc, _ := b.State().FindByName(demo.Namespace, "order-service"); svc.Image != "order-service:v1" || svc.Revision != 1 {
		t.Errorf("a refused deploy changed order-service: %s revision %d", svc.Image, svc.Revision)
	}
}

// In a terminal, `opsdeck --demo`: d, an image, enter, y shows the executor's result, the
// audit log has the deploy with its snapshot; r rolls it back to revision 1 by kubectl's
// semantics (a third revision with the first one's image).
func TestDemoConsoleDeployAndRollback(t *testing.T) {
	needTmux(t)
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	term := startTmux(t, 120, 40, consoleEnv(t), binary(t), "--demo", "--audit-log", auditLog)
	term.waitScreen("the demo", 15*time.Second, has("DEMO", "order-service", "metrics ok"))
	deployFromKeys(t, term, "order-service", "order-service:v1", "order-service:v2")
	term.waitScreen("the executor's result", 10*time.Second, has("deployed order-service:v2 to order-service"))
	checkDeployAudited(t, auditLog, "order-service", "order-service:v2", string(domain.TriggerKey))
	term.waitScreen("the rollout to complete", 20*time.Second, has("r2 order-service:v2  complete"))

	term.keys("r")
	term.waitScreen("the revision picker", 10*time.Second, has("order-service:v1"))
	term.keys("Enter")
	term.waitScreen("the confirmation", 10*time.Second, has("order-service:v2 -> r1 order-service:v1"))
	term.keys("y")
	term.waitScreen("the rollback to complete", 20*time.Second, has("r3 order-service:v1  complete"))
	var rolledBack bool
	for _, e := range auditOf(t, auditLog) {
		rolledBack = rolledBack || (e.Action == string(domain.ActionRollback) && e.Result == audit.ResultOK && e.ToImage == "order-service:v1")
	}
	if !rolledBack {
		t.Errorf("the audit log lacks the rollback: %+v", auditOf(t, auditLog))
	}
}

// In a terminal, `opsdeck --demo --readonly` refuses a deploy and writes nothing.
func TestDemoConsoleReadOnly(t *testing.T) {
	needTmux(t)
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	term := startTmux(t, 120, 40, consoleEnv(t), binary(t), "--demo", "--readonly", "--audit-log", auditLog)
	term.waitScreen("the demo", 15*time.Second, has("DEMO", "order-service"))
	term.keys("d")
	term.waitScreen("the refusal", 10*time.Second, has("read-only mode: refusing to deploy ", "(started with --readonly)"))
	if entries := auditOf(t, auditLog); len(entries) != 0 {
		t.Errorf("a read-only demo wrote the audit log: %+v", entries)
	}
}

package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/release"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// TestE2ETmuxApprove: a registry deploy that needs approval shows "awaits approval" in PHASE;
// A and y in the console (auto-guard on) approve it, and the console performs it: the cluster
// runs the new image, the audit log has the approval (who) and one deploy line (trigger
// registry, the registry as requested_by, the approver in the reason).
func TestE2ETmuxApprove(t *testing.T) {
	needTmux(t)
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "web", "web:v1.0.0", 1)
	client := env.Client(t)
	ctx := context.Background()
	if _, err := client.AppsV1().Deployments(ns).Patch(ctx, "web", "application/merge-patch+json",
		[]byte(`{"metadata":{"annotations":{"opsdeck.io/approval":"true"}}}`), metav1Patch()); err != nil {
		t.Fatal(err)
	}
	gate := &release.Gate{Client: client}
	out, err := gate.Submit(ctx, release.Request{Namespace: ns, Service: "web", Image: "web:v1.1.0",
		Trigger: domain.TriggerRegistry, RequestedBy: "registry.example/web"})
	if err != nil || out.State != "awaiting-approval" {
		t.Fatalf("submit: %+v %v", out, err)
	}
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	term := startConsole(t, env, ns, auditLog, 140, 40, "--guard")
	term.waitScreen("PHASE to say awaits approval", 30*time.Second, has("▶web", "awaits approval"))
	if img := image(t, client, ns, "web"); img != "web:v1.0.0" {
		t.Fatalf("deployed %s before approval", img)
	}
	term.keys("A")
	term.waitScreen("the confirmation", 10*time.Second, has("approve the waiting deploy of web?", "v1.0.0 -> v1.1.0", "registry.example/web"))
	term.keys("y")
	sandbox.WaitFor(t, 30*time.Second, "the approved deploy to run", func() (bool, string) {
		img := image(t, client, ns, "web")
		return img == "web:v1.1.0", img
	})
	term.waitScreen("PHASE to stop showing the waiting deploy", 30*time.Second, func(s string) bool { return !strings.Contains(s, "awaits approval") })
	es, err := audit.Read(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	var approvals, deploys int
	for _, e := range audit.Outcomes(es) {
		switch e.Action {
		case "approve":
			approvals++
			if e.User == "" {
				t.Errorf("approve line without the user: %+v", e)
			}
		case "deploy":
			deploys++
			if e.Trigger != "registry" || e.RequestedBy != "registry.example/web" || !strings.Contains(e.Reason, "approved by") {
				t.Errorf("deploy line %+v: want trigger registry, requested_by the registry, the approver in the reason", e)
			}
		}
	}
	if approvals != 1 || deploys != 1 {
		t.Fatalf("%d approve and %d deploy lines, want 1 and 1", approvals, deploys)
	}

	// A namespace freeze shows in the header with its reason.
	r := opsdeck(t, nil, "freeze", "--all", "--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"--reason", "year end", "--kubeconfig", env.Kubeconfig, "-n", ns)
	if r.code != 0 {
		t.Fatalf("freeze --all: %d %s", r.code, r.stderr)
	}
	term.waitScreen("the header to show the freeze", 20*time.Second, has("FROZEN namespace until", ": year end"))

	// A person's deploy during the freeze is asked once more, naming the freeze, then runs.
	term.keys("d")
	term.waitScreen("the deploy prompt", 10*time.Second, has("new image (now web:v1.1.0):"))
	term.keys("C-u")
	term.typeText("web:v1.2.0")
	term.keys("Enter")
	term.waitScreen("the freeze question", 10*time.Second, has("web is frozen: deploy anyway?", "namespace frozen until", "year end"))
	term.keys("y")
	term.waitScreen("the deploy confirmation", 10*time.Second, has("deploy web?", "web:v1.1.0 -> web:v1.2.0"))
	term.keys("y")
	sandbox.WaitFor(t, 30*time.Second, "the key's deploy during the freeze", func() (bool, string) {
		img := image(t, client, ns, "web")
		return img == "web:v1.2.0", img
	})
}

func metav1Patch() metav1.PatchOptions { return metav1.PatchOptions{} }

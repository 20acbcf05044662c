package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// The verbs on a blue-green service: deploy --wait performs the switch itself once the new
// colour is Ready; rollback switches back at once; --to-snapshot restores the saved objects;
// an inconsistent pair and an unknown snapshot are refused in one line.
func TestCLIBlueGreen(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateBlueGreen(t, ns, "web", "web:v1", 3)
	client := env.Client(t)
	ctx := context.Background()
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	run := func(args ...string) result {
		return opsdeck(t, nil, append([]string{"--kubeconfig", env.Kubeconfig, "-n", ns, "--audit-log", auditLog}, args...)...)
	}
	color := func() string {
		s, err := client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Spec.Selector[bluegreen.ColorLabel]
	}

	start := time.Now()
	r := run("deploy", "web", "web:v2", "--yes", "--wait", "--timeout", "90s")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "deploying web:v2 to web-green (3 replicas)") ||
		!strings.Contains(r.stdout, "switched web from blue (web:v1) to green (web:v2)") || !strings.Contains(r.stdout, "web serves from green (web:v2)") {
		t.Fatalf("deploy --wait: %+v", r)
	}
	t.Logf("opsdeck deploy --wait on blue-green: %s\n%s", time.Since(start).Round(time.Millisecond), r.stdout)
	if c := color(); c != "green" {
		t.Fatalf("after deploy --wait the Service selects %s", c)
	}

	r = run("status", "-o", "json")
	var doc Status
	if err := json.Unmarshal([]byte(r.stdout), &doc); r.code != 0 || err != nil || len(doc.Services) != 1 {
		t.Fatalf("status: %+v, %v", r, err)
	}
	if s := doc.Services[0]; s.Kind != domain.KindBlueGreen || s.BlueGreen == nil || s.BlueGreen.Active != domain.ColorGreen ||
		!regexp.MustCompile(`^green ↓[45]:\d\d$`).MatchString(s.BlueGreen.State) || s.BlueGreen.ScaleDownAt == nil || s.Image != "web:v2" || len(s.BlueGreen.Colors) != 2 {
		t.Fatalf("status of web: %+v %+v", s, s.BlueGreen)
	}

	r = run("rollback", "web", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "switched web back from green (web:v2) to blue (web:v1), no pod started") || color() != "blue" {
		t.Fatalf("rollback: %+v", r)
	}
	if got := oneLineFailure(t, run("rollback", "web", "--to-revision", "1", "--yes")); !strings.Contains(got, "web is blue-green: a rollback switches back to the other colour") {
		t.Fatal(got)
	}

	// Snapshots: an unknown ID lists the service's IDs; the deploy's snapshot brings back green
	// at 0 replicas with web:v1, blue selected.
	got := oneLineFailure(t, run("rollback", "web", "--to-snapshot", "nope", "--yes"))
	entries, err := audit.Read(auditLog)
	entries = audit.Outcomes(entries)
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit %+v, %v", entries, err)
	}
	deployID := strings.TrimSuffix(filepath.Base(entries[0].Snapshot), ".json")
	if !strings.HasPrefix(got, `opsdeck: snapshot "nope" not found for `+ns+`/web; its snapshots, newest first: `) || !strings.Contains(got, deployID) {
		t.Fatalf("unknown snapshot: %s", got)
	}
	r = run("rollback", "web", "--to-snapshot", deployID, "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "restored web from snapshot "+deployID) {
		t.Fatalf("restore: %+v", r)
	}
	sandbox.WaitRolledOut(t, client, ns, "web-green", 60*time.Second)
	g, err := client.AppsV1().Deployments(ns).Get(ctx, "web-green", metav1.GetOptions{})
	if err != nil || *g.Spec.Replicas != 0 || g.Spec.Template.Spec.Containers[0].Image != "web:v1" || color() != "blue" {
		t.Fatalf("after the restore: green %d replicas of %s, selector %s", *g.Spec.Replicas, g.Spec.Template.Spec.Containers[0].Image, color())
	}

	// An inconsistent pair: a blue-green Service with no green Deployment.
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, sandbox.BlueGreenDeployment(ns, "half", domain.ColorBlue, "half:v1", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, sandbox.BlueGreenService(ns, "half", domain.ColorBlue), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got = oneLineFailure(t, run("deploy", "half", "half:v2", "--yes"))
	if got != "opsdeck: refusing to deploy half: blue-green service "+ns+"/half is inconsistent: Deployment half-green not found (a blue-green pair needs half-blue and half-green)" {
		t.Fatal(got)
	}
}

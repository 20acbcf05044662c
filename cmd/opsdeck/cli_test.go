package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// oneLine asserts r failed with exit 1 and exactly one stderr line, and returns it.
func oneLineFailure(t *testing.T, r result) string {
	t.Helper()
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "opsdeck: ") {
		t.Fatalf("want exit 1 and one stderr line, got exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
	}
	return strings.TrimSuffix(r.stderr, "\n")
}

func TestCLIDeployRollbackStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 3)
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	run := func(args ...string) result {
		return opsdeck(t, nil, append([]string{"--kubeconfig", env.Kubeconfig, "-n", ns, "--audit-log", auditLog}, args...)...)
	}

	r := run("deploy", "web", "web:v2")
	if got := oneLineFailure(t, r); got != "opsdeck: refusing to deploy web without confirmation: stdin is not a terminal (pass --yes)" {
		t.Fatal(got)
	}
	if got := oneLineFailure(t, run("deploy", "web", "Web:v2", "--yes")); got != `opsdeck: invalid image reference "Web:v2": repository name must be lowercase` {
		t.Fatal(got)
	}
	if got := oneLineFailure(t, run("deploy", "nope", "nope:v2", "--yes")); !strings.HasPrefix(got, `opsdeck: service "nope" not found in namespace "`+ns+`"`) {
		t.Fatal(got)
	}
	if got := oneLineFailure(t, run("--readonly", "deploy", "web", "web:v2", "--yes")); got != "opsdeck: read-only mode: refusing to deploy web (started with --readonly)" {
		t.Fatal(got)
	}

	r = run("deploy", "web", "web:v2", "--yes", "--wait")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "deployed web:v2 to web") || !strings.Contains(r.stdout, "rollout of web complete") {
		t.Fatalf("deploy --yes --wait: %+v", r)
	}
	entries, err := audit.Read(auditLog)
	entries = audit.Outcomes(entries)
	if err != nil || len(entries) != 1 || entries[0].Trigger != "cli" || entries[0].ToImage != "web:v2" || entries[0].Result != "ok" {
		t.Fatalf("audit after deploy: %+v, %v", entries, err)
	}

	if got := oneLineFailure(t, run("rollback", "web", "--to-revision", "7", "--yes")); got != "opsdeck: revision 7 of web not found; existing revisions: 1, 2" {
		t.Fatal(got)
	}
	r = run("rollback", "web", "--yes", "--wait")
	if r.code != 0 || !strings.Contains(r.stdout, "rolled back web to revision 1 (web:v1)") {
		t.Fatalf("rollback --yes --wait: %+v", r)
	}

	r = run("status", "-o", "json")
	if r.code != 0 {
		t.Fatalf("status: %+v", r)
	}
	var doc Status
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("status json: %v\n%s", err, r.stdout)
	}
	if len(doc.Services) != 1 || doc.Namespaces[0] != ns || doc.Context == "" {
		t.Fatalf("status: %+v", doc)
	}
	s := doc.Services[0]
	if s.Name != "web" || s.Image != "web:v1" || s.Revision != 3 || s.Phase != "complete" || s.Guard != "-" ||
		len(s.Revisions) != 2 || s.Revisions[0].Number != 3 || !s.Revisions[0].Current || s.Revisions[1].Image != "web:v2" {
		t.Fatalf("status service: %+v", s)
	}
	if doc.MetricsErr == "" {
		t.Error("no Prometheus at the default address, yet no metrics error")
	}
	r = run("status")
	if r.code != 0 || !strings.Contains(r.stdout, "NAME") || !strings.Contains(r.stdout, "web:v1") {
		t.Fatalf("status table: %+v", r)
	}
	if env.PrometheusURL != "" {
		r = run("--prometheus", env.PrometheusURL, "status", "-o", "json")
		var withMetrics Status
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &withMetrics) != nil {
			t.Fatalf("status with prometheus: %+v", r)
		}
		// The simulator's series for new pods may take a scrape or two; the frame must not fail.
		if withMetrics.MetricsErr != "" {
			t.Fatalf("status with Prometheus: %s", withMetrics.MetricsErr)
		}
		t.Logf("status with Prometheus: %v", withMetrics.Services[0].Metrics)
	}
}

func TestCLIWaitFailsOnAStalledRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "pay", "pay:v1", 2)
	client := env.Client(t)
	if _, err := client.AppsV1().Deployments(ns).Patch(context.Background(), "pay", types.StrategicMergePatchType,
		[]byte(`{"spec":{"progressDeadlineSeconds":5}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	sandbox.WaitRolledOut(t, client, ns, "pay", time.Minute)
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	r := opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--audit-log", auditLog, "deploy", "pay", "pay:v2-crash", "--yes", "--wait")
	if got := oneLineFailure(t, r); got != `opsdeck: deployment "pay" exceeded its progress deadline` {
		t.Fatal(got)
	}
	r = opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--audit-log", auditLog, "rollback", "pay", "--yes", "--wait")
	if r.code != 0 {
		t.Fatalf("rollback of the stalled rollout: %+v", r)
	}
}

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// deployLines counts the deploy outcome lines to image in the audit logs given.
func deployLines(t *testing.T, image string, paths ...string) (n int, trig, requestedBy string) {
	t.Helper()
	for _, p := range paths {
		es, err := audit.Read(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range audit.Outcomes(es) {
			if e.Action == "deploy" && e.ToImage == image && e.Result == audit.ResultOK {
				n, trig, requestedBy = n+1, e.Trigger, e.RequestedBy
			}
		}
	}
	return n, trig, requestedBy
}

// TestPendingDeployFreezeScheduleKill9 drives the verbs as a user does: a freeze refuses a
// person's deploy (naming it) until unfreeze; `deploy --at` stores the deploy in the cluster; the
// guard running then is killed with SIGKILL before it is due; two guards started after the due
// time race for it (no leader election) and it is performed exactly once, with trigger
// schedule and the scheduler as requested_by.
func TestPendingDeployFreezeScheduleKill9(t *testing.T) {
	env, client, ns := guardedService(t, "web")
	kube := []string{"--kubeconfig", env.Kubeconfig, "-n", ns}

	r := opsdeck(t, nil, append([]string{"freeze", "web", "--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--reason", "db migration"}, kube...)...)
	if r.code != 0 {
		t.Fatalf("freeze: %d %s", r.code, r.stderr)
	}
	r = opsdeck(t, nil, append([]string{"deploy", "web", "web:v2", "--yes"}, kube...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "db migration") || !strings.Contains(r.stderr, "--override-freeze") {
		t.Fatalf("deploy during a freeze: exit %d, stderr %q; want a refusal naming the freeze and --override-freeze", r.code, r.stderr)
	}
	if r = opsdeck(t, nil, append([]string{"unfreeze", "web"}, kube...)...); r.code != 0 {
		t.Fatalf("unfreeze: %d %s", r.code, r.stderr)
	}

	due := time.Now().Add(6 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	r = opsdeck(t, nil, append([]string{"deploy", "web", "web:v2", "--at", due.Format(time.RFC3339)}, kube...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "scheduled") {
		t.Fatalf("deploy --at: %d %q %q", r.code, r.stdout, r.stderr)
	}

	// Guard A starts, then dies by SIGKILL before the deploy is due.
	auditA := filepath.Join(t.TempDir(), "audit.jsonl")
	a := exec.Command(binary(t), append([]string{"guard", "--prometheus", env.PrometheusURL, "--audit-log", auditA}, kube...)...)
	a.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let it start its watches; it must die before the deploy is due
	if time.Now().After(due) {
		t.Skip("the machine is too slow for this timing; the guard reached the due time before the kill")
	}
	_ = a.Process.Kill()
	_ = a.Wait()
	if got := image(t, client, ns, "web"); got != "web:v1" {
		t.Fatalf("deployed %s before its time", got)
	}

	// After the due time, two guards race.
	for time.Now().Before(due) {
		time.Sleep(100 * time.Millisecond)
	}
	b := startGuard(t, env, ns)
	c := startGuard(t, env, ns)
	sandbox.WaitFor(t, 30*time.Second, "the scheduled deploy to run", func() (bool, string) {
		got := image(t, client, ns, "web")
		return got == "web:v2", got
	})
	sandbox.WaitRolledOut(t, client, ns, "web", 60*time.Second)
	sandbox.WaitFor(t, 10*time.Second, "the pending annotation to be cleared", func() (bool, string) {
		d := deployment(t, client, ns, "web")
		return d.Annotations["opsdeck.io/pending-deploy"] == "", d.Annotations["opsdeck.io/pending-deploy"]
	})
	n, trig, by := deployLines(t, "web:v2", auditA, b.audit, c.audit)
	if n != 1 || trig != "schedule" || by == "" {
		t.Fatalf("%d deploy lines for web:v2 (trigger %q, requested_by %q); want exactly 1, schedule, the scheduler", n, trig, by)
	}
	if rev := deployment(t, client, ns, "web").Annotations["deployment.kubernetes.io/revision"]; rev != "2" {
		t.Fatalf("revision %s after one scheduled deploy, want 2", rev)
	}
}

func deployment(t *testing.T, client kubernetes.Interface, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// setRestarts sets the restart count of pod's container as a kubelet would report it.
func setRestarts(t *testing.T, client kubernetes.Interface, ns, pod string, n int32) {
	t.Helper()
	sandbox.WaitFor(t, 20*time.Second, "the restart count of "+pod, func() (bool, string) {
		p, err := client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false, "no container status yet"
		}
		p.Status.ContainerStatuses[0].RestartCount = n
		_, err = client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		return err == nil, errString(err)
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Issue 9, defect 4, against the sandbox: one restart of a pod of a healthy new revision is
// not a rollback; three restarts of its pods are a crash loop, rolled back with the count.
func TestGuardOneRestartIsNotACrashLoop(t *testing.T) {
	env, client, ns := guardedService(t, "books")
	g := startGuard(t, env, ns)
	setImage(t, client, ns, "books", "books:v2")
	sandbox.WaitRolledOut(t, client, ns, "books", 90*time.Second)

	var pods []corev1.Pod
	sandbox.WaitFor(t, 30*time.Second, "3 running pods of books:v2", func() (bool, string) {
		list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && p.Spec.Containers[0].Image == "books:v2" && p.Status.Phase == corev1.PodRunning {
				pods = append(pods, p)
			}
		}
		return len(pods) == 3, ""
	})

	setRestarts(t, client, ns, pods[0].Name, 1)
	// The guard looks every second; ten looks at one restart must not act.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if img := image(t, client, ns, "books"); img != "books:v2" {
			t.Fatalf("one restart rolled books:v2 back to %s:\n%s", img, g.output())
		}
	}
	setRestarts(t, client, ns, pods[1].Name, 2)
	sandbox.WaitFor(t, 30*time.Second, "3 restarts rolled back", func() (bool, string) {
		return image(t, client, ns, "books") == "books:v1" && len(rollbacks(t, g.audit)) == 1, g.output()
	})
	if rb := rollbacks(t, g.audit); !strings.Contains(rb[0].Reason, "3 restarts of revision 2's pods") {
		t.Errorf("reason %q, want it to count 3 restarts", rb[0].Reason)
	}
}

// Issue 9, defect 7, against the sandbox: with Prometheus unreachable and no_data: rollback,
// a rollout in the guard's window is inconclusive ("Prometheus unavailable"), never rolled
// back, past its rule's for.
func TestGuardPrometheusDownIsNotNoData(t *testing.T) {
	env, client, ns := guardedService(t, "maps")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("guard:\n  no_data: rollback\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: every query is refused. The last --prometheus wins.
	g := startGuard(t, env, ns, "--config", cfg, "--prometheus", "http://127.0.0.1:9")
	setImage(t, client, ns, "maps", "maps:v2")
	sandbox.WaitRolledOut(t, client, ns, "maps", 90*time.Second)
	// Past the 5xx rule's for (20 s) and the p99 rule's (30 s).
	for end := time.Now().Add(35 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		if img := image(t, client, ns, "maps"); img != "maps:v2" {
			t.Fatalf("Prometheus down rolled maps:v2 back to %s:\n%s", img, g.output())
		}
	}
	if rb := rollbacks(t, g.audit); len(rb) != 0 {
		t.Fatalf("rollbacks with Prometheus down: %+v", rb)
	}
	if out := g.output(); !strings.Contains(out, `"verdict":"inconclusive"`) || !strings.Contains(out, "Prometheus unavailable") {
		t.Errorf("the guard did not say Prometheus is unavailable:\n%s", out)
	}
}

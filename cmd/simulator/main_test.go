package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/opsdeck/opsdeck/internal/simulator"
)

func pod(ns, name, image string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}, {Name: "sidecar", Image: "envoy:v1"}}},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

// eventually waits for cond, failing at the deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWatchPods(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := fake.NewClientset(
		pod("shop", "order-service-7d9f8b6c4d-abcde", "order-service:v1", corev1.PodRunning),
		pod("shop", "order-service-7d9f8b6c4d-fghij", "order-service:v1", corev1.PodPending),
		pod("other", "cart-5c7d8e9f6a-klmno", "cart:v2-bad", corev1.PodRunning),
	)
	sim := simulator.New()
	synced, err := watchPods(ctx, cs, sim, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "sync", synced)
	eventually(t, "two running pods", func() bool { return sim.Len() == 2 })

	pods := cs.CoreV1().Pods("shop")
	p := pod("shop", "order-service-7d9f8b6c4d-fghij", "order-service:v1", corev1.PodRunning)
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pending pod to run", func() bool { return sim.Len() == 3 })

	p.Status.Phase = corev1.PodSucceeded
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the finished pod to go", func() bool { return sim.Len() == 2 })

	if err := pods.Delete(ctx, "order-service-7d9f8b6c4d-abcde", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted pod to go", func() bool { return sim.Len() == 1 })
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run serves /metrics and /healthz and reports its address, even before the API server
// answers (here it never does).
func TestRun(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, "addr")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--kubeconfig", kubeconfig, "--addr-file", addrFile}, &stdout, &stderr)
	}()
	var addr string
	eventually(t, "the address file", func() bool {
		b, err := os.ReadFile(addrFile)
		addr = strings.TrimSpace(string(b))
		return err == nil
	})
	if !strings.HasPrefix(addr, "127.0.0.1:") || !strings.Contains(stdout.String(), "LISTEN="+addr+"\n") {
		t.Fatalf("addr file %q, stdout %q", addr, stdout.String())
	}
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "opsdeck_simulator_pods 0"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The test harness. A test binary shares one sandbox: the one named by OPSDECK_SANDBOX_DIR
// (started by `make test`, reused and left running), else one it starts on first use and
// stops when its tests end. Tests must not mutate the seeded namespace: they make their own
// with NewNamespace.

var shared struct {
	once    sync.Once
	env     *Env
	err     error
	started string // dir of a sandbox this binary started, stopped by Main
}

// Main runs the tests and then stops the sandbox this binary started, if any. Use it from
// TestMain: os.Exit(sandbox.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.started != "" {
		if err := Down(shared.started); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Shared returns the test binary's sandbox, starting it on first use. A sandbox that cannot
// start fails the test: integration tests never skip silently.
func Shared(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the sandbox (skipped under -short, which runs the unit tests only)")
	}
	shared.once.Do(func() {
		if dir := os.Getenv("OPSDECK_SANDBOX_DIR"); dir != "" {
			shared.env, shared.err = Load(dir)
			return
		}
		dir, err := os.MkdirTemp("", "opsdeck-sandbox-test-")
		if err != nil {
			shared.err = err
			return
		}
		shared.started = dir
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		shared.env, shared.err = Up(ctx, Options{Dir: dir, Tied: true, Progress: os.Stderr})
	})
	if shared.err != nil {
		t.Fatalf("sandbox: %v", shared.err)
	}
	return shared.env
}

// RESTConfig is the admin's client configuration.
func (e *Env) RESTConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		t.Fatalf("sandbox kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg
}

// Client is an admin clientset.
func (e *Env) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(e.RESTConfig(t))
	if err != nil {
		t.Fatalf("sandbox client: %v", err)
	}
	return c
}

// Kubectl is the path of the sandbox's kubectl, built from the same Kubernetes version.
func (e *Env) Kubectl() string { return filepath.Join(e.BinDir, "kubectl") }

// NewNamespace creates a namespace of the test's own, deleted when the test ends.
func (e *Env) NewNamespace(t testing.TB) string {
	t.Helper()
	client := e.Client(t)
	name := strings.ToLower(fmt.Sprintf("t-%s-%d", sanitize(t.Name()), time.Now().UnixNano()%1e6))
	if len(name) > 63 {
		name = name[len(name)-63:]
		name = strings.TrimLeft(name, "-")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"opsdeck.io/test": "true"}}}
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// CreateDeployment creates a Deployment like the seeded ones (and its Service) and waits until
// it is available.
func (e *Env) CreateDeployment(t testing.TB, ns, name, image string, replicas int32) {
	t.Helper()
	client := e.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := CreateService(ctx, client, ns, name, image, replicas); err != nil {
		t.Fatal(err)
	}
	WaitRolledOut(t, client, ns, name, 90*time.Second)
}

// WaitRolledOut waits until Deployment ns/name is fully rolled out and available.
func WaitRolledOut(t testing.TB, client kubernetes.Interface, ns, name string, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, fmt.Sprintf("deployment %s/%s to roll out", ns, name), func() (bool, string) {
		d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return RolledOut(d), fmt.Sprintf("updated %d ready %d available %d of %d",
			d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas, *d.Spec.Replicas)
	})
}

// WaitFor polls cond until it holds, failing the test after timeout with what was awaited and
// the last thing cond said.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/notify"
	"github.com/opsdeck/opsdeck/internal/notify/amtest"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// guardProc is an `opsdeck guard` running in the background for a test.
type guardProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	audit  string
	done   chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (g *guardProc) output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stdout.String() + g.stderr.String()
}

// startGuard runs `opsdeck guard` on namespace ns of the sandbox and waits until it says it
// started. At cleanup it sends SIGTERM and checks that the guard stops cleanly.
func startGuard(t *testing.T, env *sandbox.Env, ns string, extra ...string) *guardProc {
	return startGuardB(t, env, ns, extra...)
}

// startGuardB is startGuard for tests and benchmarks.
func startGuardB(t testing.TB, env *sandbox.Env, ns string, extra ...string) *guardProc {
	t.Helper()
	g := &guardProc{audit: filepath.Join(t.TempDir(), "audit.jsonl"), done: make(chan struct{})}
	args := append([]string{"guard", "--kubeconfig", env.Kubeconfig, "-n", ns, "--prometheus", env.PrometheusURL,
		"--audit-log", g.audit}, extra...)
	g.cmd = exec.Command(binary(t), args...)
	home := t.TempDir()
	g.cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "PATH=" + os.Getenv("PATH")}
	g.cmd.Stdout = lockedWriter{&g.mu, &g.stdout}
	g.cmd.Stderr = lockedWriter{&g.mu, &g.stderr}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.done:
			if code := g.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("guard exited %d on SIGTERM:\n%s", code, g.output())
			}
		case <-time.After(10 * time.Second):
			_ = g.cmd.Process.Kill()
			t.Errorf("guard did not stop within 10s of SIGTERM")
		}
	})
	sandbox.WaitFor(t, 60*time.Second, "guard started", func() (bool, string) {
		select {
		case <-g.done:
			t.Fatalf("guard exited early:\n%s", g.output())
		default:
		}
		return strings.Contains(g.output(), `"msg":"guard started"`), g.output()
	})
	return g
}

// guardedService is the scene of a guard test, run in parallel with the others: the sandbox,
// an admin client and a namespace of its own with Deployment name at image name:v1, 3/3 ready.
func guardedService(t *testing.T, name string) (*sandbox.Env, kubernetes.Interface, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	t.Parallel()
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, name, name+":v1", 3)
	return env, env.Client(t), ns
}

func setImage(t testing.TB, client kubernetes.Interface, ns, name, image string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image)
	if _, err := client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func image(t testing.TB, client kubernetes.Interface, ns, name string) string {
	t.Helper()
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

func rollbacks(t testing.TB, logs ...string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for _, l := range logs {
		entries, err := audit.Read(l)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Action == "rollback" && e.Result == audit.ResultOK {
				out = append(out, e)
			}
		}
	}
	return out
}

func warningEvents(t testing.TB, client kubernetes.Interface, ns, reason string) []corev1.Event {
	t.Helper()
	evs, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "reason=" + reason})
	if err != nil {
		t.Fatal(err)
	}
	return evs.Items
}

// A bad rollout is rolled back to the previous image without anyone asking, with the Event,
// the audit line and the notifications, and its alert is resolved afterwards.
func TestGuardRollsBackBadRollout(t *testing.T) {
	env, client, ns := guardedService(t, "web")

	amURL := amtest.Start(t)
	var hookMu sync.Mutex
	var hooks []notify.WebhookAlert
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p notify.WebhookPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err == nil {
			hookMu.Lock()
			hooks = append(hooks, p.Alerts...)
			hookMu.Unlock()
		}
	}))
	defer hook.Close()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	// The early verdict off: this test follows the rule's for, and the threshold alert that
	// it raises meanwhile (TestGuardEarlyVerdict has the early verdict).
	os.WriteFile(cfg, []byte(fmt.Sprintf("notify:\n  alertmanager_url: %s\n  webhook_url: %s\nguard:\n  early:\n    enabled: false\n", amURL, hook.URL)), 0o644)

	g := startGuard(t, env, ns, "--config", cfg)
	start := time.Now()
	setImage(t, client, ns, "web", "web:v2-bad")
	sandbox.WaitFor(t, 90*time.Second, "the guard to roll back web:v2-bad", func() (bool, string) {
		return image(t, client, ns, "web") == "web:v1", g.output()
	})
	t.Logf("rolled back %.1fs after the bad image was set", time.Since(start).Seconds())
	if d := reaction(t, env, client, ns, "web", "web:v2-bad", g.audit); d > 26*time.Second {
		t.Errorf("rollback %.1fs after the first bad sample; the goal is the rule's 20s plus under 3s", d.Seconds())
	}
	sandbox.WaitRolledOut(t, client, ns, "web", 60*time.Second)

	rb := rollbacks(t, g.audit)
	if len(rb) != 1 {
		t.Fatalf("%d rollbacks in the audit log, want 1", len(rb))
	}
	e := rb[0]
	if e.Trigger != "guard" || e.FromImage != "web:v2-bad" || e.ToImage != "web:v1" || e.ToRevision != 1 ||
		!strings.Contains(e.Reason, "errors > 5.0% for 20s") || !strings.Contains(e.Reason, "revision 2 at ") {
		t.Errorf("audit line %+v", e)
	}
	evs := warningEvents(t, client, ns, "AutoRollback")
	if len(evs) != 1 || evs[0].Type != corev1.EventTypeWarning || evs[0].InvolvedObject.Name != "web" ||
		evs[0].ReportingController != "opsdeck" || !strings.Contains(evs[0].Message, "web:v2-bad") {
		t.Errorf("AutoRollback events %+v", evs)
	}
	if out := g.output(); !strings.Contains(out, `"msg":"rolled back"`) || !strings.Contains(out, `"from_image":"web:v2-bad"`) {
		t.Errorf("guard output has no rolled-back line:\n%s", out)
	}

	// The threshold alert reached Alertmanager and the webhook, and is resolved once the
	// service is healthy again (its rate window forgets the bad pods).
	sandbox.WaitFor(t, 30*time.Second, "the alerts in alertmanager", func() (bool, string) {
		as, err := amtest.Active(context.Background(), amURL)
		names := map[string]bool{}
		for _, a := range as {
			if a.Labels["service"] == "web" && a.Labels["namespace"] == ns {
				names[a.Labels["alertname"]] = true
			}
		}
		return err == nil && names["OpsdeckAutoRollback"] && names["OpsdeckThreshold"], fmt.Sprint(as, err)
	})
	sandbox.WaitFor(t, 150*time.Second, "the threshold alert resolved in alertmanager", func() (bool, string) {
		as, err := amtest.Active(context.Background(), amURL)
		for _, a := range as {
			if a.Labels["alertname"] == "OpsdeckThreshold" && a.Labels["service"] == "web" {
				return false, "still active"
			}
		}
		return err == nil, fmt.Sprint(err)
	})
	hookMu.Lock()
	defer hookMu.Unlock()
	statuses := map[string]bool{}
	for _, h := range hooks {
		if h.Service == "web" && h.Metric == "errors" {
			statuses[h.Status] = true
		}
	}
	if !statuses["firing"] || !statuses["resolved"] {
		t.Errorf("webhook received %+v, want the errors alert firing then resolved", hooks)
	}
}

// With the default configuration (early verdict on), a version failing 30 % of its requests
// is rolled back within seconds of its first sample, once, and the reason names the counts:
// "errors: 61 of 212 requests in 4 s (29 %), above 5 % with confidence 1-1e-9; rolling back ...".
func TestGuardEarlyVerdict(t *testing.T) {
	env, client, ns := guardedService(t, "pay")
	g := startGuard(t, env, ns)
	setImage(t, client, ns, "pay", "pay:v2-bad")
	sandbox.WaitFor(t, 60*time.Second, "the early rollback", func() (bool, string) {
		return image(t, client, ns, "pay") == "pay:v1" && len(rollbacks(t, g.audit)) == 1, g.output()
	})
	if d := reaction(t, env, client, ns, "pay", "pay:v2-bad", g.audit); d > 10*time.Second {
		t.Errorf("rollback %.1fs after the first bad sample; the early verdict's goal is under 5s", d.Seconds())
	}
	e := rollbacks(t, g.audit)[0]
	if !regexp.MustCompile(`^errors: \d+ of \d+ requests in \d+ s \(\d+ %\), above 5 % with confidence 1-1e-9; rolling back from revision 2 \(pay:v2-bad\) to revision 1 \(pay:v1\)$`).MatchString(e.Reason) {
		t.Errorf("reason %q, want the counts", e.Reason)
	}
	sandbox.WaitRolledOut(t, client, ns, "pay", 60*time.Second)
	if rb := rollbacks(t, g.audit); len(rb) != 1 {
		t.Errorf("%d rollbacks, want 1", len(rb))
	}
}

// A healthy new version is left alone for five minutes of watching, early verdict on (the
// default). The test runs in parallel with the others.
func TestGuardLeavesHealthyRolloutAlone(t *testing.T) {
	env, client, ns := guardedService(t, "api")
	g := startGuard(t, env, ns)
	setImage(t, client, ns, "api", "api:v2")
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if img := image(t, client, ns, "api"); img != "api:v2" {
			t.Fatalf("healthy api:v2 was changed to %s:\n%s", img, g.output())
		}
		time.Sleep(time.Second)
	}
	if rb := rollbacks(t, g.audit); len(rb) != 0 {
		t.Fatalf("rollbacks of a healthy version: %+v", rb)
	}
	if !strings.Contains(g.output(), `"verdict":"watching"`) {
		t.Errorf("guard never reported watching the rollout:\n%s", g.output())
	}
}

// A crash-looping version is rolled back without waiting for metrics.
func TestGuardRollsBackCrashLoop(t *testing.T) {
	env, client, ns := guardedService(t, "cart")
	g := startGuard(t, env, ns)
	setImage(t, client, ns, "cart", "cart:v2-crash")
	sandbox.WaitFor(t, 60*time.Second, "the crash-looping version rolled back", func() (bool, string) {
		return image(t, client, ns, "cart") == "cart:v1", g.output()
	})
	rb := rollbacks(t, g.audit)
	if len(rb) != 1 || !strings.Contains(rb[0].Reason, "CrashLoopBackOff") {
		t.Fatalf("rollbacks %+v, want one naming CrashLoopBackOff", rb)
	}
}

// A rollout that makes no progress is rolled back once its progress deadline has passed.
func TestGuardRollsBackStalledRolloutAfterDeadline(t *testing.T) {
	env, client, ns := guardedService(t, "stock")
	g := startGuard(t, env, ns)
	// New pods that no node accepts: Pending forever, no crash, no metrics.
	const deadline = 15
	patch := fmt.Sprintf(`{"spec":{"progressDeadlineSeconds":%d,"template":{"spec":{"nodeSelector":{"disk":"none"},"containers":[{"name":"app","image":"stock:v2"}]}}}}`, deadline)
	start := time.Now()
	if _, err := client.AppsV1().Deployments(ns).Patch(context.Background(), "stock", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	sandbox.WaitFor(t, 90*time.Second, "the stalled rollout rolled back", func() (bool, string) {
		return image(t, client, ns, "stock") == "stock:v1", g.output()
	})
	if took := time.Since(start); took < deadline*time.Second {
		t.Errorf("rolled back after %s, before the %ds progress deadline", took, deadline)
	}
	rb := rollbacks(t, g.audit)
	if len(rb) != 1 || !strings.Contains(rb[0].Reason, "ProgressDeadlineExceeded") {
		t.Fatalf("rollbacks %+v, want one naming ProgressDeadlineExceeded", rb)
	}
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), "stock", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Spec.Template.Spec.NodeSelector) != 0 {
		t.Errorf("rollback kept the new template's nodeSelector %v", d.Spec.Template.Spec.NodeSelector)
	}
}

// Two guards watching the same service roll a bad version back once: the second sees that
// the revision changed under it and stands down.
func TestTwoGuardsRollBackOnce(t *testing.T) {
	env, client, ns := guardedService(t, "pay")
	g1 := startGuard(t, env, ns)
	g2 := startGuard(t, env, ns)
	setImage(t, client, ns, "pay", "pay:v2-bad")
	sandbox.WaitFor(t, 90*time.Second, "the bad version rolled back", func() (bool, string) {
		return image(t, client, ns, "pay") == "pay:v1", g1.output() + g2.output()
	})
	sandbox.WaitRolledOut(t, client, ns, "pay", 60*time.Second)
	// Give the slower guard every chance to act twice: for 15 s, nothing more may happen.
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if rb := rollbacks(t, g1.audit, g2.audit); len(rb) > 1 {
			t.Fatalf("rolled back %d times:\n%s\n%s", len(rb), g1.output(), g2.output())
		}
	}
	if rb := rollbacks(t, g1.audit, g2.audit); len(rb) != 1 {
		t.Fatalf("%d rollbacks, want exactly 1: %+v", len(rb), rb)
	}
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), "pay", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rev := d.Annotations["deployment.kubernetes.io/revision"]; rev != "3" {
		t.Errorf("revision %s, want 3 (v1, v2-bad, one rollback)", rev)
	}
	if evs := warningEvents(t, client, ns, "AutoRollback"); len(evs) != 1 || evs[0].Count > 1 {
		t.Errorf("AutoRollback events %+v, want one", evs)
	}
}

// Without the right to patch Deployments the guard refuses to start and names what it lacks;
// --readonly forbids it; --dry-run reports and changes nothing.
func TestGuardRefusalsAndDryRun(t *testing.T) {
	env, client, ns := guardedService(t, "dry")

	r := opsdeck(t, nil, "guard", "--kubeconfig", env.Kubeconfig, "--context", sandbox.ViewerContext, "-n", ns, "--prometheus", env.PrometheusURL)
	got := oneLineFailure(t, r)
	if !strings.Contains(got, `auto-guard cannot start: user "viewer" may not list deployments.apps in namespace `+ns) ||
		!strings.Contains(got, "patch deployments.apps") {
		t.Errorf("viewer: %q", got)
	}
	r = opsdeck(t, nil, "guard", "--readonly", "--kubeconfig", env.Kubeconfig, "-n", ns)
	if got := oneLineFailure(t, r); !strings.Contains(got, "--readonly forbids") {
		t.Errorf("readonly: %q", got)
	}

	g := startGuard(t, env, ns, "--dry-run")
	setImage(t, client, ns, "dry", "dry:v2-bad")
	sandbox.WaitFor(t, 90*time.Second, "the dry run to report", func() (bool, string) {
		return strings.Contains(g.output(), `"msg":"would roll back (dry run)"`), g.output()
	})
	if img := image(t, client, ns, "dry"); img != "dry:v2-bad" {
		t.Errorf("dry run changed the image to %s", img)
	}
	if rb := rollbacks(t, g.audit); len(rb) != 0 {
		t.Errorf("dry run rolled back: %+v", rb)
	}
}

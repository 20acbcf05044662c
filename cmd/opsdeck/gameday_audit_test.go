package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// Game day: an audit log that cannot be written (its path is a directory; the disk is full)
// refuses the CLI's deploy in one line, exit 1, and the Deployment is unchanged.
func TestGameDayUnwritableAuditLogRefusesAndChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 1)
	client := env.Client(t)
	before, _ := client.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})

	dir := t.TempDir()
	isDir := filepath.Join(dir, "a", "audit.jsonl")
	full := filepath.Join(dir, "b", "audit.jsonl")
	os.MkdirAll(isDir, 0o700)
	os.MkdirAll(filepath.Dir(full), 0o700)
	if err := os.Symlink("/dev/full", full); err != nil {
		t.Fatal(err)
	}
	for _, log := range []string{isDir, full} {
		r := opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--audit-log", log, "deploy", "web", "web:v2", "--yes")
		got := oneLineFailure(t, r)
		if !strings.HasPrefix(got, "opsdeck: refusing to deploy web: the audit log cannot be written, so nothing was changed (") {
			t.Errorf("audit log %s: %s", log, got)
		}
	}
	after, _ := client.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if after.Generation != before.Generation || after.Spec.Template.Spec.Containers[0].Image != "web:v1" {
		t.Fatalf("the refused deploy changed web: generation %d -> %d", before.Generation, after.Generation)
	}
}

// killableGuard is an `opsdeck guard` on a given audit log, with extra environment, that a test
// may kill with SIGKILL.
type killableGuard struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (g *killableGuard) output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.out.String()
}

func startKillableGuard(t *testing.T, env *sandbox.Env, ns, auditLog string, extraEnv ...string) *killableGuard {
	t.Helper()
	return startKillableGuardArgs(t, env, ns, auditLog, nil, extraEnv...)
}

// startKillableGuardArgs is startKillableGuard with extra flags (e.g. --leader-elect).
func startKillableGuardArgs(t *testing.T, env *sandbox.Env, ns, auditLog string, flags []string, extraEnv ...string) *killableGuard {
	t.Helper()
	g := &killableGuard{done: make(chan struct{})}
	args := append([]string{"guard", "--kubeconfig", env.Kubeconfig, "-n", ns, "--prometheus", env.PrometheusURL, "--audit-log", auditLog}, flags...)
	g.cmd = exec.Command(binary(t), args...)
	home := t.TempDir()
	g.cmd.Env = append([]string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "PATH=" + os.Getenv("PATH")}, extraEnv...)
	w := lockedWriter{&g.mu, &g.out}
	g.cmd.Stdout, g.cmd.Stderr = w, w
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		select {
		case <-g.done:
			return
		default:
		}
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			_ = g.cmd.Process.Kill()
		}
	})
	sandbox.WaitFor(t, 60*time.Second, "guard started", func() (bool, string) {
		return strings.Contains(g.output(), `"msg":"guard started"`), g.output()
	})
	return g
}

// Game day: the guard is killed with -9 in the middle of a rollback (after the API call,
// before its outcome line). The intent line is in the log; the guard started again names the
// action of unknown outcome, says from the cluster that it took effect, settles it in the log,
// and does not roll back a second time.
func TestGameDayGuardKilledMidRollback(t *testing.T) {
	env, client, ns := guardedService(t, "web")
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	g := startKillableGuard(t, env, ns, auditLog, "OPSDECK_FAULT_HOLD_BEFORE_OUTCOME=10m")
	setImage(t, client, ns, "web", "web:v2-bad")
	sandbox.WaitFor(t, 90*time.Second, "the guard's rollback to reach the cluster", func() (bool, string) {
		return image(t, client, ns, "web") == "web:v1", g.output()
	})
	sandbox.WaitFor(t, 10*time.Second, "the guard to hold before its outcome line", func() (bool, string) {
		return strings.Contains(g.output(), "OPSDECK_FAULT_HOLD_BEFORE_OUTCOME"), g.output()
	})
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-g.done
	open, err := audit.Unfinished(auditLog)
	if err != nil || len(open) != 1 || open[0].Action != "rollback" || open[0].Trigger != "guard" || open[0].ToImage != "web:v1" {
		t.Fatalf("after kill -9: unfinished intents %+v, %v", open, err)
	}
	revBefore := revision(t, ns, "web", env)

	g2 := startKillableGuard(t, env, ns, auditLog)
	out := g2.output()
	if !strings.Contains(out, "opsdeck: 1 action of unknown outcome: rollback web in "+ns) ||
		!strings.Contains(out, "found web at revision "+revBefore+" with image web:v1: the rollback took effect") {
		t.Fatalf("restarted guard did not name the action of unknown outcome:\n%s", out)
	}
	entries, _ := audit.Read(auditLog)
	last := entries[len(entries)-1]
	if last.ID != open[0].ID || !strings.HasPrefix(last.Result, "unknown outcome, found: web at revision "+revBefore) {
		t.Fatalf("settling line %+v", last)
	}
	// No second rollback: the restarted guard judges the service for longer than the rollback
	// rule's 20 s and leaves it alone.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r := revision(t, ns, "web", env); r != revBefore {
			t.Fatalf("revision moved from %s to %s after the restart:\n%s", revBefore, r, g2.output())
		}
		time.Sleep(time.Second)
	}
	if strings.Contains(g2.output(), `"msg":"rolled back"`) {
		t.Fatalf("the restarted guard rolled back again:\n%s", g2.output())
	}
	if r := rollbacks(t, auditLog); len(r) != 0 {
		t.Fatalf("ok rollback lines after the restart: %+v", r)
	}
	// A third start reports nothing: the action was settled once.
	r := opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--audit-log", auditLog, "rollback", "web", "--to-revision", "99", "--yes")
	if strings.Contains(r.stderr, "unknown outcome") {
		t.Fatalf("reported twice: %s", r.stderr)
	}
}

func revision(t *testing.T, ns, name string, env *sandbox.Env) string {
	t.Helper()
	d, err := env.Client(t).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Annotations["deployment.kubernetes.io/revision"]
}

// Game day: 20 CLI deploys to 20 services at once, sharing one audit log: all complete, each
// has its intent and outcome lines, and no line is interleaved with another.
func TestGameDayTwentyConcurrentDeploys(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	const n = 20
	ctx := context.Background()
	for i := range n {
		d := sandbox.Deployment(ns, fmt.Sprintf("svc-%02d", i), fmt.Sprintf("svc-%02d:v1", i), 1)
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		sandbox.WaitRolledOut(t, client, ns, fmt.Sprintf("svc-%02d", i), 120*time.Second)
	}
	binary(t)
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	results := make([]result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("svc-%02d", i)
			results[i] = opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--audit-log", auditLog,
				"deploy", name, name+":v2", "--yes", "--wait", "--timeout", "3m")
		}()
	}
	wg.Wait()
	t.Logf("20 concurrent CLI deploys with --wait: %s", time.Since(start).Round(10*time.Millisecond))
	for i, r := range results {
		if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("rollout of svc-%02d complete", i)) {
			t.Errorf("deploy %d: %+v", i, r)
		}
	}
	raw, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	entries, err := audit.Read(auditLog)
	if err != nil || len(lines) != 2*n || len(entries) != 2*n {
		t.Fatalf("%d lines, %d entries (want %d), %v", len(lines), len(entries), 2*n, err)
	}
	intents := map[string]audit.Entry{}
	done := map[string]bool{}
	for _, e := range entries {
		if e.Pending() {
			intents[e.ID] = e
			continue
		}
		in, ok := intents[e.ID]
		if !ok || e.Result != audit.ResultOK || in.Service != e.Service || e.ToImage != e.Service+":v2" {
			t.Errorf("outcome %+v without its intent before it", e)
		}
		done[e.Service] = true
	}
	if len(done) != n {
		t.Errorf("%d services audited, want %d", len(done), n)
	}
	for i := range n {
		name := fmt.Sprintf("svc-%02d", i)
		d, _ := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if d.Spec.Template.Spec.Containers[0].Image != name+":v2" || d.Status.UpdatedReplicas != 1 {
			t.Errorf("%s: %s, %d updated", name, d.Spec.Template.Spec.Containers[0].Image, d.Status.UpdatedReplicas)
		}
	}
}

package gameday

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/leader"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// term is the console in a detached tmux session of its own, read as a user reads the screen
// (as cmd/opsdeck's end-to-end tests do).
type term struct {
	t    *testing.T
	sock string
}

func startConsole(t *testing.T, env *sandbox.Env, ns, auditLog string, extra ...string) *term {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed (apt-get install tmux; .ci/run installs it)")
	}
	dir, err := os.MkdirTemp("", "odgd")
	if err != nil {
		t.Fatal(err)
	}
	tt := &term{t: t, sock: filepath.Join(dir, "s")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last screen:\n%s", tt.screen())
		}
		_ = exec.Command("tmux", "-S", tt.sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	home := t.TempDir()
	args := []string{"-S", tt.sock, "-f", "/dev/null", "new-session", "-d", "-s", "gd", "-x", "120", "-y", "30"}
	for _, e := range []string{"HOME=" + home, "XDG_STATE_HOME=" + home, "XDG_CONFIG_HOME=" + home,
		"TERM=tmux-256color", "LANG=C.UTF-8"} {
		args = append(args, "-e", e)
	}
	args = append(args, "--", world.bin, "--kubeconfig", env.Kubeconfig, "-n", ns,
		"--prometheus", env.PrometheusURL, "--audit-log", auditLog)
	args = append(args, extra...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	return tt
}

func (tt *term) screen() string {
	out, err := exec.Command("tmux", "-S", tt.sock, "capture-pane", "-p", "-t", "gd").CombinedOutput()
	if err != nil {
		return "(capture-pane: " + err.Error() + ": " + string(out) + ")"
	}
	return string(out)
}

// typeKey types one key, literally.
func (tt *term) typeKey(k string) {
	tt.t.Helper()
	if out, err := exec.Command("tmux", "-S", tt.sock, "send-keys", "-t", "gd", "-l", k).CombinedOutput(); err != nil {
		tt.t.Fatalf("send-keys %q: %v %s", k, err, out)
	}
}

func (tt *term) waitScreen(what string, timeout time.Duration, cond func(string) bool) string {
	tt.t.Helper()
	var s string
	waitFor(tt.t, timeout, what, func() (bool, string) {
		s = tt.screen()
		return cond(s), "screen:\n" + s
	})
	return s
}

func has(parts ...string) func(string) bool {
	return func(s string) bool {
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return false
			}
		}
		return true
	}
}

// The API server is frozen (SIGSTOP: its sockets stay open, nothing answers) for 20 s under a
// console: the console says the API is reconnecting, keeps answering keys meanwhile, loses
// none of them, and says "API ok" again once the server is thawed.
func TestConsoleAPIServerFrozen(t *testing.T) {
	env := gameday(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "orders", "orders:v1", 3)
	env.CreateDeployment(t, ns, "payments", "payments:v1", 3)
	tt := startConsole(t, env, ns, filepath.Join(t.TempDir(), "audit.jsonl"))
	tt.waitScreen("the console to show both services with the API ok", 60*time.Second, has("orders", "payments", "API ok"))

	const frozenFor = 20 * time.Second
	if err := sandbox.Freeze(env.Dir, "kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	t.Cleanup(func() {
		if !thawed {
			_ = sandbox.Thaw(env.Dir, "kube-apiserver")
		}
	})
	tt.waitScreen("the console to say the API is unreachable", frozenFor, has("API reconnecting"))
	measure(t, "api server frozen", "the console said %q %.1fs after the freeze",
		"API reconnecting", time.Since(frozen).Seconds())
	// Keys typed while the API is frozen: a filter, one key at a time.
	tt.typeKey("/")
	for _, k := range []string{"p", "a", "y"} {
		tt.typeKey(k)
	}
	tt.waitScreen("the filter typed during the freeze to show at once", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "/pay") && !strings.Contains(s, "orders")
	})
	if d := time.Until(frozen.Add(frozenFor)); d > 0 {
		// The fault lasts its full length: the game day's scenario, not a wait for a condition.
		time.Sleep(d)
	}
	if err := sandbox.Thaw(env.Dir, "kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	thawed = true
	back := time.Now()
	tt.waitScreen("the console to say API ok again", 60*time.Second, has("API ok", "payments"))
	measure(t, "api server frozen", "API ok again %.1fs after the thaw", time.Since(back).Seconds())
	// Not one key lost: the filter is exactly what was typed.
	tt.typeKey("s")
	s := tt.waitScreen("the filter to take the next key", 5*time.Second, has("/pays"))
	if strings.Contains(s, "orders") {
		t.Errorf("the filter /pays still shows orders:\n%s", s)
	}
}

// A console with auto-guard on, in a namespace that a `guard --leader-elect` leads, says who
// guards ("auto-guard: by POD (leader)") and does not act beside it: the leader rolls a bad
// rollout back, the console's audit log has no rollback. When the leader dies, the console
// guards again once the Lease expires.
func TestConsoleStandsAsideForLeader(t *testing.T) {
	env := gameday(t)
	client := env.Client(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "orders", "orders:v1", 3)
	g := startGuard(t, env, "leader", ns, env.PrometheusURL, "--config", testConfig(t, ""),
		"--leader-elect", "--lease-duration", leaseDuration.String())
	l, _ := leaderOf(t, []*guard{g}, nil, 30*time.Second)
	pod := leader.Pod(l.find1(t, "leading").str("identity"))
	consoleAudit := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := testConfig(t, "")
	tt := startConsole(t, env, ns, consoleAudit, "--guard", "--config", cfg)
	tt.waitScreen("the console to name the leader", 60*time.Second, has("auto-guard: by "+pod+" (leader)"))

	setImage(t, client, ns, "orders", "orders:v2-bad")
	rolledBackOnce(t, client, ns, "orders", "orders:v1", 90*time.Second, g)
	console := &guard{name: "console", audit: consoleAudit}
	if n := len(guardRollbacks(t, "orders", console)); n != 0 {
		t.Fatalf("the console rolled back %d times beside the leader", n)
	}

	g.kill9(t)
	tt.waitScreen("the console to guard again once the Lease expires", 2*leaseDuration+10*time.Second,
		func(s string) bool { return strings.Contains(s, "auto-guard: on") && !strings.Contains(s, "(leader)") })
}

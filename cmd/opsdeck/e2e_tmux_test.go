package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// End-to-end tests: the built binary runs in a real terminal (a detached tmux session) against
// the sandbox, and the test reads the screen as a user would, with capture-pane.

// tmuxTerm is one tmux server (a private socket) with one session running one program.
type tmuxTerm struct {
	t      *testing.T
	sock   string
	status string // file where the wrapping shell writes the program's exit status
}

// needTmux skips in -short runs, and when tmux is missing unless the run requires the full
// sandbox (OPSDECK_REQUIRE_PROMETHEUS, set by `make test`), where a missing tmux is a failure.
func needTmux(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the sandbox and tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("OPSDECK_REQUIRE_PROMETHEUS") == "" {
			t.Skip("tmux is not installed")
		}
		t.Fatal("tmux is not installed, and OPSDECK_REQUIRE_PROMETHEUS says the end-to-end tests must run")
	}
}

// startTmux runs argv in a new w x h terminal with env added to the environment. The pane stays
// after the program exits (remain-on-exit), so its last screen can be read. A shell runs the
// program and writes its exit status to a file: tmux 3.3 sometimes leaves a pane's exited
// process unreaped (and #{pane_dead_status} empty) for a long time, a shell's wait does not.
func startTmux(t *testing.T, w, h int, env []string, argv ...string) *tmuxTerm {
	t.Helper()
	// A short socket path: unix socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "odtmux")
	if err != nil {
		t.Fatal(err)
	}
	tt := &tmuxTerm{t: t, sock: filepath.Join(dir, "s"), status: filepath.Join(dir, "status")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last screen:\n%s", tt.screen())
		}
		_ = exec.Command("tmux", "-S", tt.sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	args := []string{"-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h)}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, "--", "/bin/sh", "-c", `"$@"; echo $? >"$0.tmp" && mv "$0.tmp" "$0"`, tt.status)
	args = append(args, argv...)
	args = append(args, ";", "set-option", "-t", "e2e", "remain-on-exit", "on")
	if out, err := exec.Command("tmux", append([]string{"-S", tt.sock}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	return tt
}

func (tt *tmuxTerm) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", tt.sock}, args...)...).CombinedOutput()
	return string(out), err
}

// screen is the visible screen as plain text, one line per row.
func (tt *tmuxTerm) screen() string {
	out, err := tt.tmux("capture-pane", "-p", "-t", "e2e")
	if err != nil {
		return "(capture-pane: " + err.Error() + ": " + out + ")"
	}
	return out
}

// keys sends tmux key names (e.g. "d", "C-u", "Enter").
func (tt *tmuxTerm) keys(keys ...string) {
	tt.t.Helper()
	if out, err := tt.tmux(append([]string{"send-keys", "-t", "e2e"}, keys...)...); err != nil {
		tt.t.Fatalf("send-keys %v: %v %s", keys, err, out)
	}
}

// typeText types s literally.
func (tt *tmuxTerm) typeText(s string) {
	tt.t.Helper()
	if out, err := tt.tmux("send-keys", "-t", "e2e", "-l", s); err != nil {
		tt.t.Fatalf("send-keys -l %q: %v %s", s, err, out)
	}
}

func (tt *tmuxTerm) format(f string) string {
	tt.t.Helper()
	out, err := tt.tmux("display-message", "-p", "-t", "e2e", f)
	if err != nil {
		tt.t.Fatalf("display-message %s: %v %s", f, err, out)
	}
	return strings.TrimSpace(out)
}

// pid is the program's process: the child of the pane's shell.
func (tt *tmuxTerm) pid() int {
	tt.t.Helper()
	sh := tt.format("#{pane_pid}")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if kids := childrenOf(sh); len(kids) == 1 {
			return kids[0]
		} else if time.Now().After(deadline) {
			tt.t.Fatalf("the pane's shell %s has children %v, want one", sh, kids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid string) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) > 1 && fields[1] == pid {
			if p, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
				kids = append(kids, p)
			}
		}
	}
	return kids
}

// exited reports whether the program has exited, and its exit status (128+n when signal n
// ended it).
func (tt *tmuxTerm) exited() (bool, int) {
	tt.t.Helper()
	b, err := os.ReadFile(tt.status)
	if err != nil {
		return false, 0
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		tt.t.Fatalf("exit status file: %q", b)
	}
	return true, code
}

// waitExit waits for the program to exit and returns its exit status.
func (tt *tmuxTerm) waitExit(what string, timeout time.Duration) int {
	tt.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if dead, code := tt.exited(); dead {
			return code
		}
		if time.Now().After(deadline) {
			tt.t.Fatalf("opsdeck still running %s after %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitScreen polls the screen until cond holds, and returns it.
func (tt *tmuxTerm) waitScreen(what string, timeout time.Duration, cond func(string) bool) string {
	tt.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := tt.screen()
		if cond(s) {
			return s
		}
		if dead, code := tt.exited(); dead {
			tt.t.Fatalf("opsdeck exited (status %d) while waiting for %s; screen:\n%s", code, what, s)
		}
		if time.Now().After(deadline) {
			tt.t.Fatalf("timed out after %s waiting for %s; screen:\n%s", timeout, what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
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

func matches(re *regexp.Regexp) func(string) bool { return re.MatchString }

// consoleEnv is the console's environment: a private HOME, no colour preferences inherited.
func consoleEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{"HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "TERM=tmux-256color", "NO_COLOR=", "LANG=C.UTF-8"}
}

// startConsole runs the console on namespace ns of the sandbox in a w x h terminal.
func startConsole(t *testing.T, env *sandbox.Env, ns, auditLog string, w, h int, extra ...string) *tmuxTerm {
	t.Helper()
	argv := append([]string{binary(t), "--kubeconfig", env.Kubeconfig, "-n", ns,
		"--prometheus", env.PrometheusURL, "--audit-log", auditLog}, extra...)
	return startTmux(t, w, h, consoleEnv(t), argv...)
}

// TestE2ETmuxDeploy is the console end to end: the built binary in tmux against the sandbox;
// d, a new image, enter, y; the rollout completes on the screen and in the cluster, the audit
// log has the key's line, and q quits.
func TestE2ETmuxDeploy(t *testing.T) {
	needTmux(t)
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 3)
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	term := startConsole(t, env, ns, auditLog, 120, 40)

	row := func(tag, rev, phase string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^▶web +3/3 ` + tag + ` +` + rev + ` ` + phase + `\b`)
	}
	term.waitScreen("the services pane to show web", 30*time.Second, matches(row("v1", "1", "complete")))
	term.waitScreen("the rollout pane and metrics", 30*time.Second, has("r1 web:v1  complete", "metrics ok"))

	term.keys("d")
	term.waitScreen("the deploy prompt", 10*time.Second, has("deploy web", "new image (now web:v1):", "> web:v1"))
	term.keys("C-u")
	term.waitScreen("the prompt to be cleared", 10*time.Second, func(s string) bool { return !strings.Contains(s, "> web:v1") })
	term.typeText("web:v2")
	term.keys("Enter")
	term.waitScreen("the confirmation", 10*time.Second, has("deploy web?", "web:v1 -> web:v2"))
	term.keys("y")

	term.waitScreen("the rollout pane to follow to complete", 90*time.Second, has("r2 web:v2  complete"))
	s := term.waitScreen("the services row to show v2 complete", 30*time.Second, matches(row("v2", "2", "complete")))
	if !strings.Contains(s, "updated   ") || !strings.Contains(s, "3/3") {
		t.Errorf("rollout pane without its progress bars:\n%s", s)
	}
	term.waitScreen("the action in the events pane", 10*time.Second, has("action", "deployed web:v2 to web"))

	// The cluster agrees.
	d, err := env.Client(t).AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "web:v2" || !sandbox.RolledOut(d) {
		t.Fatalf("deployment: image %s, status %+v", img, d.Status)
	}
	if d.Annotations["deployment.kubernetes.io/revision"] != "2" {
		t.Errorf("revision annotation %q, want 2", d.Annotations["deployment.kubernetes.io/revision"])
	}

	// The audit log has the key's line.
	entries, err := audit.Read(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	entries = audit.Outcomes(entries)
	if len(entries) != 1 {
		t.Fatalf("audit log has %d lines, want 1: %+v", len(entries), entries)
	}
	e := entries[0]
	if e.Trigger != "key" || e.Action != "deploy" || e.Namespace != ns || e.Service != "web" ||
		e.FromImage != "web:v1" || e.ToImage != "web:v2" || e.Result != audit.ResultOK || e.Context == "" || e.User == "" {
		t.Fatalf("audit line: %+v", e)
	}

	// q quits, with status 0, and gives the terminal back (the alternate screen is left).
	term.keys("q")
	if code := term.waitExit("after q", 10*time.Second); code != 0 {
		t.Fatalf("exit status %d after q", code)
	}
	if alt := term.format("#{alternate_on}"); alt != "0" {
		t.Errorf("the terminal is still in the alternate screen after q")
	}
}

// TestE2ETmuxScreenAndSignals checks the screen at 80x24 (complete, no error text), the
// too-small notice at 40x10 (the console keeps running and comes back on a resize), and that
// SIGHUP, what an SSH session that drops sends, makes it exit.
func TestE2ETmuxScreenAndSignals(t *testing.T) {
	needTmux(t)
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "api", "api:v1", 3)

	t.Run("80x24", func(t *testing.T) {
		term := startConsole(t, env, ns, filepath.Join(t.TempDir(), "audit.jsonl"), 80, 24)
		s := term.waitScreen("a full screen", 30*time.Second,
			has("▶api", "API ok", "metrics ok", "r1 api:v1  complete", "rps "))
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		if len(lines) != 24 {
			t.Errorf("%d lines, want 24", len(lines))
		}
		for i, l := range lines {
			if w := ansi.StringWidth(l); w > 80 {
				t.Errorf("line %d is %d cells wide: %q", i+1, w, l)
			}
		}
		if !strings.HasPrefix(lines[0], "opsdeck ctx sandbox") || !strings.Contains(lines[0], "ns t-") {
			t.Errorf("header line: %q", lines[0])
		}
		if !strings.Contains(lines[len(lines)-1], "? help") {
			t.Errorf("status line without the key help: %q", lines[len(lines)-1])
		}
		low := strings.ToLower(s)
		for _, bad := range []string{"error", "panic", "fail", "too small", "stale", "reconnecting", "✗", "forbidden", "refused"} {
			if strings.Contains(low, bad) {
				t.Errorf("the screen shows %q:\n%s", bad, s)
			}
		}

		// Too small: the notice, still running; a resize back brings the screen back.
		if out, err := term.tmux("resize-window", "-t", "e2e", "-x", "40", "-y", "10"); err != nil {
			t.Fatalf("resize-window: %v %s", err, out)
		}
		term.waitScreen("the too-small notice", 10*time.Second, has("terminal too small (40x10)"))
		term.keys("d") // keys other than quit do nothing on a too-small screen
		time.Sleep(2 * time.Second)
		if dead, code := term.exited(); dead {
			t.Fatalf("opsdeck exited (status %d) on a too-small terminal", code)
		}
		term.waitScreen("the notice to stay", 5*time.Second, has("terminal too small (40x10)"))
		if out, err := term.tmux("resize-window", "-t", "e2e", "-x", "80", "-y", "24"); err != nil {
			t.Fatalf("resize-window: %v %s", err, out)
		}
		s = term.waitScreen("the screen back at 80x24", 10*time.Second, has("▶api", "metrics ok"))
		if strings.Contains(s, "deploy api") {
			t.Errorf("d on the too-small screen opened a dialog:\n%s", s)
		}
		term.keys("q")
		if code := term.waitExit("after q", 10*time.Second); code != 0 {
			t.Fatalf("exit status %d after q", code)
		}
	})

	t.Run("SIGHUP", func(t *testing.T) {
		term := startConsole(t, env, ns, filepath.Join(t.TempDir(), "audit.jsonl"), 120, 40)
		term.waitScreen("the services", 30*time.Second, has("▶api", "API ok"))
		pid := term.pid()
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != "opsdeck" {
			t.Fatalf("pane process %d is %q, not opsdeck", pid, comm)
		}
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		code := term.waitExit("after SIGHUP", 10*time.Second)
		if code != 0 {
			t.Errorf("exit status %d after SIGHUP, want 0 (a clean stop)", code)
		}
		if err := syscall.Kill(pid, 0); err == nil {
			// The shell writes the status once it has reaped the process: it is gone.
			t.Errorf("process %d still exists after SIGHUP", pid)
		}
	})

	// The terminal goes away, as when the SSH connection drops: the kernel hangs up the
	// terminal's processes.
	t.Run("terminal closed", func(t *testing.T) {
		term := startConsole(t, env, ns, filepath.Join(t.TempDir(), "audit.jsonl"), 120, 40)
		term.waitScreen("the services", 30*time.Second, has("▶api", "API ok"))
		pid := term.pid()
		if out, err := term.tmux("kill-server"); err != nil {
			t.Fatalf("kill-server: %v %s", err, out)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				break // gone
			}
			if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
				break // exited, not yet reaped by its new parent
			}
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("opsdeck (pid %d) still running 10 s after its terminal closed", pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

package gameday

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// world is the game days' own sandbox and the opsdeck binary under test.
var world struct {
	once sync.Once
	dir  string // holds the binary and the sandbox
	bin  string
	env  *sandbox.Env
	err  error
	kept bool // not started here: left running
}

func TestMain(m *testing.M) {
	code := m.Run()
	if world.env != nil && !world.kept {
		if err := sandbox.Down(world.env.Dir); err != nil {
			fmt.Fprintln(os.Stderr, "gameday sandbox:", err)
			code = 1
		}
	}
	if world.dir != "" {
		os.RemoveAll(world.dir)
	}
	os.Exit(code)
}

// gameday returns the game days' sandbox, starting it on first use, after checking that the
// components a previous game day broke are back.
func gameday(t *testing.T) *sandbox.Env {
	t.Helper()
	if testing.Short() {
		t.Skip("game days start a sandbox of their own")
	}
	world.once.Do(func() {
		if world.dir, world.err = os.MkdirTemp("", "opsdeck-gameday-"); world.err != nil {
			return
		}
		world.bin = filepath.Join(world.dir, "opsdeck")
		if out, err := exec.Command("go", "build", "-tags", "faults", "-o", world.bin, "github.com/opsdeck/opsdeck/cmd/opsdeck").CombinedOutput(); err != nil {
			world.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		if dir := os.Getenv("OPSDECK_GAMEDAY_SANDBOX_DIR"); dir != "" {
			// A sandbox kept between runs while writing game days: `go run ./cmd/sandbox up
			// --dir DIR`. Never the shared one (OPSDECK_SANDBOX_DIR): game days break it.
			world.kept = true
			world.env, world.err = sandbox.Load(dir)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		world.env, world.err = sandbox.Up(ctx, sandbox.Options{Dir: filepath.Join(world.dir, "sandbox"), Nodes: 1,
			Tied: true, BinDir: os.Getenv("OPSDECK_SANDBOX_BIN"), Progress: os.Stderr})
	})
	if world.err != nil {
		t.Fatalf("gameday sandbox: %v", world.err)
	}
	st, err := sandbox.Status(world.env.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, running := range st {
		if !running {
			t.Fatalf("the game-day sandbox's %s is down (an earlier game day left it so)", name)
		}
	}
	return world.env
}

// testConfig shortens the rollback rules' `for` to ruleFor so that a game day lasts less, and
// turns the early verdict off: the game days assert what the guard does with time (a rule that
// must hold again for its whole `for` after a fault), which counting would cut short. The early
// verdict has its own sandbox tests (internal/guard, cmd/opsdeck TestGuardEarlyVerdict).
func testConfig(t *testing.T, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	body := fmt.Sprintf("thresholds:\n  errors: {for: %ds}\n  p99: {for: %ds}\nguard:\n  early: {enabled: false}\n%s", int(ruleFor.Seconds()), int(ruleFor.Seconds()), extra)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ruleFor is the `for` of the rollback rules in the game days' configuration.
const ruleFor = 10 * time.Second

// guard is one `opsdeck guard` process.
type guard struct {
	name  string
	cmd   *exec.Cmd
	audit string
	done  chan struct{}
	mu    sync.Mutex
	lines []logLine
	raw   bytes.Buffer
}

// logLine is one JSON line of the guard's stdout, with when the test read it.
type logLine struct {
	At    time.Time
	Msg   string
	Attrs map[string]any
}

func (l logLine) str(k string) string { s, _ := l.Attrs[k].(string); return s }

// startGuard runs `opsdeck guard` on ns with args added; it is stopped (SIGTERM) at cleanup
// unless the test killed it.
func startGuard(t *testing.T, env *sandbox.Env, name, ns, prometheusURL string, args ...string) *guard {
	t.Helper()
	g := &guard{name: name, audit: filepath.Join(t.TempDir(), "audit.jsonl"), done: make(chan struct{})}
	all := append([]string{"guard", "--kubeconfig", env.Kubeconfig, "-n", ns, "--prometheus", prometheusURL,
		"--audit-log", g.audit}, args...)
	g.cmd = exec.Command(world.bin, all...)
	home := t.TempDir()
	g.cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_STATE_HOME=" + home, "PATH=" + os.Getenv("PATH")}
	g.cmd.Stderr = &lockedBuffer{mu: &g.mu, b: &g.raw}
	out, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			_ = json.Unmarshal(sc.Bytes(), &m)
			msg, _ := m["msg"].(string)
			g.mu.Lock()
			g.lines = append(g.lines, logLine{At: time.Now(), Msg: msg, Attrs: m})
			g.raw.Write(sc.Bytes())
			g.raw.WriteByte('\n')
			g.mu.Unlock()
		}
		_ = g.cmd.Wait()
		close(g.done)
	}()
	t.Cleanup(func() {
		if g.exited() {
			return
		}
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.done:
		case <-time.After(15 * time.Second):
			_ = g.cmd.Process.Kill()
			t.Errorf("guard %s did not stop within 15s of SIGTERM", g.name)
		}
	})
	waitFor(t, 60*time.Second, "guard "+name+" started", func() (bool, string) {
		if g.exited() {
			t.Fatalf("guard %s exited early:\n%s", name, g.output())
		}
		_, ok := g.find("guard started", nil)
		return ok, g.output()
	})
	return g
}

func (g *guard) exited() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// kill9 kills the guard as a crash would: no lease released, nothing flushed.
func (g *guard) kill9(t *testing.T) time.Time {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	<-g.done
	return at
}

func (g *guard) output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.name + ":\n" + g.raw.String()
}

// find returns the first line with message msg (after a time, when given) that pred accepts.
func (g *guard) find(msg string, pred func(logLine) bool) (logLine, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.lines {
		if l.Msg == msg && (pred == nil || pred(l)) {
			return l, true
		}
	}
	return logLine{}, false
}

func (g *guard) count(msg string, pred func(logLine) bool) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, l := range g.lines {
		if l.Msg == msg && (pred == nil || pred(l)) {
			n++
		}
	}
	return n
}

// about accepts the lines about service key ns/name.
func about(key string) func(logLine) bool {
	return func(l logLine) bool { return l.str("service") == key }
}

// verdict accepts the "guard status" lines of key with verdict v (and detail containing sub).
func verdict(key, v, sub string) func(logLine) bool {
	return func(l logLine) bool {
		return l.str("service") == key && l.str("verdict") == v && strings.Contains(l.str("detail"), sub)
	}
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// waitFor is sandbox.WaitFor; a game day waits on conditions, never on sleeps.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	sandbox.WaitFor(t, timeout, what, cond)
}

// holds checks cond on every poll for d: the bounded "nothing happens" of a game day (no
// rollback while the data is missing, no second rollback after a failover).
func holds(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok, msg := cond(); !ok {
			t.Fatalf("%s stopped holding: %s", what, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func setImage(t *testing.T, client kubernetes.Interface, ns, name, image string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image)
	if _, err := client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// deployment says a Deployment's image and revision ("" and 0 when unreadable: the API may be
// down during a game day).
func deployment(client kubernetes.Interface, ns, name string) (string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", ""
	}
	return d.Spec.Template.Spec.Containers[0].Image, d.Annotations["deployment.kubernetes.io/revision"]
}

// guardRollbacks are the successful rollbacks of service name in the audit logs of guards.
func guardRollbacks(t *testing.T, name string, guards ...*guard) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for _, g := range guards {
		entries, err := audit.Read(g.audit)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Action == "rollback" && e.Trigger == "guard" && e.Result == audit.ResultOK && e.Service == name {
				out = append(out, e)
			}
		}
	}
	return out
}

// measure logs a figure the README's Reliability table reports, in a form easy to grep.
func measure(t *testing.T, name string, format string, args ...any) {
	t.Helper()
	t.Logf("MEASURE %s: "+format, append([]any{name}, args...)...)
}

// find1 is the first line with message msg; the test fails without one.
func (g *guard) find1(t *testing.T, msg string) logLine {
	t.Helper()
	l, ok := g.find(msg, nil)
	if !ok {
		t.Fatalf("no %q line:\n%s", msg, g.output())
	}
	return l
}

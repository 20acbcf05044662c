package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Game days break the sandbox on purpose: these functions stop, kill, restart, freeze and thaw
// one component of a running sandbox, from the process that started it (a test) or from any
// other (cmd/sandbox). A restarted component runs the command it was first started with, on
// the same ports and with the same data (etcd's data dir, Prometheus' TSDB, the API server's
// certificates), so its clients reconnect to it.

// Components are the names of the sandbox's processes, in start order.
var Components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "simulator", "prometheus"}

// command is how a component was started, kept in DIR/cmds/NAME.json.
type command struct {
	Bin  string   `json:"bin"`
	Args []string `json:"args"`
	// Tied processes die with their starter (Pdeathsig); Starter is its pid.
	Tied    bool `json:"tied"`
	Starter int  `json:"starter"`
}

func writeCommand(dir, name string, c command) error {
	if err := os.MkdirAll(filepath.Join(dir, "cmds"), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "cmds", name+".json"), b, 0o644)
}

func readCommand(dir, name string) (command, error) {
	var c command
	b, err := os.ReadFile(filepath.Join(dir, "cmds", name+".json"))
	if err != nil {
		return c, fmt.Errorf("unknown component %q of the sandbox in %s (components: %s)", name, dir, strings.Join(Components, ", "))
	}
	return c, json.Unmarshal(b, &c)
}

// componentPid is the pid of a running component, or an error that names what is wrong.
func componentPid(dir, name string) (int, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	if _, err := readCommand(dir, name); err != nil {
		return 0, err
	}
	pid, ok := recordedPids(dir)[name]
	if !ok || !alive(pid, dir) {
		return 0, fmt.Errorf("%s of the sandbox in %s is not running", name, dir)
	}
	return pid, nil
}

// Kill sends SIGKILL to a component, as a crash would, and returns once it is gone.
func Kill(dir, name string) error {
	return signalAndWait(dir, name, syscall.SIGKILL, 10*time.Second)
}

// Stop stops a component with SIGTERM (SIGKILL after 10 s) and returns once it is gone.
func Stop(dir, name string) error {
	if err := signalAndWait(dir, name, syscall.SIGTERM, 10*time.Second); err == nil {
		return nil
	}
	return Kill(dir, name)
}

func signalAndWait(dir, name string, sig syscall.Signal, grace time.Duration) error {
	pid, err := componentPid(dir, name)
	if err != nil {
		return err
	}
	dir, _ = filepath.Abs(dir)
	// A frozen process acts on SIGTERM only once it runs again.
	_ = syscall.Kill(pid, syscall.SIGCONT)
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %s: %w", name, err)
	}
	deadline := time.Now().Add(grace)
	for alive(pid, dir) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d) still runs %s after %s", name, pid, grace, sig)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Freeze stops a component with SIGSTOP: it keeps its sockets open but answers nothing, as a
// hung process or a partitioned host would.
func Freeze(dir, name string) error {
	pid, err := componentPid(dir, name)
	if err != nil {
		return err
	}
	return syscall.Kill(pid, syscall.SIGSTOP)
}

// Thaw resumes a frozen component with SIGCONT.
func Thaw(dir, name string) error {
	pid, err := componentPid(dir, name)
	if err != nil {
		return err
	}
	return syscall.Kill(pid, syscall.SIGCONT)
}

// Start starts a stopped component again with its first command and waits until it is ready
// (it answers its health endpoint, where it has one). In the process that started the sandbox
// with Options.Tied, the new process is tied to it too.
func Start(ctx context.Context, dir, name string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	c, err := readCommand(dir, name)
	if err != nil {
		return err
	}
	if pid, ok := recordedPids(dir)[name]; ok && alive(pid, dir) {
		return fmt.Errorf("%s of the sandbox in %s is already running (pid %d)", name, dir, pid)
	}
	args := append([]string(nil), c.Args...)
	if name == "simulator" {
		// It first listened on a free port; Prometheus scrapes that one, so keep it.
		if b, err := os.ReadFile(filepath.Join(dir, "simulator.addr")); err == nil {
			for i, a := range args {
				if strings.HasPrefix(a, "--listen=") {
					args[i] = "--listen=" + strings.TrimSpace(string(b))
				}
			}
		}
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "\n--- sandbox: %s restarted at %s ---\n", name, time.Now().UTC().Format(time.RFC3339))
	cmd := exec.Command(c.Bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logFile, logFile, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tied := c.Tied && c.Starter == os.Getpid()
	if tied {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it, whoever stops it later
	if err := os.WriteFile(filepath.Join(dir, "pids", name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	if c.Tied != tied {
		// Started from another process (cmd/sandbox): it outlives that one.
		c.Tied = tied
		_ = writeCommand(dir, name, c)
	}
	return waitReady(ctx, dir, name, args, exited)
}

// Restart stops a component (SIGTERM) and starts it again on the same ports and data.
func Restart(ctx context.Context, dir, name string) error {
	if err := Stop(dir, name); err != nil {
		return err
	}
	return Start(ctx, dir, name)
}

// waitReady waits until a started component answers its health endpoint (etcd, the API
// server, Prometheus), or for a second for the others, failing if it exits meanwhile.
func waitReady(ctx context.Context, dir, name string, args []string, exited <-chan error) error {
	url, token := "", ""
	switch name {
	case "etcd":
		url = flagValue(args, "--listen-client-urls") + "/health"
	case "kube-apiserver":
		url = "https://127.0.0.1:" + flagValue(args, "--secure-port") + "/readyz"
		b, _ := os.ReadFile(filepath.Join(dir, "tokens.csv"))
		token, _, _ = strings.Cut(string(b), ",")
	case "prometheus":
		url = "http://" + flagValue(args, "--web.listen-address") + "/-/ready"
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	settle := time.After(time.Second)
	ok := httpOK(url, token)
	var last error
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("%s exited right after its restart (%v); last lines of its log:\n%s", name, err,
				tail(filepath.Join(dir, "logs", name+".log"), 15))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready 90s after its restart: %v", name, last)
		case <-settle:
			if url == "" {
				return nil
			}
		case <-time.After(100 * time.Millisecond):
			if url == "" {
				continue
			}
			var ready bool
			if ready, last = ok(ctx); ready {
				return nil
			}
		}
	}
}

func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// Status lists the sandbox's components and whether each runs.
func Status(dir string) (map[string]bool, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(dir, "cmds"))
	if err != nil {
		return nil, fmt.Errorf("no sandbox in %s: %w", dir, err)
	}
	pids := recordedPids(dir)
	out := map[string]bool{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".json")
		out[name] = alive(pids[name], dir)
	}
	return out, nil
}

// SortedNames is the keys of m in order.
func SortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := sandbox.Main(m)
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binary builds the opsdeck binary once per test run.
func binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "opsdeck-cli-test-")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "opsdeck")
		out, err := exec.Command("go", "build", "-tags", "faults", "-o", built.bin, ".").CombinedOutput()
		if err != nil {
			built.err = &buildError{err, string(out)}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

type result struct {
	code           int
	stdout, stderr string
}

// opsdeck runs the binary with args, stdin not a terminal, and a private HOME and state dir.
func opsdeck(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	home := t.TempDir()
	cmd.Env = append([]string{"HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "PATH=" + os.Getenv("PATH")}, env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &so, &se, strings.NewReader("")
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, so.String(), se.String()}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"deploy", "web"},
		{"rollback"},
		{"--no-such-flag"},
		{"frobnicate"},
		{"status", "-o", "yaml"},
		{"config", "check"},
	} {
		r := opsdeck(t, nil, args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "opsdeck: ") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestVersionHelpAndPluginName(t *testing.T) {
	r := opsdeck(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "opsdeck ") {
		t.Fatalf("version: %+v", r)
	}
	r = opsdeck(t, nil, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "bash completion") {
		t.Fatalf("completion bash: exit %d", r.code)
	}
	plugin := filepath.Join(t.TempDir(), "kubectl-opsdeck")
	if err := os.Link(binary(t), plugin); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(plugin, "deploy", "--help").Output()
	if err != nil || !strings.Contains(string(out), "kubectl opsdeck deploy SERVICE IMAGE") {
		t.Fatalf("plugin usage: %v\n%s", err, out)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("refresh: 2s\n"), 0o600)
	os.WriteFile(bad, []byte("refresh: -1s\nprometheus:\n  url: \"::nope\"\n"), 0o600)
	if r := opsdeck(t, nil, "config", "check", good); r.code != 0 {
		t.Fatalf("good config: %+v", r)
	}
	r := opsdeck(t, nil, "config", "check", bad)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 1 || len(lines) < 2 || !strings.Contains(r.stderr, "refresh") {
		t.Fatalf("bad config: %+v", r)
	}
}

func TestNoKubeconfig(t *testing.T) {
	r := opsdeck(t, nil, "status")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "no kubeconfig") {
		t.Fatalf("%+v", r)
	}
}

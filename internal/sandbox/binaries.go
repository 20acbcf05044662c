package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries returns the folder of the sandbox's Kubernetes, etcd and kwok binaries:
// $OPSDECK_SANDBOX_BIN when set, else what testdata/tools/build.sh builds or finds in its cache
// (a few seconds when cached, about 11 minutes cold on 2 cores).
func Binaries(ctx context.Context) (string, error) {
	if dir := os.Getenv("OPSDECK_SANDBOX_BIN"); dir != "" {
		return dir, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "testdata", "tools", "build.sh"))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the sandbox binaries failed (%v):\n%s", err, tailString(stderr.String(), 20))
	}
	return strings.TrimSpace(out.String()), nil
}

type buildResult struct {
	path string
	err  error
}

// buildSimulator compiles cmd/simulator into dir.
func buildSimulator(ctx context.Context, dir string) buildResult {
	root, err := moduleRoot(ctx)
	if err != nil {
		return buildResult{err: err}
	}
	out := filepath.Join(dir, "simulator")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/simulator")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return buildResult{err: fmt.Errorf("go build ./cmd/simulator: %v\n%s", err, b)}
	}
	return buildResult{path: out}
}

// moduleRoot finds the opsdeck checkout: the sandbox builds its helpers from source.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run the sandbox from the opsdeck checkout (no go.mod found from %s)", mustGetwd())
	}
	return filepath.Dir(gomod), nil
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
}

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

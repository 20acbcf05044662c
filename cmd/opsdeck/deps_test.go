package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// binaryBudget bounds the size of the opsdeck binary: the pages of it that a process touches
// count in its RSS (README "Performance"). It was 153 MB with client-go's every-group packages
// linked, 110 MB without, and 50 MB without kubectl's packages.
const binaryBudget = 64 << 20

// TestBinaryStaysSmall keeps out of opsdeck the packages that made its binary large, and the
// binary within its budget: client-go's fake of every API group, and Go's plugin package. A
// binary that can load plugins keeps every method of every type it links, and exports every
// symbol; kubectl's packages (kubectl, cli-runtime) bring it in through kustomize.
func TestBinaryStaysSmall(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/opsdeck/opsdeck/cmd/opsdeck").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/opsdeck: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "k8s.io/client-go/kubernetes/fake":
			t.Errorf("opsdeck links %s, every API group's fake client: the demo has its own client of the groups it calls", pkg)
		case pkg == "plugin":
			t.Errorf("opsdeck links Go's plugin package, which keeps every method in the binary: see go mod why plugin")
		case strings.HasPrefix(pkg, "k8s.io/kubectl/") || strings.HasPrefix(pkg, "k8s.io/cli-runtime/"):
			t.Errorf("opsdeck links %s: kubectl's semantics are in internal/rollout, its flags in cluster.KubeFlags", pkg)
		}
	}
	if testing.Short() {
		t.Skip("the size needs a build of the binary")
	}
	fi, err := os.Stat(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > binaryBudget {
		t.Errorf("the opsdeck binary is %d MiB, over its budget of %d MiB: what did the change link? (go tool nm -size -sort size)",
			fi.Size()>>20, binaryBudget>>20)
	}
}

package app

import (
	"os/exec"
	"strings"
	"testing"
)

// The UI shows what it is given: it imports no guard, no cluster client and no Prometheus
// client (auto-guard's verdicts and alerts come in the state stream's rounds).
func TestUIImportsNoGuardClusterOrMetrics(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/opsdeck/opsdeck/ui/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./ui/...: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"internal/guard", "internal/cluster", "internal/metrics"} {
			if pkg == "github.com/opsdeck/opsdeck/"+banned || strings.HasPrefix(pkg, "github.com/opsdeck/opsdeck/"+banned+"/") {
				t.Errorf("the UI depends on %s", pkg)
			}
		}
	}
}

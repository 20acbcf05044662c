package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// deployFromKeys selects the service on the row matching sel, then deploys image with d,
// enter and y.
func deployFromKeys(t *testing.T, term *tmuxTerm, service, from, image string) {
	t.Helper()
	for i := 0; i < 10 && !strings.Contains(term.screen(), "▶"+service); i++ {
		term.keys("j")
		time.Sleep(100 * time.Millisecond)
	}
	term.waitScreen(service+" selected", 5*time.Second, has("▶"+service))
	term.keys("d")
	term.waitScreen("the deploy prompt", 10*time.Second, has("deploy "+service, "> "+from))
	term.keys("C-u")
	term.typeText(image)
	term.keys("Enter")
	term.waitScreen("the confirmation", 10*time.Second, has(from+" -> "+image))
	term.keys("y")
}

// With --demo: a switches auto-guard on, a deploy of order-service:v2-bad from the keyboard
// breaches, the GUARD column counts down, and the guard rolls it back and holds it. The early
// verdict is off here, so that the rule's `for` decides and the countdown shows.
func TestConsoleGuardDemo(t *testing.T) {
	needTmux(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("guard:\n  early:\n    enabled: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	term := startTmux(t, 120, 40, consoleEnv(t), binary(t), "--demo", "--config", cfg)
	term.waitScreen("the demo", 15*time.Second, has("DEMO", "order-service", "auto-guard: off"))
	term.keys("a")
	term.waitScreen("auto-guard on", 5*time.Second, has("auto-guard: on"))
	deployFromKeys(t, term, "order-service", "order-service:v1", "order-service:v2-bad")

	countdown := regexp.MustCompile(`(?m)^▶order-service .* breach (\d+)s\s*$`)
	s := term.waitScreen("the breach countdown", 30*time.Second, matches(countdown))
	first := countdown.FindStringSubmatch(s)[1]
	term.waitScreen("the countdown to move", 10*time.Second, func(s string) bool {
		m := countdown.FindStringSubmatch(s)
		return m != nil && m[1] != first
	})
	term.waitScreen("the breach in the events pane", 5*time.Second, has("GuardBreaching", "errors > 5.0% for 20s"))
	s = term.waitScreen("the rollback", 40*time.Second, has("AutoRollback", "held"))
	if !regexp.MustCompile(`(?m)^▶order-service +\d+/\d+ v1 `).MatchString(s) {
		t.Errorf("order-service is not back on v1 after the rollback:\n%s", s)
	}
	if !strings.Contains(s, "AutoRollback deployment/order-service errors > 5.0% for 20s: revision 2 at ") {
		t.Errorf("the events pane does not say what was rolled back and why:\n%s", s)
	}
	// A human clears the hold: the guard watches the service again.
	term.keys("c")
	term.waitScreen("the hold cleared", 10*time.Second, has("hold on order-service cleared"))
	term.waitScreen("the guard watching again", 10*time.Second,
		matches(regexp.MustCompile(`(?m)^▶order-service .* (watching|stable)\s*$`)))
}

// With --demo and the defaults, the early verdict decides as it does live: the demo's pods count
// their requests from the same behaviour table, and v2-bad's 30 % of 5xx is rolled back within
// seconds, the reason naming the counts.
func TestConsoleGuardDemoEarlyVerdict(t *testing.T) {
	needTmux(t)
	term := startTmux(t, 120, 40, consoleEnv(t), binary(t), "--demo", "--guard")
	term.waitScreen("the demo with auto-guard on", 15*time.Second, has("DEMO", "order-service", "auto-guard: on"))
	deployFromKeys(t, term, "order-service", "order-service:v1", "order-service:v2-bad")
	deployed := time.Now()
	s := term.waitScreen("the early rollback", 20*time.Second, has("AutoRollback", "held"))
	took := time.Since(deployed)
	if !regexp.MustCompile(`(?m)^▶order-service +\d+/\d+ v1 `).MatchString(s) {
		t.Errorf("order-service is not back on v1 after the rollback:\n%s", s)
	}
	if !regexp.MustCompile(`AutoRollback deployment/order-service errors: \d+ of \d+ requests in`).MatchString(s) {
		t.Errorf("the rollback does not name the counted requests:\n%s", s)
	}
	if took > 15*time.Second {
		t.Errorf("the early verdict took %s: the 5xx rule's for (20s) decided instead", took.Round(time.Second))
	}
	t.Logf("demo: v2-bad deployed to rolled back on screen in %s", took.Round(100*time.Millisecond))
}

// Against the sandbox: the same, on a real Deployment and real Prometheus, and the audit log
// says the guard did it.
func TestConsoleGuardSandbox(t *testing.T) {
	needTmux(t)
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "shop-api", "shop-api:v1", 3)
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	term := startConsole(t, env, ns, auditLog, 120, 40, "--guard")
	term.waitScreen("the service and auto-guard on", 30*time.Second, has("shop-api", "auto-guard: on", "metrics ok"))
	deployFromKeys(t, term, "shop-api", "shop-api:v1", "shop-api:v2-bad")
	// The early verdict rolls back within seconds, often before a countdown is drawn.
	s := term.waitScreen("the rollback", 60*time.Second, has("AutoRollback", "held"))
	if !regexp.MustCompile(`(?m)^▶shop-api +\d+/\d+ v1 `).MatchString(s) {
		t.Errorf("shop-api is not back on v1:\n%s", s)
	}
	entries, err := audit.Read(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	var triggers []string
	for _, e := range audit.Outcomes(entries) {
		triggers = append(triggers, e.Action+"/"+e.Trigger+"/"+e.Result)
	}
	if strings.Join(triggers, " ") != "deploy/key/ok rollback/guard/ok" {
		t.Errorf("audit log %v, want the key's deploy then the guard's rollback", triggers)
	}
}

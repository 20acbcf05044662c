package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// The console and the CLI show the executor's plan: for the same deploy, the sentence
// `opsdeck deploy` asks about on a terminal is the very line the console's confirmation
// shows; and a bad image typed in the console's deploy dialog is refused before the y
// question, with the executor's one-line reason (the CLI's own), nothing changed.
func TestE2ETmuxPlanSentenceSameInConsoleAndCLI(t *testing.T) {
	needTmux(t)
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 2)
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	global := []string{"--kubeconfig", env.Kubeconfig, "-n", ns, "--audit-log", auditLog}

	// The CLI on a terminal: the plan's sentence, then the question; n cancels.
	cli := startTmux(t, 160, 10, consoleEnv(t), append(append([]string{binary(t)}, global...), "deploy", "web", "web:v2")...)
	s := cli.waitScreen("the CLI's question", 30*time.Second, has("Proceed? [y/N]"))
	m := regexp.MustCompile(`(?m)^deploy web in namespace \S+ \(.*\):\n  (.+)$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no plan sentence in the CLI's confirmation:\n%s", s)
	}
	sentence := strings.TrimSpace(m[1])
	if sentence != "deploy web: web:v1 -> web:v2 (revision 1 -> 2)" {
		t.Fatalf("CLI sentence %q", sentence)
	}
	cli.keys("n", "Enter")
	cli.waitScreen("the CLI to cancel", 10*time.Second, has("deploy web cancelled"))

	// --dry-run prints the same sentence and changes nothing.
	if r := opsdeck(t, nil, append(global, "deploy", "web", "web:v2", "--dry-run")...); r.code != 0 ||
		r.stdout != sentence+"\n(dry run: nothing was changed)\n" {
		t.Fatalf("deploy --dry-run: %+v", r)
	}

	// The CLI refuses a bad image in one line.
	r := opsdeck(t, nil, append(global, "deploy", "web", "Web:v2", "--yes")...)
	reason := strings.TrimPrefix(oneLineFailure(t, r), "opsdeck: ")

	term := startConsole(t, env, ns, auditLog, 120, 40)
	term.waitScreen("the services pane to show web", 30*time.Second, has("▶web", "metrics ok"))
	term.keys("d")
	term.waitScreen("the deploy prompt", 10*time.Second, has("new image (now web:v1):", "> web:v1"))
	term.keys("C-u")
	term.waitScreen("the prompt to be cleared", 10*time.Second, func(s string) bool { return !strings.Contains(s, "> web:v1") })
	term.typeText("Web:v2")
	term.keys("Enter")
	s = term.waitScreen("the executor's refusal in the dialog", 10*time.Second, has("✗ "+reason))
	if strings.Contains(s, "deploy web?") || strings.Contains(s, "confirm") {
		t.Fatalf("a question was asked for a bad image:\n%s", s)
	}

	// The same deploy as the CLI's: the confirmation shows the CLI's sentence verbatim.
	term.keys("C-u")
	term.typeText("web:v2")
	term.keys("Enter")
	s = term.waitScreen("the confirmation", 10*time.Second, has("deploy web?", "y confirm"))
	if !strings.Contains(s, "│ "+sentence+" ") {
		t.Fatalf("the console's confirmation lacks the CLI's sentence %q:\n%s", sentence, s)
	}
	term.keys("Escape")
	term.waitScreen("the dialog to close", 10*time.Second, func(s string) bool { return !strings.Contains(s, "deploy web?") })

	// Nothing was executed: no audit line, web still at v1.
	if entries, err := audit.Read(auditLog); err == nil && len(entries) != 0 {
		t.Fatalf("audit lines: %+v", entries)
	}
	d, err := env.Client(t).AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Template.Spec.Containers[0].Image != "web:v1" || d.Generation != 1 {
		t.Fatalf("web changed: %s, generation %d", d.Spec.Template.Spec.Containers[0].Image, d.Generation)
	}
	term.keys("q")
	term.waitExit("after q", 10*time.Second)
}

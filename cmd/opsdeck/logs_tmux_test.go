package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// The l key in a real terminal: a crash-looping pod opens on its previous container, with the
// panic; a healthy pod's lines follow live; q and esc return to the services pane. The t key
// writes the service's timeline and shows its path.
func TestE2ETmuxLogsAndTimeline(t *testing.T) {
	needTmux(t)
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	env.CreateDeployment(t, ns, "ok", "ok:v1", 2)
	env.CreateDeployment(t, ns, "cr", "cr:v1", 2)
	setImage(t, client, ns, "cr", "cr:v2-crash")
	sandbox.WaitFor(t, 60*time.Second, "a crash-looping pod that restarted", func() (bool, string) {
		pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, p := range pods.Items {
			for _, c := range p.Status.ContainerStatuses {
				if c.Image == "cr:v2-crash" && c.RestartCount > 0 && c.State.Waiting != nil && c.State.Waiting.Reason == "CrashLoopBackOff" {
					return true, ""
				}
			}
		}
		return false, "no restart yet"
	})
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	term := startConsole(t, env, ns, auditLog, 120, 40)
	term.waitScreen("both services", 30*time.Second, has("ok ", "cr "))

	selectService := func(name string) {
		term.keys("/")
		term.typeText(name)
		term.keys("Enter")
		term.waitScreen(name+" selected", 10*time.Second, matches(regexp.MustCompile(`(?m)^▶`+name+` `)))
	}

	selectService("cr")
	term.keys("l")
	term.waitScreen("the crash loop's panic in the previous container", 60*time.Second,
		has("logs: cr", "previous container", "panic: runtime error: invalid memory address", "goroutine 1 [running]"))
	term.keys("q")
	term.waitScreen("the services pane again", 10*time.Second, func(s string) bool {
		return !strings.Contains(s, "logs: cr") && strings.Contains(s, "services ")
	})
	if dead, _ := term.exited(); dead {
		t.Fatal("q in the logs view quit the console")
	}

	term.keys("Escape") // clear the filter
	term.waitScreen("the filter cleared", 10*time.Second, func(s string) bool { return !strings.Contains(s, `filter "cr"`) })
	selectService("ok")
	term.keys("l")
	seq := regexp.MustCompile(`request_id=[a-z0-9]{5}-(\d+)`)
	highest := func(s string) int {
		n := 0
		for _, m := range seq.FindAllStringSubmatch(s, -1) {
			if v, _ := strconv.Atoi(m[1]); v > n {
				n = v
			}
		}
		return n
	}
	first := highest(term.waitScreen("the healthy pod's lines", 30*time.Second, has("logs: ok", "following", "INFO GET /api/items/")))
	term.waitScreen("newer lines, live", 15*time.Second, func(s string) bool { return highest(s) >= first+3 })
	term.keys("/")
	term.typeText("items/1")
	term.keys("Enter")
	term.waitScreen("the search", 10*time.Second, has(`search "items/1"`))
	term.keys("Escape") // clears the search
	term.waitScreen("the search cleared", 10*time.Second, func(s string) bool { return !strings.Contains(s, `search "items/1"`) })
	term.keys("Escape") // back
	term.waitScreen("the services pane after esc", 10*time.Second, func(s string) bool {
		return !strings.Contains(s, "logs: ok") && strings.Contains(s, "services ")
	})

	term.keys("t")
	s := term.waitScreen("the timeline's path", 60*time.Second, has("timeline of ok written to "+filepath.Dir(auditLog)))
	// The status line may be cut at the terminal's width: find the file by its folder.
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(auditLog), "timelines", ns+"_ok_*.md"))
	if len(files) != 1 {
		t.Fatalf("timeline files %v; screen:\n%s", files, s)
	}
	b, err := os.ReadFile(files[0])
	if err != nil || !strings.Contains(string(b), "# Timeline of "+ns+"/ok") {
		t.Errorf("timeline file: %v\n%s", err, b)
	}
	term.keys("q")
	term.waitExit("after q", 10*time.Second)
}

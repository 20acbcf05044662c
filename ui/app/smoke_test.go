package app

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/opsdeck/opsdeck/internal/demo"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/keys/keytest"
)

// recorder wraps the console and keeps the last screen it rendered, so the test can wait
// for what the user would see.
type recorder struct {
	Model
	screen *atomic.Value
}

func (r recorder) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := r.Model.Update(msg)
	r.Model = m.(Model)
	return r, cmd
}

func (r recorder) View() tea.View {
	v := r.Model.View()
	r.screen.Store(plain(v.Content))
	return v
}

// TestSmokeDeployToComplete runs the whole program (teatest, 80x24, no colour) on the demo
// backend with a clock running 50 times faster than real time: d, a new image, enter, y,
// and the rollout pane reaches complete at the new revision.
func TestSmokeDeployToComplete(t *testing.T) {
	clock := demo.NewManualClock(t0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := newDemo(t, ctx, clock)
	b.SetPollInterval(10 * time.Millisecond)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				clock.Advance(time.Second)
			}
		}
	}()
	screen := &atomic.Value{}
	screen.Store("")
	m := recorder{Model: New(b, Options{Clock: clock, Refresh: 50 * time.Millisecond, Thresholds: testThresholds}), screen: screen}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	waitScreen := func(what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond(screen.Load().(string)) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; screen:\n%s", what, screen.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	contains := func(s string) func(string) bool { return func(x string) bool { return strings.Contains(x, s) } }

	waitScreen("the services", contains("▶cart-service"))
	waitScreen("metrics", contains("metrics ok"))
	tm.Send(keytest.Press("d"))
	waitScreen("the deploy prompt", contains("new image (now cart-service:v1)"))
	tm.Send(keytest.Press("ctrl+u"))
	tm.Type("cart-service:v2")
	tm.Send(keytest.Press("enter"))
	waitScreen("the confirmation", contains("cart-service:v1 -> cart-service:v2"))
	tm.Send(keytest.Press("y"))
	waitScreen("the action's result", contains("deployed cart-service:v2"))
	waitScreen("the rollout to complete", contains("r2 cart-service:v2  complete"))

	// The terminal got the same screen (teatest's output, in plain ASCII).
	teatest.WaitFor(t, tm.Output(), func(bts []byte) bool { return strings.Contains(string(bts), "complete") },
		teatest.WithDuration(5*time.Second))
	tm.Send(keytest.Press("q"))
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(recorder)
	svc, ok := final.state.FindByName("shop", "cart-service")
	if !ok || svc.Revision != 2 || svc.Phase != domain.PhaseComplete || svc.Image != "cart-service:v2" {
		t.Fatalf("final cart-service: %+v", svc)
	}
	if final.ctx.Err() == nil {
		t.Fatal("quitting left the watch running")
	}
}

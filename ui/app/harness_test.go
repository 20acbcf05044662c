package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/opsdeck/opsdeck/internal/demo"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/keys/keytest"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// t0 is the fixed start of every test's manual clock.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// testThresholds are the limits the tests colour and alert against.
var testThresholds = domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
	domain.MetricErrorRatio: {Metric: domain.MetricErrorRatio, Value: 0.05, For: 4 * time.Second, Rollback: true},
	domain.MetricLatencyP99: {Metric: domain.MetricLatencyP99, Value: 1.0, For: 30 * time.Second},
	domain.MetricCPU:        {Metric: domain.MetricCPU, Value: 0.8, For: 30 * time.Second},
	domain.MetricMemory:     {Metric: domain.MetricMemory, Value: 512 << 20, For: 30 * time.Second},
}}

// harness drives a Model like the program does, but on the test's goroutine: it runs the
// commands Update returns in goroutines and feeds their messages back one at a time.
// Refresh is an hour, so ticks never fire on their own; tests send them.
type harness struct {
	t     *testing.T
	m     Model
	b     *demo.Backend
	clock *demo.ManualClock
	msgs  chan tea.Msg
	ctx   context.Context
}

func newHarness(t *testing.T, w, h int, o Options, demoOpts ...demo.Option) *harness {
	t.Helper()
	clock := demo.NewManualClock(t0)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b := newDemo(t, ctx, clock, demoOpts...)
	b.SetPollInterval(2 * time.Millisecond)
	o.Clock = clock
	o.Refresh = time.Hour
	if o.Thresholds.Default == nil {
		o.Thresholds = testThresholds
	}
	if o.Judge == nil && o.Rounds == nil {
		o.Judge = alertJudge(o.Thresholds)
	}
	hs := &harness{t: t, b: b, clock: clock, msgs: make(chan tea.Msg, 64), ctx: ctx}
	hs.m = newModel(ctx, b, o).withTheme(theme.Plain())
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(hs.m.Init())
	return hs
}

// newDemo starts the demo backend on clock for ctx's life, its audit log in the test's
// temporary directory.
func newDemo(t *testing.T, ctx context.Context, clock *demo.ManualClock, opts ...demo.Option) *demo.Backend {
	t.Helper()
	opts = append([]demo.Option{demo.WithAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}, opts...)
	b, err := demo.New(ctx, clock, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		if msg == nil {
			return
		}
		select {
		case h.msgs <- msg:
		case <-h.ctx.Done():
		}
	}()
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			h.run(c)
		}
		return
	}
	if _, ok := msg.(tea.QuitMsg); ok {
		return
	}
	m, cmd := h.m.Update(msg)
	h.m = m.(Model)
	h.run(cmd)
}

// until feeds messages until cond holds, or fails the test after a few seconds.
func (h *harness) until(what string, cond func(m Model) bool) {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	recheck := time.NewTicker(5 * time.Millisecond) // for conditions that no message signals
	defer recheck.Stop()
	for !cond(h.m) {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-recheck.C:
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, h.screen())
		}
	}
}

// press sends keys: single characters, or names like "enter", "esc", "tab", "backspace". A key
// that asked the executor for a plan waits for its answer, as a person waits for the question.
func (h *harness) press(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.send(keytest.Press(k))
		h.until("the executor's plan", func(m Model) bool { return m.flow.stage != stagePlanning })
	}
}

// typeText types each character of s.
func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// synced waits until the model shows the backend's state at the clock's time.
func (h *harness) synced() {
	h.t.Helper()
	want := h.b.State()
	h.until("the state at "+h.clock.Now().Format(time.TimeOnly), func(m Model) bool {
		if !m.haveState || len(m.state.Services) != len(want.Services) {
			return false
		}
		for i := range want.Services {
			if observed(m.state.Services[i]) != observed(want.Services[i]) {
				return false
			}
		}
		return true
	})
}

// observed is what the watch shows of a service: its objects' resourceVersions, and its
// ReplicaSets and pods (a pod's status can change without its Deployment's).
func observed(s domain.Service) string {
	return s.ResourceVersion + fmt.Sprintf("%v", s.ReplicaSets)
}

// refresh runs one metrics poll at the clock's time and waits for its frame.
func (h *harness) refresh() {
	h.t.Helper()
	h.synced()
	h.until("no poll in flight", func(m Model) bool { return !m.polling })
	h.send(tickMsg{id: h.m.tickID})
	now, gen := h.clock.Now(), h.m.pollGen
	h.until("a frame at "+now.Format(time.TimeOnly), func(m Model) bool {
		return !m.polling && m.pollGen == gen && m.frame.At.Equal(now)
	})
}

// settle waits for the first state, frame, backfill and revisions of the selected service.
func (h *harness) settle() {
	h.t.Helper()
	h.refresh()
	h.until("backfill and revisions", func(m Model) bool {
		svc, ok := m.selected()
		if !ok {
			return false
		}
		r, have := m.revisions[svc.Key()]
		_, asking := m.revAsked[svc.Key()]
		return have && r.stamp == historyStamp(svc) && !asking && len(m.store.Points(svc.Key(), domain.MetricRequestRate)) > 10
	})
}

// step advances the clock by d in refresh-sized steps, polling metrics at each.
func (h *harness) step(d, every time.Duration) {
	h.t.Helper()
	for end := h.clock.Now().Add(d); h.clock.Now().Before(end); {
		h.clock.Advance(every)
		h.refresh()
	}
}

// screen is the rendered screen without ANSI sequences, trailing spaces trimmed.
func (h *harness) screen() string {
	return plain(h.m.View().Content)
}

func plain(s string) string {
	lines := strings.Split(ansi.Strip(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func resize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

package app

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/demo"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/imageref"
	"github.com/opsdeck/opsdeck/ui/components/dialog"
	"github.com/opsdeck/opsdeck/ui/keys/keytest"
)

func selectedName(m Model) string {
	s, _ := m.selected()
	return s.Name
}

func TestSelectionKeys(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	if got := selectedName(h.m); got != "cart-service" {
		t.Fatalf("first selected %q", got)
	}
	h.press("j", "down")
	if got := selectedName(h.m); got != "inventory-service" {
		t.Fatalf("after j, down: %q", got)
	}
	h.press("k")
	if got := selectedName(h.m); got != "gateway" {
		t.Fatalf("after k: %q", got)
	}
	h.press("G")
	if got := selectedName(h.m); got != "payment-service" {
		t.Fatalf("after G: %q", got)
	}
	h.press("j") // stays on the last row
	if got := selectedName(h.m); got != "payment-service" {
		t.Fatalf("past the end: %q", got)
	}
	h.press("up", "g")
	if got := selectedName(h.m); got != "cart-service" {
		t.Fatalf("after g: %q", got)
	}
	// Selecting a service backfills its history once.
	h.press("j")
	h.settle()
	if !h.m.backfill["shop/gateway"] || len(h.m.store.Points("shop/gateway", domain.MetricLatencyP99)) < 100 {
		t.Fatal("gateway's history was not backfilled")
	}
}

func TestFilter(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	h.press("/")
	h.typeText("PAY")
	if !h.m.table.Filtering() || h.m.table.Len() != 1 || selectedName(h.m) != "payment-service" {
		t.Fatalf("filter PAY: filtering %v, %d rows, selected %q", h.m.table.Filtering(), h.m.table.Len(), selectedName(h.m))
	}
	if !strings.Contains(h.screen(), "/PAY") {
		t.Error("the filter input is not shown")
	}
	h.press("enter")
	if h.m.table.Filtering() || h.m.table.Len() != 1 || !strings.Contains(h.screen(), `filter "pay"`) {
		t.Fatalf("enter should keep the filter:\n%s", h.screen())
	}
	h.press("/", "backspace", "backspace", "backspace")
	h.typeText("zzz")
	if h.m.table.Len() != 0 || !strings.Contains(h.screen(), `no service name contains "zzz"`) {
		t.Fatalf("no match:\n%s", h.screen())
	}
	h.press("esc")
	if h.m.table.Filtering() || h.m.table.Len() != 5 {
		t.Fatalf("esc should clear the filter: %d rows", h.m.table.Len())
	}
}

func TestSortCycles(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	h.press("j", "j", "j")
	h.settle()
	h.press("d", "backspace", "backspace")
	h.typeText("v2-bad")
	h.press("enter", "y")
	h.until("deployed", func(m Model) bool { return m.pending == 0 })
	h.step(10*time.Second, 2*time.Second)
	h.press("o")
	if h.m.table.Sort().String() != "errors" {
		t.Fatalf("sort %s", h.m.table.Sort())
	}
	vis := h.m.table.Visible()
	if vis[0].Name != "order-service" {
		t.Fatalf("sorted by errors, first is %s", vis[0].Name)
	}
	prev := 1.0
	for _, s := range vis {
		v := h.m.frame.Services[s.Key()][domain.MetricErrorRatio]
		if v > prev {
			t.Fatalf("not descending at %s: %v > %v", s.Name, v, prev)
		}
		prev = v
	}
	if selectedName(h.m) != "order-service" {
		t.Fatal("sorting lost the selection")
	}
	h.press("o", "o", "o")
	if h.m.table.Sort().String() != "name" || h.m.table.Visible()[0].Name != "cart-service" {
		t.Fatal("sort did not cycle back to name")
	}
}

func TestDeployExecutesThroughBackend(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	h.press("j", "j", "j", "d")
	if h.m.dialog == nil || h.m.dialog.Kind() != dialog.Input || h.m.dialog.Value() != "order-service:v1" {
		t.Fatalf("deploy input not open with the current image")
	}
	h.press("esc")
	if h.m.dialog != nil {
		t.Fatal("esc did not cancel")
	}
	if st := h.b.State(); st.Services[3].Revision != 1 {
		t.Fatal("cancel changed the service")
	}
	h.press("d", "ctrl+u")
	h.typeText("registry.local:5000/shop/order-service:v2")
	h.press("enter")
	if h.m.dialog == nil || h.m.dialog.Kind() != dialog.Confirm {
		t.Fatal("no confirmation after a valid image")
	}
	h.press("n")
	if h.m.dialog != nil || h.m.pending != 0 {
		t.Fatal("n should cancel the confirmation without acting")
	}
	h.press("d", "ctrl+u")
	h.typeText("order-service:v2")
	h.press("enter", "y")
	if h.m.dialog != nil || h.m.pending != 1 {
		t.Fatal("y did not send the action")
	}
	h.until("the action's result", func(m Model) bool { return m.pending == 0 })
	ev := h.m.events.Entries()[0]
	// The executor's own result.
	if ev.Source != domain.SourceAction || !strings.Contains(ev.Message, "deployed order-service:v2 to order-service") {
		t.Fatalf("events pane: %+v", ev)
	}
	if !strings.Contains(h.screen(), "• deployed order-service:v2 to order-service (container") {
		t.Fatalf("status line:\n%s", h.screen())
	}
	h.step(8*time.Second, 2*time.Second)
	svc, _ := h.m.selected()
	if svc.Revision != 2 || svc.Phase != domain.PhaseComplete || svc.Image != "order-service:v2" {
		t.Fatalf("rollout pane follows the watch: rev %d phase %s image %s", svc.Revision, svc.Phase, svc.Image)
	}
}

func TestDeployRejectsBadImageInPlace(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	h.press("d", "ctrl+u")
	h.typeText("Cart-Service:v2")
	h.press("enter")
	if h.m.dialog == nil || h.m.dialog.Kind() != dialog.Input {
		t.Fatal("a bad image closed the input")
	}
	// The executor's own one-line reason, before any confirmation is asked.
	if h.m.dialog.Err() != imageref.Validate("Cart-Service:v2").Error() || !strings.Contains(h.screen(), "✗ invalid image reference") {
		t.Fatalf("error %q, screen:\n%s", h.m.dialog.Err(), h.screen())
	}
	// Fixing the input clears the error as it is typed.
	h.press("ctrl+u")
	h.typeText("cart-service:v3")
	if h.m.dialog.Err() != "" {
		t.Fatalf("error stays: %q", h.m.dialog.Err())
	}
	h.press("ctrl+u")
	h.typeText("cart-service:v1")
	h.press("enter")
	if !strings.Contains(h.m.dialog.Err(), "already runs") {
		t.Fatalf("same image accepted: %q", h.m.dialog.Err())
	}
}

// The console judges no image itself: a bad image typed in the deploy dialog goes to the
// backend's Plan (the executor's gate), and its one-line refusal shows in the dialog, before
// the y question is ever asked and with nothing executed.
func TestDeployDialogShowsTheExecutorsRefusal(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	rec := &recordingPlanner{Backend: h.b, refuse: "refusing to deploy cart-service: the registry says no such tag (from the executor)"}
	h.m.backend = rec
	h.press("d", "ctrl+u")
	h.typeText("cart-service:v9")
	h.press("enter")
	if len(rec.planned) != 1 || rec.planned[0].Image != "cart-service:v9" || rec.planned[0].Kind != domain.ActionDeploy {
		t.Fatalf("the console did not ask the executor for a plan: %+v", rec.planned)
	}
	if h.m.dialog == nil || h.m.dialog.Kind() != dialog.Input || h.m.dialog.Err() != rec.refuse {
		t.Fatalf("refusal not shown in the input: %+v", h.m.dialog)
	}
	s := h.screen()
	if !strings.Contains(s, "✗ refusing to deploy cart-service:") || strings.Contains(s, "confirm") || strings.Contains(s, "deploy cart-service?") {
		t.Fatalf("want the refusal and no question, screen:\n%s", s)
	}
	// A bad reference through the same path: the demo plans with the executor's validator.
	rec.refuse = ""
	h.press("ctrl+u")
	h.typeText("Cart-Service:v2")
	h.press("enter")
	if h.m.dialog.Err() != imageref.Validate("Cart-Service:v2").Error() || strings.Contains(h.screen(), "confirm") {
		t.Fatalf("error %q, screen:\n%s", h.m.dialog.Err(), h.screen())
	}
	if len(rec.planned) != 2 || rec.executed != 0 {
		t.Fatalf("planned %d, executed %d", len(rec.planned), rec.executed)
	}
}

// recordingPlanner records the plans asked, refuses them when refuse is set, and counts the
// executions.
type recordingPlanner struct {
	*demo.Backend
	refuse   string
	planned  []domain.Action
	executed int
}

func (r *recordingPlanner) Plan(ctx context.Context, a domain.Action) (domain.Plan, error) {
	r.planned = append(r.planned, a)
	if r.refuse != "" {
		return domain.Plan{Action: a}, errors.New(r.refuse)
	}
	return r.Backend.Plan(ctx, a)
}

func (r *recordingPlanner) Execute(ctx context.Context, a domain.Action) (domain.Result, error) {
	r.executed++
	return r.Backend.Execute(ctx, a)
}

func TestDeployChoosesContainer(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	h.press("j", "d") // gateway has a sidecar
	if h.m.dialog == nil || h.m.dialog.Kind() != dialog.Choice {
		t.Fatal("no container choice for a pod with two containers")
	}
	h.press("j", "enter")
	if h.m.dialog == nil || h.m.dialog.Value() != "envoyproxy/envoy:v1.30.1" {
		t.Fatalf("input not prefilled with the sidecar's image")
	}
	h.press("ctrl+u")
	h.typeText("envoyproxy/envoy:v1.31.0")
	h.press("enter")
	if !strings.Contains(h.screen(), "container envoy") {
		t.Fatalf("confirmation does not name the container:\n%s", h.screen())
	}
	h.press("y")
	h.until("result", func(m Model) bool { return m.pending == 0 })
	h.synced()
	svc, _ := h.m.selected()
	if svc.Containers[1].Image != "envoyproxy/envoy:v1.31.0" || svc.Containers[0].Image != "gateway:v1" {
		t.Fatalf("containers %+v", svc.Containers)
	}
}

func TestRollbackDuringStalledRollout(t *testing.T) {
	h := newHarness(t, 120, 40, Options{})
	h.settle()
	h.press("G", "d", "ctrl+u")
	h.typeText("payment-service:v2-crash")
	h.press("enter", "y")
	h.until("deployed", func(m Model) bool { return m.pending == 0 })
	h.clock.Advance(61 * time.Second)
	h.refresh()
	svc, _ := h.m.selected()
	if svc.Phase != domain.PhaseStalled {
		t.Fatalf("phase %s", svc.Phase)
	}
	s := h.screen()
	if !strings.Contains(s, "! ProgressDeadlineExceeded") || !strings.Contains(s, "stalled") || !strings.Contains(s, "CrashLoopBackOff") {
		t.Fatalf("stall not shown:\n%s", s)
	}
	h.press("r")
	h.until("the revision picker", func(m Model) bool { return m.dialog != nil })
	if h.m.dialog.Kind() != dialog.Choice || h.m.dialog.Index() != 1 {
		t.Fatalf("picker should default to the previous revision, at %d", h.m.dialog.Index())
	}
	h.press("enter")
	if !strings.Contains(h.screen(), "r2 payment-service:v2-crash -> r1 payment-service:v1") {
		t.Fatalf("confirmation:\n%s", h.screen())
	}
	h.press("y")
	h.until("result", func(m Model) bool { return m.pending == 0 })
	h.refresh()
	svc, _ = h.m.selected()
	if svc.Revision != 3 || svc.Image != "payment-service:v1" || svc.Phase != domain.PhaseComplete {
		t.Fatalf("after rollback: rev %d image %s phase %s", svc.Revision, svc.Image, svc.Phase)
	}
}

func TestReadOnlyRefusesInPlace(t *testing.T) {
	h := newHarness(t, 80, 24, Options{ReadOnly: true})
	h.settle()
	for _, k := range []string{"d", "r", "p", "R", "s"} {
		h.press(k)
		if h.m.dialog != nil || h.m.pending != 0 {
			t.Fatalf("%s acted in read-only mode", k)
		}
		if !strings.Contains(h.m.status.Text(), "read-only") {
			t.Fatalf("%s: status %q", k, h.m.status.Text())
		}
	}
	s := h.screen()
	if !strings.Contains(s, "✗ read-only mode: refusing to scale cart-service (started with --readonly)") || !strings.Contains(s, "READ-ONLY") {
		t.Fatalf("screen:\n%s", s)
	}
}

func TestPauseResumeRestartScale(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	h.press("p")
	h.until("pause", func(m Model) bool { return m.pending == 0 })
	h.synced()
	if svc, _ := h.m.selected(); !svc.Paused || svc.Phase != domain.PhasePaused {
		t.Fatal("p did not pause")
	}
	h.press("p")
	h.until("resume", func(m Model) bool { return m.pending == 0 })
	h.synced()
	if svc, _ := h.m.selected(); svc.Paused {
		t.Fatal("p did not resume")
	}
	h.press("R")
	if h.m.dialog == nil || h.m.dialog.Kind() != dialog.Confirm {
		t.Fatal("restart asks for confirmation")
	}
	h.press("y")
	h.until("restart", func(m Model) bool { return m.pending == 0 })
	h.synced()
	if svc, _ := h.m.selected(); svc.Revision != 2 {
		t.Fatalf("restart: revision %d", svc.Revision)
	}
	h.press("s", "backspace")
	h.typeText("x")
	h.press("enter")
	if !strings.Contains(h.m.dialog.Err(), "whole number") {
		t.Fatalf("scale accepted x: %q", h.m.dialog.Err())
	}
	h.press("backspace")
	h.typeText("5")
	h.press("enter")
	if !strings.Contains(h.screen(), "3 -> 5 replicas") {
		t.Fatalf("scale confirmation:\n%s", h.screen())
	}
	h.press("y")
	h.until("scale", func(m Model) bool { return m.pending == 0 })
	h.synced()
	if svc, _ := h.m.selected(); svc.Desired != 5 {
		t.Fatalf("desired %d", svc.Desired)
	}
}

func TestPollsAreTaggedAndNeverOverlap(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	gen := h.m.pollGen
	h.send(tickMsg{id: h.m.tickID})
	if !h.m.polling || h.m.pollGen != gen+1 {
		t.Fatal("a tick did not start a poll")
	}
	h.send(tickMsg{id: h.m.tickID})
	if h.m.pollGen != gen+1 {
		t.Fatal("a second poll started while one was in flight")
	}
	h.send(tickMsg{id: h.m.tickID + 7})
	if h.m.pollGen != gen+1 {
		t.Fatal("a stale tick started a poll")
	}
	stale := domain.MetricsFrame{At: t0.Add(time.Hour), Services: map[string]domain.Values{"shop/cart-service": {domain.MetricCPU: 99}}}
	h.send(frameMsg{gen: gen, round: domain.Round{Frame: stale}})
	if h.m.frame.At.Equal(stale.At) || !h.m.polling {
		t.Fatal("a stale frame was applied")
	}
	h.until("the poll", func(m Model) bool { return !m.polling })
}

func TestGuardToggleAndStates(t *testing.T) {
	var calls atomic.Int32
	var last atomic.Bool
	h := newHarness(t, 80, 24, Options{OnGuardToggle: func(on bool) { calls.Add(1); last.Store(on) }})
	h.settle()
	h.press("a")
	if !h.m.guardOn || !strings.Contains(h.screen(), "auto-guard: on") {
		t.Fatal("a did not switch auto-guard on")
	}
	h.until("the hook", func(Model) bool { return calls.Load() == 1 })
	if !last.Load() {
		t.Fatal("hook called with off")
	}
	h.send(GuardStatesMsg{States: map[string]string{"shop/order-service": "watch"}, Status: "1 watching"})
	s := h.screen()
	if !strings.Contains(s, "watch\n") && !strings.Contains(s, " watch") {
		t.Fatalf("GUARD column not filled:\n%s", s)
	}
	if !strings.Contains(s, "auto-guard: on 1 watching") {
		t.Fatalf("guard status not in the header:\n%s", s)
	}
	h.send(ToggleGuardMsg{On: false})
	if h.m.guardOn || calls.Load() != 1 {
		t.Fatal("ToggleGuardMsg should set the state without calling the hook")
	}
}

func TestKeyOverrides(t *testing.T) {
	h := newHarness(t, 80, 24, Options{KeyOverrides: map[string][]string{"deploy": {"D"}}})
	h.settle()
	h.press("d")
	if h.m.dialog != nil {
		t.Fatal("d still deploys after rebinding")
	}
	h.press("D")
	if h.m.dialog == nil {
		t.Fatal("D does not deploy")
	}
	bad := newHarness(t, 80, 24, Options{KeyOverrides: map[string][]string{"deplo": {"x"}}})
	if !strings.Contains(bad.m.status.Text(), `unknown action "deplo"`) {
		t.Fatalf("status %q", bad.m.status.Text())
	}
}

func TestHelpDetailsFocusQuit(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	h.press("?")
	if !h.m.help.IsOpen() || !strings.Contains(h.screen(), "pause/resume") {
		t.Fatalf("help:\n%s", h.screen())
	}
	h.press("esc")
	if h.m.help.IsOpen() {
		t.Fatal("esc did not close help")
	}
	h.press("tab")
	if h.m.focus.pane != paneMetrics || !strings.Contains(h.screen(), "▶ metrics") {
		t.Fatal("tab did not focus metrics")
	}
	h.press("tab", "tab", "tab")
	if h.m.focus.pane != paneServices {
		t.Fatal("tab does not cycle")
	}
	h.press("enter")
	if !h.m.focus.details || !strings.Contains(h.screen(), "details: cart-service") {
		t.Fatalf("details:\n%s", h.screen())
	}
	h.press("esc")
	if h.m.focus.details {
		t.Fatal("esc did not leave details")
	}
	_, cmd := h.m.Update(keytest.Press("q"))
	if cmd == nil {
		t.Fatal("q returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q does not quit")
	}
	if h.m.ctx.Err() == nil {
		t.Fatal("quitting did not stop the watch")
	}
}

func TestAlertsRaiseAndResolve(t *testing.T) {
	a, al := newAlerts(), &guard.Alerter{Thresholds: testThresholds}
	svcs := []domain.Service{{Namespace: "shop", Name: "order-service"}}
	frame := func(sec int, ratio float64) domain.MetricsFrame {
		return domain.MetricsFrame{At: t0.Add(time.Duration(sec) * time.Second), Services: map[string]domain.Values{
			"shop/order-service": {domain.MetricErrorRatio: ratio},
		}}
	}
	var got []string
	for i, r := range []float64{0.001, 0.3, 0.3, 0.3, 0.3, 0.2, 0.001, 0.001} {
		f := frame(i*2, r)
		for _, e := range a.observe(testThresholds, svcs, f.At, al.Evaluate(f.At, svcs, f)) {
			got = append(got, e.Reason+"@"+e.Time.Format("05"))
		}
	}
	want := []string{"ThresholdBreached@59", "Resolved@05"} // breached from 55 s, For 4 s
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want %v", got, want)
	}
	if a.active() != 0 {
		t.Fatal("alert still firing")
	}
}

// failing is a backend whose metrics and actions fail, to check errors become screen state.
type failing struct{ *harness }

func (f failing) Identity() domain.Identity { return f.b.Identity() }
func (f failing) Watch(ctx context.Context) <-chan domain.ClusterState {
	return f.b.Watch(ctx)
}
func (f failing) Metrics(context.Context, []domain.Service) domain.MetricsFrame {
	return domain.MetricsFrame{At: f.clock.Now(), Err: errors.New("prometheus: connection refused")}
}
func (f failing) History(context.Context, domain.Service, time.Duration, time.Duration) ([]domain.Series, error) {
	return nil, errors.New("prometheus: connection refused")
}
func (f failing) Revisions(ctx context.Context, s domain.Service) ([]domain.Revision, error) {
	return f.b.Revisions(ctx, s)
}
func (f failing) Plan(ctx context.Context, a domain.Action) (domain.Plan, error) {
	return f.b.Plan(ctx, a)
}
func (f failing) Execute(context.Context, domain.Action) (domain.Result, error) {
	return domain.Result{}, errors.New("deployments.apps \"cart-service\" is forbidden: user demo cannot patch")
}

func TestErrorsBecomeState(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.m = newModel(h.ctx, failing{h}, Options{Clock: h.clock, Refresh: time.Hour, Thresholds: testThresholds}).withTheme(h.m.theme)
	h.send(resize(80, 24))
	h.run(h.m.Init())
	h.synced()
	h.until("a failed frame", func(m Model) bool { return m.haveFrame })
	s := h.screen()
	if !strings.Contains(s, "metrics stale: prometheus: connection refused") {
		t.Fatalf("header:\n%s", s)
	}
	h.press("p")
	h.until("the failed action", func(m Model) bool { return m.pending == 0 && len(m.events.Entries()) > 0 })
	ev := h.m.events.Entries()[0]
	if ev.Type != "Warning" || !strings.Contains(ev.Message, "forbidden") {
		t.Fatalf("event %+v", ev)
	}
	if !strings.Contains(h.screen(), "✗ pause cart-service failed: deployments.apps") {
		t.Fatalf("status:\n%s", h.screen())
	}
}

// A deploy confirmed on what the screen showed is refused if the service moved between the
// dialog and the "y" (here another deploy landed): the action carries the revision seen.
func TestConfirmedDeployRefusedWhenTheServiceMoved(t *testing.T) {
	h := newHarness(t, 100, 30, Options{})
	h.settle()
	h.press("j", "j", "j", "d", "ctrl+u")
	h.typeText("order-service:v2")
	h.press("enter")
	if h.m.dialog == nil || h.m.dialog.Kind() != dialog.Confirm {
		t.Fatal("no confirmation")
	}
	// Someone else deploys meanwhile.
	if _, err := h.b.Execute(context.Background(), domain.Action{Kind: domain.ActionDeploy, Namespace: "shop", Service: "order-service",
		Image: "order-service:v3", Trigger: domain.TriggerCLI}); err != nil {
		t.Fatal(err)
	}
	h.press("y")
	h.until("the action's result", func(m Model) bool { return m.pending == 0 })
	ev := h.m.events.Entries()[0]
	if ev.Type != "Warning" || !strings.Contains(ev.Message, "changed since you confirmed: order-service: revision 2, not 1") {
		t.Fatalf("events pane: %+v", ev)
	}
	if st := h.b.State(); st.Services[3].Image != "order-service:v3" {
		t.Fatalf("the refused deploy changed the service: %s", st.Services[3].Image)
	}
}

package bluegreen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Executor is the one executor, as the reconciler uses it.
type Executor interface {
	Execute(ctx context.Context, a domain.Action) (domain.Result, error)
}

// Reconciler finishes what blue-green actions leave pending on the Service: it switches
// traffic to a pending colour once all its pods are Ready (after the preview hold, in which
// the guard's rollback rules must pass on the new colour's pods), and scales the previous
// colour to zero once its deadline has passed. It acts through the executor only, so every
// step is audited; several opsdeck processes may run one at once (the executor's
// resourceVersion preconditions and its re-reading of the Service make the second a no-op).
type Reconciler struct {
	Exec  Executor
	Clock domain.Clock
	// Metrics reads a frame for the preview check; nil holds the preview without checking.
	// A reconciler fed by a stream (Act) is handed the round's frame instead.
	Metrics func(ctx context.Context, services []domain.Service) domain.MetricsFrame
	// NoMetrics says the frames handed to Act have no Prometheus behind them: a preview is
	// then held without checking, as with Metrics nil.
	NoMetrics bool
	// Thresholds are the guard's rules; those with Rollback set must pass during a preview.
	Thresholds domain.Thresholds
	// Interval is how often due steps are looked for between states (default 1 s).
	Interval time.Duration
	// Only, when set, limits the reconciler to the services it accepts.
	Only func(domain.Service) bool
	// OnStep, when set, receives every action taken and its outcome.
	OnStep func(Step)
	Log    *slog.Logger

	mu       sync.Mutex
	previews map[string]*preview
	retryAt  map[string]time.Time
}

// Step is one action the reconciler took.
type Step struct {
	Action domain.Action
	Result domain.Result
	Err    error
}

// preview is what the reconciler remembers of one pending switch.
type preview struct {
	id          string // the pending switch: colour, image and request time
	readySince  time.Time
	breachSince map[domain.Metric]time.Time
	status      string
}

// retryDelay is how long a service waits after a failed step before the next attempt.
const retryDelay = 5 * time.Second

// Run reconciles every state from states, and between states every Interval, until ctx ends
// or states is closed.
func (r *Reconciler) Run(ctx context.Context, states <-chan domain.ClusterState) {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	var latest domain.ClusterState
	for {
		select {
		case <-ctx.Done():
			return
		case st, ok := <-states:
			if !ok {
				return
			}
			latest = st
		case <-t.C:
		}
		if latest.Synced {
			r.Reconcile(ctx, latest)
		}
		// Wake at the next deadline (a scale-down, the end of a preview) if it comes
		// before the next look.
		wait := interval
		if next, ok := r.nextDeadline(latest, r.Clock.Now()); ok {
			wait = max(time.Millisecond, min(wait, next.Sub(r.Clock.Now())))
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// nextDeadline is the earliest scale-down deadline or end of a preview in st after now
// (one already past was acted on, or waits for a retry).
func (r *Reconciler) nextDeadline(st domain.ClusterState, now time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var next time.Time
	for _, svc := range st.Services {
		bg := svc.BlueGreen
		if bg == nil || bg.Problem != "" || (r.Only != nil && !r.Only(svc)) {
			continue
		}
		var at time.Time
		switch {
		case bg.Pending == "" && !bg.ScaleDownAt.IsZero():
			at = bg.ScaleDownAt
		case bg.Pending != "" && bg.Preview > 0:
			if p := r.previews[svc.Key()]; p != nil && !p.readySince.IsZero() {
				at = p.readySince.Add(bg.Preview)
			}
		}
		if at.After(now) && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next, !next.IsZero()
}

// Reconcile performs the steps due in st now and returns them.
func (r *Reconciler) Reconcile(ctx context.Context, st domain.ClusterState) []Step {
	return r.reconcile(ctx, st, nil)
}

// Act performs the steps due in a round of the process's state stream (stream.Actor), judging
// previews on the round's frame instead of reading one. The steps reach the round's consumers
// through OnStep, as those of Run do. A reconciler fed by a stream is not Run.
func (r *Reconciler) Act(ctx context.Context, round *domain.Round) {
	r.reconcile(ctx, round.State, &round.Frame)
}

// reconcile performs the steps due in st now; given, when not nil, is the frame to judge
// previews on (read for st by the caller), else one is read with Metrics.
func (r *Reconciler) reconcile(ctx context.Context, st domain.ClusterState, given *domain.MetricsFrame) []Step {
	now := r.Clock.Now()
	r.mu.Lock()
	if r.previews == nil {
		r.previews, r.retryAt = map[string]*preview{}, map[string]time.Time{}
	}
	var candidates []domain.Service
	seen := map[string]bool{}
	for _, svc := range st.Services {
		if svc.BlueGreen == nil || svc.BlueGreen.Problem != "" || (r.Only != nil && !r.Only(svc)) {
			continue
		}
		seen[svc.Key()] = true
		candidates = append(candidates, svc)
	}
	for k := range r.previews {
		if !seen[k] {
			delete(r.previews, k)
		}
	}
	r.mu.Unlock()

	// One frame for every service holding a preview: a fixed number of queries.
	var frame domain.MetricsFrame
	var holding []domain.Service
	for _, svc := range candidates {
		if bg := svc.BlueGreen; bg.Pending != "" && bg.Preview > 0 && bg.Of(bg.Pending).AllReady() {
			holding = append(holding, svc)
		}
	}
	switch {
	case given != nil:
		frame = *given
	case len(holding) > 0 && r.Metrics != nil:
		frame = r.Metrics(ctx, holding)
	}
	checks := (given != nil && !r.NoMetrics) || (given == nil && r.Metrics != nil)

	var steps []Step
	for _, svc := range candidates {
		r.mu.Lock()
		wait := now.Before(r.retryAt[svc.Key()])
		a, due := r.due(now, svc, frame, checks)
		r.mu.Unlock()
		if !due || wait {
			continue
		}
		res, err := r.Exec.Execute(ctx, a)
		s := Step{Action: a, Result: res, Err: err}
		steps = append(steps, s)
		r.mu.Lock()
		if err != nil && !errors.Is(err, domain.ErrConflict) {
			r.retryAt[svc.Key()] = now.Add(retryDelay)
		} else {
			delete(r.retryAt, svc.Key())
		}
		r.mu.Unlock()
		r.log(s)
		if r.OnStep != nil {
			r.OnStep(s)
		}
	}
	return steps
}

func (r *Reconciler) log(s Step) {
	if r.Log == nil {
		return
	}
	attrs := []any{"service", s.Action.Namespace + "/" + s.Action.Service, "action", string(s.Action.Kind),
		"color", string(s.Action.Color), "reason", s.Action.Reason}
	if s.Err != nil {
		r.Log.Error("blue-green step failed", append(attrs, "error", s.Err.Error())...)
		return
	}
	r.Log.Info("blue-green step", append(attrs, "message", s.Result.Message)...)
}

// PreviewStatus says where the pending switch of a service stands, for a screen or a CLI.
func (r *Reconciler) PreviewStatus(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.previews[key]; p != nil {
		return p.status
	}
	return ""
}

// due decides the step due for svc at now, if any, judging a preview on f when checks is set
// (else it holds the preview without checking); r.mu is held.
func (r *Reconciler) due(now time.Time, svc domain.Service, f domain.MetricsFrame, checks bool) (domain.Action, bool) {
	bg := svc.BlueGreen
	base := domain.Action{Namespace: svc.Namespace, Service: svc.Name, ExpectRevision: svc.Revision, Trigger: bg.Trigger}
	if base.Trigger == "" {
		base.Trigger = domain.TriggerCLI
	}
	if bg.Pending == "" {
		delete(r.previews, svc.Key())
		idle := bg.Of(bg.Idle())
		if !bg.ScaleDownAt.IsZero() && !now.Before(bg.ScaleDownAt) {
			a := base
			a.Kind, a.Color = domain.ActionScaleDown, bg.Idle()
			a.Reason = fmt.Sprintf("scale-down delay %s after the switch to %s has passed", bg.ScaleDownDelay, bg.Active)
			if !idle.Up() {
				a.Reason = "clearing the scale-down deadline of " + string(bg.Idle()) + ", already at 0"
			}
			return a, true
		}
		return domain.Action{}, false
	}

	id := fmt.Sprintf("%s|%s|%s", bg.Pending, bg.PendingImage, bg.PendingSince)
	p := r.previews[svc.Key()]
	if p == nil || p.id != id {
		p = &preview{id: id, breachSince: map[domain.Metric]time.Time{}}
		r.previews[svc.Key()] = p
	}
	c := bg.Of(bg.Pending)
	if bg.PendingImage != "" && c.Image != bg.PendingImage {
		p.status = fmt.Sprintf("%s runs %s, not %s: no switch (roll back to cancel)", c.Deployment, c.Image, bg.PendingImage)
		p.readySince = time.Time{}
		return domain.Action{}, false
	}
	if !c.AllReady() {
		p.readySince = time.Time{}
		p.status = fmt.Sprintf("waiting for %s: %d/%d Ready", c.Deployment, c.Ready, c.Desired)
		return domain.Action{}, false
	}
	if p.readySince.IsZero() {
		p.readySince = now
	}
	switchAction := func(reason string) (domain.Action, bool) {
		a := base
		a.Kind, a.Color, a.Reason = domain.ActionSwitch, bg.Pending, reason
		p.status = "switching to " + string(bg.Pending)
		return a, true
	}
	ready := fmt.Sprintf("%s (%s) has all %d pods Ready", c.Deployment, c.Image, c.Desired)
	if bg.Preview <= 0 {
		return switchAction(ready)
	}

	// The preview: the guard's rollback rules must pass on the new colour's pods.
	var vals domain.Values
	haveData := false
	if f.Err == nil && c.ReplicaSet != "" {
		vals, haveData = f.ReplicaSets[svc.Namespace+"/"+c.ReplicaSet]
	}
	var failed, missing []string
	for _, m := range domain.Metrics {
		th, ok := r.Thresholds.ForService(svc, m)
		if !ok || !th.Rollback {
			continue
		}
		v, present := vals.Get(m)
		if !haveData || !present {
			delete(p.breachSince, m)
			missing = append(missing, string(m))
			continue
		}
		if !th.Breached(v) {
			delete(p.breachSince, m)
			continue
		}
		since, ok := p.breachSince[m]
		if !ok {
			since = now
			p.breachSince[m] = now
		}
		desc := describe(th, v)
		if now.Sub(since) >= th.For {
			a := base
			a.Kind, a.Trigger = domain.ActionRollback, domain.TriggerGuard
			a.Reason = fmt.Sprintf("preview of %s (%s) failed: %s", bg.Pending, c.Image, desc)
			p.status = "preview failed: " + desc
			return a, true
		}
		failed = append(failed, desc)
	}
	left := p.readySince.Add(bg.Preview).Sub(now)
	switch {
	case len(failed) > 0:
		p.status = "preview: breaching " + strings.Join(failed, "; ")
		return domain.Action{}, false
	case left > 0:
		p.status = fmt.Sprintf("preview: %s left", left.Round(time.Second))
		return domain.Action{}, false
	case len(missing) > 0 && checks:
		p.status = "preview: waiting for metrics (" + strings.Join(missing, ", ") + ") of " + c.ReplicaSet
		return domain.Action{}, false
	}
	return switchAction(fmt.Sprintf("%s and passed the guard's rules through a %s preview", ready, bg.Preview))
}

// describe writes a breach as the guard does: "errors > 5.0% for 20s: 30.1%".
func describe(th domain.Threshold, v float64) string {
	op := ">"
	if th.Below {
		op = "<"
	}
	f := func(x float64) string {
		d := th.Metric.Display(x)
		if math.Abs(d) >= 100 {
			return fmt.Sprintf("%.0f%s", d, unitSuffix(th.Metric))
		}
		return fmt.Sprintf("%.2f%s", d, unitSuffix(th.Metric))
	}
	return fmt.Sprintf("%s %s %s for %s: %s", th.Metric, op, f(th.Value), th.For, f(v))
}

func unitSuffix(m domain.Metric) string {
	switch m.Unit() {
	case "%":
		return "%"
	case "":
		return ""
	}
	return " " + m.Unit()
}

package guard

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/notify"
)

// Runner feeds the engine from a backend and carries out its decisions through the backend's
// executor. The console and `opsdeck guard` run the same Runner.
type Runner struct {
	Backend domain.Backend
	Engine  *Engine
	Clock   domain.Clock
	// Interval is how often the guard reads metrics and judges (default 1 s).
	Interval time.Duration
	// DryRun decides and reports but changes nothing.
	DryRun bool
	// Enabled, when set, switches the guard on and off while it runs (the console's `a`):
	// off, it still raises alerts but judges no rollout. A guard switched on starts counting
	// breaches from that moment.
	Enabled func() bool
	Log     *slog.Logger
	// OnEvaluate, when set, receives every evaluation: the console draws the guard column
	// and the events pane from it.
	OnEvaluate func(Evaluation)

	// Alerter raises threshold alerts for every service, whether or not it may be rolled
	// back; nil raises none.
	Alerter *Alerter
	// Notifier receives alerts and rollbacks (Alertmanager, webhooks); nil sends nothing.
	Notifier notify.Notifier
	// AlertEvents records an alert as a Kubernetes Event on its Deployment; nil records none.
	AlertEvents func(domain.Alert)

	// released are the services a human cleared since the last round (Release).
	mu       sync.Mutex
	released []string

	// notifyQueue serialises deliveries so that a slow receiver never delays a rollback and
	// resolutions never overtake the alerts they resolve.
	notifyQueue chan []domain.Alert
}

// Evaluation is one round of the guard.
type Evaluation struct {
	At       time.Time
	Statuses map[string]Status
	// Outcomes of the decisions taken in this round.
	Outcomes []Outcome
	// Alerts raised, repeated or resolved in this round.
	Alerts []domain.Alert
	Frame  domain.MetricsFrame
}

// Outcome is a decision and what became of it.
type Outcome struct {
	Decision Decision
	Result   domain.Result
	Err      error
	DryRun   bool
}

// Run judges until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Second
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if r.Notifier != nil {
		r.notifyQueue = make(chan []domain.Alert, 64)
		go r.deliver(ctx, log)
	}
	states := r.Backend.Watch(ctx)
	var latest domain.ClusterState
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	previous := map[string]Verdict{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case st, ok := <-states:
			if !ok {
				return nil
			}
			latest = st
			continue
		case <-ticker.C:
		}
		if !latest.Synced {
			continue
		}
		ev := r.Round(ctx, latest)
		for key, s := range ev.Statuses {
			if previous[key] != s.Verdict {
				log.Info("guard status", "service", key, "verdict", string(s.Verdict), "rule", s.Rule, "detail", s.Detail)
				previous[key] = s.Verdict
			}
		}
		for _, a := range ev.Alerts {
			log.Warn("alert", "service", a.Namespace+"/"+a.Service, "metric", string(a.Metric), "resolved", a.Resolved,
				"value", a.Value, "threshold", a.Threshold, "rule", a.Rule, "message", a.Message)
		}
		for _, o := range ev.Outcomes {
			attrs := []any{"service", o.Decision.Service.Key(), "from_revision", o.Decision.FromRevision,
				"from_image", o.Decision.FromImage, "to_revision", o.Decision.ToRevision, "to_image", o.Decision.ToImage,
				"reason", o.Decision.Reason}
			switch {
			case o.DryRun:
				log.Warn("would roll back (dry run)", attrs...)
			case o.Err != nil:
				log.Error("rollback failed", append(attrs, "error", o.Err.Error())...)
			default:
				log.Warn("rolled back", attrs...)
			}
		}
	}
}

// Round runs one evaluation against a cluster state: it reads a metrics frame, judges every
// service and executes the decisions.
func (r *Runner) Round(ctx context.Context, st domain.ClusterState) Evaluation {
	r.mu.Lock()
	for _, key := range r.released {
		r.Engine.Clear(key)
	}
	r.released = nil
	r.mu.Unlock()
	frame := r.Backend.Metrics(ctx, st.Services)
	now := r.Clock.Now()
	var statuses map[string]Status
	var decisions []Decision
	if r.Enabled == nil || r.Enabled() {
		if why := unsure(st, frame); why != "" {
			r.Engine.Reset()
			statuses = inconclusive(st, why)
		} else {
			statuses, decisions = r.Engine.Evaluate(now, st, frame)
		}
	} else {
		r.Engine.Reset()
		statuses = make(map[string]Status, len(st.Services))
		for _, svc := range st.Services {
			statuses[svc.Key()] = Status{Service: svc.Key(), Verdict: VerdictOff}
		}
	}
	ev := Evaluation{At: now, Statuses: statuses, Frame: frame}
	for _, d := range decisions {
		o := Outcome{Decision: d, DryRun: r.DryRun}
		if r.DryRun {
			r.Engine.Done(d, nil, false)
		} else {
			o.Result, o.Err = r.Backend.Execute(ctx, d.Action())
			r.Engine.Done(d, o.Err, errors.Is(o.Err, domain.ErrConflict))
		}
		ev.Outcomes = append(ev.Outcomes, o)
		if o.Err == nil && !o.DryRun {
			ev.Alerts = append(ev.Alerts, rollbackAlert(now, d))
		}
	}
	if r.Alerter != nil {
		ev.Alerts = append(ev.Alerts, r.Alerter.Evaluate(now, st.Services, frame)...)
	}
	if len(ev.Alerts) > 0 {
		if r.AlertEvents != nil {
			for _, a := range ev.Alerts {
				if a.Name == domain.AlertThreshold {
					r.AlertEvents(a)
				}
			}
		}
		if r.notifyQueue != nil {
			select {
			case r.notifyQueue <- ev.Alerts:
			default: // receivers far behind: drop rather than block the guard
			}
		}
	}
	if r.OnEvaluate != nil {
		r.OnEvaluate(ev)
	}
	return ev
}

// Release clears the guard's hold on a service (key namespace/name) at its next round: a human
// has looked at it. Safe to call from any goroutine.
func (r *Runner) Release(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = append(r.released, key)
}

// deliver sends queued alerts to the notifier, one batch at a time, until ctx ends.
func (r *Runner) deliver(ctx context.Context, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-r.notifyQueue:
			sendCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := r.Notifier.Notify(sendCtx, batch); err != nil {
				log.Error("notification failed", "error", err.Error())
			}
			cancel()
		}
	}
}

// rollbackAlert tells receivers that the guard rolled a service back, and why.
func rollbackAlert(now time.Time, d Decision) domain.Alert {
	return domain.Alert{
		Name: domain.AlertAutoRollback, Namespace: d.Service.Namespace, Service: d.Service.Name, Deployment: d.Service.Deployment(),
		Rule: d.Reason, StartsAt: now, Message: "auto-guard rolled back " + d.Service.Name + ": " + d.Reason,
	}
}

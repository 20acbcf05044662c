package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/backend/stream"
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
	// ReadTimeout bounds each read of a round (metrics, counts; default 10 s) and ActTimeout
	// each action it executes (default 30 s): a hung API server or Prometheus makes a round
	// inconclusive or an action failed, never a guard that waits forever.
	ReadTimeout, ActTimeout time.Duration
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
	// Actors act after the guard in each round of the stream (the blue-green reconciler).
	Actors []stream.Actor

	// released are the services a human cleared since the last round (Release).
	mu       sync.Mutex
	released []string
	// latest is the newest synced cluster state Run received, for Signal; running is set
	// while Run judges (a standby runs no Runner, or one whose Run has returned).
	latest  domain.ClusterState
	running bool

	// judging serialises the engine between rounds and outside signals: the engine is not
	// safe for concurrent use, and a signal must see the decisions of the round before it.
	judging sync.Mutex

	// previous is each service's verdict last logged.
	previous map[string]Verdict

	// counts keeps the per-pod counters of the early verdict between rounds.
	counts *counterBook

	// notifyQueue serialises deliveries so that a slow receiver never delays a rollback and
	// resolutions never overtake the alerts they resolve; it counts what it had to drop.
	notifyQueue *notify.Queue
}

// NotifyStats are the counts of the notification queue (zero when nothing is configured).
func (r *Runner) NotifyStats() notify.Stats {
	if r.notifyQueue == nil {
		return notify.Stats{}
	}
	return r.notifyQueue.Stats()
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

// Run judges until ctx ends: it runs the backend's state stream with the guard as its one
// actor, so that each round reads one frame (and the early verdict's counters) and judges it.
func (r *Runner) Run(ctx context.Context) error {
	stop := r.Start(ctx)
	defer stop()
	s := &stream.Stream{Source: r.Backend, Clock: r.Clock, ReadTimeout: r.ReadTimeout,
		Interval: func() time.Duration { return orDuration(r.Interval, time.Second) }, Actors: append([]stream.Actor{r}, r.Actors...)}
	return s.Run(ctx)
}

// Start readies the runner to judge the rounds of a stream that it does not run itself (the
// console's): it starts the notification queue for ctx's life and marks the guard running
// (outside signals are acted on) until stop is called.
func (r *Runner) Start(ctx context.Context) (stop func()) {
	if r.Notifier != nil {
		r.notifyQueue = notify.NewQueue(r.Notifier, notify.DefaultQueueSize, r.logger())
		go r.notifyQueue.Run(ctx)
	}
	r.setRunning(true)
	return func() { r.setRunning(false) }
}

// Observe takes every synced cluster state between rounds: Signal acts on the newest.
func (r *Runner) Observe(st domain.ClusterState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latest = st
}

// Act judges a round of the stream (stream.Actor): it adds the early verdict's counters to the
// frame, executes the decisions, logs them, and adds to the round the GUARD column and the
// alerts raised.
func (r *Runner) Act(ctx context.Context, round *domain.Round) {
	ev := r.Judge(ctx, round.State, round.Frame)
	r.Report(ev)
	round.Frame = ev.Frame
	round.Alerts = append(round.Alerts, ev.Alerts...)
	round.Guard.Judged = true
	round.Guard.States = make(map[string]string, len(ev.Statuses))
	for k, s := range ev.Statuses {
		round.Guard.States[k] = s.Short()
	}
}

func (r *Runner) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// Report logs a round: verdict changes, alerts and what became of the decisions.
func (r *Runner) Report(ev Evaluation) {
	log := r.logger()
	r.mu.Lock()
	if r.previous == nil {
		r.previous = map[string]Verdict{}
	}
	for key, s := range ev.Statuses {
		if r.previous[key] != s.Verdict {
			log.Info("guard status", "service", key, "verdict", string(s.Verdict), "rule", s.Rule, "detail", s.Detail)
			r.previous[key] = s.Verdict
		}
	}
	r.mu.Unlock()
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
		case errors.Is(o.Err, domain.ErrConflict):
			// Another guard (or a person) acted first: information, not a failure.
			log.Info("stood down", append(attrs, "detail", o.Err.Error())...)
		case errors.Is(o.Err, domain.ErrUnreachable):
			// Nothing was changed: judged again once the API server answers.
			log.Warn("rollback not sent, API server unreachable; judging again", append(attrs, "error", o.Err.Error())...)
		case o.Err != nil:
			log.Error("rollback failed", append(attrs, "error", o.Err.Error())...)
		default:
			log.Warn("rolled back", attrs...)
		}
	}
}

// Judge runs one evaluation of a frame read for st: it reads the early verdict's counters
// (within ReadTimeout), judges every service, executes the decisions and raises the alerts.
func (r *Runner) Judge(ctx context.Context, st domain.ClusterState, frame domain.MetricsFrame) Evaluation {
	r.judging.Lock()
	defer r.judging.Unlock()
	r.mu.Lock()
	for _, key := range r.released {
		r.Engine.Clear(key)
	}
	r.released = nil
	r.mu.Unlock()
	now := r.Clock.Now()
	r.readCounts(ctx, now, st, &frame)
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
			o.Result, o.Err = r.execute(ctx, d.Action())
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
			r.notifyQueue.Enqueue(ev.Alerts) // receivers far behind: dropped and counted, never waited for
		}
	}
	if r.OnEvaluate != nil {
		r.OnEvaluate(ev)
	}
	return ev
}

// readCounts adds to f the request counts of the ReplicaSets of every service in its guard
// window, for the early verdict: one query, whatever their number. Backends that cannot count
// (the demo) leave f.Counts nil, and the rules' for decides alone.
func (r *Runner) readCounts(ctx context.Context, now time.Time, st domain.ClusterState, f *domain.MetricsFrame) {
	reader, ok := r.Backend.(domain.CounterReader)
	if !ok || !r.Engine.cfg.Early.Enabled || f.Err != nil || (r.Enabled != nil && !r.Enabled()) {
		return
	}
	scope := r.Engine.countScope(now, st)
	if len(scope) == 0 {
		return
	}
	refs := make([]domain.ReplicaSetRef, 0, len(scope))
	for key, sc := range scope {
		ns, name, _ := strings.Cut(key, "/")
		refs = append(refs, domain.ReplicaSetRef{Namespace: ns, Name: name, Pods: sc.Pods})
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Namespace+"/"+refs[i].Name < refs[j].Namespace+"/"+refs[j].Name })
	timeout := orDuration(r.ReadTimeout, 10*time.Second)
	pods, err := stream.WithDeadline(ctx, timeout, func(ctx context.Context) ([]domain.PodCounters, error) {
		return reader.Counters(ctx, refs)
	})
	f.Queries++
	if err != nil {
		f.CountsErr = err
		return
	}
	if r.counts == nil {
		r.counts = newCounterBook()
	}
	f.Counts = r.counts.observe(now, scope, pods)
}

// execute performs a decision's action within ActTimeout.
func (r *Runner) execute(ctx context.Context, a domain.Action) (domain.Result, error) {
	timeout := orDuration(r.ActTimeout, 30*time.Second)
	res, err := stream.WithDeadline(ctx, timeout, func(ctx context.Context) (domain.Result, error) {
		return r.Backend.Execute(ctx, a)
	})
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%s %s: no answer within %s (the API server may still apply it; the guard reads the cluster again): %w",
			a.Kind, a.Service, timeout, err)
	}
	return res, err
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Release clears the guard's hold on a service (key namespace/name) at its next round: a human
// has looked at it. Safe to call from any goroutine.
func (r *Runner) Release(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = append(r.released, key)
}

// rollbackAlert tells receivers that the guard rolled a service back, and why.
func rollbackAlert(now time.Time, d Decision) domain.Alert {
	return domain.Alert{
		Name: domain.AlertAutoRollback, Namespace: d.Service.Namespace, Service: d.Service.Name, Deployment: d.Service.Deployment(),
		Rule: d.Reason, StartsAt: now, Message: "auto-guard rolled back " + d.Service.Name + ": " + d.Reason,
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/backend/stream"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/leader"
	"github.com/opsdeck/opsdeck/ui/app"
)

// consoleGuard runs auto-guard inside the console: the same Runner as `opsdeck guard`, over
// the console's backend and executor, switched on and off by the `a` key. Off, it still
// raises the threshold alerts (on screen, and to the configured receivers); on, it also
// judges rollouts. It is the one actor of the console's state stream, which reads one frame
// per round for the screen and the guard together.
type consoleGuard struct {
	runner *guard.Runner
	on     atomic.Bool
	stream *stream.Stream
	rounds <-chan domain.Round
	// refresh is the console's refresh: the stream's cadence while the guard does not judge.
	refresh time.Duration
	shown   map[string]guard.Verdict
	// settled are the actions of unknown outcome found at start, for the first round.
	settled []domain.Event
	// leader is the guard leader of the namespace, when one holds its Lease.
	leader atomic.Pointer[leaderClaim]
}

// A read-only console writes nothing to anyone: no threshold Events in the cluster, no posts to
// Alertmanager or the webhook; its alerts are on screen only.
func newConsoleGuard(cfg config.Config, b domain.Backend, rec *actions.EventRecorder, on, readOnly bool, refresh time.Duration) *consoleGuard {
	c := &consoleGuard{shown: map[string]guard.Verdict{}, refresh: refresh}
	c.on.Store(on)
	c.runner = newGuardRunner(cfg, b, rec, false, slog.New(slog.DiscardHandler))
	if readOnly {
		c.runner.Notifier, c.runner.AlertEvents = nil, nil
	}
	// A console stands aside while a guard leader holds the namespace's Lease: two guards
	// judging the same rollouts would race to act.
	c.runner.Enabled = func() bool { return c.on.Load() && c.leaderPod() == "" }
	c.stream = &stream.Stream{Source: b, Clock: c.runner.Clock, ReadTimeout: c.runner.ReadTimeout,
		Interval: c.interval, Actors: append([]stream.Actor{c}, c.runner.Actors...)}
	c.rounds = c.stream.Subscribe()
	return c
}

// interval is the stream's cadence: the guard's round while it judges, else the console's
// refresh (both never faster than Prometheus' scrape interval).
func (c *consoleGuard) interval() time.Duration {
	if c.runner.Enabled() {
		return c.runner.Interval
	}
	return c.refresh
}

// leaderPoll is how often the console reads the guard Lease of its namespace: one GET of one
// small object, well within a lease duration.
const leaderPoll = 2 * time.Second

// watchLeader follows the guard Lease of namespace ns until ctx ends. A claim the console can
// no longer read (the API is away) still counts until it would expire.
func (c *consoleGuard) watchLeader(ctx context.Context, client kubernetes.Interface, ns string) {
	t := time.NewTicker(leaderPoll)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, leaderPoll)
		h, err := leader.Read(rctx, client, ns, time.Now())
		cancel()
		if err == nil {
			if h.Valid {
				c.leader.Store(&leaderClaim{pod: printable(leader.Pod(h.Identity)), expires: h.Expires})
			} else {
				c.leader.Store(nil)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leaderClaim is a guard leader's hold on the namespace, as last read.
type leaderClaim struct {
	pod     string
	expires time.Time
}

// leaderPod is the pod of the guard leader that guards the namespace now, or "".
func (c *consoleGuard) leaderPod() string {
	l := c.leader.Load()
	if l == nil || !time.Now().Before(l.expires) {
		return ""
	}
	return l.pod
}

// printable drops control characters from cluster text (here a Lease holder) before it
// reaches the terminal, and keeps it short.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// options wires the guard into the console's options.
func (c *consoleGuard) options(o app.Options) app.Options {
	o.GuardOn = c.on.Load()
	o.OnGuardToggle = c.on.Store
	o.OnGuardRelease = c.runner.Release
	o.Rounds = c.rounds
	return o
}

// run reads and judges rounds until ctx ends, handing each to the console.
func (c *consoleGuard) run(ctx context.Context) {
	stop := c.runner.Start(ctx)
	defer stop()
	_ = c.stream.Run(ctx)
}

// Observe hands the runner every synced state (stream.StateObserver).
func (c *consoleGuard) Observe(st domain.ClusterState) { c.runner.Observe(st) }

// Act judges a round (stream.Actor) and adds what the console shows of it: the GUARD column,
// the header's summary, the leader it stands aside for, and the events of rollbacks and of
// services that start to breach.
func (c *consoleGuard) Act(ctx context.Context, r *domain.Round) {
	ev := c.runner.Judge(ctx, r.State, r.Frame)
	c.runner.Report(ev)
	r.Frame = ev.Frame
	r.Alerts = append(r.Alerts, ev.Alerts...)
	view, events := c.update(ev)
	r.Guard = view
	r.Events = append(append(r.Events, c.settled...), events...)
	c.settled = nil
}

// update turns a round into what the console shows: the GUARD column, a summary, and events
// for rollbacks and for services that start to breach.
func (c *consoleGuard) update(ev guard.Evaluation) (domain.GuardView, []domain.Event) {
	u := domain.GuardView{Judged: true, States: make(map[string]string, len(ev.Statuses)), Leader: c.leaderPod()}
	var events []domain.Event
	counts := map[guard.Verdict]int{}
	// Only the services that start to breach are sorted (for the events' order), not the
	// fleet's keys every round.
	var started []string
	for k, st := range ev.Statuses {
		u.States[k] = st.Short()
		counts[st.Verdict]++
		if st.Verdict != c.shown[k] && (st.Verdict == guard.VerdictBreaching || st.Verdict == guard.VerdictNotRollout) {
			started = append(started, k)
		}
		c.shown[k] = st.Verdict
	}
	sort.Strings(started)
	for _, k := range started {
		st := ev.Statuses[k]
		events = append(events, domain.Event{Time: ev.At, Source: domain.SourceGuard, Type: "Warning",
			Reason: verdictReasons[st.Verdict],
			Object: "deployment/" + serviceName(k), Message: st.Detail})
	}
	for _, o := range ev.Outcomes {
		e := domain.Event{Time: ev.At, Source: domain.SourceGuard, Type: "Warning", Reason: actions.AutoRollbackReason,
			Object: "deployment/" + o.Decision.Service.Name}
		switch {
		case o.DryRun:
			e.Message = "would roll back (dry run): " + o.Decision.Reason
		case errors.Is(o.Err, domain.ErrConflict):
			e.Type, e.Reason, e.Message = "Normal", "AutoRollbackStoodDown", o.Err.Error()
		case o.Err != nil:
			e.Reason, e.Message = "AutoRollbackFailed", o.Decision.Reason+": "+o.Err.Error()
		default:
			e.Message = o.Decision.Reason
		}
		events = append(events, e)
	}
	if c.on.Load() {
		var parts []string
		for _, v := range []guard.Verdict{guard.VerdictBreaching, guard.VerdictRollingBack, guard.VerdictHeld, guard.VerdictInconclusive, guard.VerdictNotRollout} {
			if n := counts[v]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, v))
			}
		}
		u.Status = strings.Join(parts, ", ")
	}
	return u, events
}

// verdictReasons are the event reasons of the verdicts the events pane reports.
var verdictReasons = map[guard.Verdict]string{
	guard.VerdictBreaching:  "GuardBreaching",
	guard.VerdictNotRollout: "GuardNotRollout",
}

func serviceName(key string) string {
	_, name, _ := strings.Cut(key, "/")
	return name
}

// reportSettled puts the actions of unknown outcome found at start in the events pane, with
// the first round. Call before run.
func (c *consoleGuard) reportSettled(settled []actions.Settled) {
	for _, s := range settled {
		c.settled = append(c.settled, domain.Event{Time: s.Intent.Time, Source: domain.SourceAction, Type: "Warning",
			Reason: "UnknownOutcome", Object: "deployment/" + s.Intent.Service, Message: "1 action of unknown outcome: " + s.Line()})
	}
}

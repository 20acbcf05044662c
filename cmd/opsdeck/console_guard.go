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
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/leader"
	"github.com/opsdeck/opsdeck/ui/app"
)

// consoleGuard runs auto-guard inside the console: the same Runner as `opsdeck guard`, over
// the console's backend and executor, switched on and off by the `a` key. Off, it still sends
// the configured notifications of threshold alerts; on, it also judges rollouts.
type consoleGuard struct {
	runner  *guard.Runner
	on      atomic.Bool
	updates chan app.GuardUpdate
	shown   map[string]guard.Verdict
	// leader is the guard leader of the namespace, when one holds its Lease.
	leader atomic.Pointer[leaderClaim]
}

// A read-only console writes nothing to anyone: no threshold Events in the cluster, no posts to
// Alertmanager or the webhook; its alerts are on screen only.
func newConsoleGuard(cfg config.Config, b domain.Backend, rec *actions.EventRecorder, on, readOnly bool) *consoleGuard {
	c := &consoleGuard{updates: make(chan app.GuardUpdate, 1), shown: map[string]guard.Verdict{}}
	c.on.Store(on)
	c.runner = newGuardRunner(cfg, b, rec, false, slog.New(slog.DiscardHandler))
	if readOnly {
		c.runner.Notifier, c.runner.AlertEvents = nil, nil
	}
	// A console stands aside while a guard leader holds the namespace's Lease: two guards
	// judging the same rollouts would race to act.
	c.runner.Enabled = func() bool { return c.on.Load() && c.leaderPod() == "" }
	return c
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
	o.GuardUpdates = c.updates
	return o
}

// run judges until ctx ends, handing every round to the console.
func (c *consoleGuard) run(ctx context.Context) {
	c.runner.OnEvaluate = func(ev guard.Evaluation) { c.publish(c.update(ev)) }
	_ = c.runner.Run(ctx)
}

// maxPendingGuardEvents bounds the events kept for a console that does not read.
const maxPendingGuardEvents = 1000

// publish hands u to the console without ever waiting for it: a console that is slow to read
// (a frozen terminal, a long redraw) must not hold auto-guard. The latest states win; events
// of an update the console has not read yet are kept, ahead of u's. The guard is the only
// sender, so the loop ends within two turns.
func (c *consoleGuard) publish(u app.GuardUpdate) {
	for {
		select {
		case c.updates <- u:
			return
		default:
		}
		select {
		case old := <-c.updates:
			u.Events = append(old.Events, u.Events...)
			if n := len(u.Events) - maxPendingGuardEvents; n > 0 {
				u.Events = u.Events[n:] // a console frozen for hours gets the newest
			}
		default:
		}
	}
}

// update turns a round into what the console shows: the GUARD column, a summary, and events
// for rollbacks and for services that start to breach.
func (c *consoleGuard) update(ev guard.Evaluation) app.GuardUpdate {
	u := app.GuardUpdate{States: make(map[string]string, len(ev.Statuses)), Leader: c.leaderPod()}
	counts := map[guard.Verdict]int{}
	keys := make([]string, 0, len(ev.Statuses))
	for k := range ev.Statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		st := ev.Statuses[k]
		u.States[k] = st.Short()
		counts[st.Verdict]++
		if st.Verdict != c.shown[k] && (st.Verdict == guard.VerdictBreaching || st.Verdict == guard.VerdictNotRollout) {
			u.Events = append(u.Events, domain.Event{Time: ev.At, Source: domain.SourceGuard, Type: "Warning",
				Reason: verdictReasons[st.Verdict],
				Object: "deployment/" + serviceName(k), Message: st.Detail})
		}
		c.shown[k] = st.Verdict
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
		u.Events = append(u.Events, e)
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
	return u
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

// reportSettled puts the actions of unknown outcome found at start in the events pane, before
// the first round (the updates channel is empty then).
func (c *consoleGuard) reportSettled(settled []actions.Settled) {
	if len(settled) == 0 {
		return
	}
	u := app.GuardUpdate{States: map[string]string{}}
	for _, s := range settled {
		u.Events = append(u.Events, domain.Event{Time: s.Intent.Time, Source: domain.SourceAction, Type: "Warning",
			Reason: "UnknownOutcome", Object: "deployment/" + s.Intent.Service, Message: "1 action of unknown outcome: " + s.Line()})
	}
	select {
	case c.updates <- u:
	default:
	}
}

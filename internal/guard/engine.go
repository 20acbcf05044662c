package guard

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Config is what the engine needs from the configuration.
type Config struct {
	// Window is how long after a rollout began the guard may still roll it back.
	Window time.Duration
	// StableAfter is how long a revision must run without a breach to count as known-good.
	StableAfter time.Duration
	// NoDataRollback treats missing samples as a breach (default: inconclusive).
	NoDataRollback bool
	Thresholds     domain.Thresholds
	// CrashRestarts is how many restarts of the new revision's pods make a crash loop (a pod
	// in CrashLoopBackOff is one at once); fewer only alert. 0 means 3.
	CrashRestarts int
	// Early is the early verdict on counted requests (see sequential.go).
	Early EarlyConfig
}

// EarlyConfig configures the early verdict: a 5xx or latency rollback rule is breached at once
// when the new revision's counted requests prove, with Confidence at every look, that its
// share of failures is above the rule's bound, on at least MinRequests requests.
type EarlyConfig struct {
	Enabled     bool
	Confidence  float64
	MinRequests int
}

// maxConflicts is how many conflicts in a row on one revision the guard accepts before it
// holds the service for a human: a conflict means the world moved, so it reads and judges
// again, but not forever.
const maxConflicts = 3

// Engine is the per-service guard state machine. It is not safe for concurrent use; one
// goroutine feeds it.
type Engine struct {
	cfg    Config
	tracks map[string]*track
}

// track is what the engine remembers about one service. ReplicaSets identify revisions: a
// rollback gives an old template a new revision number but keeps its ReplicaSet (its name
// carries the template hash).
type track struct {
	currentRS string
	// cleanSince is when the current ReplicaSet was last seen without a breach after one.
	cleanSince time.Time
	knownGood  map[string]bool
	rejected   map[string]bool
	// breachSince is when each rollback rule started to be breached by the new revision.
	breachSince map[domain.Metric]time.Time
	// pending is set between a decision and its outcome; held after a rollback.
	pending *Decision
	heldRS  string
	heldMsg string
	// rolledBack are the ReplicaSets auto-guard rolled back, with the hold's message: deployed
	// again, such a revision is held for a human, not judged and rolled back a second time. A
	// guard that starts reads them from the last-action annotation (seed).
	rolledBack map[string]string
	// conflicts counts the decisions in a row that ended in a conflict.
	conflicts int
}

// New returns an engine with the given configuration.
func New(cfg Config) *Engine {
	return &Engine{cfg: cfg, tracks: map[string]*track{}}
}

// Evaluate judges every service of the state at time now with the metrics frame, and returns
// their statuses (keyed by service) and the rollbacks to perform. A returned decision must be
// answered with Done.
func (e *Engine) Evaluate(now time.Time, st domain.ClusterState, f domain.MetricsFrame) (map[string]Status, []Decision) {
	statuses := make(map[string]Status, len(st.Services))
	var decisions []Decision
	for _, svc := range st.Services {
		s, d := e.evaluate(now, svc, f)
		statuses[svc.Key()] = s
		if d != nil {
			decisions = append(decisions, *d)
		}
	}
	return statuses, decisions
}

// Done records the outcome of a decision. A success holds the service on the revision it
// rolled back to; a failure holds it with the error (a rollback that failed for RBAC or an API
// outage is not retried blindly). A conflict (someone else acted, or the object changed under
// the executor) holds nothing: the next round reads the world again and judges again, up to
// maxConflicts times in a row. Either way the bad ReplicaSet is never chosen as a target again.
func (e *Engine) Done(d Decision, err error, conflict bool) {
	t := e.tracks[d.Service.Key()]
	if t == nil {
		return
	}
	t.pending = nil
	t.rejected[d.FromRS] = true
	switch {
	case err == nil:
		t.conflicts = 0
		t.heldRS, t.heldMsg = d.ToRS, "rolled back: "+d.Reason
		t.rolledBack[d.FromRS] = "rolled back by auto-guard: " + d.Reason
	case conflict:
		t.conflicts++
		if t.conflicts >= maxConflicts {
			t.heldRS, t.heldMsg = d.FromRS, fmt.Sprintf("%d conflicts in a row, last: %s", t.conflicts, err.Error())
		}
	case errors.Is(err, domain.ErrUnreachable):
		// Nothing changed and nobody refused: the API server did not answer. Judge again once
		// it does, on fresh evidence (the rule's for, or the early verdict, runs again).
		t.breachSince = map[domain.Metric]time.Time{}
	default:
		t.heldRS, t.heldMsg = d.FromRS, "rollback failed: "+err.Error()
	}
}

// Reset forgets every breach in progress (the guard was switched off), keeping what it
// learnt about revisions: which are known-good, which it rejected, which services it holds.
func (e *Engine) Reset() {
	for _, t := range e.tracks {
		t.breachSince = map[domain.Metric]time.Time{}
	}
}

// Clear releases a held service: a human has looked at it.
func (e *Engine) Clear(key string) {
	if t := e.tracks[key]; t != nil {
		t.heldRS, t.heldMsg = "", ""
		t.breachSince = map[domain.Metric]time.Time{}
	}
}

func (e *Engine) track(svc domain.Service, now time.Time) *track {
	t := e.tracks[svc.Key()]
	if t == nil {
		t = &track{knownGood: map[string]bool{}, rejected: map[string]bool{}, breachSince: map[domain.Metric]time.Time{},
			rolledBack: map[string]string{}}
		e.tracks[svc.Key()] = t
		t.seed(svc)
		// A revision that has been rolled out for longer than StableAfter when first seen has
		// proven itself, as far as anyone watching can tell.
		if svc.Phase == domain.PhaseComplete && !svc.RolloutStarted.IsZero() && now.Sub(svc.RolloutStarted) >= e.cfg.StableAfter {
			if rs, ok := svc.NewReplicaSet(); ok {
				t.knownGood[rs.Name] = true
			}
		}
	}
	return t
}

// seed reads what a guard that ran before did to svc from its last-action annotation, so that
// a guard that starts (a standby that became leader, a restart) acts at most once, from what
// the cluster says: the ReplicaSet auto-guard rolled back is rejected as a target and, if it is
// (or becomes) current again, held with the original reason; the revision it rolled back to is
// held as the guard that acted would hold it, until a new deploy.
func (t *track) seed(svc domain.Service) {
	l := svc.LastAction
	if l == nil || !l.ByGuard() || svc.BlueGreen != nil {
		return
	}
	msg := "rolled back by " + l.Actor() + " at " + l.Time.UTC().Format("15:04:05 MST")
	if l.Reason != "" {
		msg += ": " + l.Reason
	}
	bad, found := domain.ReplicaSet{}, false
	// The rolled-back ReplicaSet keeps its revision until it is deployed again; then only its
	// image says which it is.
	for _, rs := range svc.ReplicaSets {
		if rs.Revision == l.FromRevision && (l.FromImage == "" || rs.Image == l.FromImage) {
			bad, found = rs, true
			break
		}
	}
	for _, rs := range svc.ReplicaSets {
		if !found && l.FromImage != "" && rs.Image == l.FromImage {
			bad, found = rs, true
		}
	}
	if found {
		t.rejected[bad.Name] = true
		t.rolledBack[bad.Name] = msg
	}
	cur, ok := svc.NewReplicaSet()
	switch {
	case !ok:
	case found && cur.Name == bad.Name:
		t.heldRS, t.heldMsg = cur.Name, msg
	case !cur.Created.After(l.Time) && (l.ToImage == "" || cur.Image == l.ToImage):
		// The revision rolled back to (it existed before the rollback): no later deploy.
		t.heldRS, t.heldMsg = cur.Name, msg
	}
}

func (e *Engine) evaluate(now time.Time, svc domain.Service, f domain.MetricsFrame) (Status, *Decision) {
	t := e.track(svc, now)
	st := Status{Service: svc.Key(), Old: math.NaN(), Value: math.NaN()}
	newRS, ok := svc.NewReplicaSet()
	if !ok {
		st.Verdict, st.Detail = VerdictWatching, "waiting for the new ReplicaSet"
		return st, nil
	}
	if newRS.Name != t.currentRS {
		// A new revision is current: a deploy, a rollback or a human's undo. Only the revision
		// the guard rolled back to stays held.
		if msg, ok := t.rolledBack[newRS.Name]; ok {
			t.heldRS, t.heldMsg = newRS.Name, msg
		} else if newRS.Name != t.heldRS {
			t.heldRS, t.heldMsg = "", ""
		}
		t.currentRS, t.cleanSince = newRS.Name, now
		t.breachSince = map[domain.Metric]time.Time{}
		t.conflicts = 0
	}
	if t.pending != nil {
		st.Verdict, st.Detail = VerdictRollingBack, t.pending.Reason
		return st, nil
	}
	if t.heldMsg != "" {
		st.Verdict, st.Detail = VerdictHeld, t.heldMsg
		return st, nil
	}
	if blueGreenPause(svc, &st) {
		return st, nil
	}

	inWindow := e.inWindow(svc, now)

	// Evidence without metrics.
	var reason string
	if svc.Phase == domain.PhaseStalled {
		reason = "rollout stalled (ProgressDeadlineExceeded): " + svc.Message
	}
	crash := crashing(newRS, e.crashRestarts())
	if reason == "" && crash.loop {
		reason = crash.describe(newRS)
	}

	// Metric rules, new revision against old.
	newVals, haveNew := f.ReplicaSets[svc.Namespace+"/"+newRS.Name]
	oldVals := oldValues(svc, f)
	breached := false
	worst := Status{Left: time.Duration(math.MaxInt64)}
	for _, m := range domain.Metrics {
		th, ok := e.cfg.Thresholds.ForService(svc, m)
		if !ok || !th.Rollback {
			continue
		}
		if f.Err != nil {
			// A failed or partial answer says nothing about any service: never a breach, even
			// when no data is (a fleet must not be rolled back because Prometheus is down).
			st.Verdict, st.Metric, st.Rule = VerdictInconclusive, m, describeRule(th)
			st.Detail = "Prometheus unavailable (" + f.Err.Error() + "): not a breach"
			continue
		}
		if ev, ok := e.early(svc, newRS, th, f, now); ok {
			cand := Status{Service: st.Service, Verdict: VerdictBreaching, Rule: describeRule(th), Metric: m,
				Value: math.NaN(), Old: math.NaN(), Detail: ev.detail}
			if v, ok := newVals.Get(m); ok {
				cand.Value = v
			}
			if ev.notRollout {
				// Alert only; the for rule still runs below with its own comparison.
				cand.Verdict = VerdictNotRollout
				if worst.Verdict == "" {
					worst = cand
				}
			} else {
				// The counts prove the breach: no need to wait for the rule's for.
				breached = true
				if _, seen := t.breachSince[m]; !seen {
					t.breachSince[m] = now
				}
				if reason == "" {
					reason = ev.detail
				}
				worst = cand
				continue
			}
		}
		v, present := newVals.Get(m)
		if !haveNew || !present {
			if e.cfg.NoDataRollback && inWindow && newRS.Ready > 0 {
				present, v = true, math.Inf(1)
			} else {
				st.Verdict, st.Metric, st.Rule = VerdictInconclusive, m, describeRule(th)
				st.Detail = noDataDetail(newRS, m)
				continue
			}
		}
		if !th.Breached(v) {
			delete(t.breachSince, m)
			continue
		}
		breached = true
		since, seen := t.breachSince[m]
		if !seen {
			since, t.breachSince[m] = now, now
		}
		left := th.For - now.Sub(since)
		old, oldOK := oldVals.Get(m)
		cand := Status{Service: st.Service, Verdict: VerdictBreaching, Rule: describeRule(th), Metric: m,
			Value: v, Old: math.NaN(), Left: max(left, 0)}
		if oldOK {
			cand.Old = old
		}
		cand.Detail = fmt.Sprintf("%s: revision %d at %s", cand.Rule, newRS.Revision, formatValue(m, v))
		if oldOK {
			cand.Detail += fmt.Sprintf(", old revision at %s", formatValue(m, old))
			if th.Breached(old) {
				cand.Verdict = VerdictNotRollout
				cand.Detail += ": both revisions breach, so the cause is not the rollout; alerting only"
			}
		}
		if cand.Verdict == VerdictBreaching && cand.Left < worst.Left || worst.Verdict == "" {
			worst = cand
		}
		if cand.Verdict == VerdictBreaching && left <= 0 && reason == "" {
			reason = cand.Detail
		}
	}
	if breached {
		t.cleanSince = time.Time{}
	} else if t.cleanSince.IsZero() {
		t.cleanSince = now
	}
	if !breached && st.Verdict != VerdictInconclusive && !t.cleanSince.IsZero() && now.Sub(t.cleanSince) >= e.cfg.StableAfter && svc.Phase == domain.PhaseComplete {
		t.knownGood[newRS.Name] = true
	}
	if worst.Verdict != "" {
		st = worst
	}

	if !inWindow {
		if st.Verdict == "" || st.Verdict == VerdictBreaching {
			st.Verdict = VerdictStable
			if breached {
				st.Detail += fmt.Sprintf("; the rollout began more than %s ago, so alerting only", e.cfg.Window)
			}
		}
		return st, nil
	}
	if reason == "" {
		if st.Verdict == "" {
			st.Verdict = VerdictWatching
		}
		if a := crash.alert(); a != "" {
			st.Detail = strings.TrimPrefix(st.Detail+"; ", "; ") + a
		}
		return st, nil
	}
	if svc.BlueGreen != nil {
		return e.switchBack(st, svc, t, newRS, reason)
	}
	target, ok := e.target(svc, t)
	if !ok {
		st.Verdict, st.Detail = VerdictHeld, reason+"; no earlier revision to roll back to"
		t.heldMsg = st.Detail
		return st, nil
	}
	d := &Decision{
		Service: svc, FromRevision: svc.Revision, FromImage: newRS.Image, FromRS: newRS.Name,
		ToRevision: target.Revision, ToImage: target.Image, ToRS: target.Name,
	}
	d.Reason = fmt.Sprintf("%s; rolling back from revision %d (%s) to revision %d (%s)",
		reason, d.FromRevision, d.FromImage, d.ToRevision, d.ToImage)
	t.pending = d
	st.Verdict, st.Detail, st.Left = VerdictRollingBack, d.Reason, 0
	return st, d
}

// inWindow tells whether svc's rollout may still be rolled back: in progress, stalled, or
// begun within Window.
func (e *Engine) inWindow(svc domain.Service, now time.Time) bool {
	return svc.Phase == domain.PhaseProgressing || svc.Phase == domain.PhaseStalled ||
		(!svc.RolloutStarted.IsZero() && now.Sub(svc.RolloutStarted) <= e.cfg.Window)
}

// countScope is what the early verdict counts: the new and the serving old ReplicaSets of
// every service in its window that has an earlier revision to return to, keyed
// namespace/replicaset (a blue-green service always has: the other colour). A Deployment's
// first revision cannot be rolled back, so its requests are
// not counted: after a fleet's first deploy (or a sandbox's seeding) that keeps the one
// counters query from reading every pod of every service.
func (e *Engine) countScope(now time.Time, st domain.ClusterState) map[string]countScope {
	scope := map[string]countScope{}
	for _, svc := range st.Services {
		newRS, ok := svc.NewReplicaSet()
		if !ok || !e.inWindow(svc, now) || (svc.BlueGreen == nil && !hasEarlierRevision(svc)) {
			continue
		}
		scope[svc.Namespace+"/"+newRS.Name] = countScope{Since: newRS.Created, Pods: newRS.PodNames()}
		for _, old := range svc.OldReplicaSets() {
			scope[svc.Namespace+"/"+old.Name] = countScope{Old: true, Pods: old.PodNames()}
		}
	}
	return scope
}

// hasEarlierRevision tells whether svc has a ReplicaSet of a revision before its current one.
func hasEarlierRevision(svc domain.Service) bool {
	for _, rs := range svc.ReplicaSets {
		if rs.Revision < svc.Revision {
			return true
		}
	}
	return false
}

// target is the revision to return to: the newest known-good one, else the newest before the
// current one, never one the guard rejected.
func (e *Engine) target(svc domain.Service, t *track) (domain.ReplicaSet, bool) {
	var candidates []domain.ReplicaSet
	for _, rs := range svc.ReplicaSets {
		if rs.Revision < svc.Revision && !t.rejected[rs.Name] && rs.Name != t.currentRS {
			candidates = append(candidates, rs)
		}
	}
	if len(candidates) == 0 {
		return domain.ReplicaSet{}, false
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].Revision > candidates[j].Revision })
	for _, rs := range candidates {
		if t.knownGood[rs.Name] {
			return rs, true
		}
	}
	return candidates[0], true
}

// crashes are the restarts of a revision's pods. Its pods are all younger than the rollout,
// so their restart counts are restarts within the guard's window.
type crashes struct {
	restarts, limit int
	pod             domain.Pod // the pod with the most restarts, or the one in CrashLoopBackOff
	loop            bool       // CrashLoopBackOff, or restarts >= limit
}

// crashing sums the restarts of rs's pods: a crash loop is a pod in CrashLoopBackOff or limit
// restarts in all; fewer are worth an alert, not a rollback (one restart is an OOM kill or a
// node drain as often as a bad build).
func crashing(rs domain.ReplicaSet, limit int) crashes {
	c := crashes{limit: limit}
	for _, p := range rs.Pods {
		c.restarts += int(p.Restarts)
		if p.Reason == "CrashLoopBackOff" {
			c.pod, c.loop = p, true
		} else if !c.loop && p.Restarts > c.pod.Restarts {
			c.pod = p
		}
	}
	c.loop = c.loop || c.restarts >= limit
	return c
}

func (c crashes) describe(rs domain.ReplicaSet) string {
	if c.pod.Reason == "CrashLoopBackOff" {
		return fmt.Sprintf("pod %s of revision %d: CrashLoopBackOff, %d restarts", c.pod.Name, rs.Revision, c.pod.Restarts)
	}
	return fmt.Sprintf("%d restarts of revision %d's pods (%d make a crash loop; most: pod %s, %d)", c.restarts, rs.Revision, c.limit, c.pod.Name, c.pod.Restarts)
}

// alert is the detail of restarts too few for a rollback, "" when there are none.
func (c crashes) alert() string {
	if c.loop || c.restarts == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s of %d that mean a crash loop (pod %s): alerting only", c.restarts, plural(c.restarts, "restart"), c.limit, c.pod.Name)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func (e *Engine) crashRestarts() int {
	if e.cfg.CrashRestarts > 0 {
		return e.cfg.CrashRestarts
	}
	return 3
}

// oldValues combines the old revisions that still serve. With one old ReplicaSet, the usual
// case, its values are returned as they are.
func oldValues(svc domain.Service, f domain.MetricsFrame) domain.Values {
	for _, rs := range svc.OldReplicaSets() {
		if rs.Ready == 0 {
			continue
		}
		if v, ok := f.ReplicaSets[svc.Namespace+"/"+rs.Name]; ok {
			return v
		}
	}
	return nil
}

func noDataDetail(rs domain.ReplicaSet, m domain.Metric) string {
	k := noDataKey{rs.Revision, m}
	if s, ok := noDataText.Load(k); ok {
		return s.(string)
	}
	s := fmt.Sprintf("no %s samples for revision %d yet: not a breach", m, rs.Revision)
	noDataText.Store(k, s)
	return s
}

// noDataText caches noDataDetail, said of every service not yet read in every round (see
// ruleText); it holds one line per revision number and metric.
var noDataText sync.Map // noDataKey -> string

type noDataKey struct {
	revision int64
	metric   domain.Metric
}

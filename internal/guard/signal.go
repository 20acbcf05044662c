package guard

import (
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Signal is an outside breach: a firing alert that names a service.
type Signal struct {
	Namespace, Service, Name, Summary string
	StartsAt                          time.Time
	Fingerprint                       string
	Firing                            bool
}

// SignalResult says what the guard did with one signal.
type SignalResult struct {
	Acted bool
	// Message is one line, e.g. "rolled back order-service rev 4 -> 3: alert
	// HighCheckoutFailures: checkout failures above 2%" or "ignored: order-service is not in a
	// guard window (last rollout 2h0m0s ago)".
	Message string
}

// reason is the signal as a rollback's reason: "alert NAME: SUMMARY".
func (s Signal) reason() string {
	r := "alert " + s.Name
	if s.Summary != "" {
		r += ": " + domain.ShortReason(safe.OneLine(s.Summary))
	}
	return r
}

// Signal judges an outside signal against what the engine knows of svc (found is false when
// no watched service has that name). A firing alert on a service within its guard window is a
// breach at once: it returns the rollback to perform (answered with Done, as Evaluate's are).
// The engine's holds and at-most-once rules apply as to its own breaches: nothing is decided
// while a rollback is pending, on a held revision, or towards a rejected one.
func (e *Engine) Signal(now time.Time, svc domain.Service, found bool, s Signal) (*Decision, SignalResult) {
	name := s.Namespace + "/" + s.Service
	switch {
	case !s.Firing:
		return nil, SignalResult{Message: fmt.Sprintf("ignored: alert %s on %s is resolved; a resolved alert changes nothing", s.Name, name)}
	case !found:
		return nil, SignalResult{Message: fmt.Sprintf("ignored: alert %s names %s, which this guard does not watch", s.Name, name)}
	}
	t := e.track(svc, now)
	newRS, ok := svc.NewReplicaSet()
	if !ok {
		return nil, SignalResult{Message: fmt.Sprintf("ignored: %s has no current ReplicaSet yet", s.Service)}
	}
	if t.pending != nil {
		return nil, SignalResult{Message: fmt.Sprintf("ignored: a rollback of %s is already under way (%s)", s.Service, t.pending.Reason)}
	}
	if msg, rolled := t.rolledBack[newRS.Name]; rolled {
		return nil, SignalResult{Message: fmt.Sprintf("ignored: %s is held (%s)", s.Service, msg)}
	}
	if t.heldMsg != "" && (t.heldRS == "" || t.heldRS == newRS.Name) {
		return nil, SignalResult{Message: fmt.Sprintf("ignored: %s is held (%s)", s.Service, t.heldMsg)}
	}
	if !e.inWindow(svc, now) {
		why := "no rollout seen"
		if !svc.RolloutStarted.IsZero() {
			why = "last rollout " + now.Sub(svc.RolloutStarted).Round(time.Second).String() + " ago"
		}
		return nil, SignalResult{Message: fmt.Sprintf("ignored: %s is not in a guard window (%s; window %s)", s.Service, why, e.cfg.Window)}
	}
	var d *Decision
	if svc.BlueGreen != nil {
		st, bd := e.switchBack(Status{Service: svc.Key()}, svc, t, newRS, s.reason())
		if bd == nil {
			return nil, SignalResult{Message: "ignored: " + st.Detail}
		}
		d = bd
	} else {
		target, ok := e.target(svc, t)
		if !ok {
			return nil, SignalResult{Message: fmt.Sprintf("ignored: %s: no earlier revision of %s to roll back to", s.reason(), s.Service)}
		}
		d = &Decision{
			Service: svc, FromRevision: svc.Revision, FromImage: newRS.Image, FromRS: newRS.Name,
			ToRevision: target.Revision, ToImage: target.Image, ToRS: target.Name,
		}
		d.Reason = fmt.Sprintf("%s; rolling back from revision %d (%s) to revision %d (%s)",
			s.reason(), d.FromRevision, d.FromImage, d.ToRevision, d.ToImage)
		t.pending = d
	}
	d.Trigger = domain.TriggerAlert
	return d, SignalResult{Acted: true, Message: fmt.Sprintf("rolled back %s rev %d -> %d: %s", s.Service, d.FromRevision, d.ToRevision, s.reason())}
}

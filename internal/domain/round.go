package domain

import "time"

// Round is what the backend's state stream publishes once per refresh: the cluster state it
// was read for, the one metrics frame of the process, and what the actors beside the stream
// (auto-guard, the blue-green reconciler) made of them. The console and `opsdeck guard`
// consume rounds instead of each reading metrics.
type Round struct {
	// Seq counts the rounds of a stream from 1.
	Seq int
	At  time.Time
	// State is the synced cluster state the frame was read for.
	State ClusterState
	// Frame is the round's metrics (Frame.Queries says what it cost, the early verdict's
	// counters included).
	Frame MetricsFrame
	// Guard is auto-guard's view of the round; zero when no guard judged it.
	Guard GuardView
	// Alerts are the alerts raised, repeated or resolved this round (threshold alerts and
	// auto-rollbacks), as sent to receivers.
	Alerts []Alert
	// Events are the round's rollbacks, verdict changes and blue-green steps, oldest first.
	Events []Event
}

// GuardView is auto-guard's verdicts as the console shows them.
type GuardView struct {
	// Judged says a guard looked at this round (States is then its GUARD column).
	Judged bool
	// States is the GUARD column by service key ("namespace/name").
	States map[string]string
	// Status is a short summary for the header, e.g. "1 breaching, 1 held".
	Status string
	// Leader, when set, is the pod of an `opsdeck guard --leader-elect` that holds the
	// namespace's Lease: it guards, and this process stands aside.
	Leader string
}

// Merge folds an older round that nobody read into r: the newest state, frame and verdicts
// win; the older round's events and alerts are kept ahead of r's, at most max of each.
func (r Round) Merge(older Round, max int) Round {
	r.Events = keepNewest(append(append([]Event(nil), older.Events...), r.Events...), max)
	r.Alerts = keepNewest(append(append([]Alert(nil), older.Alerts...), r.Alerts...), max)
	return r
}

func keepNewest[T any](s []T, max int) []T {
	if max > 0 && len(s) > max {
		return s[len(s)-max:]
	}
	return s
}

package app

import (
	"github.com/opsdeck/opsdeck/internal/domain"
)

// GuardStatesMsg fills the GUARD column (keyed by service key "namespace/name", or by name)
// and an optional status text for the header. The guard engine sends it with Program.Send.
type GuardStatesMsg struct {
	States map[string]string
	Status string
}

// GuardUpdate is one round of auto-guard, as the console shows it.
type GuardUpdate struct {
	// States is the GUARD column by service key ("namespace/name").
	States map[string]string
	// Status is a short summary for the header, e.g. "1 breaching, 1 held".
	Status string
	// Events are the round's rollbacks and verdict changes, oldest first.
	Events []domain.Event
	// Leader, when set, is the pod of an `opsdeck guard --leader-elect` that holds the
	// namespace's Lease: it guards, and this console stands aside.
	Leader string
}

// guardUpdateMsg carries one GuardUpdate and the channel to wait on for the next.
type guardUpdateMsg struct {
	u  GuardUpdate
	ch <-chan GuardUpdate
}

// ToggleGuardMsg sets the auto-guard state shown in the header, without calling
// Options.OnGuardToggle: it is how the guard engine reports its own state.
type ToggleGuardMsg struct{ On bool }

// watchStartedMsg carries the channel of a new watch.
type watchStartedMsg struct{ ch <-chan domain.ClusterState }

// stateMsg is one cluster state from the watch.
type stateMsg struct {
	state domain.ClusterState
	ch    <-chan domain.ClusterState
}

// watchClosedMsg says the watch channel was closed.
type watchClosedMsg struct{}

// restartWatchMsg asks for a new watch after a closed one.
type restartWatchMsg struct{}

// tickMsg is the refresh tick; id tells the current tick loop from stale ones.
type tickMsg struct{ id int }

// frameMsg is the result of metrics poll gen.
type frameMsg struct {
	gen   int
	frame domain.MetricsFrame
}

// historyMsg is the backfill of one service.
type historyMsg struct {
	key, ns string
	series  []domain.Series
	err     error
}

// revisionsMsg is the rollout history of one service, read at its historyStamp.
type revisionsMsg struct {
	key   string
	stamp string // historyStamp of the service when read
	revs  []domain.Revision
	err   error
	// snaps are the service's saved snapshots, newest first, when the backend keeps them.
	snaps []domain.Snapshot
}

// actionDoneMsg is the result of an action sent to the executor.
type actionDoneMsg struct {
	action domain.Action
	result domain.Result
	err    error
}

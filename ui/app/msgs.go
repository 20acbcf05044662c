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

// roundMsg carries one round of the state stream and the channel to wait on for the next.
type roundMsg struct {
	r  domain.Round
	ch <-chan domain.Round
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

// frameMsg is the result of metrics poll gen, as a round.
type frameMsg struct {
	gen   int
	round domain.Round
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

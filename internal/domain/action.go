package domain

import "time"

// ActionKind names a mutation that the executor performs.
type ActionKind string

// Actions.
const (
	ActionDeploy   ActionKind = "deploy"
	ActionRollback ActionKind = "rollback"
	ActionPause    ActionKind = "pause"
	ActionResume   ActionKind = "resume"
	ActionRestart  ActionKind = "restart"
	ActionScale    ActionKind = "scale"
)

// Trigger says who asked for an action.
type Trigger string

// Triggers, as the audit log records them.
const (
	TriggerKey   Trigger = "key"
	TriggerCLI   Trigger = "cli"
	TriggerGuard Trigger = "guard"
)

// Action is a request to change a service. Every key, CLI verb and guard decision becomes one.
type Action struct {
	Kind      ActionKind
	Namespace string
	Service   string
	Trigger   Trigger

	Image      string // deploy: the new image
	Container  string // deploy: the container to change; empty means the only or first one
	ToRevision int64  // rollback: 0 means the previous revision
	Replicas   int32  // scale
	// ExpectRevision, when set, makes the action fail with a conflict if the service is no
	// longer at that revision: the guard's check that nobody acted before it.
	ExpectRevision int64
	Reason         string // why, with the measured values when the guard acts
}

// Result is what an action did.
type Result struct {
	Action       Action
	At           time.Time
	FromRevision int64
	ToRevision   int64
	FromImage    string
	ToImage      string
	// Message is a one-line account for the events pane and the CLI.
	Message string
	// Skipped is set when the action changed nothing (rollback to the template already running).
	Skipped bool
}

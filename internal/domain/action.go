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
	// ActionSwitch points a blue-green service's selector at Action.Color: the last step of a
	// blue-green deploy (or rollback), performed once that colour is Ready.
	ActionSwitch ActionKind = "switch"
	// ActionScaleDown scales the idle colour of a blue-green service to zero once its
	// scale-down deadline has passed.
	ActionScaleDown ActionKind = "scale-down"
)

// Trigger says who asked for an action.
type Trigger string

// Triggers, as the audit log records them.
const (
	TriggerKey   Trigger = "key"
	TriggerCLI   Trigger = "cli"
	TriggerGuard Trigger = "guard"
	// TriggerWebhook is a deploy or rollback asked through the listener's token API.
	TriggerWebhook Trigger = "webhook"
	// TriggerRegistry is a deploy from a container registry's push notification.
	TriggerRegistry Trigger = "registry"
	// TriggerGit is a deploy from a code repository's push, release or package event.
	TriggerGit Trigger = "git"
	// TriggerSchedule is a queued or scheduled deploy performed when it came due.
	TriggerSchedule Trigger = "schedule"
	// TriggerAlert is a rollback on an outside signal: an Alertmanager notification.
	TriggerAlert Trigger = "alert"
)

// ByGuard tells whether auto-guard acted, on its own rules or on an outside alert: its
// rollbacks record a Warning AutoRollback event and stand down when another guard did the same.
func (t Trigger) ByGuard() bool { return t == TriggerGuard || t == TriggerAlert }

// Action is a request to change a service. Every key, CLI verb and guard decision becomes one.
type Action struct {
	Kind      ActionKind
	Namespace string
	Service   string
	Trigger   Trigger
	// RequestedBy names who asked, when it is not the process's own kube user: the token's
	// user on the listener, the signed source of a webhook, the person who scheduled a deploy.
	RequestedBy string

	Image      string // deploy: the new image
	Container  string // deploy: the container to change; empty means the only or first one
	ToRevision int64  // rollback: 0 means the previous revision
	Replicas   int32  // scale
	// ExpectRevision, when set, makes the action fail with a conflict if the service is no
	// longer at that revision: the guard's check that nobody acted before it.
	ExpectRevision int64
	Reason         string // why, with the measured values when the guard acts
	// Color, for a blue-green service: the colour a switch (or the guard's switch-back) goes
	// to, or the colour a scale-down applies to.
	Color Color
	// Snapshot, for a rollback: the ID of a saved snapshot to restore instead of a revision.
	Snapshot string
	// Expect, when set, is what the person who confirmed the action saw: the executor refuses,
	// changing nothing, when the service no longer matches it.
	Expect *Precondition
}

// Precondition is the state of a service an action was confirmed on. Zero fields are not
// checked.
type Precondition struct {
	// Revision of the Deployment (the switch count of a blue-green service).
	Revision int64
	// Generation of the Deployment (of the active colour's, for a blue-green service): it moves
	// with every spec change and, unlike the resourceVersion, not with the controller's status
	// updates during a rollout.
	Generation int64
	// Image is the main image the person saw running.
	Image string
	// Color is the active colour of a blue-green service.
	Color Color
	// ResourceVersion of what was read: the Deployment, or the blue-green Service, whose
	// annotations carry any pending switch. Checked exactly for a Service; for a Deployment
	// only reported (Generation tells a spec change from a status update).
	ResourceVersion string
	// Sentence, when set, is the plan's sentence the person confirmed: the executor refuses
	// the action as a conflict when its plan now says something else.
	Sentence string
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
	// Kind is the kind of service acted on.
	Kind Kind
	// PendingSwitch, for a blue-green service, is the colour traffic will switch to once all
	// its pods are Ready (the action started a preview); empty when nothing is pending.
	PendingSwitch Color
	// Switched, for a blue-green service, is the colour the action switched traffic to.
	Switched Color
	// Precondition is the state the action was planned on (Preview fills it): a confirmed
	// action carries it back as Action.Expect.
	Precondition Precondition
}

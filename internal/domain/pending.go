package domain

import "time"

// PendingDeploy is a deploy waiting on a service (annotation opsdeck.io/pending-deploy): queued
// for a window or a freeze, scheduled (deploy --at), awaiting approval, or being performed.
type PendingDeploy struct {
	Image       string
	State       string // "queued", "scheduled", "awaiting-approval", "performing"
	Until       time.Time
	NotBefore   time.Time
	Trigger     Trigger
	RequestedBy string
	ApprovedBy  string
}

// When is the time it waits for: not-before when scheduled, else the end of its wait.
func (p PendingDeploy) When() time.Time {
	if p.State == "scheduled" && !p.NotBefore.IsZero() {
		return p.NotBefore
	}
	return p.Until
}

// Phase is the PHASE cell: "queued v2 09:00", "scheduled v2 09:00", "awaits approval",
// "deploying v2"; times in loc.
func (p PendingDeploy) Phase(loc *time.Location) string {
	tag := ImageTag(p.Image)
	switch p.State {
	case "awaiting-approval":
		return "awaits approval"
	case "performing":
		return "deploying " + tag
	}
	s := p.State + " " + tag
	if w := p.When(); !w.IsZero() {
		s += " " + w.In(loc).Format("15:04")
	}
	return s
}

// FreezeInfo is an active freeze, for the console header.
type FreezeInfo struct {
	Scope  string // a service name, or "all" for the namespace
	Until  time.Time
	Reason string
	By     string
}

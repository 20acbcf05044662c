package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// LastActionAnnotation is written by the executor, in the same request as the change, on every
// Deployment and Service it mutates: who did what, when. A guard that finds its work already
// done reads it to say by whom, and a standby guard reads it instead of remembering.
const LastActionAnnotation = "opsdeck.io/last-action"

// LastAction is the value of LastActionAnnotation (JSON).
type LastAction struct {
	Action       ActionKind `json:"action"`
	User         string     `json:"user"`
	Trigger      Trigger    `json:"trigger"`
	Time         time.Time  `json:"time"`
	FromRevision int64      `json:"from_revision"`
	ToRevision   int64      `json:"to_revision"`
	// ID is the audit log's id of the action (intent and outcome lines).
	ID string `json:"id,omitempty"`
}

// Encode is the annotation's value.
func (l LastAction) Encode() string {
	b, _ := json.Marshal(l)
	return string(b)
}

// ParseLastAction reads an annotation's value; ok is false when it is absent or not one.
func ParseLastAction(annotations map[string]string) (LastAction, bool) {
	v, found := annotations[LastActionAnnotation]
	if !found {
		return LastAction{}, false
	}
	var l LastAction
	if err := json.Unmarshal([]byte(v), &l); err != nil || l.Action == "" {
		return LastAction{}, false
	}
	return l, true
}

// Who is "USER (TRIGGER) at HH:MM:SS UTC", for a one-line message.
func (l LastAction) Who() string {
	user := l.User
	if user == "" {
		user = "an unknown user"
	}
	return fmt.Sprintf("%s (%s) at %s", user, l.Trigger, l.Time.UTC().Format("15:04:05 MST"))
}

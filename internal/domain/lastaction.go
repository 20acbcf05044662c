package domain

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
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
	// Host is the process's host name (the pod's name in a cluster): which replica of a guard
	// acted. The images and the reason let a guard that starts later hold the revision it
	// finds rolled back, with the original reason (annotations written before they existed
	// parse with them empty).
	Host      string `json:"host,omitempty"`
	FromImage string `json:"from_image,omitempty"`
	ToImage   string `json:"to_image,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// MaxLastActionReason bounds the reason kept in the annotation: it is read on every watch
// event of the Deployment, and the audit log has the whole line.
const MaxLastActionReason = 300

// ShortReason is reason cut to MaxLastActionReason bytes (on a rune boundary), with "..."
// when cut.
func ShortReason(reason string) string {
	if len(reason) <= MaxLastActionReason {
		return reason
	}
	cut := MaxLastActionReason - 3
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + "..."
}

// ByGuard tells whether the action was auto-guard's rollback (on its own rules or on an
// outside alert).
func (l LastAction) ByGuard() bool {
	return l.Action == ActionRollback && (l.Trigger == TriggerGuard || l.Trigger == TriggerAlert)
}

// Actor is who acted, for a one-line message: "auto-guard (pod HOST)" for the guard,
// "auto-guard on an alert (pod HOST)" for an outside signal, else the user and trigger.
func (l LastAction) Actor() string {
	if l.ByGuard() {
		s := "auto-guard"
		if l.Trigger == TriggerAlert {
			s += " on an alert"
		}
		if l.Host != "" {
			s += " (pod " + l.Host + ")"
		}
		return s
	}
	user := l.User
	if user == "" {
		user = "an unknown user"
	}
	return fmt.Sprintf("%s (%s)", user, l.Trigger)
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

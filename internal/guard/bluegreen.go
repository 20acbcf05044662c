package guard

import (
	"fmt"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Blue-green services (domain.KindBlueGreen) are judged like Deployments, with these
// differences: the new revision is the active colour's pods, the rollout began at the switch,
// the old revision is the idle colour, and a rollback is a switch back to the idle colour
// (instant while it is still up; the executor scales it back first when it was scaled down).

// blueGreenPause tells whether the guard must leave a blue-green service alone for now, and
// sets the status that says why: an inconsistent pair cannot be judged, and while a switch is
// pending the active colour is the old one, still serving as before.
func blueGreenPause(svc domain.Service, st *Status) bool {
	bg := svc.BlueGreen
	if bg == nil {
		return false
	}
	switch {
	case bg.Problem != "":
		st.Verdict, st.Detail = VerdictInconclusive, bg.Problem+"; not acting"
		return true
	case bg.Pending != "":
		st.Verdict = VerdictWatching
		st.Detail = fmt.Sprintf("a switch to %s (%s) is pending; %s serves meanwhile", bg.Pending, bg.PendingImage, bg.Active)
		return true
	}
	return false
}

// switchBack is the decision to switch a blue-green service back to its idle colour, or a
// hold when there is none to switch to.
func (e *Engine) switchBack(st Status, svc domain.Service, t *track, newRS domain.ReplicaSet, reason string) (Status, *Decision) {
	bg := svc.BlueGreen
	idle := bg.Of(bg.Idle())
	var target domain.ReplicaSet
	found := false
	for _, rs := range svc.ReplicaSets {
		if idle.ReplicaSet != "" && rs.Name == idle.ReplicaSet {
			target, found = rs, true
		}
	}
	switch {
	case !found:
		st.Verdict, st.Detail = VerdictHeld, reason+"; the other colour has no ReplicaSet to switch back to"
	case t.rejected[target.Name]:
		st.Verdict, st.Detail = VerdictHeld, reason+"; the other colour "+string(bg.Idle())+" was rejected before"
	}
	if st.Verdict == VerdictHeld {
		t.heldMsg = st.Detail
		return st, nil
	}
	d := &Decision{
		Service: svc, FromRevision: svc.Revision, FromImage: newRS.Image, FromRS: newRS.Name,
		ToRevision: svc.Revision + 1, ToImage: idle.Image, ToRS: target.Name, ToColor: bg.Idle(),
	}
	d.Reason = fmt.Sprintf("%s; switching back from %s (%s) to %s (%s)", reason, bg.Active, d.FromImage, d.ToColor, d.ToImage)
	t.pending = d
	st.Verdict, st.Detail, st.Left = VerdictRollingBack, d.Reason, 0
	return st, d
}

package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
)

// savedObjects are the objects of one snapshot file: a Deployment, or the List of a blue-green
// service's Service and Deployments.
type savedObjects struct {
	file        audit.SnapshotFile
	service     *corev1.Service
	deployments map[string]*appsv1.Deployment
}

func decodeSnapshot(f audit.SnapshotFile, b []byte) (savedObjects, error) {
	out := savedObjects{file: f, deployments: map[string]*appsv1.Deployment{}}
	var head struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return out, fmt.Errorf("snapshot %s: %w", f.ID, err)
	}
	raws := []json.RawMessage{b}
	if head.Kind == "List" {
		raws = head.Items
	}
	for _, raw := range raws {
		var k struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(raw, &k); err != nil {
			return out, fmt.Errorf("snapshot %s: %w", f.ID, err)
		}
		switch k.Kind {
		case "Deployment":
			d := &appsv1.Deployment{}
			if err := json.Unmarshal(raw, d); err != nil {
				return out, fmt.Errorf("snapshot %s: %w", f.ID, err)
			}
			out.deployments[d.Name] = d
		case "Service":
			s := &corev1.Service{}
			if err := json.Unmarshal(raw, s); err != nil {
				return out, fmt.Errorf("snapshot %s: %w", f.ID, err)
			}
			out.service = s
		}
	}
	return out, nil
}

// MaxListedSnapshots bounds how many of a service's snapshots Snapshots reads, newest first.
const MaxListedSnapshots = 50

// Snapshots lists the snapshots saved for a service (namespace/name), newest first (at most
// MaxListedSnapshots), each with the image and replicas it held (the active colour's, for a
// blue-green service).
func (e *Executor) Snapshots(namespace, service string) ([]domain.Snapshot, error) {
	if e.Audit == nil {
		return nil, nil
	}
	files, err := e.Audit.Snapshots(namespace, service)
	if err != nil {
		return nil, err
	}
	if len(files) > MaxListedSnapshots {
		files = files[:MaxListedSnapshots]
	}
	out := make([]domain.Snapshot, 0, len(files))
	for _, f := range files {
		s := domain.Snapshot{ID: f.ID, Time: f.Time, Namespace: namespace, Service: service, Action: f.Action, Path: f.Path}
		if b, err := os.ReadFile(f.Path); err == nil {
			if objs, err := decodeSnapshot(f, b); err == nil {
				d := objs.deployments[service]
				if objs.service != nil {
					s.Color = domain.Color(objs.service.Spec.Selector[bluegreen.ColorLabel])
					d = objs.deployments[bluegreen.DeploymentName(service, s.Color)]
				}
				if d != nil {
					s.Image, s.Replicas = mainImage(d), replicasOf(d)
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// readSaved reads and decodes snapshot a.Snapshot of a's service.
func (e *Executor) readSaved(a domain.Action) (savedObjects, error) {
	f, b, err := e.Audit.ReadSnapshot(a.Namespace, a.Service, a.Snapshot)
	if err != nil {
		return savedObjects{}, err
	}
	return decodeSnapshot(f, b)
}

// restoredSpec is cur with the saved Deployment's spec: template, replicas, strategy, paused
// and the rest that revision history does not keep. The selector is immutable, so a snapshot
// with another selector cannot be restored.
func restoredSpec(cur, saved *appsv1.Deployment, cause string) (*appsv1.Deployment, error) {
	if !apiequality.Semantic.DeepEqual(cur.Spec.Selector, saved.Spec.Selector) {
		return nil, fmt.Errorf("the snapshot's selector %s differs from the current %s, which cannot change",
			metav1.FormatLabelSelector(saved.Spec.Selector), metav1.FormatLabelSelector(cur.Spec.Selector))
	}
	out := cur.DeepCopy()
	out.Spec = *saved.Spec.DeepCopy()
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[ChangeCauseAnnotation] = cause
	return out, nil
}

// specMatches tells whether a restore would change nothing in cur.
func specMatches(cur, saved *appsv1.Deployment) bool {
	return rollout.EqualIgnoreHash(&cur.Spec.Template, &saved.Spec.Template) && replicasOf(cur) == replicasOf(saved) &&
		cur.Spec.Paused == saved.Spec.Paused && reflect.DeepEqual(cur.Spec.RevisionHistoryLimit, saved.Spec.RevisionHistoryLimit) &&
		apiequality.Semantic.DeepEqual(cur.Spec.Strategy, saved.Spec.Strategy) &&
		reflect.DeepEqual(cur.Spec.ProgressDeadlineSeconds, saved.Spec.ProgressDeadlineSeconds) &&
		cur.Spec.MinReadySeconds == saved.Spec.MinReadySeconds
}

func restoreCause(a domain.Action) string {
	return fmt.Sprintf("opsdeck rollback %s --to-snapshot %s (%s)", a.Service, a.Snapshot, a.Trigger)
}

// planRestore restores a Deployment from a snapshot: the saved spec, replicas included, even
// when the old ReplicaSets are gone (revisionHistoryLimit: 0). The update is guarded by the
// resourceVersion read, so a change made meanwhile is a conflict and nothing changes.
func planRestore(ctx context.Context, e *Executor, a domain.Action, d *appsv1.Deployment) (*plan, error) {
	objs, err := e.readSaved(a)
	if err != nil {
		return nil, err
	}
	saved := objs.deployments[d.Name]
	if saved == nil {
		return nil, fmt.Errorf("snapshot %s holds no Deployment %s", a.Snapshot, d.Name)
	}
	p := sameRevision(d, "update")
	p.res.ToImage = mainImage(saved)
	if a.Trigger.ByGuard() {
		p.eventType, p.eventReason = corev1.EventTypeWarning, AutoRollbackReason
	}
	if specMatches(d, saved) {
		p.skip = fmt.Sprintf("skipped restore: %s already matches snapshot %s (%s, %d replicas)", a.Service, a.Snapshot, p.res.ToImage, replicasOf(saved))
		return p, nil
	}
	if _, err := restoredSpec(d, saved, ""); err != nil {
		return nil, fmt.Errorf("refusing to restore %s from snapshot %s: %w", a.Service, a.Snapshot, err)
	}
	if !rollout.EqualIgnoreHash(&d.Spec.Template, &saved.Spec.Template) {
		if p.res.ToRevision, err = nextRevision(ctx, e, d); err != nil {
			return nil, err
		}
	}
	p.sentence = fmt.Sprintf("restore %s from snapshot %s (taken before %s at %s): %s -> %s, %d replicas", a.Service, a.Snapshot,
		objs.file.Action, objs.file.Time.Local().Format(time.DateTime), p.res.FromImage, p.res.ToImage, replicasOf(saved))
	p.applyTo = func(ctx context.Context, cur *appsv1.Deployment) (string, error) {
		next, err := restoredSpec(cur, saved, restoreCause(a))
		if err != nil {
			return "", err
		}
		setLastAction(ctx, &next.ObjectMeta)
		if _, err := e.Client.AppsV1().Deployments(cur.Namespace).Update(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			return "", err
		}
		return fmt.Sprintf("restored %s from snapshot %s (taken before %s at %s): %s, %d replicas", a.Service, a.Snapshot,
			objs.file.Action, objs.file.Time.Local().Format(time.DateTime), p.res.ToImage, replicasOf(saved)), nil
	}
	return p, nil
}

// planBlueGreenRestore restores a blue-green service from a snapshot: both colours' saved specs
// (images, replicas), and the saved selector's colour, switched at once when that colour is
// already Ready as saved, else as soon as it is (a pending switch).
func (e *Executor) planPairRestore(a domain.Action, t pairTarget, p *plan) (*plan, error) {
	pair, active, st := t.pair, t.active, t.st
	objs, err := e.readSaved(a)
	if err != nil {
		return nil, err
	}
	name := pair.Service.Name
	if objs.service == nil {
		return nil, fmt.Errorf("snapshot %s holds no Service %s: it was not taken of the blue-green service", a.Snapshot, name)
	}
	want := domain.Color(objs.service.Spec.Selector[bluegreen.ColorLabel])
	if !want.Valid() {
		return nil, fmt.Errorf("snapshot %s: the saved selector has no %s", a.Snapshot, bluegreen.ColorLabel)
	}
	p.verb, p.resource = "update", "deployments"
	if a.Trigger.ByGuard() {
		p.eventType, p.eventReason = corev1.EventTypeWarning, AutoRollbackReason
	}
	changes, err := restoreChanges(a, pair, objs)
	if err != nil {
		return nil, err
	}
	target := objs.deployments[bluegreen.DeploymentName(name, want)]
	p.res.ToImage = mainImage(target)
	targetUnchanged := true
	for _, ch := range changes {
		if ch.cur.Name == target.Name {
			targetUnchanged = false
		}
	}
	switchNow := want != active && targetUnchanged && rolledOut(pair.Of(want))
	if want != active {
		p.res.ToRevision = st.Revision + 1
		if switchNow {
			p.res.Switched = want
		} else {
			p.res.PendingSwitch = want
		}
	}
	if len(changes) == 0 && want == active && st.Pending == "" {
		p.skip = fmt.Sprintf("skipped restore: %s already matches snapshot %s (%s on %s)", name, a.Snapshot, p.res.ToImage, want)
		return p, nil
	}
	now, delay := t.now, t.scaleDownWait
	p.sentence = fmt.Sprintf("restore %s from snapshot %s (taken before %s at %s): %s -> %s on %s, %d replicas", name, a.Snapshot,
		objs.file.Action, objs.file.Time.Local().Format(time.DateTime), p.res.FromImage, p.res.ToImage, want, replicasOf(target))
	switch {
	case switchNow:
		p.sentence += fmt.Sprintf("; switch from %s at once", active)
	case want != active:
		p.sentence += fmt.Sprintf("; traffic switches from %s once %s is Ready", active, want)
	}
	var ann map[string]any
	var sel map[string]string
	switch {
	case want == active:
		ann = clearPending()
		ann[bluegreen.AnnScaleDownAt] = nil
	case switchNow:
		ann = switchAnnotations(st.Revision+1, now, now.Add(delay), a.Trigger)
		sel = map[string]string{bluegreen.ColorLabel: string(want)}
	default:
		ann = pendingAnnotations(want, mainImage(target), now, 0, delay, a.Trigger)
	}
	p.apply = func(ctx context.Context) (string, error) {
		// The Service first (guarded by its resourceVersion): no pending step of the state
		// being replaced may run once the colours change.
		if err := patchService(ctx, e, pair.Service, ann, sel); err != nil {
			return "", err
		}
		for _, ch := range changes {
			if err := e.restoreColor(ctx, a, ch.cur, ch.saved); err != nil {
				return "", err
			}
		}
		msg := fmt.Sprintf("restored %s from snapshot %s (taken before %s at %s): %s on %s, %d replicas", name, a.Snapshot,
			objs.file.Action, objs.file.Time.Local().Format(time.DateTime), p.res.ToImage, want, replicasOf(target))
		switch {
		case switchNow:
			msg += fmt.Sprintf("; switched from %s at once", active)
		case want != active:
			msg += fmt.Sprintf("; traffic switches from %s once %s is Ready", active, want)
		}
		return msg, nil
	}
	return p, nil
}

// restoreChange is a colour whose spec a restore replaces with the saved one.
type restoreChange struct{ cur, saved *appsv1.Deployment }

// restoreChanges are the colours of pair whose spec differs from the snapshot's; a colour the
// snapshot lacks, or whose saved spec cannot be restored, refuses the restore.
func restoreChanges(a domain.Action, pair bluegreen.Pair, objs savedObjects) ([]restoreChange, error) {
	var changes []restoreChange
	for _, c := range domain.Colors {
		cur := pair.Of(c)
		saved := objs.deployments[cur.Name]
		if saved == nil {
			return nil, fmt.Errorf("snapshot %s holds no Deployment %s", a.Snapshot, cur.Name)
		}
		if _, err := restoredSpec(cur, saved, ""); err != nil {
			return nil, fmt.Errorf("refusing to restore %s from snapshot %s: %s: %w", pair.Service.Name, a.Snapshot, cur.Name, err)
		}
		if !specMatches(cur, saved) {
			changes = append(changes, restoreChange{cur, saved})
		}
	}
	return changes, nil
}

// restoreColor updates a colour's Deployment to its saved spec, guarded by the resourceVersion
// read, retrying when only its status moved.
func (e *Executor) restoreColor(ctx context.Context, a domain.Action, d, saved *appsv1.Deployment) error {
	return retryStatusConflicts(ctx, e, d, func(cur *appsv1.Deployment) error {
		next, err := restoredSpec(cur, saved, restoreCause(a))
		if err != nil {
			return err
		}
		setLastAction(ctx, &next.ObjectMeta)
		_, err = e.Client.AppsV1().Deployments(cur.Namespace).Update(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager})
		return err
	})
}

// Package rollout is kubectl's semantics for a Deployment's rollout, written on client-go alone:
// its revisions and their ReplicaSets, `rollout status`, `rollout undo`, `pause`, `resume`
// and `restart`. The tests hold each function to kubectl's own on the same objects.
//
// opsdeck used kubectl's packages for these until they proved to cost more than they gave:
// they link kustomize, which imports Go's plugin package, and a binary that can load plugins
// keeps every method of every type and exports every symbol. Without them the binary went from
// 110 to 50 MB, and the pages of it resident in memory from 65 to 26 MiB.
package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsclient "k8s.io/client-go/kubernetes/typed/apps/v1"
)

// Annotations and reasons the Deployment controller writes.
const (
	// RevisionAnnotation numbers a Deployment's revisions, on it and on each of its ReplicaSets.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// TimedOutReason is the Progressing condition's reason once the progress deadline passed.
	TimedOutReason = "ProgressDeadlineExceeded"
	// RestartedAtAnnotation is the pod template annotation `kubectl rollout restart` sets.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
)

// Revision is obj's revision number; 0 when it has none.
func Revision(obj metav1.Object) (int64, error) {
	v, ok := obj.GetAnnotations()[RevisionAnnotation]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// Condition is the Deployment's condition of type t, nil when it has none.
func Condition(st appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// ReplicaSets lists d's ReplicaSets (those its selector matches and it controls), oldest first,
// and the current one: the oldest whose pod template is d's (nil when the controller has not
// made it yet).
func ReplicaSets(ctx context.Context, c appsclient.AppsV1Interface, d *appsv1.Deployment) (all []*appsv1.ReplicaSet, current *appsv1.ReplicaSet, err error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, nil, fmt.Errorf("deployment %s: selector: %w", d.Name, err)
	}
	list, err := c.ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, nil, err
	}
	for i := range list.Items {
		if rs := &list.Items[i]; metav1.IsControlledBy(rs, d) {
			all = append(all, rs)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].CreationTimestamp, all[j].CreationTimestamp
		if a.Equal(&b) {
			return all[i].Name < all[j].Name
		}
		return a.Before(&b)
	})
	for _, rs := range all {
		if EqualIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return all, rs, nil
		}
	}
	return all, nil, nil
}

// EqualIgnoreHash tells whether two pod templates are the same but for the pod-template-hash
// label, which the controller adds to a ReplicaSet's copy.
func EqualIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// Status is `kubectl rollout status` for d: a line saying what the rollout waits for, or that
// it is done; an error once it exceeded its progress deadline.
func Status(d *appsv1.Deployment) (msg string, done bool, err error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...", false, nil
	}
	if c := Condition(d.Status, appsv1.DeploymentProgressing); c != nil && c.Reason == TimedOutReason {
		return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
	}
	st := d.Status
	switch {
	case d.Spec.Replicas != nil && st.UpdatedReplicas < *d.Spec.Replicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...",
			d.Name, st.UpdatedReplicas, *d.Spec.Replicas), false, nil
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...",
			d.Name, st.Replicas-st.UpdatedReplicas), false, nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...",
			d.Name, st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out", d.Name), true, nil
}

// Pause marks d paused (`kubectl rollout pause`); an error when it already is.
func Pause(d *appsv1.Deployment) error {
	if d.Spec.Paused {
		return errors.New("is already paused")
	}
	d.Spec.Paused = true
	return nil
}

// Resume marks d not paused (`kubectl rollout resume`); an error when it is not paused.
func Resume(d *appsv1.Deployment) error {
	if !d.Spec.Paused {
		return errors.New("is not paused")
	}
	d.Spec.Paused = false
	return nil
}

// Restart stamps d's pod template with the time at (`kubectl rollout restart`), which rolls
// every pod; an error when d is paused.
func Restart(d *appsv1.Deployment, at time.Time) error {
	if d.Spec.Paused {
		return errors.New("can't restart paused deployment (run rollout resume first)")
	}
	if d.Spec.Template.Annotations == nil {
		d.Spec.Template.Annotations = map[string]string{}
	}
	d.Spec.Template.Annotations[RestartedAtAnnotation] = at.Format(time.RFC3339)
	return nil
}

// annotationsKept are the Deployment's own annotations an undo keeps rather than take the
// ReplicaSet's: the controller's bookkeeping, and kubectl apply's last configuration.
var annotationsKept = []string{
	corev1.LastAppliedConfigAnnotation,
	RevisionAnnotation,
	"deployment.kubernetes.io/revision-history",
	"deployment.kubernetes.io/desired-replicas",
	"deployment.kubernetes.io/max-replicas",
	appsv1.DeprecatedRollbackTo,
}

// UndoPatch is the JSON patch of `kubectl rollout undo` that brings d back to the ReplicaSet
// to: its pod template (without the hash label), and its annotations in place of d's but for
// those in annotationsKept. Callers check first that d is not paused and does not already run
// to's template (EqualIgnoreHash).
func UndoPatch(d *appsv1.Deployment, to *appsv1.ReplicaSet) ([]byte, error) {
	tmpl := to.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	ann := map[string]string{}
	for _, k := range annotationsKept {
		if v, ok := d.Annotations[k]; ok {
			ann[k] = v
		}
	}
	for k, v := range to.Annotations {
		if !slices.Contains(annotationsKept, k) {
			ann[k] = v
		}
	}
	return json.Marshal([]map[string]any{
		{"op": "replace", "path": "/spec/template", "value": tmpl},
		{"op": "replace", "path": "/metadata/annotations", "value": ann},
	})
}

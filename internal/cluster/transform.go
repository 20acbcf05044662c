package cluster

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The informers keep trimmed copies of what they watch: at 2,000 services (6,000 pods) the
// caches are most of opsdeck's memory, and managedFields, pod specs, probes, env and
// annotations nobody reads are most of the objects. Each trim keeps exactly what the
// conversion (convert.go, bluegreen.go) and Revisions read; TestTrimKeepsWhatConversionReads
// holds them to it. Anything that writes an object back (actions) reads it from the API, never
// from these caches.

// keptAnnotation tells whether opsdeck reads an annotation: its own (opsdeck.io/*), the
// Deployment controller's (revision and the like) and the change cause.
func keptAnnotation(k string) bool {
	return strings.HasPrefix(k, "opsdeck.io/") || strings.HasPrefix(k, "deployment.kubernetes.io/") ||
		k == ChangeCauseAnnotation
}

func trimAnnotations(in map[string]string) map[string]string {
	var out map[string]string
	for k, v := range in {
		if keptAnnotation(k) {
			if out == nil {
				out = make(map[string]string, len(in))
			}
			out[k] = v
		}
	}
	return out
}

// trimMeta keeps identity, ownership, times, labels and the annotations opsdeck reads.
func trimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, CreationTimestamp: m.CreationTimestamp, DeletionTimestamp: m.DeletionTimestamp,
		OwnerReferences: m.OwnerReferences, Labels: m.Labels, Annotations: trimAnnotations(m.Annotations),
	}
}

// trimTemplate keeps of each container of a pod template its name and image; full (a
// Deployment's) also keeps the template's labels (the blue-green check matches them) and the
// containers' resource requests (the CPU request scales CPU to cores).
func trimTemplate(t corev1.PodTemplateSpec, full bool) corev1.PodTemplateSpec {
	var out corev1.PodTemplateSpec
	if full {
		out.Labels = t.Labels
	}
	if t.Spec.Containers != nil {
		out.Spec.Containers = make([]corev1.Container, len(t.Spec.Containers))
		for i, c := range t.Spec.Containers {
			out.Spec.Containers[i] = corev1.Container{Name: c.Name, Image: c.Image}
			if full {
				out.Spec.Containers[i].Resources.Requests = c.Resources.Requests
			}
		}
	}
	return out
}

// trimObject is the informers' transform: a trimmed copy of a Pod, ReplicaSet or Deployment,
// and any other object without its managedFields. Tombstones pass through unchanged.
func trimObject(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return trimPod(o), nil
	case *appsv1.ReplicaSet:
		return trimReplicaSet(o), nil
	case *appsv1.Deployment:
		return trimDeployment(o), nil
	}
	if a, err := meta.Accessor(obj); err == nil {
		a.SetManagedFields(nil)
	}
	return obj, nil
}

// podMeta is trimMeta without labels: pods are grouped by their owner, never by label.
func podMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	out := trimMeta(m)
	out.Labels = nil
	return out
}

// trimPod keeps what PodFrom and the grouping by owner read: identity, owner, times,
// node, phase, the Ready and unscheduled conditions, and container states with their reasons.
func trimPod(p *corev1.Pod) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   p.TypeMeta,
		ObjectMeta: podMeta(p.ObjectMeta),
		Spec:       corev1.PodSpec{NodeName: p.Spec.NodeName},
		Status: corev1.PodStatus{
			Phase: p.Status.Phase, Conditions: trimPodConditions(p.Status.Conditions),
			InitContainerStatuses: trimStatuses(p.Status.InitContainerStatuses),
			ContainerStatuses:     trimStatuses(p.Status.ContainerStatuses),
		},
	}
}

// trimPodConditions keeps the two conditions PodFrom reads: Ready's status, and the reason a
// pod is not scheduled. Times and messages go: a pod has five conditions, read by nobody else.
func trimPodConditions(in []corev1.PodCondition) []corev1.PodCondition {
	var out []corev1.PodCondition
	for _, c := range in {
		switch {
		case c.Type == corev1.PodReady:
			out = append(out, corev1.PodCondition{Type: c.Type, Status: c.Status})
		case c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse:
			out = append(out, corev1.PodCondition{Type: c.Type, Status: c.Status, Reason: c.Reason})
		}
	}
	return out
}

func trimStatuses(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	if in == nil {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(in))
	for i, cs := range in {
		out[i] = corev1.ContainerStatus{Name: cs.Name, Ready: cs.Ready, RestartCount: cs.RestartCount, State: trimState(cs.State)}
	}
	return out
}

// trimState keeps which state a container is in and its reason (containerReason reads it).
func trimState(s corev1.ContainerState) corev1.ContainerState {
	var out corev1.ContainerState
	if s.Running != nil {
		out.Running = &corev1.ContainerStateRunning{}
	}
	if s.Waiting != nil {
		out.Waiting = &corev1.ContainerStateWaiting{Reason: s.Waiting.Reason}
	}
	if s.Terminated != nil {
		out.Terminated = &corev1.ContainerStateTerminated{Reason: s.Terminated.Reason, ExitCode: s.Terminated.ExitCode}
	}
	return out
}

// trimReplicaSet keeps what ReplicaSetFrom and RevisionsFrom read: replicas, selector, the
// template's containers' names and images, and the status counts.
func trimReplicaSet(rs *appsv1.ReplicaSet) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		TypeMeta:   rs.TypeMeta,
		ObjectMeta: trimMeta(rs.ObjectMeta),
		Spec: appsv1.ReplicaSetSpec{
			Replicas: rs.Spec.Replicas, Selector: rs.Spec.Selector, MinReadySeconds: rs.Spec.MinReadySeconds,
			Template: trimTemplate(rs.Spec.Template, false),
		},
		Status: rs.Status,
	}
}

// trimDeployment keeps what ServiceFrom, PhaseOf, the blue-green check and Revisions read:
// replicas, selector, paused, progress deadline, the template's labels and containers, and the
// whole status.
func trimDeployment(d *appsv1.Deployment) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   d.TypeMeta,
		ObjectMeta: trimMeta(d.ObjectMeta),
		Spec: appsv1.DeploymentSpec{
			Replicas: d.Spec.Replicas, Selector: d.Spec.Selector, Paused: d.Spec.Paused,
			ProgressDeadlineSeconds: d.Spec.ProgressDeadlineSeconds, MinReadySeconds: d.Spec.MinReadySeconds,
			RevisionHistoryLimit: d.Spec.RevisionHistoryLimit, Strategy: d.Spec.Strategy,
			Template: trimTemplate(d.Spec.Template, true),
		},
		Status: d.Status,
	}
}

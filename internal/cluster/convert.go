package cluster

import (
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
)

// ChangeCauseAnnotation records why a revision was made (kubectl's and opsdeck's).
const ChangeCauseAnnotation = "kubernetes.io/change-cause"

// MaxEvents bounds the events a state carries, newest kept.
const MaxEvents = 200

// Objects are the cached objects one state is built from. The slices hold pointers into the
// informers' caches: conversion only reads them and copies what it keeps.
type Objects struct {
	Deployments []*appsv1.Deployment
	ReplicaSets []*appsv1.ReplicaSet
	Pods        []*corev1.Pod
	Events      []*corev1.Event
	// Services are the blue-green Services (labelled opsdeck.io/strategy=blue-green); each
	// becomes one service with its two colours' Deployments.
	Services []*corev1.Service
	// GonePods are pods deleted in the last domain.GonePodsKept; PodsKnownSince is when the
	// watch began to see every deletion (see domain.Service).
	GonePods       []GonePod
	PodsKnownSince time.Time
	// OnlyRelatedEvents drops events about objects that are not one of the built services, their
	// ReplicaSets or their pods (used when a label selector narrows the services).
	OnlyRelatedEvents bool
}

// GonePod is a pod of a Deployment that the watch saw deleted, and when.
type GonePod struct {
	Namespace, Deployment, Name string
	At                          time.Time
}

// BuildState turns cached objects into one ClusterState: a Service per Deployment with its
// owned ReplicaSets and their pods (matched by controller ownerReference UID), sorted by
// namespace and name, and the events newest first.
func BuildState(objs Objects, at time.Time, api domain.Health, synced bool) domain.ClusterState {
	rsByOwner := make(map[types.UID][]*appsv1.ReplicaSet, len(objs.Deployments))
	for _, rs := range objs.ReplicaSets {
		if ref := metav1.GetControllerOfNoCopy(rs); ref != nil && ref.Kind == "Deployment" {
			rsByOwner[ref.UID] = append(rsByOwner[ref.UID], rs)
		}
	}
	podsByOwner := make(map[types.UID][]*corev1.Pod, len(objs.ReplicaSets))
	for _, p := range objs.Pods {
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.Kind == "ReplicaSet" {
			podsByOwner[ref.UID] = append(podsByOwner[ref.UID], p)
		}
	}
	st := domain.ClusterState{At: at, API: api, Synced: synced}
	st.Services = make([]domain.Service, 0, len(objs.Deployments))
	bg, taken := blueGreenServices(objs, rsByOwner, podsByOwner)
	for _, d := range objs.Deployments {
		if taken[d.UID] {
			continue // a colour of a blue-green service
		}
		st.Services = append(st.Services, ServiceFrom(d, rsByOwner[d.UID], podsByOwner))
	}
	st.Services = append(st.Services, bg...)
	withGonePods(st.Services, objs.GonePods, objs.PodsKnownSince)
	sort.Slice(st.Services, func(i, j int) bool {
		a, b := st.Services[i], st.Services[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})

	var related map[string]bool
	if objs.OnlyRelatedEvents {
		related = map[string]bool{}
		for _, s := range st.Services {
			for _, o := range relatedObjects(s) {
				related[o] = true
			}
			for _, rs := range s.ReplicaSets {
				related[s.Namespace+"/ReplicaSet/"+rs.Name] = true
				for _, p := range rs.Pods {
					related[s.Namespace+"/Pod/"+p.Name] = true
				}
			}
		}
	}
	for _, e := range objs.Events {
		if related != nil && !related[e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Kind+"/"+e.InvolvedObject.Name] {
			continue
		}
		st.Events = append(st.Events, EventFrom(e))
	}
	sort.SliceStable(st.Events, func(i, j int) bool { return st.Events[i].Time.After(st.Events[j].Time) })
	if len(st.Events) > MaxEvents {
		st.Events = st.Events[:MaxEvents:MaxEvents]
	}
	return st
}

// withGonePods gives each service the pods its Deployments lost (both colours' for a
// blue-green service) and the time from which that list is whole.
func withGonePods(services []domain.Service, gone []GonePod, since time.Time) {
	byDeployment := map[string][]string{}
	for _, g := range gone {
		k := g.Namespace + "/" + g.Deployment
		byDeployment[k] = append(byDeployment[k], g.Name)
	}
	for i := range services {
		s := &services[i]
		s.PodsKnownSince = since
		if len(byDeployment) == 0 {
			continue
		}
		if s.BlueGreen == nil {
			s.GonePods = byDeployment[s.Namespace+"/"+s.Name]
			continue
		}
		for _, c := range domain.Colors {
			s.GonePods = append(s.GonePods, byDeployment[s.Namespace+"/"+bluegreen.DeploymentName(s.Name, c)]...)
		}
	}
}

// CPURequest is the per-pod CPU request of a pod spec in cores: the sum of its containers'
// requests.cpu, 0 when none sets one.
func CPURequest(spec corev1.PodSpec) float64 {
	var milli int64
	for _, c := range spec.Containers {
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			milli += q.MilliValue()
		}
	}
	return float64(milli) / 1000
}

// ServiceFrom converts a Deployment, the ReplicaSets it controls and the pods of those
// ReplicaSets (by owner UID) into a Service.
func ServiceFrom(d *appsv1.Deployment, owned []*appsv1.ReplicaSet, podsByRS map[types.UID][]*corev1.Pod) domain.Service {
	s := domain.Service{
		Namespace:       d.Namespace,
		Name:            d.Name,
		Kind:            domain.KindDeployment,
		Desired:         replicas(d.Spec.Replicas),
		Current:         d.Status.Replicas,
		Updated:         d.Status.UpdatedReplicas,
		Ready:           d.Status.ReadyReplicas,
		Available:       d.Status.AvailableReplicas,
		Generation:      d.Generation,
		Observed:        d.Status.ObservedGeneration,
		Paused:          d.Spec.Paused,
		Created:         d.CreationTimestamp.Time,
		ResourceVersion: d.ResourceVersion,
	}
	s.Revision, _ = rollout.Revision(d)
	for _, c := range d.Spec.Template.Spec.Containers {
		s.Containers = append(s.Containers, domain.Container{Name: c.Name, Image: c.Image})
	}
	if len(s.Containers) > 0 {
		s.Image = s.Containers[0].Image
	}
	s.CPURequest = CPURequest(d.Spec.Template.Spec)
	if d.Spec.ProgressDeadlineSeconds != nil {
		s.ProgressDeadline = time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	}
	for _, c := range d.Status.Conditions {
		s.Conditions = append(s.Conditions, domain.Condition{
			Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message,
			Updated: c.LastUpdateTime.Time,
		})
	}
	s.Phase, s.Message = PhaseOf(d)
	if l, ok := domain.ParseLastAction(d.Annotations); ok {
		s.LastAction = &l
	}
	s.Pending, s.Freeze = releaseState(d)

	for _, rs := range owned {
		if !metav1.IsControlledBy(rs, d) {
			continue
		}
		s.ReplicaSets = append(s.ReplicaSets, ReplicaSetFrom(rs, podsByRS[rs.UID]))
	}
	sortReplicaSets(s.ReplicaSets)
	if cur, ok := s.NewReplicaSet(); ok {
		s.RolloutStarted = cur.Created
	}
	return s
}

func sortReplicaSets(rss []domain.ReplicaSet) {
	sort.Slice(rss, func(i, j int) bool {
		if rss[i].Revision != rss[j].Revision {
			return rss[i].Revision > rss[j].Revision
		}
		if !rss[i].Created.Equal(rss[j].Created) {
			return rss[i].Created.After(rss[j].Created)
		}
		return rss[i].Name < rss[j].Name
	})
}

// PhaseOf reads a Deployment's rollout phase and the condition message behind it, with the
// semantics of kubectl's rollout status: paused first, then ProgressDeadlineExceeded (stalled),
// then complete when every replica is updated and available and the spec was observed.
func PhaseOf(d *appsv1.Deployment) (domain.Phase, string) {
	prog := rollout.Condition(d.Status, appsv1.DeploymentProgressing)
	msg := ""
	if prog != nil {
		msg = prog.Message
	}
	if d.Spec.Paused {
		return domain.PhasePaused, msg
	}
	if d.Generation > d.Status.ObservedGeneration {
		return domain.PhaseProgressing, "waiting for the deployment spec update to be observed"
	}
	if prog != nil && prog.Reason == rollout.TimedOutReason {
		return domain.PhaseStalled, msg
	}
	want := replicas(d.Spec.Replicas)
	st := d.Status
	if st.UpdatedReplicas < want || st.Replicas > st.UpdatedReplicas || st.AvailableReplicas < st.UpdatedReplicas {
		return domain.PhaseProgressing, msg
	}
	return domain.PhaseComplete, msg
}

// ReplicaSetFrom converts a ReplicaSet and its pods; pods are sorted by name.
func ReplicaSetFrom(rs *appsv1.ReplicaSet, pods []*corev1.Pod) domain.ReplicaSet {
	out := domain.ReplicaSet{
		Name:        rs.Name,
		ChangeCause: rs.Annotations[ChangeCauseAnnotation],
		Created:     rs.CreationTimestamp.Time,
		Replicas:    replicas(rs.Spec.Replicas),
		Ready:       rs.Status.ReadyReplicas,
		Available:   rs.Status.AvailableReplicas,
	}
	out.Revision, _ = rollout.Revision(rs)
	if cs := rs.Spec.Template.Spec.Containers; len(cs) > 0 {
		out.Image = cs[0].Image
	}
	if len(pods) > 0 {
		out.Pods = make([]domain.Pod, 0, len(pods))
		for _, p := range pods {
			out.Pods = append(out.Pods, PodFrom(p))
		}
		sort.Slice(out.Pods, func(i, j int) bool { return out.Pods[i].Name < out.Pods[j].Name })
	}
	return out
}

// PodFrom converts a pod: ready from its Ready condition, restarts summed over containers, and
// the reason of the first container that is not running.
func PodFrom(p *corev1.Pod) domain.Pod {
	out := domain.Pod{Name: p.Name, Phase: string(p.Status.Phase), Created: p.CreationTimestamp.Time}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		out.Restarts += cs.RestartCount
	}
	if p.DeletionTimestamp != nil {
		out.Reason = "Terminating"
		return out
	}
	out.Reason = containerReason(p.Status.InitContainerStatuses)
	if out.Reason != "" {
		out.Reason = "Init:" + out.Reason
		return out
	}
	out.Reason = containerReason(p.Status.ContainerStatuses)
	if out.Reason == "" && p.Status.Phase == corev1.PodPending {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
				out.Reason = c.Reason
			}
		}
		if out.Reason == "" && len(p.Status.ContainerStatuses) == 0 && p.Spec.NodeName != "" {
			out.Reason = "ContainerCreating"
		}
	}
	return out
}

func containerReason(statuses []corev1.ContainerStatus) string {
	for _, cs := range statuses {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			return cs.State.Waiting.Reason
		case cs.State.Terminated != nil && cs.State.Terminated.Reason != "" && cs.State.Terminated.Reason != "Completed":
			return cs.State.Terminated.Reason
		}
	}
	return ""
}

// EventFrom converts a Kubernetes Event into a line of the events pane.
func EventFrom(e *corev1.Event) domain.Event {
	t := e.LastTimestamp.Time
	if t.IsZero() {
		t = e.EventTime.Time
	}
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	if t.IsZero() {
		t = e.FirstTimestamp.Time
	}
	if t.IsZero() {
		t = e.CreationTimestamp.Time
	}
	count := e.Count
	if e.Series != nil && e.Series.Count > count {
		count = e.Series.Count
	}
	if count == 0 {
		count = 1
	}
	return domain.Event{
		Time:    t,
		Source:  domain.SourceKube,
		Type:    e.Type,
		Reason:  e.Reason,
		Object:  strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name,
		Message: strings.TrimSpace(e.Message),
		Count:   count,
	}
}

// RevisionsFrom is a Deployment's rollout history, newest first, from the ReplicaSets it
// controls (kubectl's util/deployment semantics: a ReplicaSet's revision annotation numbers it;
// the current revision is the Deployment's own revision).
func RevisionsFrom(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) []domain.Revision {
	cur, _ := rollout.Revision(d)
	var out []domain.Revision
	for _, rs := range rss {
		if !metav1.IsControlledBy(rs, d) {
			continue
		}
		n, err := rollout.Revision(rs)
		if err != nil || n <= 0 {
			continue
		}
		r := domain.Revision{
			Number:      n,
			ChangeCause: rs.Annotations[ChangeCauseAnnotation],
			Created:     rs.CreationTimestamp.Time,
			ReplicaSet:  rs.Name,
			Current:     n == cur,
		}
		if cs := rs.Spec.Template.Spec.Containers; len(cs) > 0 {
			r.Image = cs[0].Image
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	return out
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/rollout"
	"github.com/opsdeck/opsdeck/internal/simulator"
)

// The simulation stands in for the deployment controller, the ReplicaSet controller and the
// kubelet, on the fake clientset. It is level-triggered: step(t) reads every object and brings
// it to what it should be at t, so running it again at the same t changes nothing. It runs at
// every whole second of the clock, and at once after a write (an action reacts at once, as
// the real controllers react to the watch event). A simulation for the demo, not a controller
// to trust: it does what the console shows (revisions, surge, readiness, conditions).

const (
	changeCause     = "kubernetes.io/change-cause"
	restartedAtAnn  = "kubectl.kubernetes.io/restartedAt"
	createDelay     = time.Second      // ContainerCreating before Running
	crashPeriod     = 10 * time.Second // a crashing container restarts this often
	maxCatchUp      = 10 * time.Minute // a longer gap is crossed in one step
	revisionAnn     = rollout.RevisionAnnotation
	podTemplateHash = appsv1.DefaultDeploymentUniqueLabelKey
)

// podLife is what the metrics need of a pod, kept after it is deleted so that history can be
// computed for any time.
type podLife struct {
	name, replicaSet, service string
	image                     string
	created, readyAt, deleted time.Time // readyAt zero: never Ready
}

// alive tells whether the pod ran at t; ready whether it served.
func (p *podLife) alive(t time.Time) bool {
	return !t.Before(p.created) && (p.deleted.IsZero() || t.Before(p.deleted))
}

func (p *podLife) ready(t time.Time) bool {
	return !p.readyAt.IsZero() && !t.Before(p.readyAt) && p.alive(t)
}

type sim struct {
	client kubernetes.Interface

	mu       sync.Mutex
	now      time.Time // the time of the last step
	seq      uint64
	progress map[string]progressMark // by Deployment name
	lives    map[string]*podLife     // by pod name
	order    []*podLife              // in creation order, for a stable iteration
}

type progressMark struct {
	sig string
	at  time.Time
}

func newSim(client kubernetes.Interface) *sim {
	return &sim{client: client, progress: map[string]progressMark{}, lives: map[string]*podLife{}}
}

// advanceTo steps every whole second after the last step up to now, then now itself.
func (s *sim) advanceTo(ctx context.Context, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.now) {
		now = s.now
	}
	if s.now.IsZero() || now.Sub(s.now) > maxCatchUp {
		// The start, or a long sleep: one step, at now.
		s.now = now.Truncate(time.Second)
	}
	for t := s.now.Truncate(time.Second).Add(time.Second); !t.After(now); t = t.Add(time.Second) {
		s.step(ctx, t)
	}
	s.step(ctx, now)
	s.forget(now)
}

// step runs the controllers once at t. Write errors (a conflict with the executor) are left
// for the next step, as a controller requeues.
func (s *sim) step(ctx context.Context, t time.Time) {
	s.now = t
	deps, err := s.client.AppsV1().Deployments(Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	rsList, _ := s.client.AppsV1().ReplicaSets(Namespace).List(ctx, metav1.ListOptions{})
	podList, _ := s.client.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{})
	sort.Slice(deps.Items, func(i, j int) bool { return deps.Items[i].Name < deps.Items[j].Name })
	for i := range deps.Items {
		d := &deps.Items[i]
		var owned []*appsv1.ReplicaSet
		for j := range rsList.Items {
			if metav1.IsControlledBy(&rsList.Items[j], d) {
				owned = append(owned, &rsList.Items[j])
			}
		}
		s.syncDeployment(ctx, d, owned, podList.Items, t)
	}
}

// templateHash is the pod-template-hash of a template, Kubernetes-style: a hash of the
// template, encoded in the alphabet of generated names.
func templateHash(t *corev1.PodTemplateSpec) string {
	b, _ := json.Marshal(t)
	h := fnv.New32a()
	h.Write(b)
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

func revisionOf(rs *appsv1.ReplicaSet) int64 {
	n, _ := rollout.Revision(rs)
	return n
}

func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// serviceOf is the service a Deployment's pods serve: the Deployment, or the blue-green
// service of a colour.
func serviceOf(d *appsv1.Deployment) string {
	if c := d.Spec.Template.Labels[bluegreen.ColorLabel]; c != "" {
		return strings.TrimSuffix(d.Name, "-"+c)
	}
	return d.Name
}

func (s *sim) syncDeployment(ctx context.Context, d *appsv1.Deployment, owned []*appsv1.ReplicaSet, pods []corev1.Pod, t time.Time) {
	rsClient := s.client.AppsV1().ReplicaSets(Namespace)
	// The new ReplicaSet: the one whose template is the Deployment's, else a new one. It
	// takes the next revision, also when an old one is reused (a rollback).
	var newRS *appsv1.ReplicaSet
	var maxRev int64
	for _, rs := range owned {
		maxRev = max(maxRev, revisionOf(rs))
		if rollout.EqualIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
		}
	}
	if newRS == nil {
		tmpl := d.Spec.Template.DeepCopy()
		hash := templateHash(tmpl)
		if tmpl.Labels == nil {
			tmpl.Labels = map[string]string{}
		}
		tmpl.Labels[podTemplateHash] = hash
		sel := d.Spec.Selector.DeepCopy()
		sel.MatchLabels[podTemplateHash] = hash
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Name: d.Name + "-" + hash, Namespace: Namespace, Labels: tmpl.Labels,
				Annotations:       map[string]string{revisionAnn: strconv.FormatInt(maxRev+1, 10)},
				OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
				CreationTimestamp: metav1.NewTime(t),
			},
			Spec: appsv1.ReplicaSetSpec{Replicas: new(int32), Selector: sel, Template: *tmpl},
		}
		if c, ok := d.Annotations[changeCause]; ok {
			rs.Annotations[changeCause] = c
		}
		created, err := rsClient.Create(ctx, rs, metav1.CreateOptions{})
		if err != nil {
			return
		}
		newRS = created
		owned = append(owned, newRS)
	} else if revisionOf(newRS) < maxRev || d.Annotations[changeCause] != newRS.Annotations[changeCause] && d.Annotations[changeCause] != "" {
		rs := newRS.DeepCopy()
		if revisionOf(rs) < maxRev {
			maxRev++
			rs.Annotations[revisionAnn] = strconv.FormatInt(maxRev, 10)
		}
		if c, ok := d.Annotations[changeCause]; ok {
			rs.Annotations[changeCause] = c
		}
		updated, err := rsClient.Update(ctx, rs, metav1.UpdateOptions{})
		if err != nil {
			return
		}
		*newRS = *updated
	}
	rev := strconv.FormatInt(revisionOf(newRS), 10)
	if d.Annotations[revisionAnn] != rev {
		dd := d.DeepCopy()
		if dd.Annotations == nil {
			dd.Annotations = map[string]string{}
		}
		dd.Annotations[revisionAnn] = rev
		updated, err := s.client.AppsV1().Deployments(Namespace).Update(ctx, dd, metav1.UpdateOptions{})
		if err != nil {
			return
		}
		d = updated
	}

	podsOf := map[string][]*corev1.Pod{}
	for i := range pods {
		for _, rs := range owned {
			if metav1.IsControlledBy(&pods[i], rs) {
				podsOf[rs.Name] = append(podsOf[rs.Name], &pods[i])
			}
		}
	}
	s.scale(ctx, d, newRS, owned, podsOf, t)
	var total, updated, ready int32
	for _, rs := range owned {
		ps := s.syncPods(ctx, d, rs, podsOf[rs.Name], t)
		n, r := int32(len(ps)), int32(0)
		for _, p := range ps {
			if podReady(p) {
				r++
			}
		}
		total += n
		ready += r
		if rs == newRS {
			updated = n
		}
		st := appsv1.ReplicaSetStatus{Replicas: n, FullyLabeledReplicas: n, ReadyReplicas: r, AvailableReplicas: r, ObservedGeneration: rs.Generation}
		if !apiequality.Semantic.DeepEqual(rs.Status, st) {
			c := rs.DeepCopy()
			c.Status = st
			_, _ = rsClient.UpdateStatus(ctx, c, metav1.UpdateOptions{})
		}
	}
	s.pruneHistory(ctx, d, newRS, owned)
	s.syncStatus(ctx, d, newRS, total, updated, ready, t)
}

// scale is the rolling update: old pods that are not Ready go at once, old Ready pods go as
// long as maxUnavailable allows, and the new ReplicaSet grows within maxSurge. A paused
// Deployment only has its new ReplicaSet sized when it has no old pods.
func (s *sim) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, owned []*appsv1.ReplicaSet, podsOf map[string][]*corev1.Pod, t time.Time) {
	want := replicasOf(d.Spec.Replicas)
	surge, unavailable := int32(1), int32(0)
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			v, _ := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, int(want), true)
			surge = int32(v)
		}
		if ru.MaxUnavailable != nil {
			v, _ := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, int(want), false)
			unavailable = int32(v)
		}
	}
	if surge == 0 && unavailable == 0 {
		surge = 1
	}
	size := map[string]int32{}
	var olds []*appsv1.ReplicaSet
	for _, rs := range owned {
		size[rs.Name] = replicasOf(rs.Spec.Replicas)
		if rs != newRS && size[rs.Name] > 0 {
			olds = append(olds, rs)
		}
	}
	readyIn := func(rs *appsv1.ReplicaSet) int32 {
		var n int32
		for _, p := range podsOf[rs.Name] {
			if podReady(p) {
				n++
			}
		}
		return min(n, size[rs.Name])
	}
	switch {
	case len(olds) == 0:
		size[newRS.Name] = want
	case d.Spec.Paused:
	default:
		for _, rs := range olds {
			size[rs.Name] = readyIn(rs)
		}
		var available int32
		for _, rs := range owned {
			available += readyIn(rs)
		}
		canRemove := available - (want - unavailable)
		sort.Slice(olds, func(i, j int) bool { return revisionOf(olds[i]) < revisionOf(olds[j]) })
		for _, rs := range olds {
			n := min(max(canRemove, 0), size[rs.Name])
			size[rs.Name] -= n
			canRemove -= n
		}
		var total int32
		for _, rs := range owned {
			total += size[rs.Name]
		}
		if up := min(want+surge-total, want-size[newRS.Name]); up > 0 {
			size[newRS.Name] += up
		}
		size[newRS.Name] = min(size[newRS.Name], want)
	}
	for _, rs := range owned {
		if size[rs.Name] == replicasOf(rs.Spec.Replicas) {
			continue
		}
		c := rs.DeepCopy()
		c.Spec.Replicas = ptr(size[rs.Name])
		if updated, err := s.client.AppsV1().ReplicaSets(Namespace).Update(ctx, c, metav1.UpdateOptions{}); err == nil {
			*rs = *updated
		}
	}
}

func ptr[T any](v T) *T { return &v }

// readyDelay is how long after its creation a pod becomes Ready: 1 to 3 s, from its name.
func readyDelay(name string) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(name))
	return time.Second + time.Duration(h.Sum32()%3)*time.Second
}

func crashes(image string) bool { return !simulator.BehaviourFor(image).Serving }

// syncPods is the ReplicaSet controller and the kubelet: pods are created or deleted (those
// not Ready first, then the newest) to the ReplicaSet's size, and each pod's status is what
// it is at t. It returns the pods that remain.
func (s *sim) syncPods(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, pods []*corev1.Pod, t time.Time) []*corev1.Pod {
	podClient := s.client.CoreV1().Pods(Namespace)
	want := int(replicasOf(rs.Spec.Replicas))
	sort.Slice(pods, func(i, j int) bool {
		if a, b := podReady(pods[i]), podReady(pods[j]); a != b {
			return a
		}
		return pods[i].CreationTimestamp.Before(&pods[j].CreationTimestamp)
	})
	for len(pods) > want {
		victim := pods[len(pods)-1]
		if err := podClient.Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
			break
		}
		if l := s.lives[victim.Name]; l != nil {
			l.deleted = t
		}
		pods = pods[:len(pods)-1]
	}
	for len(pods) < want {
		s.seq++
		name := rs.Name + "-" + podSuffix(fmt.Sprintf("%s/%d", rs.Name, s.seq))
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: Namespace, Labels: rs.Spec.Template.Labels,
				OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
				CreationTimestamp: metav1.NewTime(t),
			},
			Spec: *rs.Spec.Template.Spec.DeepCopy(),
		}
		p.Spec.NodeName = "kwok-node-0"
		created, err := podClient.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			break
		}
		l := &podLife{name: name, replicaSet: rs.Name, service: serviceOf(d), image: p.Spec.Containers[0].Image, created: t}
		if !crashes(l.image) {
			l.readyAt = t.Add(readyDelay(name))
		}
		s.lives[name] = l
		s.order = append(s.order, l)
		pods = append(pods, created)
	}
	for i, p := range pods {
		st := s.kubelet(p, t)
		if apiequality.Semantic.DeepEqual(p.Status, st) {
			continue
		}
		c := p.DeepCopy()
		c.Status = st
		if updated, err := podClient.UpdateStatus(ctx, c, metav1.UpdateOptions{}); err == nil {
			pods[i] = updated
			if st.ContainerStatuses[0].RestartCount != restartsOf(p) && st.ContainerStatuses[0].RestartCount > 0 {
				s.backOff(ctx, c, t)
			}
		}
	}
	return pods
}

// podSuffix is 5 characters of the alphabet of generated names, from a hash of key (the
// API server picks them at random; the demo must be the same on every run).
func podSuffix(key string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	h := fnv.New64a()
	h.Write([]byte(key))
	n := h.Sum64()
	b := make([]byte, 5)
	for i := range b {
		b[i] = alphabet[n%uint64(len(alphabet))]
		n /= uint64(len(alphabet))
	}
	return string(b)
}

func restartsOf(p *corev1.Pod) int32 {
	if len(p.Status.ContainerStatuses) == 0 {
		return 0
	}
	return p.Status.ContainerStatuses[0].RestartCount
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// kubelet is a pod's status at t: ContainerCreating for a second, then Running, Ready from
// its ready time; a crashing image restarts every crashPeriod and is never Ready.
func (s *sim) kubelet(p *corev1.Pod, t time.Time) corev1.PodStatus {
	created := p.CreationTimestamp.Time
	st := corev1.PodStatus{Phase: corev1.PodPending, StartTime: &p.CreationTimestamp}
	ready := corev1.ConditionFalse
	var statuses []corev1.ContainerStatus
	for _, c := range p.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		switch {
		case t.Sub(created) < createDelay:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		case crashes(p.Spec.Containers[0].Image):
			st.Phase = corev1.PodRunning
			cs.RestartCount = int32(t.Sub(created.Add(createDelay)) / crashPeriod)
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
		default:
			st.Phase = corev1.PodRunning
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(created.Add(createDelay))}
		}
		statuses = append(statuses, cs)
	}
	st.ContainerStatuses = statuses
	if l := s.lives[p.Name]; l != nil && l.ready(t) {
		ready = corev1.ConditionTrue
		for i := range st.ContainerStatuses {
			st.ContainerStatuses[i].Ready = true
		}
	}
	st.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
	return st
}

// backOff records the kubelet's Warning for a restarting container, counting repeats.
func (s *sim) backOff(ctx context.Context, p *corev1.Pod, t time.Time) {
	evs := s.client.CoreV1().Events(Namespace)
	name := p.Name + ".backoff"
	msg := fmt.Sprintf("Back-off restarting failed container %s in pod %s", p.Spec.Containers[0].Name, p.Name)
	if e, err := evs.Get(ctx, name, metav1.GetOptions{}); err == nil {
		e.Count++
		e.LastTimestamp = metav1.NewTime(t)
		_, _ = evs.Update(ctx, e, metav1.UpdateOptions{})
		return
	}
	_, _ = evs.Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: Namespace, Name: p.Name},
		Type:           corev1.EventTypeWarning, Reason: "BackOff", Message: msg, Count: 1,
		FirstTimestamp: metav1.NewTime(t), LastTimestamp: metav1.NewTime(t),
		Source: corev1.EventSource{Component: "kubelet"},
	}, metav1.CreateOptions{})
}

// pruneHistory deletes the oldest ReplicaSets without pods beyond revisionHistoryLimit.
func (s *sim) pruneHistory(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, owned []*appsv1.ReplicaSet) {
	limit := 10
	if d.Spec.RevisionHistoryLimit != nil {
		limit = int(*d.Spec.RevisionHistoryLimit)
	}
	var old []*appsv1.ReplicaSet
	for _, rs := range owned {
		if rs != newRS && replicasOf(rs.Spec.Replicas) == 0 && rs.Status.Replicas == 0 {
			old = append(old, rs)
		}
	}
	sort.Slice(old, func(i, j int) bool { return revisionOf(old[i]) < revisionOf(old[j]) })
	for i := 0; i < len(old)-limit; i++ {
		_ = s.client.AppsV1().ReplicaSets(Namespace).Delete(ctx, old[i].Name, metav1.DeleteOptions{})
	}
}

// syncStatus writes the Deployment's status: counts, the observed generation, and the
// Available and Progressing conditions with kubectl's reasons; no progress for the progress
// deadline stalls the rollout.
func (s *sim) syncStatus(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, total, updated, ready int32, t time.Time) {
	want := replicasOf(d.Spec.Replicas)
	sig := fmt.Sprintf("%s/%d/%d/%d/%v", newRS.Name, replicasOf(newRS.Spec.Replicas), updated, ready, d.Spec.Paused)
	mark, ok := s.progress[d.Name]
	if !ok || mark.sig != sig {
		mark = progressMark{sig: sig, at: t}
		if !ok {
			mark.at = d.CreationTimestamp.Time
		}
		s.progress[d.Name] = mark
	}
	st := appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: total, UpdatedReplicas: updated,
		ReadyReplicas: ready, AvailableReplicas: ready, UnavailableReplicas: max(0, want-ready),
	}
	unavailable := int32(0)
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		v, _ := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, int(want), false)
		unavailable = int32(v)
	}
	at := metav1.NewTime(mark.at)
	avail := appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
		Message: "Deployment has minimum availability.", LastUpdateTime: at, LastTransitionTime: at}
	if ready < want-unavailable {
		avail.Status, avail.Reason, avail.Message = corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
	}
	prog := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, LastUpdateTime: at, LastTransitionTime: at}
	deadline := 600 * time.Second
	if d.Spec.ProgressDeadlineSeconds != nil {
		deadline = time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	}
	complete := updated == want && total == want && ready >= want
	switch {
	case d.Spec.Paused:
		prog.Status, prog.Reason, prog.Message = corev1.ConditionUnknown, "DeploymentPaused", "Deployment is paused"
	case complete:
		prog.Reason, prog.Message = "NewReplicaSetAvailable", fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name)
	case t.Sub(mark.at) > deadline:
		prog.Status, prog.Reason, prog.Message = corev1.ConditionFalse, rollout.TimedOutReason, fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name)
	default:
		prog.Reason, prog.Message = "ReplicaSetUpdated", fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name)
	}
	st.Conditions = []appsv1.DeploymentCondition{avail, prog}
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return
	}
	c := d.DeepCopy()
	c.Status = st
	_, _ = s.client.AppsV1().Deployments(Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{})
}

// keepLives is how long a deleted pod's record is kept for backfills (a console's history
// window is shorter).
const keepLives = 2 * time.Hour

// forget drops the records of pods deleted more than keepLives before t.
func (s *sim) forget(t time.Time) {
	kept := s.order[:0]
	for _, l := range s.order {
		if !l.deleted.IsZero() && t.Sub(l.deleted) > keepLives {
			delete(s.lives, l.name)
			continue
		}
		kept = append(kept, l)
	}
	s.order = kept
}

// livesAt returns the pods of service (all when empty) that ran at t.
func (s *sim) livesAt(service string, t time.Time) []*podLife {
	var out []*podLife
	for _, l := range s.order {
		if (service == "" || l.service == service) && l.alive(t) {
			out = append(out, l)
		}
	}
	return out
}

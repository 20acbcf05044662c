package cluster

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/opsdeck/opsdeck/internal/domain"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func deployment(ns, name string, rev int64, image string, mut ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, UID: types.UID(ns + "/" + name), Generation: 2,
			CreationTimestamp: metav1.NewTime(t0),
			Annotations:       map[string]string{"deployment.kubernetes.io/revision": fmt.Sprint(rev)},
			ResourceVersion:   "100",
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr.To[int32](3),
			ProgressDeadlineSeconds: ptr.To[int32](60),
			Selector:                &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}, {Name: "sidecar", Image: "envoy:1"}}},
			},
		},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
				Message: `ReplicaSet "x" has successfully progressed.`, LastUpdateTime: metav1.NewTime(t0),
			}},
		},
	}
	for _, m := range mut {
		m(d)
	}
	return d
}

func replicaSet(d *appsv1.Deployment, hash string, rev int64, image string, n int32, created time.Time) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: d.Namespace, Name: d.Name + "-" + hash, UID: types.UID(d.Namespace + "/" + d.Name + "-" + hash),
			CreationTimestamp: metav1.NewTime(created),
			Annotations: map[string]string{
				"deployment.kubernetes.io/revision": fmt.Sprint(rev),
				ChangeCauseAnnotation:               "deploy " + image,
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr.To(true)}},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(n),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}},
		},
		Status: appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n},
	}
}

func pod(rs *appsv1.ReplicaSet, suffix string, ready bool, mut ...func(*corev1.Pod)) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: rs.Namespace, Name: rs.Name + "-" + suffix, CreationTimestamp: rs.CreationTimestamp,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}},
		},
		Spec: corev1.PodSpec{NodeName: "kwok-node-0"},
		Status: corev1.PodStatus{
			Phase:             corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: st}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
		},
	}
	for _, m := range mut {
		m(p)
	}
	return p
}

func TestPhaseOf(t *testing.T) {
	tests := []struct {
		name string
		mut  func(*appsv1.Deployment)
		want domain.Phase
	}{
		{"complete", func(*appsv1.Deployment) {}, domain.PhaseComplete},
		{"paused wins over everything", func(d *appsv1.Deployment) { d.Spec.Paused = true; d.Status.UpdatedReplicas = 1 }, domain.PhasePaused},
		{"spec not observed yet", func(d *appsv1.Deployment) { d.Generation = 3 }, domain.PhaseProgressing},
		{"new replicas not all updated", func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 }, domain.PhaseProgressing},
		{"old replicas pending termination", func(d *appsv1.Deployment) { d.Status.Replicas = 4 }, domain.PhaseProgressing},
		{"updated not yet available", func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 2 }, domain.PhaseProgressing},
		{"progress deadline exceeded", func(d *appsv1.Deployment) {
			d.Status.UpdatedReplicas = 1
			d.Status.Conditions[0].Status = corev1.ConditionFalse
			d.Status.Conditions[0].Reason = "ProgressDeadlineExceeded"
			d.Status.Conditions[0].Message = `ReplicaSet "x" has timed out progressing.`
		}, domain.PhaseStalled},
		{"nil replicas means one", func(d *appsv1.Deployment) {
			d.Spec.Replicas = nil
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}
		}, domain.PhaseComplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deployment("shop", "a", 1, "a:v1", tt.mut)
			got, msg := PhaseOf(d)
			if got != tt.want {
				t.Fatalf("PhaseOf = %s (%q), want %s", got, msg, tt.want)
			}
			if got == domain.PhaseStalled && msg == "" {
				t.Fatal("stalled without the condition message")
			}
		})
	}
}

func TestPodFrom(t *testing.T) {
	d := deployment("shop", "a", 1, "a:v1")
	rs := replicaSet(d, "abc12", 1, "a:v1", 3, t0)
	tests := []struct {
		name     string
		p        *corev1.Pod
		ready    bool
		reason   string
		restarts int32
		phase    string
	}{
		{"running and ready", pod(rs, "aaaaa", true), true, "", 1, "Running"},
		{"crash loop", pod(rs, "bbbbb", false, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
			p.Status.ContainerStatuses[0].RestartCount = 7
		}), false, "CrashLoopBackOff", 7, "Running"},
		{"pending with no statuses on a node", pod(rs, "ccccc", false, func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses = nil
		}), false, "ContainerCreating", 0, "Pending"},
		{"unschedulable", pod(rs, "ddddd", false, func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses = nil
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable"})
		}), false, "Unschedulable", 0, "Pending"},
		{"init container waiting", pod(rs, "eeeee", false, func(p *corev1.Pod) {
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}
		}), false, "Init:PodInitializing", 1, "Running"},
		{"oom killed", pod(rs, "fffff", false, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled"}}
		}), false, "OOMKilled", 1, "Running"},
		{"terminating", pod(rs, "ggggg", true, func(p *corev1.Pod) {
			now := metav1.NewTime(t0)
			p.DeletionTimestamp = &now
		}), true, "Terminating", 1, "Running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodFrom(tt.p)
			if got.Ready != tt.ready || got.Reason != tt.reason || got.Restarts != tt.restarts || got.Phase != tt.phase || got.Name != tt.p.Name {
				t.Fatalf("PodFrom = %+v, want ready=%v reason=%q restarts=%d phase=%s", got, tt.ready, tt.reason, tt.restarts, tt.phase)
			}
		})
	}
}

func TestServiceFromMatchesReplicaSetsAndPodsByOwnerUID(t *testing.T) {
	d := deployment("shop", "order-service", 3, "order-service:v3")
	d.Status.UpdatedReplicas = 1
	old := replicaSet(d, "aaaaa", 1, "order-service:v1", 0, t0.Add(-2*time.Hour))
	prev := replicaSet(d, "bbbbb", 2, "order-service:v2", 3, t0.Add(-time.Hour))
	cur := replicaSet(d, "ccccc", 3, "order-service:v3", 1, t0)
	// A ReplicaSet with the same labels owned by someone else must not be taken.
	other := deployment("shop", "order-service-canary", 1, "x")
	foreign := replicaSet(other, "ddddd", 1, "order-service:canary", 1, t0)
	pods := map[types.UID][]*corev1.Pod{
		prev.UID:    {pod(prev, "p0002", true), pod(prev, "p0001", true), pod(prev, "p0003", true)},
		cur.UID:     {pod(cur, "c0001", false)},
		foreign.UID: {pod(foreign, "f0001", true)},
	}
	s := ServiceFrom(d, []*appsv1.ReplicaSet{old, cur, prev, foreign}, pods)
	if s.Key() != "shop/order-service" || s.Kind != domain.KindDeployment || s.Revision != 3 {
		t.Fatalf("identity: %+v", s)
	}
	if s.Image != "order-service:v3" || len(s.Containers) != 2 || s.Containers[1] != (domain.Container{Name: "sidecar", Image: "envoy:1"}) {
		t.Fatalf("containers: %+v", s.Containers)
	}
	if s.Phase != domain.PhaseProgressing || s.Desired != 3 || s.Updated != 1 || s.ProgressDeadline != time.Minute {
		t.Fatalf("status: phase=%s desired=%d updated=%d deadline=%s", s.Phase, s.Desired, s.Updated, s.ProgressDeadline)
	}
	if len(s.ReplicaSets) != 3 {
		t.Fatalf("want 3 owned ReplicaSets, got %+v", s.ReplicaSets)
	}
	for i, want := range []int64{3, 2, 1} {
		if s.ReplicaSets[i].Revision != want {
			t.Fatalf("ReplicaSets not newest first: %+v", s.ReplicaSets)
		}
	}
	if s.ReplicaSets[1].Pods[0].Name != "order-service-bbbbb-p0001" || len(s.ReplicaSets[1].Pods) != 3 {
		t.Fatalf("pods of rev 2: %+v", s.ReplicaSets[1].Pods)
	}
	if s.ReplicaSets[0].ChangeCause != "deploy order-service:v3" || s.ReplicaSets[0].Image != "order-service:v3" {
		t.Fatalf("rev 3: %+v", s.ReplicaSets[0])
	}
	if !s.RolloutStarted.Equal(t0) {
		t.Fatalf("RolloutStarted = %s, want creation of the revision 3 ReplicaSet", s.RolloutStarted)
	}
	if olds := s.OldReplicaSets(); len(olds) != 1 || olds[0].Revision != 2 {
		t.Fatalf("OldReplicaSets = %+v", olds)
	}
	// The snapshot shares nothing with the cached objects.
	d.Spec.Template.Spec.Containers[0].Image = "mutated"
	if s.Image != "order-service:v3" {
		t.Fatal("service aliases the cache")
	}
}

func TestRevisionsFrom(t *testing.T) {
	d := deployment("shop", "cart", 2, "cart:v2")
	r1 := replicaSet(d, "aaaaa", 1, "cart:v1", 0, t0.Add(-time.Hour))
	r2 := replicaSet(d, "bbbbb", 2, "cart:v2", 3, t0)
	noRev := replicaSet(d, "ccccc", 0, "cart:v0", 0, t0)
	delete(noRev.Annotations, "deployment.kubernetes.io/revision")
	got := RevisionsFrom(d, []*appsv1.ReplicaSet{r1, noRev, r2})
	want := []domain.Revision{
		{Number: 2, Image: "cart:v2", ChangeCause: "deploy cart:v2", Created: t0, ReplicaSet: "cart-bbbbb", Current: true},
		{Number: 1, Image: "cart:v1", ChangeCause: "deploy cart:v1", Created: t0.Add(-time.Hour), ReplicaSet: "cart-aaaaa"},
	}
	if len(got) != len(want) {
		t.Fatalf("RevisionsFrom = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("revision %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestEventFrom(t *testing.T) {
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: "shop", Name: "x.1", CreationTimestamp: metav1.NewTime(t0)},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "cart-aaaaa-bbbbb", Namespace: "shop"},
		Type:           "Warning", Reason: "BackOff", Message: "Back-off restarting failed container\n",
		LastTimestamp: metav1.NewTime(t0.Add(time.Minute)), Count: 4,
	}
	got := EventFrom(e)
	want := domain.Event{Time: t0.Add(time.Minute), Source: domain.SourceKube, Type: "Warning", Reason: "BackOff",
		Object: "pod/cart-aaaaa-bbbbb", Message: "Back-off restarting failed container", Count: 4}
	if got != want {
		t.Fatalf("EventFrom = %+v, want %+v", got, want)
	}
	e.LastTimestamp = metav1.Time{}
	e.Count = 0
	e.EventTime = metav1.NewMicroTime(t0.Add(2 * time.Minute))
	if got := EventFrom(e); !got.Time.Equal(t0.Add(2*time.Minute)) || got.Count != 1 {
		t.Fatalf("events.k8s.io style event: %+v", got)
	}
}

func TestBuildStateSortsAndFiltersEvents(t *testing.T) {
	b := deployment("shop", "b", 1, "b:v1")
	a := deployment("shop", "a", 1, "a:v1")
	z := deployment("alpha", "z", 1, "z:v1")
	ev := func(kind, name string, at time.Time) *corev1.Event {
		return &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "shop"},
			Type: "Warning", Reason: "R", LastTimestamp: metav1.NewTime(at)}
	}
	objs := Objects{
		Deployments: []*appsv1.Deployment{b, a, z},
		Events:      []*corev1.Event{ev("Deployment", "a", t0), ev("Deployment", "other", t0.Add(time.Second)), ev("Deployment", "b", t0.Add(2*time.Second))},
	}
	st := BuildState(objs, t0, domain.Health{OK: true}, true)
	var keys []string
	for _, s := range st.Services {
		keys = append(keys, s.Key())
	}
	if fmt.Sprint(keys) != "[alpha/z shop/a shop/b]" || !st.Synced || !st.At.Equal(t0) {
		t.Fatalf("services %v synced=%v", keys, st.Synced)
	}
	if len(st.Events) != 3 || st.Events[0].Object != "deployment/b" {
		t.Fatalf("events not newest first: %+v", st.Events)
	}
	objs.OnlyRelatedEvents = true
	st = BuildState(objs, t0, domain.Health{OK: true}, true)
	if len(st.Events) != 2 {
		t.Fatalf("unrelated event kept with a selector: %+v", st.Events)
	}
}

func TestOfferIsLatestWins(t *testing.T) {
	ch := make(chan domain.ClusterState, 1)
	for i := 0; i < 5; i++ {
		offer(ch, domain.ClusterState{At: t0.Add(time.Duration(i) * time.Second)})
	}
	if got := <-ch; !got.At.Equal(t0.Add(4 * time.Second)) {
		t.Fatalf("got state from %s, want the newest", got.At)
	}
	select {
	case s := <-ch:
		t.Fatalf("a second state was queued: %v", s.At)
	default:
	}
}

// fleet makes n Deployments with two ReplicaSets each (the current one with 3 ready pods) and
// a Warning event per ten services: the shape of a busy namespace.
func fleet(n int) Objects {
	var o Objects
	for i := 0; i < n; i++ {
		d := deployment("shop", fmt.Sprintf("svc-%04d", i), 2, fmt.Sprintf("svc-%04d:v2", i))
		old := replicaSet(d, "aaaaa", 1, "old:v1", 0, t0.Add(-time.Hour))
		cur := replicaSet(d, "bbbbb", 2, "new:v2", 3, t0)
		o.Deployments = append(o.Deployments, d)
		o.ReplicaSets = append(o.ReplicaSets, old, cur)
		for j := 0; j < 3; j++ {
			o.Pods = append(o.Pods, pod(cur, fmt.Sprintf("p%04d", j), true))
		}
		if i%10 == 0 {
			o.Events = append(o.Events, &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Name: d.Name},
				Type: "Warning", Reason: "R", LastTimestamp: metav1.NewTime(t0.Add(time.Duration(i) * time.Second))})
		}
	}
	return o
}

func TestBuildStateFleet(t *testing.T) {
	st := BuildState(fleet(500), t0, domain.Health{OK: true}, true)
	if len(st.Services) != 500 {
		t.Fatalf("%d services", len(st.Services))
	}
	for _, s := range st.Services {
		if len(s.ReplicaSets) != 2 || len(s.ReplicaSets[0].Pods) != 3 || s.Phase != domain.PhaseComplete {
			t.Fatalf("%s: %+v", s.Key(), s)
		}
	}
}

// BenchmarkBuildState500 measures one state build from cached objects: 500 Deployments,
// 1000 ReplicaSets, 1500 pods, 50 events.
func BenchmarkBuildState500(b *testing.B) {
	objs := fleet(500)
	b.ReportAllocs()
	for b.Loop() {
		_ = BuildState(objs, t0, domain.Health{OK: true}, true)
	}
}

func TestServiceFromCPURequest(t *testing.T) {
	container := func(name, cpu string) corev1.Container {
		c := corev1.Container{Name: name, Image: "app:v1"}
		if cpu != "" {
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
		}
		return c
	}
	for _, tc := range []struct {
		name       string
		containers []corev1.Container
		want       float64
	}{
		{"none", []corev1.Container{container("app", "")}, 0},
		{"millicores", []corev1.Container{container("app", "250m")}, 0.25},
		{"whole cores", []corev1.Container{container("app", "2")}, 2},
		{"sum over containers", []corev1.Container{container("app", "250m"), container("sidecar", "50m"), container("log", "")}, 0.3},
		{"memory only", []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}}}, 0},
	} {
		d := deployment("shop", "web", 1, "app:v1", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers = tc.containers })
		got := ServiceFrom(d, nil, nil).CPURequest
		if diff := got - tc.want; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s: CPURequest = %g, want %g", tc.name, got, tc.want)
		}
	}
}

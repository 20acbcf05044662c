package cluster

import (
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
)

func colourDeployment(c domain.Color, image string, replicas int32) *appsv1.Deployment {
	return deployment("shop", "checkout-"+string(c), 1, image, func(d *appsv1.Deployment) {
		l := map[string]string{"app": "checkout", bluegreen.ColorLabel: string(c)}
		d.Spec.Selector.MatchLabels, d.Spec.Template.Labels = l, l
		d.Spec.Replicas = ptr.To(replicas)
		d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = replicas, replicas, replicas, replicas
	})
}

func bgService(active string, ann map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout", ResourceVersion: "7", Annotations: ann,
		Labels: map[string]string{bluegreen.StrategyLabel: bluegreen.StrategyValue}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "checkout", bluegreen.ColorLabel: active}}}
}

// A blue-green Service and its two Deployments become one service named after the Service,
// with the active colour's figures, both colours' ReplicaSets and the state of its annotations;
// the colours are not listed on their own.
func TestBuildStateBlueGreen(t *testing.T) {
	blue := colourDeployment(domain.ColorBlue, "checkout:v1", 3)
	green := colourDeployment(domain.ColorGreen, "checkout:v2", 3)
	brs := replicaSet(blue, "5f6d7c8b9a", 1, "checkout:v1", 3, t0)
	grs := replicaSet(green, "6c7d8e9f5a", 1, "checkout:v2", 3, t0.Add(time.Hour))
	due := t0.Add(2*time.Hour + 5*time.Minute)
	svc := bgService("green", map[string]string{bluegreen.AnnRevision: "4", bluegreen.AnnSwitchedAt: bluegreen.FormatTime(t0.Add(2 * time.Hour)),
		bluegreen.AnnScaleDownAt: bluegreen.FormatTime(due)})
	objs := Objects{
		Deployments: []*appsv1.Deployment{blue, green, deployment("shop", "gateway", 1, "gateway:v1")},
		ReplicaSets: []*appsv1.ReplicaSet{brs, grs},
		Pods:        []*corev1.Pod{pod(brs, "aaaaa", true), pod(grs, "bbbbb", true)},
		Services:    []*corev1.Service{svc},
	}
	st := BuildState(objs, t0, domain.Health{OK: true}, true)
	if len(st.Services) != 2 || st.Services[0].Name != "checkout" || st.Services[1].Name != "gateway" {
		t.Fatalf("services %d: %+v", len(st.Services), st.Services)
	}
	s := st.Services[0]
	bg := s.BlueGreen
	if s.Kind != domain.KindBlueGreen || bg == nil || bg.Problem != "" || bg.Active != domain.ColorGreen || s.Image != "checkout:v2" ||
		s.Revision != 4 || s.Ready != 3 || s.Phase != domain.PhaseComplete || !bg.ScaleDownAt.Equal(due) ||
		!s.RolloutStarted.Equal(t0.Add(2*time.Hour)) || bg.ScaleDownDelay != 5*time.Minute {
		t.Fatalf("checkout %+v / %+v", s, bg)
	}
	if len(s.ReplicaSets) != 2 || s.ReplicaSets[0].Color != domain.ColorGreen || s.ReplicaSets[1].Color != domain.ColorBlue {
		t.Fatalf("replicasets %+v", s.ReplicaSets)
	}
	if rs, ok := s.NewReplicaSet(); !ok || rs.Name != grs.Name {
		t.Errorf("new replicaset %+v", rs)
	}
	if old := s.OldReplicaSets(); len(old) != 1 || old[0].Name != brs.Name {
		t.Errorf("old replicasets %+v", old)
	}
	if c := bg.Of(domain.ColorBlue); c.Deployment != "checkout-blue" || c.Image != "checkout:v1" || !c.AllReady() || c.ReplicaSet != brs.Name {
		t.Errorf("blue %+v", c)
	}

	// The pods each colour lost belong to the one service; another's stay its own.
	since := t0.Add(-time.Hour)
	objs.PodsKnownSince = since
	objs.GonePods = []GonePod{
		{Namespace: "shop", Deployment: "checkout-blue", Name: "checkout-blue-5f6d7c8b9a-zzzzz"},
		{Namespace: "shop", Deployment: "gateway", Name: "gateway-7d9f8b6c4d-yyyyy"},
		{Namespace: "shop", Deployment: "checkout-green", Name: "checkout-green-6c7d8e9f5a-xxxxx"},
		{Namespace: "other", Deployment: "gateway", Name: "gateway-7d9f8b6c4d-wwwww"},
	}
	st = BuildState(objs, t0, domain.Health{OK: true}, true)
	for i, want := range [][]string{
		{"checkout-blue-5f6d7c8b9a-zzzzz", "checkout-green-6c7d8e9f5a-xxxxx"},
		{"gateway-7d9f8b6c4d-yyyyy"},
	} {
		if s := st.Services[i]; !slices.Equal(s.GonePods, want) || !s.PodsKnownSince.Equal(since) {
			t.Errorf("%s: gone pods %v known since %s, want %v since %s", s.Name, s.GonePods, s.PodsKnownSince, want, since)
		}
	}
}

// An inconsistent pair is still one service, in phase unknown, saying what is wrong; with a
// label selector that leaves out both colours it is not shown.
func TestBuildStateBlueGreenInconsistent(t *testing.T) {
	blue := colourDeployment(domain.ColorBlue, "checkout:v1", 3)
	objs := Objects{Deployments: []*appsv1.Deployment{blue}, Services: []*corev1.Service{bgService("blue", nil)}}
	st := BuildState(objs, t0, domain.Health{OK: true}, true)
	if len(st.Services) != 1 || st.Services[0].Phase != domain.PhaseUnknown ||
		!strings.Contains(st.Services[0].BlueGreen.Problem, "Deployment checkout-green not found") || st.Services[0].Message == "" {
		t.Fatalf("%+v", st.Services)
	}
	objs = Objects{Services: []*corev1.Service{bgService("blue", nil)}, OnlyRelatedEvents: true}
	if st := BuildState(objs, t0, domain.Health{OK: true}, true); len(st.Services) != 0 {
		t.Fatalf("shown without either colour under a selector: %+v", st.Services)
	}
}

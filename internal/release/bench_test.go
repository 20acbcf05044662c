package release

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/domain"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// BenchmarkJudge is one admission decision with a tag policy, two windows and a freeze.
func BenchmarkJudge(b *testing.B) {
	w1, _ := ParseWindow("Mon-Fri 09:00-17:00 Europe/Berlin")
	w2, _ := ParseWindow("Sat 10:00-12:00 America/New_York")
	p := Policy{Tags: TagPolicy{Kind: "minor"}, Windows: []Window{w1, w2}}
	now := time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)
	f := &Freeze{Until: now.Add(-time.Hour)}
	for b.Loop() {
		Judge(p, domain.TriggerRegistry, "app:v1.3.0", "v1.2.9", time.Time{}, f, "", false, now)
	}
}

// BenchmarkTickWaiting is one reconciler tick over 1,000 Deployments, each with a deploy
// queued for a window that is closed: all judged, nothing written.
func BenchmarkTickWaiting(b *testing.B) {
	now := time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC) // Saturday
	var ds []*appsv1.Deployment
	for i := range 1000 {
		p := Pending{ID: "x", Image: "app:v1.3.0", Trigger: domain.TriggerRegistry, State: StateQueued,
			Until: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
		pj, _ := json.Marshal(p)
		ds = append(ds, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i), Namespace: "shop", Annotations: map[string]string{
				AnnotationPending: string(pj), AnnotationWindows: "Mon-Fri 09:00-17:00 UTC", AnnotationTags: "minor"}},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:v1.2.0"}}}}},
		})
	}
	r := &Reconciler{Clock: fixedClock(now), Deployments: func() []*appsv1.Deployment { return ds }}
	ctx := context.Background()
	for b.Loop() {
		if n := r.Tick(ctx); n != 0 {
			b.Fatalf("performed %d", n)
		}
	}
}

package sandbox

import (
	"context"
	"regexp"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// The seed has the blue-green service checkout: its Service selects blue, checkout-blue runs
// 3 Ready pods of checkout:v1 named like any ReplicaSet's, checkout-green is at 0. A sandbox
// started before the blue-green seed existed gets it now (the seed is idempotent).
func TestSeededBlueGreen(t *testing.T) {
	env := Shared(t)
	client := env.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := CreateBlueGreen(ctx, client, Namespace, SeededBlueGreen, SeededBlueGreen+":v1", 3); err != nil {
		t.Fatal(err)
	}
	blue, green := bluegreen.DeploymentName(SeededBlueGreen, domain.ColorBlue), bluegreen.DeploymentName(SeededBlueGreen, domain.ColorGreen)
	WaitRolledOut(t, client, Namespace, blue, 90*time.Second)
	WaitRolledOut(t, client, Namespace, green, 90*time.Second)

	svc, err := client.CoreV1().Services(Namespace).Get(ctx, SeededBlueGreen, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bluegreen.IsBlueGreen(svc) || svc.Spec.Selector[bluegreen.ColorLabel] != "blue" || svc.Spec.Selector["app"] != SeededBlueGreen {
		t.Fatalf("service %s: labels %v selector %v", svc.Name, svc.Labels, svc.Spec.Selector)
	}
	for name, want := range map[string]int32{blue: 3, green: 0} {
		d, err := client.AppsV1().Deployments(Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != want || d.Status.AvailableReplicas != want || d.Spec.Template.Spec.Containers[0].Image != "checkout:v1" {
			t.Errorf("%s: %d/%d available, image %s; want %d, checkout:v1", name, d.Status.AvailableReplicas, *d.Spec.Replicas,
				d.Spec.Template.Spec.Containers[0].Image, want)
		}
	}
	pods, err := client.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^checkout-blue-[a-z0-9]+-[a-z0-9]{5}$`)
	ready := 0
	for _, p := range pods.Items {
		if !name.MatchString(p.Name) {
			t.Errorf("pod %s is not named REPLICASET-xxxxx", p.Name)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready != 3 {
		t.Errorf("the Service selects %d Ready pods, want 3", ready)
	}
}

package sandbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// SeededBlueGreen is the blue-green service every sandbox has: checkout-blue active at
// checkout:v1 with 3 replicas, checkout-green at 0.
const SeededBlueGreen = "checkout"

// BlueGreenDeployment is one colour of a blue-green service: a seeded-like Deployment named
// NAME-COLOR whose pods are labelled app=NAME and opsdeck.io/color=COLOR.
func BlueGreenDeployment(ns, name string, c domain.Color, image string, replicas int32) *appsv1.Deployment {
	d := Deployment(ns, bluegreen.DeploymentName(name, c), image, replicas)
	l := map[string]string{"app": name, bluegreen.ColorLabel: string(c)}
	d.Labels = l
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: l}
	d.Spec.Template.Labels = l
	return d
}

// BlueGreenService is the Service of a blue-green service: labelled opsdeck.io/strategy=
// blue-green, selecting app=NAME and the active colour.
func BlueGreenService(ns, name string, active domain.Color) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			"app": name, bluegreen.StrategyLabel: bluegreen.StrategyValue,
		}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name, bluegreen.ColorLabel: string(active)},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
}

// CreateBlueGreen creates a blue-green service: NAME-blue active with replicas pods of image,
// NAME-green at 0 with the same image, and the Service. Existing objects are left as they are.
func CreateBlueGreen(ctx context.Context, client kubernetes.Interface, ns, name, image string, replicas int32) error {
	for _, d := range []*appsv1.Deployment{
		BlueGreenDeployment(ns, name, domain.ColorBlue, image, replicas),
		BlueGreenDeployment(ns, name, domain.ColorGreen, image, 0),
	} {
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create deployment %s/%s: %w", ns, d.Name, err)
		}
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, BlueGreenService(ns, name, domain.ColorBlue), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service %s/%s: %w", ns, name, err)
	}
	return nil
}

// CreateBlueGreen creates a blue-green service in the test's namespace ns and waits until its
// blue colour is available.
func (e *Env) CreateBlueGreen(t testing.TB, ns, name, image string, replicas int32) {
	t.Helper()
	client := e.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := CreateBlueGreen(ctx, client, ns, name, image, replicas); err != nil {
		t.Fatal(err)
	}
	WaitRolledOut(t, client, ns, bluegreen.DeploymentName(name, domain.ColorBlue), 90*time.Second)
	WaitRolledOut(t, client, ns, bluegreen.DeploymentName(name, domain.ColorGreen), 90*time.Second)
}

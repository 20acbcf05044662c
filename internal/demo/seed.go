package demo

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Namespace is where the demo's services run, as in the sandbox.
const Namespace = "shop"

// serviceNames are the Deployments the demo seeds, as the sandbox does.
var serviceNames = []string{"cart-service", "gateway", "inventory-service", "order-service", "payment-service"}

// blueGreenName is the demo's blue-green service (WithBlueGreen), as the sandbox seeds it.
const blueGreenName = "checkout"

// seedReplicas is every seeded Deployment's replica count.
const seedReplicas = 3

// deployment is a seeded Deployment like the sandbox's: RollingUpdate with maxSurge 1 and
// maxUnavailable 0, a 60 s progress deadline, a 250m CPU request on the main container (a
// healthy pod uses 40 % of it), pods labelled with podLabels.
func deployment(name string, replicas int32, podLabels map[string]string, containers ...corev1.Container) *appsv1.Deployment {
	surge, unavailable := intstr.FromInt32(1), intstr.FromInt32(0)
	deadline, history := int32(60), int32(10)
	containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: Namespace, Labels: podLabels,
			Annotations: map[string]string{changeCause: "initial deploy of " + containers[0].Image},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable},
			},
			ProgressDeadlineSeconds: &deadline,
			RevisionHistoryLimit:    &history,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec:       corev1.PodSpec{Containers: containers},
			},
		},
	}
}

// seedObjects are the demo's Deployments and Services; the simulated controller makes their
// ReplicaSets and pods.
func seedObjects(blueGreen bool) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, name := range serviceNames {
		cs := []corev1.Container{{Name: name, Image: name + ":v1"}}
		if name == "gateway" {
			// A sidecar, so the console's container chooser has something to choose.
			cs = append(cs, corev1.Container{Name: "envoy", Image: "envoyproxy/envoy:v1.30.1"})
		}
		out = append(out, deployment(name, seedReplicas, map[string]string{"app": name}, cs...))
	}
	if blueGreen {
		for _, c := range domain.Colors {
			replicas := int32(0)
			if c == domain.ColorBlue {
				replicas = seedReplicas
			}
			l := map[string]string{"app": blueGreenName, bluegreen.ColorLabel: string(c)}
			out = append(out, deployment(bluegreen.DeploymentName(blueGreenName, c), replicas, l,
				corev1.Container{Name: "app", Image: blueGreenName + ":v1"}))
		}
	}
	return out
}

// blueGreenService is checkout's Service, selecting blue.
func blueGreenService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: blueGreenName, Namespace: Namespace, Labels: map[string]string{
			"app": blueGreenName, bluegreen.StrategyLabel: bluegreen.StrategyValue,
		}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": blueGreenName, bluegreen.ColorLabel: string(domain.ColorBlue)},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
}

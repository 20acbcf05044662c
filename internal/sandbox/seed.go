package sandbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// Namespace is where the sandbox seeds its services.
const Namespace = "shop"

// SeededServices are the Deployments every sandbox has, 3 replicas each at image NAME:v1.
var SeededServices = []string{"order-service", "payment-service", "inventory-service", "cart-service", "gateway"}

// ScaleServiceName names the i-th extra service of `up --services N`.
func ScaleServiceName(i int) string { return fmt.Sprintf("svc-%03d", i) }

// FleetNamespace names the i-th namespace of `up --services N --namespaces M`.
func FleetNamespace(i int) string { return fmt.Sprintf("fleet-%03d", i) }

// fleet spreads n services over m namespaces as evenly as they go: namespace -> names.
func fleet(n, m int) map[string][]string {
	out := make(map[string][]string, m)
	for i := 0; i < n; i++ {
		ns := FleetNamespace(i%m + 1)
		out[ns] = append(out[ns], ScaleServiceName(len(out[ns])+1))
	}
	return out
}

// Deployment is a seeded service's Deployment: 3 replicas by default, RollingUpdate with
// maxSurge 1 and maxUnavailable 0, a 60 s progress deadline, pods labelled app=NAME with one
// container "app".
func Deployment(ns, name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	surge, unavailable := intstr.FromInt32(1), intstr.FromInt32(0)
	deadline := int32(60)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Labels: labels,
			Annotations: map[string]string{"kubernetes.io/change-cause": "sandbox seed " + image},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable},
			},
			ProgressDeadlineSeconds: &deadline,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "app",
					Image: image,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						// 250m: a healthy pod (0.1 cores) runs at 40 % of its request, a hog (0.95) far above.
						corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("128Mi"),
					}},
				}}},
			},
		},
	}
}

// Service is the ClusterIP Service in front of a seeded Deployment.
func Service(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
}

// seed creates namespace shop with the seeded services (and the scale services), then waits
// until every Deployment is available.
func (s *Sandbox) seed(ctx context.Context, client kubernetes.Interface) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", Namespace, err)
	}
	names := append([]string(nil), SeededServices...)
	if s.opts.Namespaces > 0 {
		if err := s.seedFleet(ctx, client); err != nil {
			return err
		}
	} else {
		for i := 1; i <= s.opts.Services; i++ {
			names = append(names, ScaleServiceName(i))
		}
	}
	s.progress("seeding %d services in namespace %s", len(names), Namespace)
	if err := createAll(ctx, client, Namespace, names); err != nil {
		return err
	}
	s.progress("seeding blue-green service %s in namespace %s", SeededBlueGreen, Namespace)
	if err := CreateBlueGreen(ctx, client, Namespace, SeededBlueGreen, SeededBlueGreen+":v1", 3); err != nil {
		return err
	}
	n := len(names) + 2 // and checkout-blue, checkout-green
	return s.waitFor(ctx, fmt.Sprintf("%d Deployments available", n), 5*time.Minute, allAvailable(client, Namespace, n))
}

// seedFleet creates the fleet namespaces and their services, and waits for them (their
// rollouts overlap with shop's, which is seeded next).
func (s *Sandbox) seedFleet(ctx context.Context, client kubernetes.Interface) error {
	f := fleet(s.opts.Services, s.opts.Namespaces)
	s.progress("seeding %d services in %d namespaces %s...", s.opts.Services, len(f), FleetNamespace(1))
	for ns, names := range f {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
		if err := createAll(ctx, client, ns, names); err != nil {
			return err
		}
	}
	for ns, names := range f {
		if err := s.waitFor(ctx, fmt.Sprintf("%d Deployments available in %s", len(names), ns), 5*time.Minute, allAvailable(client, ns, len(names))); err != nil {
			return err
		}
	}
	return nil
}

// createAll creates the Deployment and Service of each name, a few at a time.
func createAll(ctx context.Context, client kubernetes.Interface, ns string, names []string) error {
	work := make(chan string)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				if err := CreateService(ctx, client, ns, name, name+":v1", 3); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}

// CreateService creates a Deployment and its Service; existing ones are left as they are.
func CreateService(ctx context.Context, client kubernetes.Interface, ns, name, image string, replicas int32) error {
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, Deployment(ns, name, image, replicas), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create deployment %s/%s: %w", ns, name, err)
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, Service(ns, name), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service %s/%s: %w", ns, name, err)
	}
	return nil
}

// allAvailable is a wait condition: want Deployments in ns have rolled out completely.
func allAvailable(client kubernetes.Interface, ns string, want int) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		list, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		done := 0
		for i := range list.Items {
			if RolledOut(&list.Items[i]) {
				done++
			}
		}
		return done >= want, fmt.Errorf("%d of %d Deployments available", done, want)
	}
}

// RolledOut tells whether a Deployment's latest generation is fully rolled out and available.
func RolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	return st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == want &&
		st.Replicas == want && st.AvailableReplicas == want
}

package main

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/opsdeck/opsdeck/internal/simulator"
)

// watchPods keeps sim in step with the pods of every namespace through a shared informer:
// Running pods are upserted, others deleted. It returns the informer's HasSynced.
func watchPods(ctx context.Context, cs kubernetes.Interface, sim *simulator.Simulator, lw *logWriter) (cache.InformerSynced, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTransform(slimPod))
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { apply(sim, obj); lw.observeIf(obj, false) },
		UpdateFunc: func(_, obj any) { apply(sim, obj); lw.observeIf(obj, false) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			lw.observeIf(obj, true)
			if p, ok := obj.(*corev1.Pod); ok {
				sim.Delete(p.Namespace, p.Name)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	factory.Start(ctx.Done())
	return inf.HasSynced, nil
}

// apply upserts a Running pod (its first container) and deletes any other.
func apply(sim *simulator.Simulator, obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if p.Status.Phase != corev1.PodRunning || len(p.Spec.Containers) == 0 {
		sim.Delete(p.Namespace, p.Name)
		return
	}
	started := p.CreationTimestamp.Time
	if p.Status.StartTime != nil {
		started = p.Status.StartTime.Time
	}
	c := p.Spec.Containers[0]
	sim.Upsert(simulator.Pod{
		Namespace: p.Namespace,
		Name:      p.Name,
		Container: c.Name,
		Image:     c.Image,
		Started:   started,
	})
}

// slimPod keeps only what apply reads, so that the cache of thousands of pods stays small.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              p.Name,
			Namespace:         p.Namespace,
			UID:               p.UID,
			ResourceVersion:   p.ResourceVersion,
			CreationTimestamp: p.CreationTimestamp,
		},
		Status: corev1.PodStatus{Phase: p.Status.Phase, StartTime: p.Status.StartTime},
	}
	if len(p.Spec.Containers) > 0 {
		c := p.Spec.Containers[0]
		slim.Spec.Containers = []corev1.Container{{Name: c.Name, Image: c.Image}}
	}
	return slim, nil
}

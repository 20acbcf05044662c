package main

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/opsdeck/opsdeck/internal/simulator"
)

// kwokLogs is kwok's Logs resource: which files hold a pod's container logs.
var kwokLogs = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}

// logWriter keeps every Running pod's log files (simulator.Logs) and, for each new pod, a Logs
// object owned by the pod (so that it goes with it) naming them for kwok.
type logWriter struct {
	logs   *simulator.Logs
	dyn    dynamic.Interface
	queue  chan *corev1.Pod
	stderr io.Writer
}

func newLogWriter(rc *rest.Config, dir string, stderr io.Writer) (*logWriter, error) {
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return &logWriter{logs: simulator.NewLogs(dir, nil), dyn: dyn, queue: make(chan *corev1.Pod, 4096), stderr: stderr}, nil
}

// run writes a second's lines every second and registers new pods, until ctx ends.
func (w *logWriter) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-w.queue:
			w.register(ctx, p)
		case <-t.C:
			w.logs.Tick()
		}
	}
}

// observeIf is observe on a writer that may be nil (no --logs-dir).
func (w *logWriter) observeIf(obj any, deleted bool) {
	if w != nil {
		w.observe(obj, deleted)
	}
}

// observe follows a pod of the informer: Running pods have logs, others none.
func (w *logWriter) observe(obj any, deleted bool) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if deleted || p.Status.Phase != corev1.PodRunning || len(p.Spec.Containers) == 0 {
		w.logs.Delete(p.Namespace, p.Name)
		return
	}
	c := p.Spec.Containers[0]
	isNew, err := w.logs.Upsert(simulator.Pod{Namespace: p.Namespace, Name: p.Name, Container: c.Name, Image: c.Image})
	if err != nil {
		fmt.Fprintf(w.stderr, "simulator: logs of %s/%s: %v\n", p.Namespace, p.Name, err)
		return
	}
	if isNew {
		select {
		case w.queue <- p:
		default:
			fmt.Fprintf(w.stderr, "simulator: logs of %s/%s: registration queue full\n", p.Namespace, p.Name)
		}
	}
}

// register creates the pod's Logs object.
func (w *logWriter) register(ctx context.Context, p *corev1.Pod) {
	cur, prev := w.logs.Files(p.Namespace, p.Name)
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "Logs",
		"metadata": map[string]any{
			"name": p.Name, "namespace": p.Namespace,
			"ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "Pod", "name": p.Name, "uid": string(p.UID)}},
		},
		"spec": map[string]any{"logs": []any{map[string]any{"logsFile": cur, "previousLogsFile": prev, "follow": true}}},
	}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := w.dyn.Resource(kwokLogs).Namespace(p.Namespace).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		fmt.Fprintf(w.stderr, "simulator: Logs object of %s/%s: %v\n", p.Namespace, p.Name, err)
	}
}

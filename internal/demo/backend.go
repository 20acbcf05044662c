package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/backend"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Backend is opsdeck's own backend (internal/backend: the cluster watcher, the executor with
// its audit log and snapshots) on a simulated cluster. Everything an action does goes through
// the real executor; only the API server, the controllers, the kubelet and Prometheus are
// simulated.
type Backend struct {
	*backend.Backend
	clock   domain.Clock
	client  kubernetes.Interface
	sim     *sim
	exec    *actions.Executor
	metrics *metricsSource
	audit   *audit.Log
	ctx     context.Context

	reconcileMu sync.Mutex
	reconciler  *bluegreen.Reconciler

	kick    chan struct{}
	poll    time.Duration
	tempDir string // the audit log's temporary directory, when New made one
}

// Option configures New.
type Option func(*options)

type options struct {
	blueGreen      bool
	preview        time.Duration
	scaleDownDelay time.Duration
	readOnly       bool
	auditLog       string
	thresholds     domain.Thresholds
}

// WithBlueGreen adds the blue-green service checkout, as the sandbox seeds it: checkout-blue
// active at checkout:v1 with 3 replicas, checkout-green at 0. A deploy gives the idle colour
// the new image, and the reconciler switches traffic once all its pods are Ready (and stayed
// so for preview), then scales the previous colour to zero after scaleDownDelay (5 m when
// zero).
func WithBlueGreen(preview, scaleDownDelay time.Duration) Option {
	return func(o *options) {
		o.blueGreen, o.preview, o.scaleDownDelay = true, preview, scaleDownDelay
		if o.scaleDownDelay <= 0 {
			o.scaleDownDelay = bluegreen.DefaultScaleDownDelay
		}
	}
}

// WithReadOnly makes the executor refuse every action, as --readonly does.
func WithReadOnly() Option { return func(o *options) { o.readOnly = true } }

// WithAuditLog writes the audit log (and its snapshots beside it) at path; by default they go
// to a temporary directory removed when the backend's context ends.
func WithAuditLog(path string) Option { return func(o *options) { o.auditLog = path } }

// WithThresholds are the guard's rules a blue-green preview must pass.
func WithThresholds(t domain.Thresholds) Option { return func(o *options) { o.thresholds = t } }

// New seeds a simulated namespace shop at clock.Now() and starts, for ctx's life, the
// simulation and opsdeck's backend on it. It returns once the watches have synced.
func New(ctx context.Context, clock domain.Clock, opts ...Option) (*Backend, error) {
	if clock == nil {
		clock = domain.SystemClock{}
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var tempDir string
	if o.auditLog == "" {
		dir, err := os.MkdirTemp("", "opsdeck-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		go func() { <-ctx.Done(); os.RemoveAll(dir) }()
		o.auditLog = filepath.Join(dir, "audit.jsonl")
		tempDir = dir
	}
	log, err := audit.Open(o.auditLog)
	if err != nil {
		return nil, err
	}

	client, api := newClientset(clock)
	b := &Backend{clock: clock, client: client, sim: newSim(client), audit: log, ctx: ctx, tempDir: tempDir,
		kick: make(chan struct{}, 1), poll: 200 * time.Millisecond}
	api.onWrite = b.wake
	start := clock.Now()
	born := start.Add(-24 * time.Hour)
	for _, d := range seedObjects(o.blueGreen) {
		d.CreationTimestamp = metav1.NewTime(born)
		if err := api.Add(d); err != nil {
			return nil, fmt.Errorf("demo: seed %s: %w", d.Name, err)
		}
	}
	if o.blueGreen {
		svc := blueGreenService()
		svc.CreationTimestamp = metav1.NewTime(born)
		if err := api.Add(svc); err != nil {
			return nil, fmt.Errorf("demo: seed %s: %w", svc.Name, err)
		}
	}
	// The seeded revisions have run for a day.
	b.sim.advanceTo(ctx, born)
	b.sim.advanceTo(ctx, start)

	id := domain.Identity{Context: "demo", Cluster: "demo", User: "demo", Namespaces: []string{Namespace}, Demo: true}
	b.exec = &actions.Executor{Client: client, Audit: log, Identity: id, ReadOnly: o.readOnly, Clock: clock,
		BlueGreen: actions.BlueGreenSettings{Preview: o.preview, ScaleDownDelay: o.scaleDownDelay}}
	w, err := cluster.NewWatcher(client, cluster.WatchOptions{Namespaces: []string{Namespace}, Clock: clock, MinInterval: time.Millisecond})
	if err != nil {
		return nil, err
	}
	b.metrics = &metricsSource{sim: b.sim, clock: clock}
	// The blue-green reconciler runs in step with the simulation (reconcile), so that a
	// switch happens at the clock's time the colour became Ready, as it would live.
	lb, err := backend.New(ctx, backend.Options{Identity: id, Watcher: w, Metrics: b.metrics, Executor: b.exec, Clock: clock,
		Thresholds: o.thresholds, NoReconcile: true})
	if err != nil {
		return nil, err
	}
	b.Backend = lb
	if !o.readOnly {
		b.reconciler = &bluegreen.Reconciler{Exec: b.exec, Clock: clock, Metrics: b.metrics.Frame, Thresholds: o.thresholds,
			OnStep: lb.RecordStep}
	}
	if !lb.WaitForSync(ctx) {
		return nil, ctx.Err()
	}
	go b.run(ctx)
	return b, nil
}

// SetPollInterval sets how often (in real time) the simulation reads the clock; 200 ms by
// default. Tests that drive a fast manual clock shorten it.
func (b *Backend) SetPollInterval(d time.Duration) {
	if d > 0 {
		b.reconcileMu.Lock()
		b.poll = d
		b.reconcileMu.Unlock()
		b.wake()
	}
}

// Close removes the temporary directory of the audit log, when New made one (it is also
// removed when the context ends, but a process that exits may not wait for that).
func (b *Backend) Close() {
	if b.tempDir != "" {
		os.RemoveAll(b.tempDir)
	}
}

// AuditLog is the path of the demo's audit log; its snapshots are beside it.
func (b *Backend) AuditLog() string { return b.audit.Path() }

// Client is the simulated cluster's clientset.
func (b *Backend) Client() kubernetes.Interface { return b.client }

func (b *Backend) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// run steps the simulation on a real-time ticker and after every write.
func (b *Backend) run(ctx context.Context) {
	b.reconcileMu.Lock()
	poll := b.poll
	b.reconcileMu.Unlock()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.kick:
			b.reconcileMu.Lock()
			if b.poll != poll {
				poll = b.poll
				t.Reset(poll)
			}
			b.reconcileMu.Unlock()
		}
		b.sync()
	}
}

// sync brings the simulation to the clock's time, then lets the blue-green reconciler act on
// what it shows, and the simulation react to that, at the same time.
func (b *Backend) sync() {
	now := b.clock.Now()
	b.sim.advanceTo(b.ctx, now)
	if b.reconciler == nil {
		return
	}
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	for range 3 {
		if len(b.reconciler.Reconcile(b.ctx, b.truth(now))) == 0 {
			return
		}
		b.sim.advanceTo(b.ctx, now)
	}
}

// truth is the cluster state at now as the API server holds it (the watches follow it).
func (b *Backend) truth(now time.Time) domain.ClusterState {
	ctx := b.ctx
	var objs cluster.Objects
	if l, err := b.client.AppsV1().Deployments(Namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for i := range l.Items {
			objs.Deployments = append(objs.Deployments, &l.Items[i])
		}
	}
	if l, err := b.client.AppsV1().ReplicaSets(Namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for i := range l.Items {
			objs.ReplicaSets = append(objs.ReplicaSets, &l.Items[i])
		}
	}
	if l, err := b.client.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for i := range l.Items {
			objs.Pods = append(objs.Pods, &l.Items[i])
		}
	}
	if l, err := b.client.CoreV1().Services(Namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for i := range l.Items {
			if bluegreen.IsBlueGreen(&l.Items[i]) {
				objs.Services = append(objs.Services, &l.Items[i])
			}
		}
	}
	if l, err := b.client.CoreV1().Events(Namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for i := range l.Items {
			if l.Items[i].Type == corev1.EventTypeWarning { // as the watcher's field selector
				objs.Events = append(objs.Events, &l.Items[i])
			}
		}
	}
	return cluster.BuildState(objs, now, domain.Health{OK: true, LastSuccess: now}, true)
}

// State brings the simulation to the clock's time and returns the cluster state the watches
// will show for it: tests wait until the console shows it.
func (b *Backend) State() domain.ClusterState {
	b.sync()
	return b.truth(b.clock.Now())
}

// Execute performs an action through the executor; the simulated controllers react before it
// returns, as the real ones react to the watch event at once.
func (b *Backend) Execute(ctx context.Context, a domain.Action) (domain.Result, error) {
	res, err := b.Backend.Execute(ctx, a)
	b.sync()
	return res, err
}

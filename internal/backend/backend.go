// Package backend is the real domain.Backend: the cluster watches (internal/cluster), Prometheus
// (internal/metrics, optional) and the one executor (internal/actions) behind the interface the
// console and the guard use.
package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// MetricsSource is what the backend needs from Prometheus; *metrics.Source implements it.
type MetricsSource interface {
	Frame(ctx context.Context, services []domain.Service) domain.MetricsFrame
	History(ctx context.Context, svc domain.Service, window, step time.Duration) ([]domain.Series, error)
}

// Options assemble a Backend.
type Options struct {
	Identity domain.Identity
	// Watcher streams the cluster state; Start is called by New.
	Watcher *cluster.Watcher
	// Metrics may be nil: frames then carry MetricsErr (or "no Prometheus configured").
	Metrics    MetricsSource
	MetricsErr error
	Executor   *actions.Executor
	Clock      domain.Clock
	// Thresholds are the guard's rules, which a blue-green preview must pass.
	Thresholds domain.Thresholds
	// NoReconcile leaves pending blue-green switches and scale-downs to other processes.
	NoReconcile bool
	// ReconcileWhile, when set, lets the reconciler act only while it returns true (a guard
	// replica: only while it leads).
	ReconcileWhile func() bool
	// OnBlueGreenStep, when set, receives every switch and scale-down the backend performs.
	OnBlueGreenStep func(bluegreen.Step)
	Log             *slog.Logger
	// HotWindow is how long after its rollout started a service is read in every frame (the
	// guard's window); the other services not in focus are read in turn (see scope).
	HotWindow time.Duration
	// SampleInterval is Prometheus' scrape interval, when known: guard rounds come no faster.
	SampleInterval time.Duration
}

// Backend joins the watches, the metrics and the executor.
type Backend struct {
	opts       Options
	reconciler *bluegreen.Reconciler
	steps      *stepLog
	scope      *scope
}

var (
	_ domain.Backend       = (*Backend)(nil)
	_ domain.CounterReader = (*Backend)(nil)
)

// New starts the watcher for the life of ctx and returns the backend.
func New(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Watcher == nil {
		return nil, errors.New("backend: no cluster watcher")
	}
	if opts.Executor == nil {
		return nil, errors.New("backend: no executor")
	}
	if opts.Clock == nil {
		opts.Clock = domain.SystemClock{}
	}
	opts.Watcher.Start(ctx)
	if opts.HotWindow <= 0 {
		opts.HotWindow = 15 * time.Minute
	}
	b := &Backend{opts: opts, steps: newStepLog()}
	b.scope = newScope(opts.HotWindow, opts.Clock)
	b.startReconciler()
	return b, nil
}

// Identity is the context, cluster, user and namespaces in use.
func (b *Backend) Identity() domain.Identity { return b.opts.Identity }

// Watch streams cluster states latest-wins until ctx ends.
func (b *Backend) Watch(ctx context.Context) <-chan domain.ClusterState {
	return b.withSteps(ctx, b.opts.Watcher.Subscribe(ctx))
}

// WaitForSync blocks until the watches' caches have filled once.
func (b *Backend) WaitForSync(ctx context.Context) bool { return b.opts.Watcher.WaitForSync(ctx) }

// Watcher is the backend's cluster watcher.
func (b *Backend) Watcher() *cluster.Watcher { return b.opts.Watcher }

// Metrics reads one frame, or says in Err why there is none. The process's state stream
// (internal/backend/stream) is its one caller, once per round.
func (b *Backend) Metrics(ctx context.Context, services []domain.Service) domain.MetricsFrame {
	if b.opts.Metrics == nil {
		return domain.MetricsFrame{At: b.opts.Clock.Now(), Err: b.metricsUnavailable()}
	}
	return b.scope.frame(ctx, services, b.opts.Metrics.Frame)
}

// Counters reads per-pod request counters for the guard's early verdict, when the metrics
// source can (*metrics.Source can).
func (b *Backend) Counters(ctx context.Context, rss []domain.ReplicaSetRef) ([]domain.PodCounters, error) {
	r, ok := b.opts.Metrics.(domain.CounterReader)
	if !ok {
		return nil, b.metricsUnavailable()
	}
	return r.Counters(ctx, rss)
}

// SampleInterval is Prometheus' scrape interval, 0 when unknown.
func (b *Backend) SampleInterval() time.Duration { return b.opts.SampleInterval }

// Focus names the services (keys) that every frame reads: the console's visible rows and
// its selection. The others are read in turn unless they roll out.
func (b *Backend) Focus(keys []string) { b.scope.setFocus(keys) }

// History backfills a service's series.
func (b *Backend) History(ctx context.Context, svc domain.Service, window, step time.Duration) ([]domain.Series, error) {
	if b.opts.Metrics == nil {
		return nil, b.metricsUnavailable()
	}
	return b.opts.Metrics.History(ctx, svc, window, step)
}

func (b *Backend) metricsUnavailable() error {
	if b.opts.MetricsErr != nil {
		return fmt.Errorf("metrics unavailable: %w", b.opts.MetricsErr)
	}
	return errors.New("metrics unavailable: no Prometheus configured (--prometheus URL or prometheus.url in the config)")
}

// Revisions is the rollout history of svc, newest first, from the watch cache.
func (b *Backend) Revisions(_ context.Context, svc domain.Service) ([]domain.Revision, error) {
	return b.opts.Watcher.Revisions(svc.Namespace, svc.Name)
}

// Plan asks the one executor what a would do, changing nothing.
func (b *Backend) Plan(ctx context.Context, a domain.Action) (domain.Plan, error) {
	return b.opts.Executor.Plan(ctx, a)
}

// Execute performs an action through the one executor.
func (b *Backend) Execute(ctx context.Context, a domain.Action) (domain.Result, error) {
	return b.opts.Executor.Execute(ctx, a)
}

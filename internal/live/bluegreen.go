package live

import (
	"context"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// startReconciler runs, for ctx's life, the blue-green reconciler that performs due switches
// and scale-downs through the executor, so that a deploy started by any opsdeck process (or
// by one that has exited) completes while this one runs. A read-only backend acts on nothing.
func (b *Backend) startReconciler(ctx context.Context) {
	if b.opts.NoReconcile || b.opts.Executor.ReadOnly {
		return
	}
	r := &bluegreen.Reconciler{
		Exec:       b.opts.Executor,
		Clock:      b.opts.Clock,
		Thresholds: b.opts.Thresholds,
		Log:        b.opts.Log,
		OnStep:     b.opts.OnBlueGreenStep,
	}
	if b.opts.Metrics != nil {
		r.Metrics = b.opts.Metrics.Frame
	}
	b.reconciler = r
	go r.Run(ctx, b.opts.Watcher.Subscribe(ctx))
}

// PreviewStatus says where the pending blue-green switch of a service (by key) stands.
func (b *Backend) PreviewStatus(key string) string {
	if b.reconciler == nil {
		return ""
	}
	return b.reconciler.PreviewStatus(key)
}

// Snapshots lists the snapshots the executor saved for svc, newest first.
func (b *Backend) Snapshots(_ context.Context, svc domain.Service) ([]domain.Snapshot, error) {
	return b.opts.Executor.Snapshots(svc.Namespace, svc.Name)
}

var _ domain.SnapshotLister = (*Backend)(nil)

package domain

import (
	"context"
	"time"
)

// Backend is everything the console needs from the world. The real one joins the cluster
// watches, Prometheus and the executor; the demo one simulates them in process. Every method
// may block on I/O, so the UI calls them from commands, never from Update or View.
type Backend interface {
	// Identity is the context, cluster, user and namespaces in use.
	Identity() Identity
	// Watch streams cluster states until ctx ends; each replaces the previous (latest wins).
	// The channel is closed when ctx ends.
	Watch(ctx context.Context) <-chan ClusterState
	// Metrics reads the latest value of every metric for the given services and their
	// ReplicaSets with a fixed number of queries, whatever the number of services.
	Metrics(ctx context.Context, services []Service) MetricsFrame
	// History backfills a service's series (whole service and per ReplicaSet) over window.
	History(ctx context.Context, svc Service, window, step time.Duration) ([]Series, error)
	// Revisions is the rollout history of a service, newest first.
	Revisions(ctx context.Context, svc Service) ([]Revision, error)
	// Plan asks the one executor what a would do, changing nothing: the sentence a person
	// confirms, or the one-line refusal (read-only, a bad image, an unknown revision...).
	Plan(ctx context.Context, a Action) (Plan, error)
	// Execute performs an action through the one executor (audit log first). A confirmed
	// plan is executed as Execute(ctx, plan.Confirmed()): refused as a conflict, changing
	// nothing, when the service changed since the plan was read.
	Execute(ctx context.Context, a Action) (Result, error)
}

// Clock gives the time; tests and the demo inject their own.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// SnapshotLister is implemented by backends that keep the objects saved before each mutation;
// the rollback picker lists them beside the revisions.
type SnapshotLister interface {
	// Snapshots of a service, newest first.
	Snapshots(ctx context.Context, svc Service) ([]Snapshot, error)
}

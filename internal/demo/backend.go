package demo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Backend is the simulated domain.Backend. It is safe for concurrent use.
type Backend struct {
	clock domain.Clock

	mu       sync.Mutex
	sim      *sim
	poll     time.Duration
	watchers map[chan struct{}]struct{}
}

var _ domain.Backend = (*Backend)(nil)

// New returns a demo backend whose simulation starts at clock.Now() and follows the clock.
func New(clock domain.Clock, opts ...Option) *Backend {
	if clock == nil {
		clock = domain.SystemClock{}
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	b := &Backend{
		clock:    clock,
		sim:      newSim(clock.Now()),
		poll:     200 * time.Millisecond,
		watchers: map[chan struct{}]struct{}{},
	}
	if o.blueGreen {
		b.sim.addBlueGreen(clock.Now(), o)
	}
	return b
}

// SetPollInterval sets how often (in real time) Watch reads the clock; 200 ms by default.
// Tests that drive a fast manual clock may shorten it. It applies to watches started after.
func (b *Backend) SetPollInterval(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d > 0 {
		b.poll = d
	}
}

// advance brings the simulation to the clock's time; b.mu must be held.
func (b *Backend) advance() time.Time {
	now := b.clock.Now()
	b.sim.advance(now)
	return now
}

// State is the cluster state at the clock's time, as Watch would send it.
func (b *Backend) State() domain.ClusterState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sim.snapshot(b.advance())
}

// Identity names the demo context.
func (b *Backend) Identity() domain.Identity {
	return domain.Identity{Context: "demo", Cluster: "demo", User: "demo", Namespaces: []string{namespace}, Demo: true}
}

// Watch sends the state at once, then a new one whenever the simulation changes: it reads the
// clock on a short real ticker and right after every Execute. A slow reader gets the latest
// state, never a backlog. The channel is closed when ctx ends.
func (b *Backend) Watch(ctx context.Context) <-chan domain.ClusterState {
	out := make(chan domain.ClusterState, 1)
	kick := make(chan struct{}, 1)
	b.mu.Lock()
	b.watchers[kick] = struct{}{}
	poll := b.poll
	b.mu.Unlock()

	go func() {
		defer close(out)
		defer func() {
			b.mu.Lock()
			delete(b.watchers, kick)
			b.mu.Unlock()
		}()
		ticker := time.NewTicker(poll)
		defer ticker.Stop()
		var sent uint64
		for {
			b.mu.Lock()
			now := b.advance()
			var st domain.ClusterState
			changed := b.sim.version != sent
			if changed {
				sent = b.sim.version
				st = b.sim.snapshot(now)
			}
			b.mu.Unlock()
			if changed {
				// Latest wins: replace a state the reader has not taken yet.
				select {
				case <-out:
				default:
				}
				select {
				case out <- st:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			case <-kick:
			}
		}
	}()
	return out
}

// Metrics computes the latest values of the given services (all when empty) and of their
// ReplicaSets with pods, as a fixed number of queries would.
func (b *Backend) Metrics(ctx context.Context, services []domain.Service) domain.MetricsFrame {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.advance()
	var want map[string]bool
	if len(services) > 0 {
		want = map[string]bool{}
		for _, s := range services {
			want[s.Key()] = true
		}
	}
	f := b.sim.frame(now, want)
	if err := ctx.Err(); err != nil {
		f.Err = err
	}
	return f
}

// History backfills a service's series over window with one point per step.
func (b *Backend) History(ctx context.Context, svc domain.Service, window, step time.Duration) ([]domain.Series, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.advance()
	if bg := b.sim.findBlueGreen(svc.Namespace, svc.Name); bg != nil {
		return b.sim.backfill(bg.asDeployment(), now, window, step), nil
	}
	d := b.sim.find(svc.Namespace, svc.Name)
	if d == nil {
		return nil, fmt.Errorf("service %s not found", svc.Key())
	}
	return b.sim.backfill(d, now, window, step), nil
}

// Revisions is the rollout history of a service, newest first.
func (b *Backend) Revisions(ctx context.Context, svc domain.Service) ([]domain.Revision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	if bg := b.sim.findBlueGreen(svc.Namespace, svc.Name); bg != nil {
		return b.sim.blueGreenRevisions(bg), nil
	}
	d := b.sim.find(svc.Namespace, svc.Name)
	if d == nil {
		return nil, fmt.Errorf("service %s not found", svc.Key())
	}
	return b.sim.revisions(d), nil
}

// ErrConflict is returned when an action names an ExpectRevision the service is no longer at.
var ErrConflict = errors.New("conflict")

// Execute performs an action on the simulation with kubectl's semantics, then wakes watchers.
func (b *Backend) Execute(ctx context.Context, a domain.Action) (domain.Result, error) {
	if err := ctx.Err(); err != nil {
		return domain.Result{Action: a}, err
	}
	b.mu.Lock()
	now := b.advance()
	var res domain.Result
	var err error
	if x := a.Expect; x != nil && x.Sentence != "" {
		// A confirmed plan: refused when it would now do something else.
		if p, perr := b.plan(a); perr == nil && !p.Skipped && p.Sentence != x.Sentence {
			err = fmt.Errorf("%w: changed since you confirmed: %s: the plan now reads %q; nothing was changed, look again", domain.ErrConflict, a.Service, p.Sentence)
		}
	}
	if err == nil {
		res, err = b.execute(a, now)
	}
	if err == nil {
		// The controllers react at once, as they would to the watch event.
		if bg := b.sim.findBlueGreen(a.Namespace, a.Service); bg != nil {
			b.sim.stepBlueGreen(bg, now, now)
		} else {
			b.sim.reconcile(b.sim.find(a.Namespace, a.Service), now, now)
		}
		b.sim.touch()
	}
	kicks := make([]chan struct{}, 0, len(b.watchers))
	for k := range b.watchers {
		kicks = append(kicks, k)
	}
	b.mu.Unlock()
	for _, k := range kicks {
		select {
		case k <- struct{}{}:
		default:
		}
	}
	return res, err
}

// changedSinceConfirmed refuses, as the real executor does, an action confirmed on a revision
// (or, blue-green, an active colour) the service has left since.
func changedSinceConfirmed(a domain.Action, name string, rev int64, active domain.Color) error {
	x := a.Expect
	if x == nil {
		return nil
	}
	var diffs []string
	if x.Color != "" && active != "" && x.Color != active {
		diffs = append(diffs, fmt.Sprintf("traffic is on %s, not %s", active, x.Color))
	}
	if x.Revision != 0 && x.Revision != rev {
		diffs = append(diffs, fmt.Sprintf("revision %d, not %d", rev, x.Revision))
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: changed since you confirmed: %s: %s; nothing was changed, look again", domain.ErrConflict, name, strings.Join(diffs, ", "))
}

func (b *Backend) execute(a domain.Action, now time.Time) (domain.Result, error) {
	res := domain.Result{Action: a, At: now}
	if bg := b.sim.findBlueGreen(a.Namespace, a.Service); bg != nil {
		return b.sim.executeBlueGreen(bg, a, now)
	}
	d := b.sim.find(a.Namespace, a.Service)
	if d == nil {
		return res, fmt.Errorf("%s: service %q not found in namespace %s", a.Kind, a.Service, namespace)
	}
	res.FromRevision, res.ToRevision = d.revision, d.revision
	res.FromImage, res.ToImage = d.tmpl.image(), d.tmpl.image()
	if a.ExpectRevision != 0 && a.ExpectRevision != d.revision {
		return res, fmt.Errorf("%s %s: %w: expected revision %d, found %d", a.Kind, d.name, ErrConflict, a.ExpectRevision, d.revision)
	}
	if err := changedSinceConfirmed(a, d.name, d.revision, ""); err != nil {
		return res, err
	}
	switch a.Kind {
	case domain.ActionDeploy:
		if a.Image == "" {
			return res, fmt.Errorf("deploy %s: no image given", d.name)
		}
		tmpl := d.tmpl.clone()
		idx := 0
		if a.Container != "" {
			idx = -1
			for i, c := range tmpl.containers {
				if c.Name == a.Container {
					idx = i
				}
			}
			if idx < 0 {
				return res, fmt.Errorf("deploy %s: no container %q in the pod template", d.name, a.Container)
			}
		}
		if tmpl.containers[idx].Image == a.Image {
			res.Skipped = true
			res.Message = fmt.Sprintf("%s unchanged: container %s already runs %s", d.name, tmpl.containers[idx].Name, a.Image)
			return res, nil
		}
		from := tmpl.containers[idx].Image
		tmpl.containers[idx].Image = a.Image
		cause := fmt.Sprintf("opsdeck deploy %s %s (%s)", d.name, a.Image, a.Trigger)
		rs := b.sim.setTemplate(d, tmpl, cause, now)
		res.FromImage, res.ToImage, res.ToRevision = from, a.Image, rs.revision
		res.Message = fmt.Sprintf("deploy %s: %s -> %s (revision %d)", d.name, from, a.Image, rs.revision)
	case domain.ActionRollback:
		if d.paused {
			return res, fmt.Errorf("rollback %s: you cannot rollback a paused deployment; resume it first and try again", d.name)
		}
		var target *replicaSet
		for _, rs := range d.rss { // newest first
			if (a.ToRevision == 0 && rs.revision < d.revision) || (a.ToRevision != 0 && rs.revision == a.ToRevision) {
				target = rs
				break
			}
		}
		if target == nil {
			if a.ToRevision == 0 {
				return res, fmt.Errorf("rollback %s: no rollout history found", d.name)
			}
			return res, fmt.Errorf("rollback %s: unable to find specified revision %d in history", d.name, a.ToRevision)
		}
		if target.tmpl.key() == d.tmpl.key() {
			res.Skipped = true
			res.Message = fmt.Sprintf("rollback %s: skipped rollback (current template already matches revision %d)", d.name, target.revision)
			return res, nil
		}
		was := target.revision
		rs := b.sim.setTemplate(d, target.tmpl, "", now)
		res.ToImage, res.ToRevision = rs.tmpl.image(), rs.revision
		res.Message = fmt.Sprintf("rollback %s: to revision %d (%s), now revision %d", d.name, was, rs.tmpl.image(), rs.revision)
	case domain.ActionPause:
		if d.paused {
			res.Skipped, res.Message = true, fmt.Sprintf("pause %s: already paused", d.name)
			return res, nil
		}
		d.paused = true
		d.generation++
		res.Message = fmt.Sprintf("pause %s: rollout paused at revision %d", d.name, d.revision)
	case domain.ActionResume:
		if !d.paused {
			res.Skipped, res.Message = true, fmt.Sprintf("resume %s: not paused", d.name)
			return res, nil
		}
		d.paused = false
		d.generation++
		d.lastProgress = now
		res.Message = fmt.Sprintf("resume %s: rollout resumed at revision %d", d.name, d.revision)
	case domain.ActionRestart:
		if d.paused {
			return res, fmt.Errorf("restart %s: can't restart paused deployment (resume it first)", d.name)
		}
		tmpl := d.tmpl.clone()
		tmpl.restartedAt = now.UTC().Format(time.RFC3339Nano)
		rs := b.sim.setTemplate(d, tmpl, fmt.Sprintf("opsdeck restart %s (%s)", d.name, a.Trigger), now)
		res.ToRevision = rs.revision
		res.Message = fmt.Sprintf("restart %s: new revision %d", d.name, rs.revision)
	case domain.ActionScale:
		if a.Replicas < 0 {
			return res, fmt.Errorf("scale %s: replicas must be 0 or more, got %d", d.name, a.Replicas)
		}
		if a.Replicas == d.replicas {
			res.Skipped, res.Message = true, fmt.Sprintf("scale %s: already at %d replicas", d.name, a.Replicas)
			return res, nil
		}
		from := d.replicas
		d.replicas = a.Replicas
		d.generation++
		res.Message = fmt.Sprintf("scale %s: %d -> %d replicas", d.name, from, a.Replicas)
	default:
		return res, fmt.Errorf("unknown action %q", a.Kind)
	}
	return res, nil
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/safe"
)

// DefaultMinInterval is the shortest time between two state builds: a burst of changes (a
// rollout touches dozens of objects in a second) becomes one build.
const DefaultMinInterval = 100 * time.Millisecond

// WatchOptions configure a Watcher.
type WatchOptions struct {
	// Namespaces to watch; empty means all namespaces (one cluster-wide informer per kind).
	Namespaces []string
	// Selector is a label selector (-l) applied to Deployments only; their ReplicaSets and pods
	// are matched by owner.
	Selector string
	// Clock stamps each state; the system clock when nil.
	Clock domain.Clock
	// MinInterval is the coalescing window; DefaultMinInterval when zero.
	MinInterval time.Duration
}

// nsInformers are the informers of one watched namespace (or of all of them).
type nsInformers struct {
	informers []cache.SharedIndexInformer
	deploys   appslisters.DeploymentLister
	rss       appslisters.ReplicaSetLister
	pods      corelisters.PodLister
	events    corelisters.EventLister
	services  corelisters.ServiceLister // blue-green Services only
	synced    []cache.InformerSynced
}

// Watcher keeps shared informers on Deployments, ReplicaSets, Pods and Warning Events and turns
// every change into a new domain.ClusterState built from the listers, at most one build per
// MinInterval, delivered latest-wins to each subscriber.
type Watcher struct {
	client   kubernetes.Interface
	opts     WatchOptions
	clock    domain.Clock
	selector labels.Selector
	sets     []*nsInformers

	dirty chan struct{}

	mu      sync.Mutex
	api     domain.Health
	lastErr time.Time
	latest  *domain.ClusterState
	subs    map[chan domain.ClusterState]struct{}
	// gone are the pods seen deleted in the last domain.GonePodsKept, oldest first; podsSince
	// is when the first synced state was built: the caches had filled, and from then on no
	// deletion goes unseen.
	gone      []GonePod
	podsSince time.Time
	started   bool
	done      chan struct{}
}

// NewWatcher prepares the informers; nothing talks to the API until Start.
func NewWatcher(client kubernetes.Interface, opts WatchOptions) (*Watcher, error) {
	sel := labels.Everything()
	if opts.Selector != "" {
		s, err := labels.Parse(opts.Selector)
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", opts.Selector, err)
		}
		sel = s
	}
	if opts.MinInterval <= 0 {
		opts.MinInterval = DefaultMinInterval
	}
	clock := opts.Clock
	if clock == nil {
		clock = domain.SystemClock{}
	}
	w := &Watcher{
		client:   listThenWatch{client},
		opts:     opts,
		clock:    clock,
		selector: sel,
		dirty:    make(chan struct{}, 1),
		subs:     map[chan domain.ClusterState]struct{}{},
		done:     make(chan struct{}),
	}
	namespaces := opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		w.sets = append(w.sets, w.newInformers(ns))
	}
	return w, nil
}

// listThenWatch wraps the watcher's client, which every informer is built with. It tells
// client-go's reflector that it does not take part in the streamed "watch-list" start (a WATCH
// with sendInitialEvents, on by default in the client-go opsdeck builds with), so each
// informer starts with a plain LIST, served from the API server's watch cache, then watches
// from its resourceVersion. Measured at 2,006 services (6,018 pods), five starts each: the streamed
// start cost the API server a median 1.9 s of CPU against 0.5 s for the LISTs, and put the
// console's rows on screen after 1.2 s instead of 0.6 s (metrics 2.6 s instead of 1.6 s).
// Watch-list spares the API server the memory of one large response, which a watch cache
// already holds for a client like this one.
type listThenWatch struct{ kubernetes.Interface }

// IsWatchListSemanticsUnSupported is what client-go's reflector asks (util/watchlist).
func (listThenWatch) IsWatchListSemanticsUnSupported() bool { return true }

// Each informer is built on its own (client-go's informers/apps/v1 and core/v1), not through
// a SharedInformerFactory: the factory's ForResource names every API group's informer and
// lister, and linking all of them made opsdeck's binary, and its resident pages, larger.
func (w *Watcher) newInformers(ns string) *nsInformers {
	indexers := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	var depTweak func(*metav1.ListOptions)
	if w.opts.Selector != "" {
		depTweak = func(o *metav1.ListOptions) { o.LabelSelector = w.opts.Selector }
	}
	warnings := func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("type", corev1.EventTypeWarning).String()
	}
	d := appsinformers.NewFilteredDeploymentInformer(w.client, ns, 0, indexers, depTweak)
	r := appsinformers.NewFilteredReplicaSetInformer(w.client, ns, 0, indexers, nil)
	p := coreinformers.NewFilteredPodInformer(w.client, ns, 0, indexers, nil)
	e := coreinformers.NewFilteredEventInformer(w.client, ns, 0, indexers, warnings)
	set := &nsInformers{
		deploys: appslisters.NewDeploymentLister(d.GetIndexer()),
		rss:     appslisters.NewReplicaSetLister(r.GetIndexer()),
		pods:    corelisters.NewPodLister(p.GetIndexer()),
		events:  corelisters.NewEventLister(e.GetIndexer()),
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.changed() },
		UpdateFunc: func(any, any) { w.changed() },
		DeleteFunc: func(any) { w.changed() },
	}
	for _, inf := range []cache.SharedIndexInformer{d, r, p, e} {
		_ = inf.SetTransform(trimObject)
		_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) { w.watchFailed(err) })
		_, _ = inf.AddEventHandler(handler)
		set.informers = append(set.informers, inf)
		set.synced = append(set.synced, inf.HasSynced)
	}
	_, _ = p.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: w.podDeleted})
	w.servicesInformer(set, ns, indexers, handler)
	return set
}

// Start runs the informers and the builder until ctx ends. It returns at once; subscribers get
// a first state (Synced false) straight away and a full one when the caches have filled.
func (w *Watcher) Start(ctx context.Context) {
	w.mu.Lock()
	if w.started {
		w.mu.Unlock()
		return
	}
	w.started = true
	w.api = domain.Health{OK: true}
	w.mu.Unlock()
	for _, s := range w.sets {
		for _, inf := range s.informers {
			go inf.RunWithContext(ctx)
		}
	}
	go func() {
		if w.WaitForSync(ctx) {
			w.mu.Lock()
			if !w.api.Reconnecting {
				w.api = domain.Health{OK: true, LastSuccess: w.clock.Now()}
			}
			w.mu.Unlock()
		}
		w.changed()
	}()
	go w.loop(ctx)
	go w.probe(ctx)
	w.changed()
}

// podDeleted remembers a deleted pod of a Deployment for domain.GonePodsKept. A deletion
// missed while the watch was down comes when it lists again (as a tombstone), later than it
// happened: it is kept a little longer, never less.
func (w *Watcher) podDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	// The Deployment controller names a ReplicaSet <deployment>-<pod-template-hash>.
	i := strings.LastIndexByte(ref.Name, '-')
	if i <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clock.Now()
	w.gone = append(w.recentGone(now), GonePod{Namespace: p.Namespace, Deployment: ref.Name[:i], Name: p.Name, At: now})
}

// recentGone drops from w.gone the pods deleted more than domain.GonePodsKept before now.
// w.mu is held.
func (w *Watcher) recentGone(now time.Time) []GonePod {
	i := 0
	for i < len(w.gone) && now.Sub(w.gone[i].At) > domain.GonePodsKept {
		i++
	}
	if i > 0 {
		w.gone = slices.Delete(w.gone, 0, i)
	}
	return w.gone
}

// Done is closed when the watcher has stopped after its context ended.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// WaitForSync blocks until every informer's cache has filled once, or ctx ends.
func (w *Watcher) WaitForSync(ctx context.Context) bool {
	var all []cache.InformerSynced
	for _, s := range w.sets {
		all = append(all, s.synced...)
	}
	return cache.WaitForCacheSync(ctx.Done(), all...)
}

// HasSynced tells whether every informer's cache has filled once.
func (w *Watcher) HasSynced() bool {
	for _, s := range w.sets {
		for _, f := range s.synced {
			if !f() {
				return false
			}
		}
	}
	return true
}

// changed marks the state dirty; the builder coalesces marks made while it waits.
func (w *Watcher) changed() {
	w.mu.Lock()
	if w.api.Reconnecting && w.clock.Now().Sub(w.lastErr) > time.Second {
		// An informer delivered something after the last watch error: the watch is back.
		w.api = domain.Health{OK: true, LastSuccess: w.clock.Now()}
	}
	w.mu.Unlock()
	select {
	case w.dirty <- struct{}{}:
	default:
	}
}

// watchFailed is every informer's watch error handler: the API is reconnecting until a watch
// delivers again or the health probe succeeds with no new error.
func (w *Watcher) watchFailed(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	w.setUnhealthy(watchErrText(err))
}

func (w *Watcher) setUnhealthy(msg string) {
	w.mu.Lock()
	w.lastErr = w.clock.Now()
	changed := w.api.OK || w.api.Err != safe.OneLine(msg)
	w.api = domain.Health{OK: false, Reconnecting: true, LastSuccess: w.api.LastSuccess, Err: safe.OneLine(msg)}
	w.mu.Unlock()
	if changed {
		select {
		case w.dirty <- struct{}{}:
		default:
		}
	}
}

func watchErrText(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "watch forbidden: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "watch timed out: " + err.Error()
	}
	return "watch failed: " + err.Error()
}

// Health probe periods. client-go's reflectors retry a refused watch on their own without
// telling anyone, so the watcher asks the server for /version, which costs
// nothing like a LIST, to notice an unreachable API server and its return.
const (
	probeHealthy   = 5 * time.Second
	probeUnhealthy = 2 * time.Second
	probeTimeout   = 3 * time.Second
)

// probe runs until ctx ends: a failed probe marks the API reconnecting; a successful one marks
// it OK again once no watch error came for a few seconds.
func (w *Watcher) probe(ctx context.Context) {
	rc := w.client.Discovery().RESTClient()
	if rc == nil {
		return
	}
	period := probeUnhealthy
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(period):
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := rc.Get().AbsPath("/version").Do(pctx).Error()
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.setUnhealthy("cannot reach the API server: " + err.Error())
			period = probeUnhealthy
			continue
		}
		period = probeHealthy
		w.mu.Lock()
		recovered := !w.api.OK && w.clock.Now().Sub(w.lastErr) > 2*probeUnhealthy
		if recovered || w.api.OK {
			w.api = domain.Health{OK: true, LastSuccess: w.clock.Now()}
		}
		w.mu.Unlock()
		if recovered {
			w.changed()
		}
	}
}

func (w *Watcher) loop(ctx context.Context) {
	defer func() {
		w.mu.Lock()
		for ch := range w.subs {
			close(ch)
			delete(w.subs, ch)
		}
		w.mu.Unlock()
		close(w.done)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.dirty:
		}
		start := time.Now()
		st := w.Build()
		w.publish(st)
		if wait := w.opts.MinInterval - time.Since(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// Build makes a state from the listers now (never from an API LIST).
func (w *Watcher) Build() domain.ClusterState {
	var objs Objects
	for _, s := range w.sets {
		deps, _ := s.deploys.List(labels.Everything())
		rss, _ := s.rss.List(labels.Everything())
		pods, _ := s.pods.List(labels.Everything())
		evs, _ := s.events.List(labels.Everything())
		svcs, _ := s.services.List(labels.Everything())
		objs.Services = append(objs.Services, svcs...)
		objs.Deployments = append(objs.Deployments, deps...)
		objs.ReplicaSets = append(objs.ReplicaSets, rss...)
		objs.Pods = append(objs.Pods, pods...)
		objs.Events = append(objs.Events, evs...)
	}
	objs.OnlyRelatedEvents = w.opts.Selector != ""
	now, synced := w.clock.Now(), w.HasSynced()
	w.mu.Lock()
	api := w.api
	if synced && w.podsSince.IsZero() {
		w.podsSince = now // the first synced state: the caches filled at or before now
	}
	objs.GonePods = slices.Clone(w.recentGone(now))
	objs.PodsKnownSince = w.podsSince
	w.mu.Unlock()
	return BuildState(objs, now, api, synced)
}

func (w *Watcher) publish(st domain.ClusterState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latest = &st
	for ch := range w.subs {
		offer(ch, st)
	}
}

// offer puts st in ch (capacity 1), replacing an older state that was not read yet.
func offer(ch chan domain.ClusterState, st domain.ClusterState) {
	select {
	case ch <- st:
		return
	default:
	}
	select {
	case <-ch:
	default:
	}
	select {
	case ch <- st:
	default:
	}
}

// Subscribe returns a channel of capacity 1 that always holds the newest unread state; it is
// closed when ctx ends or the watcher stops.
func (w *Watcher) Subscribe(ctx context.Context) <-chan domain.ClusterState {
	ch := make(chan domain.ClusterState, 1)
	w.mu.Lock()
	select {
	case <-w.done:
		w.mu.Unlock()
		close(ch)
		return ch
	default:
	}
	w.subs[ch] = struct{}{}
	if w.latest != nil {
		ch <- *w.latest
	}
	w.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-w.done:
			return // loop closed it
		}
		w.mu.Lock()
		if _, ok := w.subs[ch]; ok {
			delete(w.subs, ch)
			close(ch)
		}
		w.mu.Unlock()
	}()
	return ch
}

// Latest is the last state built, if any.
func (w *Watcher) Latest() (domain.ClusterState, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.latest == nil {
		return domain.ClusterState{}, false
	}
	return *w.latest, true
}

// Deployment reads a Deployment from the cache.
func (w *Watcher) Deployment(namespace, name string) (*appsv1.Deployment, error) {
	for _, s := range w.setsFor(namespace) {
		d, err := s.deploys.Deployments(namespace).Get(name)
		if err == nil {
			return d, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("service %q not found in namespace %q", name, namespace)
}

// Revisions is a service's rollout history, newest first, read from the cache.
func (w *Watcher) Revisions(namespace, name string) ([]domain.Revision, error) {
	if revs, ok, err := w.blueGreenRevisions(namespace, name); ok {
		return revs, err
	}
	d, err := w.Deployment(namespace, name)
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s: %w", namespace, name, err)
	}
	// The namespace's informers (or the all-namespaces ones) hold its ReplicaSets.
	sets := w.setsFor(namespace)
	if len(sets) == 0 {
		return nil, nil
	}
	rss, err := sets[0].rss.ReplicaSets(namespace).List(sel)
	if err != nil {
		return nil, err
	}
	return RevisionsFrom(d, rss), nil
}

func (w *Watcher) setsFor(namespace string) []*nsInformers {
	if len(w.opts.Namespaces) == 0 {
		return w.sets
	}
	for i, ns := range w.opts.Namespaces {
		if ns == namespace {
			return w.sets[i : i+1]
		}
	}
	return nil
}

// Deployments lists every watched Deployment from the cache (never from the API): the pending
// deploys' reconciler reads them on each tick.
func (w *Watcher) Deployments() []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, s := range w.sets {
		ds, err := s.deploys.List(w.selector)
		if err == nil {
			out = append(out, ds...)
		}
	}
	return out
}

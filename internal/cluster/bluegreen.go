package cluster

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// blueGreenSelector narrows the Services informer to blue-green Services: the watcher needs no
// other Service.
var blueGreenSelector = bluegreen.StrategyLabel + "=" + bluegreen.StrategyValue

// servicesInformer adds the informer on blue-green Services to set. A user who may not list
// Services sees no blue-green service, but the watches stay healthy and synced: the informer
// counts as synced once the API server has refused it.
func (w *Watcher) servicesInformer(set *nsInformers, ns string, indexers cache.Indexers, handler cache.ResourceEventHandler) {
	inf := coreinformers.NewFilteredServiceInformer(w.client, ns, 0, indexers,
		func(o *metav1.ListOptions) { o.LabelSelector = blueGreenSelector })
	_ = inf.SetTransform(trimObject)
	set.services = corelisters.NewServiceLister(inf.GetIndexer())
	forbidden := &atomic.Bool{}
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) {
			if !forbidden.Swap(true) {
				w.changed()
			}
			return
		}
		w.watchFailed(err)
	})
	_, _ = inf.AddEventHandler(handler)
	set.informers = append(set.informers, inf)
	set.synced = append(set.synced, func() bool { return inf.HasSynced() || forbidden.Load() })
}

// blueGreenServices builds one Service per blue-green Service of objs, with both colours'
// Deployments, ReplicaSets and pods, and returns the UIDs of the Deployments it took (they are
// not listed as services of their own).
func blueGreenServices(objs Objects, rsByOwner map[types.UID][]*appsv1.ReplicaSet, podsByRS map[types.UID][]*corev1.Pod) ([]domain.Service, map[types.UID]bool) {
	if len(objs.Services) == 0 {
		return nil, nil
	}
	deps := make(map[string]*appsv1.Deployment, len(objs.Deployments))
	for _, d := range objs.Deployments {
		deps[d.Namespace+"/"+d.Name] = d
	}
	var out []domain.Service
	taken := map[types.UID]bool{}
	for _, svc := range objs.Services {
		if !bluegreen.IsBlueGreen(svc) {
			continue
		}
		p := bluegreen.Pair{
			Service: svc,
			Blue:    deps[svc.Namespace+"/"+bluegreen.DeploymentName(svc.Name, domain.ColorBlue)],
			Green:   deps[svc.Namespace+"/"+bluegreen.DeploymentName(svc.Name, domain.ColorGreen)],
		}
		if p.Blue == nil && p.Green == nil && objs.OnlyRelatedEvents {
			continue // a label selector (-l) leaves both colours out: not a service shown
		}
		for _, c := range domain.Colors {
			if d := p.Of(c); d != nil {
				taken[d.UID] = true
			}
		}
		out = append(out, BlueGreenFrom(p, rsByOwner, podsByRS))
	}
	return out, taken
}

// BlueGreenFrom converts a blue-green pair into one Service named after the Service: the
// active colour's figures, a revision that counts the switches, both colours' ReplicaSets, and
// the pending switch and scale-down read from the Service's annotations. An inconsistent pair
// is a Service in phase unknown whose BlueGreen.Problem says what is wrong.
func BlueGreenFrom(p bluegreen.Pair, rsByOwner map[types.UID][]*appsv1.ReplicaSet, podsByRS map[types.UID][]*corev1.Pod) domain.Service {
	svc := p.Service
	st := bluegreen.ReadState(svc)
	bg := &domain.BlueGreen{
		Colors:         map[domain.Color]domain.ColorState{},
		Selector:       map[string]string{},
		Pending:        st.Pending,
		PendingImage:   st.PendingImage,
		PendingSince:   st.PendingSince,
		Preview:        st.Preview,
		ScaleDownDelay: st.ScaleDownDelay,
		Trigger:        st.Trigger,
		SwitchedAt:     st.SwitchedAt,
		ScaleDownAt:    st.ScaleDownAt,
	}
	for k, v := range svc.Spec.Selector {
		bg.Selector[k] = v
	}
	active, err := p.Check()
	if err != nil {
		bg.Problem = err.Error()
		bg.Active = domain.Color(svc.Spec.Selector[bluegreen.ColorLabel])
	} else {
		bg.Active = active
	}

	out := domain.Service{
		Namespace: svc.Namespace, Name: svc.Name, Kind: domain.KindBlueGreen,
		Created: svc.CreationTimestamp.Time, Revision: st.Revision, Phase: domain.PhaseUnknown,
		BlueGreen: bg,
	}
	rv := []string{svc.ResourceVersion}
	colors := map[domain.Color]domain.Service{}
	for _, c := range domain.Colors {
		cs := domain.ColorState{Color: c, Deployment: bluegreen.DeploymentName(svc.Name, c), Phase: domain.PhaseUnknown}
		d := p.Of(c)
		if d == nil {
			rv = append(rv, "-")
			bg.Colors[c] = cs
			continue
		}
		rv = append(rv, d.ResourceVersion)
		s := ServiceFrom(d, rsByOwner[d.UID], podsByRS)
		colors[c] = s
		cs.Exists = true
		cs.Image, cs.Containers = s.Image, s.Containers
		cs.Desired, cs.Current, cs.Updated, cs.Ready, cs.Available = s.Desired, s.Current, s.Updated, s.Ready, s.Available
		cs.Revision, cs.Phase = s.Revision, s.Phase
		if cur, ok := s.NewReplicaSet(); ok {
			cs.ReplicaSet, cs.Created = cur.Name, cur.Created
		}
		for _, rs := range s.ReplicaSets {
			cs.ReplicaSets = append(cs.ReplicaSets, rs.Name)
		}
		bg.Colors[c] = cs
	}
	out.ResourceVersion = strings.Join(rv, "/")

	// The active colour first, then the idle one, each newest first.
	order := []domain.Color{bg.Active, bg.Active.Other()}
	if !bg.Active.Valid() {
		order = domain.Colors
	}
	for _, c := range order {
		for _, rs := range colors[c].ReplicaSets {
			rs.Color = c
			out.ReplicaSets = append(out.ReplicaSets, rs)
		}
	}
	if bg.Problem != "" {
		out.Message = bg.Problem
		return out
	}
	a := colors[bg.Active]
	out.Containers, out.Image, out.CPURequest = a.Containers, a.Image, a.CPURequest
	out.Desired, out.Current, out.Updated, out.Ready, out.Available = a.Desired, a.Current, a.Updated, a.Ready, a.Available
	out.Generation, out.Observed, out.Paused = a.Generation, a.Observed, a.Paused
	out.Phase, out.Message, out.Conditions = a.Phase, a.Message, a.Conditions
	out.ProgressDeadline = a.ProgressDeadline
	out.RolloutStarted = st.SwitchedAt
	if out.RolloutStarted.IsZero() {
		out.RolloutStarted = bg.Of(bg.Active).Created
	}
	return out
}

// blueGreenRevisions is the history of a blue-green service from the cache: both colours'
// revisions, each marked with its colour, the active colour's current one Current, newest
// first. ok is false when name is not a blue-green Service.
func (w *Watcher) blueGreenRevisions(namespace, name string) (revs []domain.Revision, ok bool, err error) {
	for _, s := range w.setsFor(namespace) {
		if s.services == nil {
			continue
		}
		svc, gerr := s.services.Services(namespace).Get(name)
		if gerr != nil || !bluegreen.IsBlueGreen(svc) {
			continue
		}
		active := domain.Color(svc.Spec.Selector[bluegreen.ColorLabel])
		for _, c := range domain.Colors {
			d, derr := s.deploys.Deployments(namespace).Get(bluegreen.DeploymentName(name, c))
			if derr != nil {
				continue
			}
			sel, serr := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if serr != nil {
				return nil, true, fmt.Errorf("deployment %s/%s: %w", namespace, d.Name, serr)
			}
			rss, lerr := s.rss.ReplicaSets(namespace).List(sel)
			if lerr != nil {
				return nil, true, lerr
			}
			for _, r := range RevisionsFrom(d, rss) {
				r.Color = c
				r.Current = r.Current && c == active
				revs = append(revs, r)
			}
		}
		sort.SliceStable(revs, func(i, j int) bool { return revs[i].Created.After(revs[j].Created) })
		return revs, true, nil
	}
	return nil, false, nil
}

// BlueGreenPair reads a blue-green service's objects from the cache.
func (w *Watcher) BlueGreenPair(namespace, name string) (bluegreen.Pair, bool) {
	for _, s := range w.setsFor(namespace) {
		if s.services == nil {
			continue
		}
		svc, err := s.services.Services(namespace).Get(name)
		if err != nil || !bluegreen.IsBlueGreen(svc) {
			continue
		}
		p := bluegreen.Pair{Service: svc}
		p.Blue, _ = s.deploys.Deployments(namespace).Get(bluegreen.DeploymentName(name, domain.ColorBlue))
		p.Green, _ = s.deploys.Deployments(namespace).Get(bluegreen.DeploymentName(name, domain.ColorGreen))
		return p, true
	}
	return bluegreen.Pair{}, false
}

// relatedObjects are the objects whose events belong to a service besides its ReplicaSets
// and pods: its Deployment, or a blue-green service's Service and both Deployments.
func relatedObjects(s domain.Service) []string {
	if s.BlueGreen == nil {
		return []string{s.Namespace + "/Deployment/" + s.Name}
	}
	out := []string{s.Namespace + "/Service/" + s.Name}
	for _, c := range domain.Colors {
		out = append(out, s.Namespace+"/Deployment/"+s.BlueGreen.Of(c).Deployment)
	}
	return out
}

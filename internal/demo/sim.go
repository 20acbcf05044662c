package demo

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Simulation constants, from the design's sandbox contract.
const (
	namespace        = "shop"
	initialReplicas  = 3
	maxSurge         = 1
	maxUnavailable   = 0
	progressDeadline = 60 * time.Second
	readyDelay       = 2 * time.Second // a healthy pod becomes Ready this long after creation
	createDelay      = time.Second     // ContainerCreating before Running
	crashPeriod      = 10 * time.Second
	historyLimit     = 10 // revisionHistoryLimit
	maxCatchUp       = 2 * time.Hour
)

// serviceNames are the Deployments the demo seeds, sorted.
var serviceNames = []string{"cart-service", "gateway", "inventory-service", "order-service", "payment-service"}

// template is the part of a pod template that makes a revision: the containers and the
// restartedAt annotation that `rollout restart` sets.
type template struct {
	containers  []domain.Container
	restartedAt string
}

func (t template) key() string {
	var b strings.Builder
	for _, c := range t.containers {
		b.WriteString(c.Name + "=" + c.Image + ";")
	}
	b.WriteString("restartedAt=" + t.restartedAt)
	return b.String()
}

func (t template) image() string {
	if len(t.containers) == 0 {
		return ""
	}
	return t.containers[0].Image
}

func (t template) clone() template {
	return template{containers: append([]domain.Container(nil), t.containers...), restartedAt: t.restartedAt}
}

// behaviour is what a revision's pods do, from the tags of its images.
type behaviour struct{ bad, slow, hog, leak, crash bool }

func (t template) behaviour() behaviour {
	var b behaviour
	for _, c := range t.containers {
		tag := domain.ImageTag(c.Image)
		b.bad = b.bad || strings.Contains(tag, "bad")
		b.slow = b.slow || strings.Contains(tag, "slow")
		b.hog = b.hog || strings.Contains(tag, "hog")
		b.leak = b.leak || strings.Contains(tag, "leak")
		b.crash = b.crash || strings.Contains(tag, "crash")
	}
	return b
}

type pod struct {
	name     string
	created  time.Time
	crash    bool
	restarts int32
}

// readyAt reports whether the pod is Ready at t.
func (p *pod) ready(t time.Time) bool {
	return !p.crash && !t.Before(p.created.Add(readyDelay))
}

type replicaSet struct {
	name        string
	revision    int64
	tmpl        template
	changeCause string
	created     time.Time
	revisedAt   time.Time // when it last became the current revision
	replicas    int32
	pods        []*pod
}

func (rs *replicaSet) readyPods(t time.Time) int32 {
	var n int32
	for _, p := range rs.pods {
		if p.ready(t) {
			n++
		}
	}
	return n
}

type deployment struct {
	name         string
	created      time.Time
	replicas     int32
	tmpl         template
	revision     int64
	generation   int64
	paused       bool
	lastProgress time.Time
	stalled      bool
	rss          []*replicaSet
	initial      *replicaSet // the seeded revision, for backfill before the simulation started
}

func (d *deployment) key() string { return namespace + "/" + d.name }

func (d *deployment) current() *replicaSet {
	for _, rs := range d.rss {
		if rs.revision == d.revision {
			return rs
		}
	}
	return nil
}

func (d *deployment) maxRevision() int64 {
	var m int64
	for _, rs := range d.rss {
		m = max(m, rs.revision)
	}
	return m
}

// sim is the whole simulated namespace. It is not safe for concurrent use; Backend locks it.
type sim struct {
	start   time.Time
	now     time.Time // the time the state was last reconciled at
	version uint64
	fp      uint64
	deps    []*deployment
	bgs     []*blueGreen
	events  []domain.Event
	seq     uint64
	hist    map[string]*history
}

func newSim(now time.Time) *sim {
	s := &sim{start: now, now: now, hist: map[string]*history{}}
	born := now.Add(-24 * time.Hour)
	for _, name := range serviceNames {
		tmpl := template{containers: []domain.Container{{Name: name, Image: name + ":v1"}}}
		if name == "gateway" {
			// A sidecar, so the console's container chooser has something to choose.
			tmpl.containers = append(tmpl.containers, domain.Container{Name: "envoy", Image: "envoyproxy/envoy:v1.30.1"})
		}
		d := &deployment{name: name, created: born, replicas: initialReplicas, tmpl: tmpl, revision: 1, generation: 1, lastProgress: born}
		rs := &replicaSet{
			name: rsName(name, tmpl), revision: 1, tmpl: tmpl.clone(), created: born, revisedAt: born,
			replicas: initialReplicas, changeCause: "initial deploy of " + tmpl.image(),
		}
		for range initialReplicas {
			rs.pods = append(rs.pods, s.newPod(rs, born))
		}
		d.rss = []*replicaSet{rs}
		d.initial = &replicaSet{name: rs.name, tmpl: rs.tmpl, pods: append([]*pod(nil), rs.pods...)}
		s.deps = append(s.deps, d)
	}
	s.fp = s.fingerprint()
	s.version = 1
	s.record(now)
	return s
}

// safe is Kubernetes' alphabet for generated name suffixes (no vowels, no confusable digits).
const safe = "bcdfghjklmnpqrstvwxz2456789"

func encode(h uint64, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = safe[h%uint64(len(safe))]
		h /= uint64(len(safe))
	}
	return string(b)
}

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func rsName(deploy string, t template) string {
	return deploy + "-" + encode(hash64(t.key()), 10)
}

func (s *sim) newPod(rs *replicaSet, t time.Time) *pod {
	s.seq++
	return &pod{
		name:    rs.name + "-" + encode(hash64(rs.name, fmt.Sprint(s.seq)), 5),
		created: t,
		crash:   rs.tmpl.behaviour().crash,
	}
}

func (s *sim) find(ns, name string) *deployment {
	if ns != "" && ns != namespace {
		return nil
	}
	for _, d := range s.deps {
		if d.name == name {
			return d
		}
	}
	return nil
}

// advance runs the controllers in whole seconds up to now.
func (s *sim) advance(now time.Time) {
	if !now.After(s.now) {
		return
	}
	if now.Sub(s.now) > maxCatchUp {
		s.now = now.Add(-maxCatchUp).Truncate(time.Second)
	}
	for {
		next := s.now.Truncate(time.Second).Add(time.Second)
		if next.After(now) {
			break
		}
		s.step(next)
	}
}

// step reconciles every Deployment at t and records the metrics of that second.
func (s *sim) step(t time.Time) {
	prev := s.now
	s.now = t
	for _, d := range s.deps {
		s.reconcile(d, prev, t)
	}
	for _, bg := range s.bgs {
		s.stepBlueGreen(bg, prev, t)
	}
	s.touch()
	s.record(t)
}

// touch bumps the version when anything a watcher sees has changed.
func (s *sim) touch() {
	if fp := s.fingerprint(); fp != s.fp {
		s.fp = fp
		s.version++
	}
}

func (s *sim) fingerprint() uint64 {
	h := fnv.New64a()
	deps := s.deps
	for _, bg := range s.bgs {
		fmt.Fprintf(h, "%s|%s|%s|%d|%d|", bg.name, bg.active, bg.pending, bg.revision, bg.scaleDownAt.Unix())
		deps = append(append([]*deployment(nil), deps...), bg.colors[domain.ColorBlue], bg.colors[domain.ColorGreen])
	}
	for _, d := range deps {
		fmt.Fprintf(h, "%s|%d|%d|%v|%v|", d.name, d.revision, d.replicas, d.paused, d.stalled)
		for _, rs := range d.rss {
			fmt.Fprintf(h, "%s:%d:%d|", rs.name, rs.revision, rs.replicas)
			for _, p := range rs.pods {
				fmt.Fprintf(h, "%s:%v:%d:%s|", p.name, p.ready(s.now), p.restarts, podReason(p, s.now))
			}
		}
	}
	fmt.Fprintf(h, "events:%d", len(s.events))
	for _, e := range s.events {
		fmt.Fprintf(h, "%d", e.Count)
	}
	return h.Sum64()
}

// reconcile is the deployment controller's rolling update with maxSurge 1 and
// maxUnavailable 0, followed by the ReplicaSet controller and the kubelet, at time t.
func (s *sim) reconcile(d *deployment, prev, t time.Time) {
	newRS := d.current()
	if newRS == nil {
		return
	}
	var olds []*replicaSet
	for _, rs := range d.rss {
		if rs != newRS && rs.replicas > 0 {
			olds = append(olds, rs)
		}
	}
	// New pods that became available since the previous pass are progress.
	for _, p := range newRS.pods {
		if p.ready(t) && !p.ready(prev) {
			d.lastProgress = t
		}
	}
	switch {
	case len(olds) == 0:
		if newRS.replicas != d.replicas {
			newRS.replicas = d.replicas
			d.lastProgress = t
		}
	case d.paused:
		// A paused rollout stays where it is.
	default:
		// Old pods that are not Ready can go at once: they count for nothing.
		for _, rs := range olds {
			if unready := rs.replicas - rs.readyPods(t); unready > 0 {
				rs.replicas -= unready
			}
		}
		available := int32(0)
		for _, rs := range d.rss {
			available += min(rs.readyPods(t), rs.replicas)
		}
		canRemove := available - (d.replicas - maxUnavailable)
		sort.Slice(olds, func(i, j int) bool { return olds[i].revision < olds[j].revision })
		for _, rs := range olds {
			if canRemove <= 0 {
				break
			}
			n := min(canRemove, rs.replicas)
			rs.replicas -= n
			canRemove -= n
		}
		total := int32(0)
		for _, rs := range d.rss {
			total += rs.replicas
		}
		if up := min(d.replicas+maxSurge-total, d.replicas-newRS.replicas); up > 0 {
			newRS.replicas += up
			d.lastProgress = t
		}
		if newRS.replicas > d.replicas {
			newRS.replicas = d.replicas
		}
	}
	for _, rs := range d.rss {
		s.reconcilePods(rs, t)
	}
	s.crashLoops(d, t)
	complete := s.complete(d, t)
	d.stalled = !d.paused && !complete && t.Sub(d.lastProgress) > progressDeadline
	s.pruneHistory(d)
}

// reconcilePods creates or deletes pods until the ReplicaSet has its replicas; it deletes
// pods that are not Ready first, then the newest.
func (s *sim) reconcilePods(rs *replicaSet, t time.Time) {
	for int32(len(rs.pods)) < rs.replicas {
		rs.pods = append(rs.pods, s.newPod(rs, t))
	}
	for int32(len(rs.pods)) > rs.replicas {
		victim := len(rs.pods) - 1
		for i := len(rs.pods) - 1; i >= 0; i-- {
			if !rs.pods[i].ready(t) {
				victim = i
				break
			}
		}
		rs.pods = append(rs.pods[:victim], rs.pods[victim+1:]...)
	}
}

// crashLoops counts restarts of pods that crash and records BackOff warnings as the kubelet does.
func (s *sim) crashLoops(d *deployment, t time.Time) {
	for _, rs := range d.rss {
		for _, p := range rs.pods {
			if !p.crash {
				continue
			}
			n := int32(t.Sub(p.created.Add(createDelay)) / crashPeriod)
			if n <= p.restarts {
				continue
			}
			p.restarts = n
			s.warn(t, "BackOff", "Pod/"+p.name,
				fmt.Sprintf("Back-off restarting failed container %s in pod %s", rs.tmpl.containers[0].Name, p.name))
		}
	}
}

// warn records a Warning event, aggregating repeats as the event recorder does.
func (s *sim) warn(t time.Time, reason, object, msg string) {
	for i, e := range s.events {
		if e.Reason == reason && e.Object == object {
			e.Count++
			e.Time = t
			e.Message = msg
			s.events = append(append([]domain.Event{e}, s.events[:i]...), s.events[i+1:]...)
			return
		}
	}
	s.events = append([]domain.Event{{Time: t, Source: domain.SourceKube, Type: "Warning", Reason: reason, Object: object, Message: msg, Count: 1}}, s.events...)
	if len(s.events) > 50 {
		s.events = s.events[:50]
	}
}

func (s *sim) complete(d *deployment, t time.Time) bool {
	newRS := d.current()
	var total, ready int32
	for _, rs := range d.rss {
		total += int32(len(rs.pods))
		ready += rs.readyPods(t)
	}
	return newRS != nil && int32(len(newRS.pods)) == d.replicas && total == d.replicas && ready >= d.replicas
}

// pruneHistory keeps at most historyLimit old ReplicaSets without pods.
func (s *sim) pruneHistory(d *deployment) {
	var old []*replicaSet
	for _, rs := range d.rss {
		if rs.revision != d.revision && rs.replicas == 0 && len(rs.pods) == 0 {
			old = append(old, rs)
		}
	}
	if len(old) <= historyLimit {
		return
	}
	sort.Slice(old, func(i, j int) bool { return old[i].revision < old[j].revision })
	drop := map[*replicaSet]bool{}
	for _, rs := range old[:len(old)-historyLimit] {
		drop[rs] = true
	}
	keep := d.rss[:0]
	for _, rs := range d.rss {
		if !drop[rs] {
			keep = append(keep, rs)
		}
	}
	d.rss = keep
}

// setTemplate changes the Deployment's pod template as an update or a rollback does: a
// ReplicaSet whose template matches is re-used and given the next revision number (exactly as
// Kubernetes does), otherwise a new one is created.
func (s *sim) setTemplate(d *deployment, tmpl template, cause string, t time.Time) *replicaSet {
	next := d.maxRevision() + 1
	d.tmpl = tmpl.clone()
	d.generation++
	var rs *replicaSet
	for _, r := range d.rss {
		if r.tmpl.key() == tmpl.key() {
			rs = r
		}
	}
	if rs == nil {
		rs = &replicaSet{name: rsName(d.name, tmpl), tmpl: tmpl.clone(), created: t, changeCause: cause}
		d.rss = append(d.rss, rs)
	} else if cause != "" {
		rs.changeCause = cause
	}
	rs.revision = next
	rs.revisedAt = t
	d.revision = next
	d.lastProgress = t
	d.stalled = false
	sort.Slice(d.rss, func(i, j int) bool { return d.rss[i].revision > d.rss[j].revision })
	return rs
}

func podReason(p *pod, t time.Time) string {
	switch {
	case t.Sub(p.created) < createDelay:
		return "ContainerCreating"
	case p.crash:
		return "CrashLoopBackOff"
	}
	return ""
}

// snapshot builds the ClusterState the watches would show at t.
func (s *sim) snapshot(t time.Time) domain.ClusterState {
	st := domain.ClusterState{
		At:     t,
		Events: append([]domain.Event(nil), s.events...),
		API:    domain.Health{OK: true, LastSuccess: t},
		Synced: true,
	}
	for _, d := range s.deps {
		st.Services = append(st.Services, s.service(d, t))
	}
	for _, bg := range s.bgs {
		st.Services = append(st.Services, s.blueGreenService(bg, t))
	}
	sort.SliceStable(st.Services, func(i, j int) bool { return st.Services[i].Name < st.Services[j].Name })
	return st
}

func (s *sim) service(d *deployment, t time.Time) domain.Service {
	svc := domain.Service{
		Namespace:        namespace,
		Name:             d.name,
		Kind:             domain.KindDeployment,
		Containers:       append([]domain.Container(nil), d.tmpl.containers...),
		Image:            d.tmpl.image(),
		CPURequest:       cpuRequest,
		Desired:          d.replicas,
		Revision:         d.revision,
		Generation:       d.generation,
		Observed:         d.generation,
		Paused:           d.paused,
		Created:          d.created,
		ProgressDeadline: progressDeadline,
		ResourceVersion:  fmt.Sprint(s.version),
	}
	newRS := d.current()
	for _, rs := range d.rss {
		r := domain.ReplicaSet{
			Name: rs.name, Revision: rs.revision, Image: rs.tmpl.image(), ChangeCause: rs.changeCause,
			Created: rs.created, Replicas: rs.replicas,
		}
		for _, p := range rs.pods {
			ready := p.ready(t)
			phase := "Running"
			if t.Sub(p.created) < createDelay {
				phase = "Pending"
			}
			r.Pods = append(r.Pods, domain.Pod{Name: p.name, Phase: phase, Ready: ready, Restarts: p.restarts, Reason: podReason(p, t), Created: p.created})
			if ready {
				r.Ready++
				r.Available++
			}
		}
		svc.Current += int32(len(rs.pods))
		svc.Ready += r.Ready
		svc.Available += r.Available
		if rs == newRS {
			svc.Updated = int32(len(rs.pods))
			svc.RolloutStarted = rs.revisedAt
		}
		svc.ReplicaSets = append(svc.ReplicaSets, r)
	}
	complete := s.complete(d, t)
	avail := domain.Condition{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.", Updated: d.lastProgress}
	if svc.Available < d.replicas-maxUnavailable {
		avail = domain.Condition{Type: "Available", Status: "False", Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.", Updated: d.lastProgress}
	}
	rsName := ""
	if newRS != nil {
		rsName = newRS.name
	}
	prog := domain.Condition{Type: "Progressing", Status: "True", Updated: d.lastProgress}
	switch {
	case d.paused:
		prog.Status, prog.Reason, prog.Message = "Unknown", "DeploymentPaused", "Deployment is paused"
		svc.Phase = domain.PhasePaused
	case complete:
		prog.Reason, prog.Message = "NewReplicaSetAvailable", fmt.Sprintf("ReplicaSet %q has successfully progressed.", rsName)
		svc.Phase = domain.PhaseComplete
	case d.stalled:
		prog.Status, prog.Reason, prog.Message = "False", "ProgressDeadlineExceeded", fmt.Sprintf("ReplicaSet %q has timed out progressing.", rsName)
		svc.Phase = domain.PhaseStalled
	default:
		prog.Reason, prog.Message = "ReplicaSetUpdated", fmt.Sprintf("ReplicaSet %q is progressing.", rsName)
		svc.Phase = domain.PhaseProgressing
	}
	if svc.Phase != domain.PhaseComplete {
		svc.Message = prog.Message
	}
	svc.Conditions = []domain.Condition{avail, prog}
	return svc
}

func (s *sim) revisions(d *deployment) []domain.Revision {
	var out []domain.Revision
	for _, rs := range d.rss {
		out = append(out, domain.Revision{
			Number: rs.revision, Image: rs.tmpl.image(), ChangeCause: rs.changeCause, Created: rs.revisedAt,
			ReplicaSet: rs.name, Current: rs.revision == d.revision,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	return out
}

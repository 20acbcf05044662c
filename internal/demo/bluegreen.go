package demo

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Option configures the demo backend.
type Option func(*options)

type options struct {
	blueGreen      bool
	preview        time.Duration
	scaleDownDelay time.Duration
}

// WithBlueGreen adds the blue-green service checkout, as the sandbox seeds it: checkout-blue
// active at checkout:v1 with 3 replicas, checkout-green at 0. A deploy gives the idle colour the
// new image, and the simulation switches traffic once all its pods are Ready (and stayed so for
// preview), then scales the previous colour to zero after scaleDownDelay (5 m when zero), as a
// running opsdeck would.
func WithBlueGreen(preview, scaleDownDelay time.Duration) Option {
	return func(o *options) {
		o.blueGreen, o.preview, o.scaleDownDelay = true, preview, scaleDownDelay
		if o.scaleDownDelay <= 0 {
			o.scaleDownDelay = 5 * time.Minute
		}
	}
}

// blueGreenName is the demo's blue-green service.
const blueGreenName = "checkout"

// blueGreen is a simulated blue-green service: two Deployments and the Service's selector.
type blueGreen struct {
	name     string
	created  time.Time
	colors   map[domain.Color]*deployment
	active   domain.Color
	revision int64

	pending      domain.Color
	pendingImage string
	pendingSince time.Time
	readySince   time.Time
	trigger      domain.Trigger

	preview, delay          time.Duration
	switchedAt, scaleDownAt time.Time
}

func (bg *blueGreen) key() string { return namespace + "/" + bg.name }

// addBlueGreen seeds the blue-green service at now.
func (s *sim) addBlueGreen(now time.Time, o options) {
	born := now.Add(-24 * time.Hour)
	bg := &blueGreen{name: blueGreenName, created: born, colors: map[domain.Color]*deployment{}, active: domain.ColorBlue,
		revision: 1, preview: o.preview, delay: o.scaleDownDelay}
	for _, c := range domain.Colors {
		name := blueGreenName + "-" + string(c)
		replicas := int32(0)
		if c == domain.ColorBlue {
			replicas = initialReplicas
		}
		tmpl := template{containers: []domain.Container{{Name: "app", Image: blueGreenName + ":v1"}}}
		d := &deployment{name: name, created: born, replicas: replicas, tmpl: tmpl, revision: 1, generation: 1, lastProgress: born}
		rs := &replicaSet{name: rsName(name, tmpl), revision: 1, tmpl: tmpl.clone(), created: born, revisedAt: born,
			replicas: replicas, changeCause: "initial deploy of " + tmpl.image()}
		for range replicas {
			rs.pods = append(rs.pods, s.newPod(rs, born))
		}
		d.rss = []*replicaSet{rs}
		d.initial = &replicaSet{name: rs.name, tmpl: rs.tmpl, pods: append([]*pod(nil), rs.pods...)}
		bg.colors[c] = d
	}
	s.bgs = append(s.bgs, bg)
	s.fp = s.fingerprint()
}

func (s *sim) findBlueGreen(ns, name string) *blueGreen {
	if ns != "" && ns != namespace {
		return nil
	}
	for _, bg := range s.bgs {
		if bg.name == name {
			return bg
		}
	}
	return nil
}

// colorReady tells whether a colour runs its replicas (at least one), all current and Ready.
func (s *sim) colorReady(d *deployment, t time.Time) bool {
	return d.replicas > 0 && s.complete(d, t)
}

// stepBlueGreen runs the colours' controllers and what a running opsdeck does: the pending
// switch once the colour is Ready (and held for the preview), and the scale-down when due.
func (s *sim) stepBlueGreen(bg *blueGreen, prev, t time.Time) {
	for _, c := range domain.Colors {
		s.reconcile(bg.colors[c], prev, t)
	}
	if bg.pending != "" {
		d := bg.colors[bg.pending]
		if d.tmpl.image() != bg.pendingImage || !s.colorReady(d, t) {
			bg.readySince = time.Time{}
			return
		}
		if bg.readySince.IsZero() {
			bg.readySince = t
		}
		if t.Sub(bg.readySince) >= bg.preview {
			s.switchTo(bg, bg.pending, t, fmt.Sprintf("%s (%s) has all %d pods Ready", d.name, d.tmpl.image(), d.replicas))
		}
		return
	}
	if !bg.scaleDownAt.IsZero() && !t.Before(bg.scaleDownAt) {
		idle := bg.colors[bg.active.Other()]
		idle.replicas = 0
		idle.generation++
		bg.scaleDownAt = time.Time{}
		s.reconcile(idle, t, t)
		s.note(t, "scale-down", "deployment/"+idle.name, fmt.Sprintf("scaled %s (%s) to 0, %s after the switch to %s",
			idle.name, idle.tmpl.image(), bg.delay, bg.active))
	}
}

// switchTo points the selector at colour c.
func (s *sim) switchTo(bg *blueGreen, c domain.Color, t time.Time, why string) string {
	from := bg.active
	bg.active, bg.revision = c, bg.revision+1
	bg.pending, bg.pendingImage, bg.readySince = "", "", time.Time{}
	bg.switchedAt, bg.scaleDownAt = t, t.Add(bg.delay)
	msg := fmt.Sprintf("switched %s from %s (%s) to %s (%s); %s scales down in %s", bg.name, from,
		bg.colors[from].tmpl.image(), c, bg.colors[c].tmpl.image(), from, bg.delay)
	s.note(t, "switch", "service/"+bg.name, why+": "+msg)
	return msg
}

// note records a Normal event of an action opsdeck took on its own.
func (s *sim) note(t time.Time, reason, object, msg string) {
	s.events = append([]domain.Event{{Time: t, Source: domain.SourceAction, Type: "Normal", Reason: reason, Object: object, Message: msg, Count: 1}}, s.events...)
	if len(s.events) > 50 {
		s.events = s.events[:50]
	}
}

// executeBlueGreen performs an action on a blue-green service with the executor's semantics.
func (s *sim) executeBlueGreen(bg *blueGreen, a domain.Action, now time.Time) (domain.Result, error) {
	active, idle := bg.colors[bg.active], bg.colors[bg.active.Other()]
	res := domain.Result{Action: a, At: now, Kind: domain.KindBlueGreen, FromRevision: bg.revision, ToRevision: bg.revision,
		FromImage: active.tmpl.image(), ToImage: active.tmpl.image()}
	if a.ExpectRevision != 0 && a.ExpectRevision != bg.revision {
		return res, fmt.Errorf("%s %s: %w: expected revision %d, found %d", a.Kind, bg.name, ErrConflict, a.ExpectRevision, bg.revision)
	}
	if err := changedSinceConfirmed(a, bg.name, bg.revision, bg.active); err != nil {
		return res, err
	}
	switch a.Kind {
	case domain.ActionDeploy:
		if a.Image == active.tmpl.image() && bg.pending == "" {
			res.Skipped, res.Message = true, fmt.Sprintf("%s already runs %s on %s", bg.name, a.Image, bg.active)
			return res, nil
		}
		if bg.pending != "" {
			return res, fmt.Errorf("refusing to deploy %s: a switch to %s (%s) is pending; roll back (r) to cancel it first", bg.name, bg.pending, bg.pendingImage)
		}
		tmpl := idle.tmpl.clone()
		tmpl.containers[0].Image = a.Image
		if tmpl.key() != idle.tmpl.key() {
			s.setTemplate(idle, tmpl, fmt.Sprintf("opsdeck deploy %s %s (%s)", bg.name, a.Image, a.Trigger), now)
		}
		idle.replicas = active.replicas
		idle.generation++
		bg.pending, bg.pendingImage, bg.pendingSince, bg.readySince = bg.active.Other(), a.Image, now, time.Time{}
		bg.scaleDownAt, bg.trigger = time.Time{}, a.Trigger
		res.ToImage, res.ToRevision, res.PendingSwitch = a.Image, bg.revision+1, bg.pending
		res.Message = fmt.Sprintf("deploying %s to %s (%d replicas); traffic switches from %s once all are Ready", a.Image, idle.name, idle.replicas, bg.active)
	case domain.ActionRollback:
		if a.Snapshot != "" {
			return res, fmt.Errorf("rollback %s: the demo keeps no snapshots", bg.name)
		}
		if a.ToRevision > 0 {
			return res, fmt.Errorf("%s is blue-green: a rollback switches back to the other colour; --to-revision does not apply", bg.name)
		}
		if bg.pending != "" {
			pend := bg.colors[bg.pending]
			res.FromImage = bg.pendingImage
			res.Message = fmt.Sprintf("cancelled the switch of %s to %s (%s): traffic stays on %s (%s); %s scaled to 0",
				bg.name, bg.pending, bg.pendingImage, bg.active, active.tmpl.image(), pend.name)
			pend.replicas = 0
			pend.generation++
			bg.pending, bg.pendingImage, bg.readySince = "", "", time.Time{}
			return res, nil
		}
		res.ToImage, res.ToRevision = idle.tmpl.image(), bg.revision+1
		if s.colorReady(idle, now) {
			from := bg.active
			s.switchTo(bg, from.Other(), now, "rollback")
			res.Switched = bg.active
			res.Message = fmt.Sprintf("switched %s back from %s (%s) to %s (%s), no pod started; %s scales down in %s",
				bg.name, from, active.tmpl.image(), bg.active, idle.tmpl.image(), from, bg.delay)
			return res, nil
		}
		idle.replicas = active.replicas
		idle.generation++
		bg.pending, bg.pendingImage, bg.pendingSince, bg.readySince = bg.active.Other(), idle.tmpl.image(), now, time.Time{}
		bg.scaleDownAt, bg.trigger = time.Time{}, a.Trigger
		res.PendingSwitch = bg.pending
		res.Message = fmt.Sprintf("%s was scaled down: scaling it to %d (%s); traffic switches back from %s once all are Ready",
			idle.name, idle.replicas, idle.tmpl.image(), bg.active)
	case domain.ActionScale:
		if a.Replicas < 0 {
			return res, fmt.Errorf("scale %s: replicas must be 0 or more, got %d", bg.name, a.Replicas)
		}
		if a.Replicas == active.replicas {
			res.Skipped, res.Message = true, fmt.Sprintf("%s already has %d replicas on %s", bg.name, a.Replicas, bg.active)
			return res, nil
		}
		res.Message = fmt.Sprintf("scaled %s (%s) from %d to %d replicas", bg.name, bg.active, active.replicas, a.Replicas)
		active.replicas = a.Replicas
		active.generation++
	case domain.ActionSwitch:
		if bg.pending == "" || (a.Color != "" && a.Color != bg.pending) {
			res.Skipped, res.Message = true, fmt.Sprintf("%s: no switch to %s is pending", bg.name, a.Color)
			return res, nil
		}
		if !s.colorReady(bg.colors[bg.pending], now) {
			return res, fmt.Errorf("refusing to switch %s to %s: not all its pods are Ready", bg.name, bg.pending)
		}
		res.ToImage, res.ToRevision, res.Switched = bg.colors[bg.pending].tmpl.image(), bg.revision+1, bg.pending
		res.Message = s.switchTo(bg, bg.pending, now, string(a.Trigger))
	default:
		return res, fmt.Errorf("%s is blue-green: %s is not available for it in the demo", bg.name, a.Kind)
	}
	return res, nil
}

// blueGreenService builds the Service the watches would show for bg at t, like the watcher:
// the active colour's figures, both colours' ReplicaSets, the pending switch and deadline.
func (s *sim) blueGreenService(bg *blueGreen, t time.Time) domain.Service {
	info := &domain.BlueGreen{
		Active: bg.active, Colors: map[domain.Color]domain.ColorState{},
		Selector: map[string]string{"app": bg.name, "opsdeck.io/color": string(bg.active)},
		Pending:  bg.pending, PendingImage: bg.pendingImage, PendingSince: bg.pendingSince, Preview: bg.preview,
		ScaleDownDelay: bg.delay, Trigger: bg.trigger, SwitchedAt: bg.switchedAt, ScaleDownAt: bg.scaleDownAt,
	}
	colors := map[domain.Color]domain.Service{}
	var rv []string
	for _, c := range domain.Colors {
		d := bg.colors[c]
		cs := s.service(d, t)
		colors[c] = cs
		rv = append(rv, cs.ResourceVersion+d.name+fmt.Sprint(d.generation))
		st := domain.ColorState{Color: c, Deployment: d.name, Exists: true, Image: cs.Image, Containers: cs.Containers,
			Desired: cs.Desired, Current: cs.Current, Updated: cs.Updated, Ready: cs.Ready, Available: cs.Available,
			Revision: cs.Revision, Phase: cs.Phase}
		if rs, ok := cs.NewReplicaSet(); ok {
			st.ReplicaSet, st.Created = rs.Name, rs.Created
		}
		for _, rs := range cs.ReplicaSets {
			st.ReplicaSets = append(st.ReplicaSets, rs.Name)
		}
		info.Colors[c] = st
	}
	a := colors[bg.active]
	out := a
	out.Name, out.Kind, out.Revision, out.BlueGreen, out.Created = bg.name, domain.KindBlueGreen, bg.revision, info, bg.created
	out.ResourceVersion = fmt.Sprintf("%d/%s/%s/%v", bg.revision, bg.pending, strings.Join(rv, "/"), bg.scaleDownAt.Unix())
	out.RolloutStarted = bg.switchedAt
	if out.RolloutStarted.IsZero() {
		out.RolloutStarted = info.Colors[bg.active].Created
	}
	out.ReplicaSets = nil
	for _, c := range []domain.Color{bg.active, bg.active.Other()} {
		for _, rs := range colors[c].ReplicaSets {
			rs.Color = c
			out.ReplicaSets = append(out.ReplicaSets, rs)
		}
	}
	return out
}

// blueGreenRevisions is both colours' history, marked with their colour, newest first.
func (s *sim) blueGreenRevisions(bg *blueGreen) []domain.Revision {
	var out []domain.Revision
	for _, c := range domain.Colors {
		for _, r := range s.revisions(bg.colors[c]) {
			r.Color = c
			r.Current = r.Current && c == bg.active
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// blueGreenValues are the values of a blue-green service (both colours' pods) and of each of
// its ReplicaSets with pods.
func (s *sim) blueGreenValues(bg *blueGreen, t time.Time) (domain.Values, map[string]domain.Values) {
	var all []podSample
	perRS := map[string]domain.Values{}
	for _, c := range domain.Colors {
		for _, rs := range bg.colors[c].rss {
			if len(rs.pods) == 0 {
				continue
			}
			ss := sampleRS(rs, rs.pods, t)
			all = append(all, ss...)
			perRS[namespace+"/"+rs.name] = aggregate(ss)
		}
	}
	return aggregate(all), perRS
}

// asDeployment is bg as the backfill sees it: the service's series under its key, both
// colours' ReplicaSets, and blue's seeded pods before the simulation started.
func (bg *blueGreen) asDeployment() *deployment {
	blue, green := bg.colors[domain.ColorBlue], bg.colors[domain.ColorGreen]
	return &deployment{name: bg.name, initial: blue.initial, rss: append(append([]*replicaSet(nil), blue.rss...), green.rss...)}
}

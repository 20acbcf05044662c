package demo

import (
	"context"
	"fmt"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/imageref"
)

// Plan says what Execute would do, in the executor's words (internal/actions), changing
// nothing; a bad image is refused with the executor's own validator.
func (b *Backend) Plan(ctx context.Context, a domain.Action) (domain.Plan, error) {
	if err := ctx.Err(); err != nil {
		return domain.Plan{Action: a}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.plan(a)
}

// plan is Plan with b.mu held.
func (b *Backend) plan(a domain.Action) (domain.Plan, error) {
	p := domain.Plan{Action: a}
	if a.Kind == domain.ActionDeploy {
		if err := imageref.Validate(a.Image); err != nil {
			return p, err
		}
	}
	skip := func(why string) (domain.Plan, error) {
		p.Skipped, p.Sentence = true, why
		return p, nil
	}
	if bg := b.sim.findBlueGreen(a.Namespace, a.Service); bg != nil {
		active, idle := bg.colors[bg.active], bg.colors[bg.active.Other()]
		p.Precondition = domain.Precondition{Revision: bg.revision, Color: bg.active, Image: active.tmpl.image()}
		if err := changedSinceConfirmed(a, bg.name, bg.revision, bg.active); err != nil {
			return p, err
		}
		switch a.Kind {
		case domain.ActionDeploy:
			if a.Image == active.tmpl.image() && bg.pending == "" {
				return skip(fmt.Sprintf("%s already runs %s on %s", bg.name, a.Image, bg.active))
			}
			if bg.pending != "" {
				return p, fmt.Errorf("refusing to deploy %s: a switch to %s (%s) is pending; roll back (r) to cancel it first", bg.name, bg.pending, bg.pendingImage)
			}
			hold := ""
			if bg.preview > 0 {
				hold = fmt.Sprintf(", stay Ready %s in preview", bg.preview)
			}
			p.Sentence = fmt.Sprintf("deploy %s (blue-green): %s -> %s; %s (idle) gets %s at %d replicas; traffic switches from %s once all are Ready%s; %s stays up %s",
				bg.name, active.tmpl.image(), a.Image, bg.active.Other(), a.Image, active.replicas, bg.active, hold, bg.active, bg.delay)
		case domain.ActionRollback:
			switch {
			case bg.pending != "":
				p.Sentence = fmt.Sprintf("roll back %s (blue-green): cancel the pending switch to %s (%s): traffic stays on %s (%s)",
					bg.name, bg.pending, bg.pendingImage, bg.active, active.tmpl.image())
			case b.sim.colorReady(idle, b.sim.now):
				p.Sentence = fmt.Sprintf("roll back %s (blue-green): %s -> %s; switch back from %s to %s (%s) at once: its %d pods are Ready",
					bg.name, active.tmpl.image(), idle.tmpl.image(), bg.active, bg.active.Other(), idle.tmpl.image(), idle.replicas)
			default:
				p.Sentence = fmt.Sprintf("roll back %s (blue-green): %s -> %s; %s was scaled down: scale it to %d (%s), then switch back from %s once all are Ready",
					bg.name, active.tmpl.image(), idle.tmpl.image(), bg.active.Other(), active.replicas, idle.tmpl.image(), bg.active)
			}
		default:
			p.Sentence = fmt.Sprintf("%s %s (blue-green)", a.Kind, bg.name)
		}
		return p, nil
	}
	d := b.sim.find(a.Namespace, a.Service)
	if d == nil {
		return p, fmt.Errorf("%s: service %q not found in namespace %s", a.Kind, a.Service, namespace)
	}
	img := d.tmpl.image()
	p.Precondition = domain.Precondition{Revision: d.revision, Generation: d.generation, Image: img}
	if err := changedSinceConfirmed(a, d.name, d.revision, ""); err != nil {
		return p, err
	}
	switch a.Kind {
	case domain.ActionDeploy:
		idx, in := 0, ""
		if len(d.tmpl.containers) > 1 {
			idx = -1
			for i, c := range d.tmpl.containers {
				if c.Name == a.Container {
					idx = i
				}
			}
			if idx < 0 {
				return p, fmt.Errorf("deploy %s: no container %q in the pod template", d.name, a.Container)
			}
			in = " (container " + a.Container + ")"
		}
		from := d.tmpl.containers[idx].Image
		if from == a.Image {
			return skip(fmt.Sprintf("%s already runs %s in container %s", d.name, a.Image, d.tmpl.containers[idx].Name))
		}
		p.Sentence = fmt.Sprintf("deploy %s%s: %s -> %s (revision %d -> %d)", d.name, in, from, a.Image, d.revision, d.maxRevision()+1)
	case domain.ActionRollback:
		for _, rs := range d.rss { // newest first
			if (a.ToRevision == 0 && rs.revision < d.revision) || (a.ToRevision != 0 && rs.revision == a.ToRevision) {
				if rs.tmpl.key() == d.tmpl.key() {
					return skip(fmt.Sprintf("skipped rollback: %s already runs the template of revision %d", d.name, rs.revision))
				}
				if d.paused {
					return p, fmt.Errorf("%s is paused: resume it (p, or kubectl rollout resume) before rolling back", d.name)
				}
				p.Sentence = fmt.Sprintf("roll back %s: r%d %s -> r%d %s", d.name, d.revision, img, rs.revision, rs.tmpl.image())
				return p, nil
			}
		}
		return p, fmt.Errorf("revision %d of %s not found", a.ToRevision, d.name)
	case domain.ActionScale:
		if a.Replicas == d.replicas {
			return skip(fmt.Sprintf("%s already has %d replicas", d.name, a.Replicas))
		}
		p.Sentence = fmt.Sprintf("scale %s: %d -> %d replicas", d.name, d.replicas, a.Replicas)
	case domain.ActionRestart:
		if d.paused {
			return p, fmt.Errorf("%s is paused: resume it (p) before restarting", d.name)
		}
		p.Sentence = fmt.Sprintf("restart %s: every pod is replaced with %s, a new revision %d -> %d", d.name, img, d.revision, d.maxRevision()+1)
	case domain.ActionPause:
		if d.paused {
			return p, fmt.Errorf("%s deployments.apps %q is already paused", d.name, d.name)
		}
		p.Sentence = fmt.Sprintf("pause %s's rollout at revision %d (%s): no pod changes until it is resumed", d.name, d.revision, img)
	case domain.ActionResume:
		if !d.paused {
			return p, fmt.Errorf("%s deployments.apps %q is not paused", d.name, d.name)
		}
		p.Sentence = fmt.Sprintf("resume %s's rollout at revision %d (%s)", d.name, d.revision, img)
	default:
		return p, fmt.Errorf("unknown action %q", a.Kind)
	}
	return p, nil
}

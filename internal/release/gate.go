package release

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Request is a deploy someone or something asks for.
type Request struct {
	Namespace, Service, Image, Reason string
	// Container is the container the image is for; empty means the only or first one.
	Container   string
	Trigger     domain.Trigger
	RequestedBy string
	// NotBefore: zero means as soon as allowed (deploy --at sets it).
	NotBefore time.Time
	// OverrideFreeze is a person's explicit "deploy anyway" during a freeze (--override-freeze,
	// or the console's second confirmation). Automated triggers cannot set it.
	OverrideFreeze bool
}

// Outcome is what Submit did.
type Outcome struct {
	State   string    // "started" | "queued" | "scheduled" | "awaiting-approval" | "skipped"
	Until   time.Time // queued: when it may run (window opens, freeze ends)
	Message string
}

// ErrFrozen marks a person's deploy refused because of a freeze they did not override.
var ErrFrozen = errors.New("frozen")

// Executor performs actions (actions.Executor).
type Executor interface {
	Execute(ctx context.Context, a domain.Action) (domain.Result, error)
}

// Gate admits deploys: it starts them through the executor, or stores them on the Deployment
// to wait.
type Gate struct {
	Client   kubernetes.Interface
	Exec     Executor
	Policies PolicyConfig
	Clock    domain.Clock
}

func (g *Gate) now() time.Time {
	if g.Clock == nil {
		return time.Now()
	}
	return g.Clock.Now()
}

// Decision is the pure verdict on a deploy at one instant.
type Decision struct {
	State   string // "started" (due now), "queued", "scheduled", "awaiting-approval", "skipped"
	Until   time.Time
	Message string
}

// Judge decides what a deploy of image (on a service running runningTag) may do at now.
// It is pure: the freeze is the one holding the service, approvedBy is "" until approved.
func Judge(p Policy, trig domain.Trigger, image, runningTag string, notBefore time.Time, freeze *Freeze, approvedBy string, override bool, now time.Time) Decision {
	person := Person(trig)
	if !person {
		if !p.Allows(trig) {
			return Decision{State: "skipped", Message: fmt.Sprintf("trigger %s may not deploy this service (policy allows %v)", trig, p.Triggers)}
		}
		if ok, why := p.Tags.Accepts(runningTag, domain.ImageTag(image)); !ok {
			return Decision{State: "skipped", Message: why}
		}
	}
	if notBefore.After(now) {
		return Decision{State: StateScheduled, Until: notBefore, Message: "scheduled for " + notBefore.UTC().Format(time.RFC3339)}
	}
	if !person && p.Approval && approvedBy == "" {
		return Decision{State: StateAwaiting, Message: "awaits approval (opsdeck approve)"}
	}
	if f := freeze; f.Active(now) && !(person && override) {
		return Decision{State: StateQueued, Until: f.Until, Message: "waits: " + f.String()}
	}
	if !person {
		if at, open := NextOpen(p.Windows, now); !open {
			if at.IsZero() {
				return Decision{State: "skipped", Message: "no deploy window ever opens"}
			}
			return Decision{State: StateQueued, Until: at, Message: "waits for its deploy window, opening " + at.UTC().Format(time.RFC3339)}
		}
	}
	return Decision{State: "started"}
}

// Submit admits r: starts it now, stores it to wait, or skips it. A person's deploy during a
// freeze without OverrideFreeze returns an error wrapping ErrFrozen, naming the freeze.
func (g *Gate) Submit(ctx context.Context, r Request) (Outcome, error) {
	if !Person(r.Trigger) {
		r.OverrideFreeze = false
	}
	d, err := g.Client.AppsV1().Deployments(r.Namespace).Get(ctx, r.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Outcome{}, fmt.Errorf("service %q %w in namespace %q", r.Service, actions.ErrNotFound, r.Namespace)
	}
	if err != nil {
		return Outcome{}, err
	}
	nsFreeze, err := NamespaceFreeze(ctx, g.Client, r.Namespace)
	if err != nil {
		return Outcome{}, fmt.Errorf("reading the namespace freeze: %w", err)
	}
	pol, err := g.Policies.Resolve(r.Service, d.Annotations)
	if err != nil {
		return Outcome{}, err
	}
	now := g.now()
	freeze := ActiveFreeze(ServiceFreeze(d), nsFreeze, now)
	dec := Judge(pol, r.Trigger, r.Image, domain.ImageTag(mainImage(d)), r.NotBefore, freeze, "", r.OverrideFreeze, now)
	if Person(r.Trigger) && dec.State == StateQueued && freeze != nil && r.NotBefore.IsZero() {
		return Outcome{}, fmt.Errorf("%w: %s; deploy anyway with --override-freeze (console: confirm twice)", ErrFrozen, freeze)
	}
	switch dec.State {
	case "skipped":
		return Outcome{State: "skipped", Message: fmt.Sprintf("%s %s skipped: %s", r.Service, r.Image, dec.Message)}, nil
	case "started":
		res, err := g.Exec.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: r.Namespace, Service: r.Service,
			Image: r.Image, Container: r.Container, Trigger: r.Trigger, RequestedBy: r.RequestedBy, Reason: r.Reason})
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{State: "started", Message: res.Message}, nil
	}
	p := Pending{ID: strconv.FormatInt(now.UnixNano(), 36), Image: r.Image, Container: r.Container, NotBefore: r.NotBefore,
		RequestedBy: r.RequestedBy, Trigger: r.Trigger, Reason: r.Reason, State: dec.State, Created: now,
		Until: dec.Until, Approval: !Person(r.Trigger) && pol.Approval}
	// The newest request replaces any older pending one: the service gets the image asked last.
	if _, err := patchAnnotation(ctx, g.Client, r.Namespace, r.Service, AnnotationPending, p, ""); err != nil {
		return Outcome{}, fmt.Errorf("storing the %s deploy of %s: %w", dec.State, r.Service, err)
	}
	return Outcome{State: dec.State, Until: dec.Until, Message: fmt.Sprintf("%s %s %s: %s", r.Service, r.Image, dec.State, dec.Message)}, nil
}

// Approve approves the pending deploy of a service, recording who.
func Approve(ctx context.Context, c kubernetes.Interface, ns, svc, by string) (*Pending, error) {
	return editPending(ctx, c, ns, svc, func(p *Pending) (*Pending, error) {
		if p.State == StatePerforming {
			return nil, fmt.Errorf("the pending deploy of %s is already being performed", svc)
		}
		p.ApprovedBy = by
		p.Approval = true
		if p.State == StateAwaiting {
			p.State = StateQueued
		}
		return p, nil
	})
}

// Cancel removes the pending deploy of a service (not one being performed).
func Cancel(ctx context.Context, c kubernetes.Interface, ns, svc string) (*Pending, error) {
	return editPending(ctx, c, ns, svc, func(p *Pending) (*Pending, error) {
		if p.State == StatePerforming {
			return nil, fmt.Errorf("the pending deploy of %s is already being performed", svc)
		}
		return nil, nil
	})
}

// RunNow makes the pending deploy due at once (a person's decision: it ignores the window,
// not-before and approval, but not a freeze).
func RunNow(ctx context.Context, c kubernetes.Interface, ns, svc, by string) (*Pending, error) {
	return editPending(ctx, c, ns, svc, func(p *Pending) (*Pending, error) {
		if p.State == StatePerforming {
			return nil, fmt.Errorf("the pending deploy of %s is already being performed", svc)
		}
		p.NotBefore = time.Time{}
		p.ApprovedBy = by
		p.Trigger, p.RequestedBy = domain.TriggerKey, by
		p.State = StateQueued
		return p, nil
	})
}

// editPending changes the pending annotation under a resourceVersion precondition, so an edit
// never overwrites a claim made meanwhile. edit returning nil removes it.
func editPending(ctx context.Context, c kubernetes.Interface, ns, svc string, edit func(*Pending) (*Pending, error)) (*Pending, error) {
	d, err := c.AppsV1().Deployments(ns).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	p := ParsePending(d.Annotations[AnnotationPending])
	if p == nil {
		return nil, fmt.Errorf("%s has no pending deploy", svc)
	}
	old := *p
	np, err := edit(p)
	if err != nil {
		return nil, err
	}
	var v any
	if np != nil {
		v = np
	}
	if _, err := patchAnnotation(ctx, c, ns, svc, AnnotationPending, v, d.ResourceVersion); err != nil {
		if apierrors.IsConflict(err) {
			return nil, fmt.Errorf("%s changed while editing its pending deploy; try again", svc)
		}
		return nil, err
	}
	return &old, nil
}

func mainImage(d *appsv1.Deployment) string {
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		return cs[0].Image
	}
	return ""
}

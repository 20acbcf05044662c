package actions

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
	"github.com/opsdeck/opsdeck/internal/safe"
)

// plan is what an action will do, decided from what was read before anything changes. A
// planner (one per kind of target: a Deployment, a blue-green pair) fills it; run carries out
// every plan the same way.
type plan struct {
	// res is the result the plan expects: revisions, images, kind, precondition.
	res domain.Result
	// sentence is the one line a person confirms.
	sentence string
	// skip, when set, is the message of an action that would change nothing.
	skip string
	// verb and resource name the API request, for a forbidden error.
	verb, resource string
	// saved is what is snapshotted before acting: the Deployment, or the pair as a List.
	saved any
	// apply performs the mutation, guarded by the resourceVersions read, and returns the
	// one-line message of the result.
	apply func(ctx context.Context) (string, error)
	// applyTo is a Deployment planner's mutation of cur: the Deployment planned on, or a
	// fresher copy whose spec is the same (only its status moved). planDeployment wraps it
	// into apply.
	applyTo func(ctx context.Context, cur *appsv1.Deployment) (string, error)
	// eventOn is what the Event is recorded on (the Deployment, the blue-green Service and
	// the colour a guard switched away from); eventType and eventReason override the Normal
	// event named after the action.
	eventOn                []runtime.Object
	eventType, eventReason string
}

// public is the plan as callers see it.
func (p *plan) public() domain.Plan {
	out := domain.Plan{Action: p.res.Action, Sentence: p.sentence, Skipped: p.skip != "", Precondition: p.res.Precondition, Preview: p.res}
	if p.skip != "" {
		out.Sentence, out.Preview.Skipped, out.Preview.Message = p.skip, true, p.skip
	} else {
		out.Preview.Message = p.sentence
	}
	return out
}

// Plan checks a (read-only, validation), reads its target and says what Execute would do,
// changing nothing: the sentence a person confirms and the state it was read at. The error is
// the one-line refusal Execute would give.
func (e *Executor) Plan(ctx context.Context, a domain.Action) (domain.Plan, error) {
	p, err := e.plan(ctx, a)
	if err != nil {
		return domain.Plan{Action: a, Precondition: p.res.Precondition, Preview: p.res}, err
	}
	return p.public(), nil
}

// Execute plans a and carries the plan out. The error, when there is one, is one line meant
// for a person; it wraps domain.ErrReadOnly, domain.ErrConflict, ErrNotFound or ErrForbidden
// where they apply. An action with Expect (a confirmed plan) is refused as a conflict,
// changing nothing, when the service no longer matches what was confirmed.
func (e *Executor) Execute(ctx context.Context, a domain.Action) (domain.Result, error) {
	p, err := e.plan(ctx, a)
	if err != nil {
		e.recordStoodDown(a, p.res, err)
		return p.res, err
	}
	return e.run(ctx, p)
}

// ExecutePlan carries out a plan that Plan returned and a person confirmed: it fails with
// domain.ErrConflict, changing nothing, when the world changed since the plan was read.
func (e *Executor) ExecutePlan(ctx context.Context, p domain.Plan) (domain.Result, error) {
	return e.Execute(ctx, p.Confirmed())
}

// Preview is Plan's expected result, with the plan's sentence as its message.
func (e *Executor) Preview(ctx context.Context, a domain.Action) (domain.Result, error) {
	p, err := e.Plan(ctx, a)
	return p.Preview, err
}

// plan is the one place that decides: the gate (read-only, validation, audit log) before any
// API call, then the target, then that target's planner.
func (e *Executor) plan(ctx context.Context, a domain.Action) (*plan, error) {
	none := &plan{res: domain.Result{Action: a, At: e.now()}}
	if err := e.check(a); err != nil {
		return none, err
	}
	d, svc, err := e.findTarget(ctx, a)
	if err != nil {
		return none, err
	}
	var p *plan
	if svc != nil {
		p, err = e.planPair(ctx, a, svc)
	} else {
		p, err = e.planDeployment(ctx, a, d)
	}
	if p == nil {
		p = none
	}
	if err != nil {
		return p, err
	}
	p.res.Action, p.res.At = a, none.res.At
	if p.skip != "" {
		p.res.Skipped, p.res.Message = true, p.skip
		return p, nil
	}
	if x := a.Expect; x != nil && x.Sentence != "" && x.Sentence != p.sentence {
		return p, fmt.Errorf("%w: changed since you confirmed: %s: the plan now reads %q; nothing was changed, look again",
			domain.ErrConflict, a.Service, p.sentence)
	}
	return p, nil
}

// check is the gate every action passes before any API call.
func (e *Executor) check(a domain.Action) error {
	if e.ReadOnly {
		return domain.ReadOnlyRefusal(a.Kind, a.Service)
	}
	if _, ok := deploymentPlanners[a.Kind]; !ok && !blueGreenOnly(a.Kind) {
		return fmt.Errorf("unknown action %q", a.Kind)
	}
	if err := validate(a); err != nil {
		return err
	}
	if e.Audit == nil {
		return fmt.Errorf("refusing to %s %s: no audit log is configured", a.Kind, a.Service)
	}
	return nil
}

func blueGreenOnly(k domain.ActionKind) bool {
	return k == domain.ActionSwitch || k == domain.ActionScaleDown
}

// findTarget reads what a acts on: the Deployment named after the service, else the
// blue-green Service of that name (whose colours are <name>-blue and <name>-green). A plain
// Deployment costs one GET; the switch and scale-down that only blue-green services have go
// straight to the Service.
func (e *Executor) findTarget(ctx context.Context, a domain.Action) (*appsv1.Deployment, *corev1.Service, error) {
	var notFound error
	if !blueGreenOnly(a.Kind) {
		d, err := e.Client.AppsV1().Deployments(a.Namespace).Get(ctx, a.Service, metav1.GetOptions{})
		if err == nil {
			return d, nil, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, nil, e.apiError(err, a, "get", "deployments")
		}
		notFound = err
	}
	svc, err := e.Client.CoreV1().Services(a.Namespace).Get(ctx, a.Service, metav1.GetOptions{})
	switch {
	case err == nil && bluegreen.IsBlueGreen(svc):
		return nil, svc, nil
	case notFound != nil:
		// Not found, or not readable (a guard's least RBAC need not read Services).
		return nil, nil, e.apiError(notFound, a, "get", "deployments")
	case err != nil && !apierrors.IsNotFound(err):
		return nil, nil, e.apiError(err, a, "get", "services")
	}
	return nil, nil, fmt.Errorf("%s %s: not a blue-green service (no Service %s labelled %s=%s in namespace %s)",
		a.Kind, a.Service, a.Service, bluegreen.StrategyLabel, bluegreen.StrategyValue, a.Namespace)
}

// deploymentPlanners plan each action on a plain Deployment (one file per action).
var deploymentPlanners = map[domain.ActionKind]func(ctx context.Context, e *Executor, a domain.Action, d *appsv1.Deployment) (*plan, error){
	domain.ActionDeploy:   planDeploy,
	domain.ActionRollback: planRollback,
	domain.ActionPause:    planPause,
	domain.ActionResume:   planResume,
	domain.ActionRestart:  planRestart,
	domain.ActionScale:    planScale,
}

// planDeployment checks the caller's expectations against the Deployment read and asks the
// action's planner.
func (e *Executor) planDeployment(ctx context.Context, a domain.Action, d *appsv1.Deployment) (*plan, error) {
	res := domain.Result{Action: a, At: e.now()}
	var err error
	if a.ExpectRevision != 0 && d.Generation > d.Status.ObservedGeneration {
		// A spec change is waiting for the controller, so the revision annotation may not tell
		// yet that someone else acted: let the controller observe it first.
		if d, err = e.awaitObserved(ctx, a, d); err != nil {
			return &plan{res: res}, err
		}
	}
	rev, _ := rollout.Revision(d)
	res.FromRevision, res.ToRevision = rev, rev
	res.FromImage = mainImage(d)
	res.ToImage = res.FromImage
	res.Precondition = domain.Precondition{Revision: rev, Generation: d.Generation, Image: res.FromImage, ResourceVersion: d.ResourceVersion}
	if a.ExpectRevision != 0 && rev != a.ExpectRevision {
		return &plan{res: res}, e.someoneElseActed(a, d.Annotations, fmt.Sprintf("%s is at revision %d, not %d", a.Service, rev, a.ExpectRevision))
	}
	if err := changedSinceConfirmed(a, res.Precondition); err != nil {
		return &plan{res: res}, err
	}
	p, err := deploymentPlanners[a.Kind](ctx, e, a, d)
	if err != nil {
		return &plan{res: res}, e.apiError(err, a, "list", "replicasets")
	}
	p.res.Action, p.res.At, p.res.Kind, p.res.Precondition = a, res.At, domain.KindDeployment, res.Precondition
	p.saved = deploymentForSnapshot(d)
	p.eventOn = []runtime.Object{d}
	apply := p.applyTo
	p.apply = func(ctx context.Context) (string, error) {
		var msg string
		err := retryStatusConflicts(ctx, e, d, func(cur *appsv1.Deployment) error {
			var err error
			msg, err = apply(ctx, cur)
			return err
		})
		return msg, err
	}
	return p, nil
}

// run carries out a plan, the same way for every kind of target: save the objects, write the
// intent, apply, write the outcome, record the Event.
func (e *Executor) run(ctx context.Context, p *plan) (domain.Result, error) {
	res, a := p.res, p.res.Action
	if p.skip != "" {
		return res, nil
	}
	if p.apply == nil {
		return res, errors.New("internal error: a plan without a change")
	}
	snapshot, err := e.Audit.Snapshot(res.At, a.Namespace, a.Service, string(a.Kind), p.saved)
	if err != nil {
		return res, fmt.Errorf("refusing to %s %s: cannot save the object first: %w", a.Kind, a.Service, err)
	}
	msg, err := e.writeAhead(ctx, a, res, snapshot, p.verb, p.resource, p.apply)
	if err != nil {
		return res, err
	}
	res.Message = msg
	e.event(a, p, msg)
	return res, nil
}

// event records the Kubernetes Event of a mutation: Normal for a person's action, Warning
// AutoRollback for a guard's rollback.
func (e *Executor) event(a domain.Action, p *plan, msg string) {
	if e.Recorder == nil {
		return
	}
	typ, reason := corev1.EventTypeNormal, eventReasons[a.Kind]
	if p.eventType != "" {
		typ, reason = p.eventType, p.eventReason
	}
	note := fmt.Sprintf("%s (%s by %s)", msg, a.Trigger, orUnknown(e.Identity.User))
	if a.Reason != "" {
		note = a.Reason + ": " + note
	}
	for _, o := range p.eventOn {
		e.Recorder.Event(o, typ, reason, safe.OneLine(note))
	}
}

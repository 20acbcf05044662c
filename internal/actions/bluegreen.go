package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubectl/pkg/polymorphichelpers"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// BlueGreenSettings are the configured durations of a blue-green deploy. They are written on
// the Service with the pending switch, so whichever opsdeck process performs the switch uses
// the deployer's settings.
type BlueGreenSettings struct {
	// Preview is how long the new colour must stay Ready, passing the guard's rules, before
	// traffic switches to it (0: switch as soon as it is Ready).
	Preview time.Duration
	// ScaleDownDelay is how long the previous colour stays at full scale after the switch;
	// bluegreen.DefaultScaleDownDelay when zero.
	ScaleDownDelay time.Duration
}

func (s BlueGreenSettings) scaleDownDelay() time.Duration {
	if s.ScaleDownDelay <= 0 {
		return bluegreen.DefaultScaleDownDelay
	}
	return s.ScaleDownDelay
}

// bgPlan is what an action will do to a blue-green service, decided before anything changes.
type bgPlan struct {
	res  domain.Result
	skip string
	// verb and resource name the API request, for a forbidden error.
	verb, resource string
	apply          func(ctx context.Context) (string, error)
	// eventType and eventReason override the Normal event named after the action; eventOn
	// are extra objects (the Deployment a guard switched away from) that get the event too.
	eventType, eventReason string
	eventOn                []runtime.Object
	// describe says what the action will do, for a confirmation.
	describe string
}

// route sends what the Deployment path cannot do to its own path: every action on a blue-green
// service, and the switch and scale-down that only blue-green services have. It reports
// whether it handled a. The gate (read-only, validation, audit log) comes first, as for every
// action, before any API call.
func (e *Executor) route(ctx context.Context, a domain.Action, execute bool) (bool, domain.Result, error) {
	res := domain.Result{Action: a, At: e.now()}
	bgOnly := a.Kind == domain.ActionSwitch || a.Kind == domain.ActionScaleDown
	if e.ReadOnly {
		if !bgOnly {
			return false, res, nil // refused on the Deployment path, with the same words
		}
		return true, res, fmt.Errorf("%w: refusing to %s %s (started with --readonly)", domain.ErrReadOnly, a.Kind, a.Service)
	}
	if _, known := planners[a.Kind]; !known && !bgOnly {
		return false, res, nil
	}
	if err := validate(a); err != nil || e.Audit == nil {
		if bgOnly && err == nil {
			return true, res, fmt.Errorf("refusing to %s %s: no audit log is configured", a.Kind, a.Service)
		}
		return false, res, nil // refused on the Deployment path
	}
	svc, err := e.Client.CoreV1().Services(a.Namespace).Get(ctx, a.Service, metav1.GetOptions{})
	switch {
	case err == nil && bluegreen.IsBlueGreen(svc):
		res, err := e.blueGreen(ctx, a, svc, execute)
		return true, res, err
	case bgOnly && err != nil && !apierrors.IsNotFound(err):
		return true, res, e.apiError(err, a, "get", "services")
	case bgOnly:
		return true, res, fmt.Errorf("%s %s: not a blue-green service (no Service %s labelled %s=%s in namespace %s)",
			a.Kind, a.Service, a.Service, bluegreen.StrategyLabel, bluegreen.StrategyValue, a.Namespace)
	}
	// Not found or not readable (a guard's least RBAC need not read Services): a Deployment.
	return false, res, nil
}

// readPair reads a blue-green Service's two Deployments; a missing one is nil.
func (e *Executor) readPair(ctx context.Context, a domain.Action, svc *corev1.Service) (bluegreen.Pair, error) {
	p := bluegreen.Pair{Service: svc}
	for _, c := range domain.Colors {
		d, err := e.Client.AppsV1().Deployments(a.Namespace).Get(ctx, bluegreen.DeploymentName(svc.Name, c), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return p, e.apiError(err, a, "get", "deployments")
		}
		if c == domain.ColorBlue {
			p.Blue = d
		} else {
			p.Green = d
		}
	}
	return p, nil
}

// blueGreen checks the pair, plans the action and, when execute is set, snapshots the three
// objects, acts, writes the audit line and records the Event.
func (e *Executor) blueGreen(ctx context.Context, a domain.Action, svc *corev1.Service, execute bool) (domain.Result, error) {
	res := domain.Result{Action: a, At: e.now(), Kind: domain.KindBlueGreen}
	pair, err := e.readPair(ctx, a, svc)
	if err != nil {
		return res, err
	}
	active, err := pair.Check()
	if err != nil {
		return res, fmt.Errorf("refusing to %s %s: %w", a.Kind, a.Service, err)
	}
	st := bluegreen.ReadState(svc)
	res.FromRevision, res.ToRevision = st.Revision, st.Revision
	res.FromImage = mainImage(pair.Of(active))
	res.ToImage = res.FromImage
	res.Precondition = domain.Precondition{Revision: st.Revision, Color: active, Image: res.FromImage, ResourceVersion: svc.ResourceVersion}
	if d := pair.Of(active); d != nil {
		res.Precondition.Generation = d.Generation
	}
	if a.ExpectRevision != 0 && st.Revision != a.ExpectRevision {
		err := e.someoneElseActed(a, svc.Annotations, fmt.Sprintf("%s is at revision %d, not %d", a.Service, st.Revision, a.ExpectRevision))
		if execute {
			e.recordStoodDown(a, res, err)
		}
		return res, err
	}
	if err := changedSinceConfirmed(a, res.Precondition); err != nil {
		return res, err
	}
	p, err := e.planBlueGreen(a, pair, active, st)
	if err != nil {
		return res, e.apiError(err, a, "get", "services")
	}
	p.res.Action, p.res.At, p.res.Kind, p.res.Precondition = a, res.At, domain.KindBlueGreen, res.Precondition
	res = p.res
	if p.skip != "" {
		res.Skipped, res.Message = true, p.skip
		return res, nil
	}
	if !execute {
		res.Message = p.describe
		return res, nil
	}

	snapshot, err := e.Audit.Snapshot(res.At, a.Namespace, a.Service, string(a.Kind), pairForSnapshot(pair))
	if err != nil {
		return res, fmt.Errorf("refusing to %s %s: cannot save the objects first: %w", a.Kind, a.Service, err)
	}
	msg, err := e.writeAhead(ctx, a, res, snapshot, p.verb, p.resource, p.apply)
	if err != nil {
		return res, err
	}
	res.Message = msg
	e.blueGreenEvent(svc, a, p, msg)
	return res, nil
}

func (e *Executor) blueGreenEvent(svc *corev1.Service, a domain.Action, p *bgPlan, msg string) {
	if e.Recorder == nil {
		return
	}
	typ, reason := corev1.EventTypeNormal, eventReasons[a.Kind]
	if reason == "" {
		reason = "Opsdeck" + map[domain.ActionKind]string{domain.ActionSwitch: "Switch", domain.ActionScaleDown: "ScaleDown"}[a.Kind]
	}
	if p.eventType != "" {
		typ, reason = p.eventType, p.eventReason
	}
	note := fmt.Sprintf("%s (%s by %s)", msg, a.Trigger, orUnknown(e.Identity.User))
	if a.Reason != "" {
		note = a.Reason + ": " + note
	}
	e.Recorder.Event(svc, typ, reason, safe.OneLine(note))
	for _, o := range p.eventOn {
		e.Recorder.Event(o, typ, reason, safe.OneLine(note))
	}
}

// planBlueGreen decides what a does to the pair whose active colour is active.
func (e *Executor) planBlueGreen(a domain.Action, pair bluegreen.Pair, active domain.Color, st bluegreen.State) (*bgPlan, error) {
	name := pair.Service.Name
	idle := active.Other()
	act, idl := pair.Of(active), pair.Of(idle)
	p := &bgPlan{verb: "patch", resource: "services"}
	p.res.FromRevision, p.res.ToRevision = st.Revision, st.Revision
	p.res.FromImage, p.res.ToImage = mainImage(act), mainImage(act)
	now := e.now()

	switch a.Kind {
	case domain.ActionDeploy:
		i, err := PickContainer(idl, a.Container)
		if err != nil {
			return nil, err
		}
		container := idl.Spec.Template.Spec.Containers[i].Name
		if ai, err := PickContainer(act, container); err == nil && act.Spec.Template.Spec.Containers[ai].Image == a.Image && st.Pending == "" {
			p.skip = fmt.Sprintf("%s already runs %s on %s (container %s)", name, a.Image, active, container)
			return p, nil
		}
		if st.Pending != "" {
			return nil, fmt.Errorf("refusing to deploy %s: a switch to %s (%s) is pending; roll back (r) to cancel it first", name, st.Pending, st.PendingImage)
		}
		if idl.Spec.Paused {
			return nil, fmt.Errorf("refusing to deploy %s: %s is paused; resume it first", name, idl.Name)
		}
		replicas := replicasOf(act)
		p.res.ToImage, p.res.ToRevision, p.res.PendingSwitch = a.Image, st.Revision+1, idle
		p.describe = fmt.Sprintf("%s (idle) gets %s at %d replicas; traffic switches from %s once all are Ready", idle, a.Image, replicasOf(act), active)
		pending := pendingAnnotations(idle, a.Image, now, e.BlueGreen.Preview, e.BlueGreen.scaleDownDelay(), a.Trigger)
		depPatch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"annotations": map[string]string{ChangeCauseAnnotation: ChangeCause(a)}},
			"spec": map[string]any{"replicas": replicas, "template": map[string]any{"spec": map[string]any{
				"containers": []map[string]string{{"name": container, "image": a.Image}},
			}}},
		})
		if err != nil {
			return nil, err
		}
		p.apply = func(ctx context.Context) (string, error) {
			// The Service first: the pending switch names the image, so a reconciler never
			// switches to the idle colour before it runs it; and a due scale-down of the idle
			// colour is called off before the colour is reused.
			if err := patchService(ctx, e, pair.Service, pending, nil); err != nil {
				return "", err
			}
			if err := e.patchColor(ctx, idl, types.StrategicMergePatchType, depPatch); err != nil {
				return "", err
			}
			hold := ""
			if e.BlueGreen.Preview > 0 {
				hold = fmt.Sprintf(", stay Ready %s in preview", e.BlueGreen.Preview)
			}
			return fmt.Sprintf("deploying %s to %s (%d replicas); traffic switches from %s once all are Ready%s", a.Image, idl.Name,
				replicas, active, hold), nil
		}
		return p, nil

	case domain.ActionSwitch:
		to := a.Color
		if to == "" {
			to = st.Pending
		}
		if st.Pending == "" || to != st.Pending {
			p.skip = fmt.Sprintf("%s: no switch to %s is pending", name, orColor(to))
			return p, nil
		}
		target := pair.Of(to)
		if img := mainImage(target); st.PendingImage != "" && img != st.PendingImage {
			return nil, fmt.Errorf("refusing to switch %s to %s: %s runs %s, not %s as deployed; someone else changed it (roll back to cancel the switch)",
				name, to, target.Name, img, st.PendingImage)
		}
		if !rolledOut(target) {
			return nil, fmt.Errorf("refusing to switch %s to %s: %s", name, to, readiness(target))
		}
		p.res.ToRevision, p.res.ToImage, p.res.Switched = st.Revision+1, mainImage(target), to
		delay := st.ScaleDownDelay
		ann := switchAnnotations(st.Revision+1, now, now.Add(delay), a.Trigger)
		p.apply = func(ctx context.Context) (string, error) {
			if err := patchService(ctx, e, pair.Service, ann, map[string]string{bluegreen.ColorLabel: string(to)}); err != nil {
				return "", err
			}
			return fmt.Sprintf("switched %s from %s (%s) to %s (%s); %s scales down at %s (in %s)", name, active, mainImage(act),
				to, mainImage(target), active, now.Add(delay).Local().Format(time.TimeOnly), delay), nil
		}
		return p, nil

	case domain.ActionScaleDown:
		c := a.Color
		if c == "" {
			c = idle
		}
		if c == active {
			p.skip = fmt.Sprintf("%s: %s is active; only the idle colour is scaled down", name, c)
			return p, nil
		}
		if st.ScaleDownAt.IsZero() || now.Before(st.ScaleDownAt) {
			p.skip = fmt.Sprintf("%s: no scale-down of %s is due", name, c)
			return p, nil
		}
		d := pair.Of(c)
		p.res.FromImage, p.res.ToImage = mainImage(d), mainImage(d)
		ann := map[string]any{bluegreen.AnnScaleDownAt: nil}
		p.apply = func(ctx context.Context) (string, error) {
			// The Service first, guarded by its resourceVersion: nobody switched to this
			// colour since the deadline was read.
			if err := patchService(ctx, e, pair.Service, ann, nil); err != nil {
				return "", err
			}
			if replicasOf(d) != 0 {
				if err := e.scaleColor(ctx, d, 0); err != nil {
					return "", err
				}
			}
			return fmt.Sprintf("scaled %s (%s) to 0, %s after the switch to %s", d.Name, mainImage(d),
				st.ScaleDownDelay, active), nil
		}
		return p, nil

	case domain.ActionRollback:
		if a.Snapshot != "" {
			return e.planBlueGreenRestore(a, pair, active, st)
		}
		if a.ToRevision > 0 {
			return nil, fmt.Errorf("%s is blue-green: a rollback switches back to the other colour; --to-revision does not apply (use --to-snapshot ID for a saved state)", name)
		}
		if a.Trigger.ByGuard() {
			p.eventType, p.eventReason = corev1.EventTypeWarning, AutoRollbackReason
			p.eventOn = []runtime.Object{act}
		}
		if st.Pending != "" {
			// Traffic never left the active colour: call the switch off and free the pods.
			pend := pair.Of(st.Pending)
			p.res.FromImage, p.res.ToImage = st.PendingImage, mainImage(act)
			p.describe = fmt.Sprintf("cancel the pending switch to %s (%s): traffic stays on %s", st.Pending, orImage(st.PendingImage), active)
			p.apply = func(ctx context.Context) (string, error) {
				if err := patchService(ctx, e, pair.Service, clearPending(), nil); err != nil {
					return "", err
				}
				if replicasOf(pend) != 0 {
					if err := e.scaleColor(ctx, pend, 0); err != nil {
						return "", err
					}
				}
				return fmt.Sprintf("cancelled the switch of %s to %s (%s): traffic stays on %s (%s); %s scaled to 0",
					name, st.Pending, orImage(st.PendingImage), active, mainImage(act), pend.Name), nil
			}
			return p, nil
		}
		if a.Color != "" && a.Color == active {
			p.skip = fmt.Sprintf("%s already serves from %s", name, active)
			return p, nil
		}
		p.res.ToImage, p.res.ToRevision = mainImage(idl), st.Revision+1
		if rolledOut(idl) {
			// The previous colour is still up: switch back at once, no pod started.
			p.res.Switched = idle
			p.describe = fmt.Sprintf("switch back from %s to %s (%s) at once: its %d pods are Ready", active, idle, mainImage(idl), replicasOf(idl))
			delay := e.BlueGreen.scaleDownDelay()
			ann := switchAnnotations(st.Revision+1, now, now.Add(delay), a.Trigger)
			p.apply = func(ctx context.Context) (string, error) {
				if err := patchService(ctx, e, pair.Service, ann, map[string]string{bluegreen.ColorLabel: string(idle)}); err != nil {
					return "", err
				}
				return fmt.Sprintf("switched %s back from %s (%s) to %s (%s), no pod started; %s scales down at %s (in %s)",
					name, active, mainImage(act), idle, mainImage(idl), active, now.Add(delay).Local().Format(time.TimeOnly), delay), nil
			}
			return p, nil
		}
		// The previous colour was scaled down: bring it back with its image, switch when Ready.
		replicas := replicasOf(act)
		p.res.PendingSwitch = idle
		p.describe = fmt.Sprintf("%s was scaled down: scale it to %d (%s), then switch back from %s once all are Ready", idle, replicas, mainImage(idl), active)
		pending := pendingAnnotations(idle, mainImage(idl), now, 0, e.BlueGreen.scaleDownDelay(), a.Trigger)
		p.apply = func(ctx context.Context) (string, error) {
			if err := patchService(ctx, e, pair.Service, pending, nil); err != nil {
				return "", err
			}
			if replicasOf(idl) != replicas {
				if err := e.scaleColor(ctx, idl, replicas); err != nil {
					return "", err
				}
			}
			return fmt.Sprintf("%s was scaled down: scaling it to %d (%s); traffic switches back from %s once all are Ready",
				idl.Name, replicas, mainImage(idl), active), nil
		}
		return p, nil

	case domain.ActionScale:
		from := replicasOf(act)
		if from == a.Replicas {
			p.skip = fmt.Sprintf("%s already has %d replicas on %s", name, a.Replicas, active)
			return p, nil
		}
		p.resource = "deployments/scale"
		p.apply = func(ctx context.Context) (string, error) {
			if err := e.scaleColor(ctx, act, a.Replicas); err != nil {
				return "", err
			}
			return fmt.Sprintf("scaled %s (%s) from %d to %d replicas", name, active, from, a.Replicas), nil
		}
		return p, nil

	case domain.ActionRestart:
		if act.Spec.Paused {
			return nil, fmt.Errorf("%s is paused: resume it before restarting", act.Name)
		}
		patch, err := objectPatch(act, polymorphichelpers.ObjectRestarterFn)
		if err != nil {
			return nil, fmt.Errorf("restart %s: %v", name, err)
		}
		p.resource = "deployments"
		p.apply = func(ctx context.Context) (string, error) {
			if err := e.patchColor(ctx, act, types.StrategicMergePatchType, patch); err != nil {
				return "", err
			}
			return fmt.Sprintf("restarting %s's active colour %s (%s)", name, active, act.Name), nil
		}
		return p, nil

	case domain.ActionPause, domain.ActionResume:
		return nil, fmt.Errorf("%s is blue-green: its switch is atomic, there is no rollout to %s", name, a.Kind)
	}
	return nil, fmt.Errorf("unknown action %q", a.Kind)
}

// patchService merge-patches the Service's annotations (a nil value removes one) and
// selector, guarded by the resourceVersion it was read at.
func patchService(ctx context.Context, e *Executor, svc *corev1.Service, annotations map[string]any, selector map[string]string) error {
	md := map[string]any{"resourceVersion": svc.ResourceVersion}
	if v, ok := lastActionOf(ctx); ok {
		withOurs := map[string]any{domain.LastActionAnnotation: v}
		for k, x := range annotations {
			withOurs[k] = x
		}
		annotations = withOurs
	}
	if len(annotations) > 0 {
		md["annotations"] = annotations
	}
	patch := map[string]any{"metadata": md}
	if len(selector) > 0 {
		patch["spec"] = map[string]any{"selector": selector}
	}
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = e.Client.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.MergePatchType, b, metav1.PatchOptions{FieldManager: FieldManager})
	return err
}

// patchColor patches a colour's Deployment guarded by its resourceVersion, retrying when only
// its status moved.
func (e *Executor) patchColor(ctx context.Context, d *appsv1.Deployment, pt types.PatchType, patch []byte) error {
	return retryStatusConflicts(ctx, e, d, func(cur *appsv1.Deployment) error {
		_, err := patchDeployment(ctx, e.Client, cur, pt, patch)
		return err
	})
}

// scaleColor sets a colour's replicas.
func (e *Executor) scaleColor(ctx context.Context, d *appsv1.Deployment, n int32) error {
	b, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": n}})
	return e.patchColor(ctx, d, types.StrategicMergePatchType, b)
}

func pendingAnnotations(to domain.Color, image string, now time.Time, preview, delay time.Duration, trigger domain.Trigger) map[string]any {
	return map[string]any{
		bluegreen.AnnSwitchTo:          string(to),
		bluegreen.AnnSwitchImage:       image,
		bluegreen.AnnSwitchRequestedAt: bluegreen.FormatTime(now),
		bluegreen.AnnPreview:           preview.String(),
		bluegreen.AnnScaleDownDelay:    delay.String(),
		bluegreen.AnnTrigger:           string(trigger),
		bluegreen.AnnScaleDownAt:       nil,
	}
}

func switchAnnotations(rev int64, now, scaleDownAt time.Time, trigger domain.Trigger) map[string]any {
	ann := clearPending()
	ann[bluegreen.AnnRevision] = strconv.FormatInt(rev, 10)
	ann[bluegreen.AnnSwitchedAt] = bluegreen.FormatTime(now)
	ann[bluegreen.AnnScaleDownAt] = bluegreen.FormatTime(scaleDownAt)
	ann[bluegreen.AnnTrigger] = string(trigger)
	return ann
}

func clearPending() map[string]any {
	ann := map[string]any{}
	for _, k := range bluegreen.PendingAnnotations {
		ann[k] = nil
	}
	return ann
}

// rolledOut tells whether a Deployment runs its replicas (at least one), all of its latest
// template, available.
func rolledOut(d *appsv1.Deployment) bool {
	want := replicasOf(d)
	st := d.Status
	return want > 0 && st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == want &&
		st.Replicas == want && st.AvailableReplicas == want && st.ReadyReplicas == want
}

func readiness(d *appsv1.Deployment) string {
	want := replicasOf(d)
	if want == 0 {
		return d.Name + " is scaled to 0"
	}
	return fmt.Sprintf("%s has %d of %d pods updated and Ready", d.Name, min(d.Status.UpdatedReplicas, d.Status.ReadyReplicas), want)
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func orColor(c domain.Color) string {
	if c == "" {
		return "another colour"
	}
	return string(c)
}

func orImage(s string) string {
	if s == "" {
		return "unknown image"
	}
	return s
}

// pairForSnapshot is the three objects of a blue-green service as one List, each as
// `kubectl get -o json` shows it.
func pairForSnapshot(p bluegreen.Pair) map[string]any {
	svc := p.Service.DeepCopy()
	svc.APIVersion, svc.Kind = "v1", "Service"
	svc.ManagedFields = nil
	items := []any{svc}
	for _, c := range domain.Colors {
		if d := p.Of(c); d != nil {
			items = append(items, deploymentForSnapshot(d))
		}
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
}

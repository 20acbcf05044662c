package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

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

// pairTarget is a blue-green service as read, from the side of its active colour.
type pairTarget struct {
	pair          bluegreen.Pair
	name          string
	active, idle  domain.Color
	act, idl      *appsv1.Deployment
	st            bluegreen.State
	now           time.Time
	previewFor    time.Duration
	scaleDownWait time.Duration
}

// pairPlanners plan each action on a blue-green service.
var pairPlanners = map[domain.ActionKind]func(e *Executor, a domain.Action, t pairTarget, p *plan) (*plan, error){
	domain.ActionDeploy:    planPairDeploy,
	domain.ActionSwitch:    planPairSwitch,
	domain.ActionScaleDown: planPairScaleDown,
	domain.ActionRollback:  planPairRollback,
	domain.ActionScale:     planPairScale,
	domain.ActionRestart:   planPairRestart,
}

// planPair reads the pair, checks it and the caller's expectations, and asks the action's
// planner. Every blue-green plan saves the three objects and records its Event on the Service.
func (e *Executor) planPair(ctx context.Context, a domain.Action, svc *corev1.Service) (*plan, error) {
	p := &plan{res: domain.Result{Action: a, At: e.now(), Kind: domain.KindBlueGreen}, verb: "patch", resource: "services"}
	pair, err := e.readPair(ctx, a, svc)
	if err != nil {
		return p, err
	}
	return e.planPairOf(a, pair, p)
}

// planPairOf plans a on the pair read; p holds the result so far.
func (e *Executor) planPairOf(a domain.Action, pair bluegreen.Pair, p *plan) (*plan, error) {
	svc := pair.Service
	active, err := pair.Check()
	if err != nil {
		return p, fmt.Errorf("refusing to %s %s: %w", a.Kind, a.Service, err)
	}
	t := pairTarget{pair: pair, name: svc.Name, active: active, idle: active.Other(), act: pair.Of(active), idl: pair.Of(active.Other()),
		st: bluegreen.ReadState(svc), now: p.res.At, previewFor: e.BlueGreen.Preview, scaleDownWait: e.BlueGreen.scaleDownDelay()}
	p.res.FromRevision, p.res.ToRevision = t.st.Revision, t.st.Revision
	p.res.FromImage = mainImage(t.act)
	p.res.ToImage = p.res.FromImage
	p.res.Precondition = domain.Precondition{Revision: t.st.Revision, Color: active, Image: p.res.FromImage, ResourceVersion: svc.ResourceVersion}
	if t.act != nil {
		p.res.Precondition.Generation = t.act.Generation
	}
	if a.ExpectRevision != 0 && t.st.Revision != a.ExpectRevision {
		return p, e.someoneElseActed(a, svc.Annotations, fmt.Sprintf("%s is at revision %d, not %d", a.Service, t.st.Revision, a.ExpectRevision))
	}
	if err := changedSinceConfirmed(a, p.res.Precondition); err != nil {
		return p, err
	}
	if a.Kind == domain.ActionPause || a.Kind == domain.ActionResume {
		return p, fmt.Errorf("%s is blue-green: its switch is atomic, there is no rollout to %s", t.name, a.Kind)
	}
	planner, ok := pairPlanners[a.Kind]
	if !ok {
		return p, fmt.Errorf("unknown action %q", a.Kind)
	}
	p.saved = pairForSnapshot(pair)
	p.eventOn = []runtime.Object{svc}
	q, err := planner(e, a, t, p)
	if err != nil {
		return p, e.apiError(err, a, "get", "services")
	}
	return q, nil
}

func planPairDeploy(e *Executor, a domain.Action, t pairTarget, p *plan) (*plan, error) {
	i, err := PickContainer(t.idl, a.Container)
	if err != nil {
		return nil, err
	}
	container := t.idl.Spec.Template.Spec.Containers[i].Name
	if ai, err := PickContainer(t.act, container); err == nil && t.act.Spec.Template.Spec.Containers[ai].Image == a.Image && t.st.Pending == "" {
		p.skip = fmt.Sprintf("%s already runs %s on %s (container %s)", t.name, a.Image, t.active, container)
		return p, nil
	}
	if t.st.Pending != "" {
		return nil, fmt.Errorf("refusing to deploy %s: a switch to %s (%s) is pending; roll back (r) to cancel it first", t.name, t.st.Pending, t.st.PendingImage)
	}
	if t.idl.Spec.Paused {
		return nil, fmt.Errorf("refusing to deploy %s: %s is paused; resume it first", t.name, t.idl.Name)
	}
	replicas := replicasOf(t.act)
	p.res.ToImage, p.res.ToRevision, p.res.PendingSwitch = a.Image, t.st.Revision+1, t.idle
	hold := ""
	if t.previewFor > 0 {
		hold = fmt.Sprintf(", stay Ready %s in preview", t.previewFor)
	}
	p.sentence = fmt.Sprintf("deploy %s (blue-green): %s -> %s; %s (idle) gets %s at %d replicas; traffic switches from %s once all are Ready%s; %s stays up %s",
		t.name, p.res.FromImage, a.Image, t.idle, a.Image, replicas, t.active, hold, t.active, t.scaleDownWait)
	pending := pendingAnnotations(t.idle, a.Image, t.now, t.previewFor, t.scaleDownWait, a.Trigger)
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
		if err := patchService(ctx, e, t.pair.Service, pending, nil); err != nil {
			return "", err
		}
		if err := e.patchColor(ctx, t.idl, types.StrategicMergePatchType, depPatch); err != nil {
			return "", err
		}
		return fmt.Sprintf("deploying %s to %s (%d replicas); traffic switches from %s once all are Ready%s", a.Image, t.idl.Name,
			replicas, t.active, hold), nil
	}
	return p, nil
}

func planPairSwitch(e *Executor, a domain.Action, t pairTarget, p *plan) (*plan, error) {
	to := a.Color
	if to == "" {
		to = t.st.Pending
	}
	if t.st.Pending == "" || to != t.st.Pending {
		p.skip = fmt.Sprintf("%s: no switch to %s is pending", t.name, orColor(to))
		return p, nil
	}
	target := t.pair.Of(to)
	if img := mainImage(target); t.st.PendingImage != "" && img != t.st.PendingImage {
		return nil, fmt.Errorf("refusing to switch %s to %s: %s runs %s, not %s as deployed; someone else changed it (roll back to cancel the switch)",
			t.name, to, target.Name, img, t.st.PendingImage)
	}
	if !rolledOut(target) {
		return nil, fmt.Errorf("refusing to switch %s to %s: %s", t.name, to, readiness(target))
	}
	p.res.ToRevision, p.res.ToImage, p.res.Switched = t.st.Revision+1, mainImage(target), to
	delay := t.st.ScaleDownDelay
	p.sentence = fmt.Sprintf("switch %s from %s (%s) to %s (%s); %s scales down after %s", t.name, t.active, mainImage(t.act), to, mainImage(target), t.active, delay)
	ann := switchAnnotations(t.st.Revision+1, t.now, t.now.Add(delay), a.Trigger)
	p.apply = func(ctx context.Context) (string, error) {
		if err := patchService(ctx, e, t.pair.Service, ann, map[string]string{bluegreen.ColorLabel: string(to)}); err != nil {
			return "", err
		}
		return fmt.Sprintf("switched %s from %s (%s) to %s (%s); %s scales down at %s (in %s)", t.name, t.active, mainImage(t.act),
			to, mainImage(target), t.active, t.now.Add(delay).Local().Format(time.TimeOnly), delay), nil
	}
	return p, nil
}

func planPairScaleDown(e *Executor, a domain.Action, t pairTarget, p *plan) (*plan, error) {
	c := a.Color
	if c == "" {
		c = t.idle
	}
	if c == t.active {
		p.skip = fmt.Sprintf("%s: %s is active; only the idle colour is scaled down", t.name, c)
		return p, nil
	}
	if t.st.ScaleDownAt.IsZero() || t.now.Before(t.st.ScaleDownAt) {
		p.skip = fmt.Sprintf("%s: no scale-down of %s is due", t.name, c)
		return p, nil
	}
	d := t.pair.Of(c)
	p.res.FromImage, p.res.ToImage = mainImage(d), mainImage(d)
	p.sentence = fmt.Sprintf("scale %s (%s) to 0, %s after the switch to %s", d.Name, mainImage(d), t.st.ScaleDownDelay, t.active)
	ann := map[string]any{bluegreen.AnnScaleDownAt: nil}
	p.apply = func(ctx context.Context) (string, error) {
		// The Service first, guarded by its resourceVersion: nobody switched to this
		// colour since the deadline was read.
		if err := patchService(ctx, e, t.pair.Service, ann, nil); err != nil {
			return "", err
		}
		if replicasOf(d) != 0 {
			if err := e.scaleColor(ctx, d, 0); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("scaled %s (%s) to 0, %s after the switch to %s", d.Name, mainImage(d),
			t.st.ScaleDownDelay, t.active), nil
	}
	return p, nil
}

// planPairRollback goes back to the other colour: it cancels a pending switch, switches back
// at once when the other colour still runs, or scales it up and switches once it is Ready.
func planPairRollback(e *Executor, a domain.Action, t pairTarget, p *plan) (*plan, error) {
	if a.Snapshot != "" {
		return e.planPairRestore(a, t, p)
	}
	if a.ToRevision > 0 {
		return nil, fmt.Errorf("%s is blue-green: a rollback switches back to the other colour; --to-revision does not apply (use --to-snapshot ID for a saved state)", t.name)
	}
	if a.Trigger.ByGuard() {
		p.eventType, p.eventReason = corev1.EventTypeWarning, AutoRollbackReason
		p.eventOn = append(p.eventOn, t.act)
	}
	if t.st.Pending != "" {
		// Traffic never left the active colour: call the switch off and free the pods.
		pend := t.pair.Of(t.st.Pending)
		p.res.FromImage, p.res.ToImage = t.st.PendingImage, mainImage(t.act)
		p.sentence = fmt.Sprintf("roll back %s (blue-green): cancel the pending switch to %s (%s): traffic stays on %s (%s)",
			t.name, t.st.Pending, orImage(t.st.PendingImage), t.active, mainImage(t.act))
		p.apply = func(ctx context.Context) (string, error) {
			if err := patchService(ctx, e, t.pair.Service, clearPending(), nil); err != nil {
				return "", err
			}
			if replicasOf(pend) != 0 {
				if err := e.scaleColor(ctx, pend, 0); err != nil {
					return "", err
				}
			}
			return fmt.Sprintf("cancelled the switch of %s to %s (%s): traffic stays on %s (%s); %s scaled to 0",
				t.name, t.st.Pending, orImage(t.st.PendingImage), t.active, mainImage(t.act), pend.Name), nil
		}
		return p, nil
	}
	if a.Color != "" && a.Color == t.active {
		p.skip = fmt.Sprintf("%s already serves from %s", t.name, t.active)
		return p, nil
	}
	p.res.ToImage, p.res.ToRevision = mainImage(t.idl), t.st.Revision+1
	if rolledOut(t.idl) {
		// The previous colour is still up: switch back at once, no pod started.
		p.res.Switched = t.idle
		p.sentence = fmt.Sprintf("roll back %s (blue-green): %s -> %s; switch back from %s to %s (%s) at once: its %d pods are Ready",
			t.name, mainImage(t.act), mainImage(t.idl), t.active, t.idle, mainImage(t.idl), replicasOf(t.idl))
		ann := switchAnnotations(t.st.Revision+1, t.now, t.now.Add(t.scaleDownWait), a.Trigger)
		p.apply = func(ctx context.Context) (string, error) {
			if err := patchService(ctx, e, t.pair.Service, ann, map[string]string{bluegreen.ColorLabel: string(t.idle)}); err != nil {
				return "", err
			}
			return fmt.Sprintf("switched %s back from %s (%s) to %s (%s), no pod started; %s scales down at %s (in %s)",
				t.name, t.active, mainImage(t.act), t.idle, mainImage(t.idl), t.active, t.now.Add(t.scaleDownWait).Local().Format(time.TimeOnly), t.scaleDownWait), nil
		}
		return p, nil
	}
	// The previous colour was scaled down: bring it back with its image, switch when Ready.
	replicas := replicasOf(t.act)
	p.res.PendingSwitch = t.idle
	p.sentence = fmt.Sprintf("roll back %s (blue-green): %s -> %s; %s was scaled down: scale it to %d (%s), then switch back from %s once all are Ready",
		t.name, mainImage(t.act), mainImage(t.idl), t.idle, replicas, mainImage(t.idl), t.active)
	pending := pendingAnnotations(t.idle, mainImage(t.idl), t.now, 0, t.scaleDownWait, a.Trigger)
	p.apply = func(ctx context.Context) (string, error) {
		if err := patchService(ctx, e, t.pair.Service, pending, nil); err != nil {
			return "", err
		}
		if replicasOf(t.idl) != replicas {
			if err := e.scaleColor(ctx, t.idl, replicas); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%s was scaled down: scaling it to %d (%s); traffic switches back from %s once all are Ready",
			t.idl.Name, replicas, mainImage(t.idl), t.active), nil
	}
	return p, nil
}

func planPairScale(e *Executor, a domain.Action, t pairTarget, p *plan) (*plan, error) {
	from := replicasOf(t.act)
	if from == a.Replicas {
		p.skip = fmt.Sprintf("%s already has %d replicas on %s", t.name, a.Replicas, t.active)
		return p, nil
	}
	p.resource = "deployments/scale"
	p.sentence = fmt.Sprintf("scale %s (%s): %d -> %d replicas", t.name, t.active, from, a.Replicas)
	p.apply = func(ctx context.Context) (string, error) {
		if err := e.scaleColor(ctx, t.act, a.Replicas); err != nil {
			return "", err
		}
		return fmt.Sprintf("scaled %s (%s) from %d to %d replicas", t.name, t.active, from, a.Replicas), nil
	}
	return p, nil
}

func planPairRestart(e *Executor, a domain.Action, t pairTarget, p *plan) (*plan, error) {
	if t.act.Spec.Paused {
		return nil, fmt.Errorf("%s is paused: resume it before restarting", t.act.Name)
	}
	patch, err := objectPatch(t.act, e.restart)
	if err != nil {
		return nil, fmt.Errorf("restart %s: %v", t.name, err)
	}
	p.resource = "deployments"
	p.sentence = fmt.Sprintf("restart %s's active colour %s (%s): every pod is replaced", t.name, t.active, t.act.Name)
	p.apply = func(ctx context.Context) (string, error) {
		if err := e.patchColor(ctx, t.act, types.StrategicMergePatchType, patch); err != nil {
			return "", err
		}
		return fmt.Sprintf("restarting %s's active colour %s (%s)", t.name, t.active, t.act.Name), nil
	}
	return p, nil
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

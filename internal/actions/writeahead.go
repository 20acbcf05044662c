package actions

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"
	"os"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
)

// writeAhead performs one mutation between its two audit lines: the intent (Result "pending"),
// written and synced before the first API call, then the outcome with the same ID. An intent
// that cannot be written refuses the action, changing nothing. run receives a context that
// makes every request record the opsdeck.io/last-action annotation.
func (e *Executor) writeAhead(ctx context.Context, a domain.Action, res domain.Result, snapshot, verb, resource string,
	run func(ctx context.Context) (string, error)) (string, error) {
	intent := e.entry(a, res, snapshot)
	intent.ID, intent.Result = audit.NewID(), audit.ResultPending
	intent.PID, intent.Host = os.Getpid(), hostname()
	if err := e.Audit.Append(intent); err != nil {
		return "", fmt.Errorf("refusing to %s %s: the audit log cannot be written, so nothing was changed (%v); fix it or pass --audit-log PATH",
			a.Kind, a.Service, safe.OneLine(err.Error()))
	}
	holdForFault(faultHoldAfterIntent)
	ctx = withLastAction(ctx, domain.LastAction{Action: a.Kind, User: e.Identity.User, Trigger: a.Trigger, Time: res.At.UTC(),
		FromRevision: res.FromRevision, ToRevision: res.ToRevision, ID: intent.ID,
		Host: intent.Host, FromImage: res.FromImage, ToImage: res.ToImage, Reason: domain.ShortReason(a.Reason)})
	msg, actErr := run(ctx)
	holdForFault(faultHoldBeforeOutcome)
	if actErr != nil {
		actErr = e.apiError(actErr, a, verb, resource)
		if sd := e.alreadyDone(ctx, a, intent.ID, actErr); sd != nil {
			actErr = sd
		}
	}
	outcome := e.entry(a, res, snapshot)
	outcome.ID, outcome.Result = intent.ID, audit.ResultOK
	if actErr != nil {
		outcome.Result = safe.OneLine(actErr.Error())
	}
	auditErr := e.Audit.Append(outcome)
	if actErr != nil {
		return "", actErr
	}
	if auditErr != nil {
		// The change is made and its intent is on disk: the next opsdeck to start reads the
		// cluster and settles it. Reporting a failure would make the guard count a rollback
		// that happened as failed.
		msg += fmt.Sprintf(" (warning: its outcome line could not be written: %s; the next start settles it)", safe.OneLine(auditErr.Error()))
	}
	return msg, nil
}

func (e *Executor) entry(a domain.Action, res domain.Result, snapshot string) audit.Entry {
	return audit.Entry{
		Time: e.now(), User: e.Identity.User, Context: e.Identity.Context,
		Namespace: a.Namespace, Service: a.Service, Action: string(a.Kind),
		FromRevision: res.FromRevision, ToRevision: res.ToRevision, FromImage: res.FromImage, ToImage: res.ToImage,
		Trigger: string(a.Trigger), RequestedBy: a.RequestedBy, Reason: a.Reason, Snapshot: snapshot,
	}
}

// recordStoodDown writes the one line of a guard action that found its work already done
// before it changed anything.
func (e *Executor) recordStoodDown(a domain.Action, res domain.Result, err error) {
	var sd *domain.StoodDownError
	if e.Audit == nil || !errors.As(err, &sd) {
		return
	}
	line := e.entry(a, res, "")
	line.ID, line.Result = audit.NewID(), safe.OneLine(err.Error())
	_ = e.Audit.Append(line) // the refusal stands whether or not it is recorded
}

// someoneElseActed is the conflict of an action whose service moved since it was judged: a
// guard that finds the same action done by someone else stands down; anyone else is told who.
func (e *Executor) someoneElseActed(a domain.Action, annotations map[string]string, what string) error {
	if l, ok := domain.ParseLastAction(annotations); ok {
		if a.Trigger.ByGuard() && l.Action == a.Kind {
			return &domain.StoodDownError{By: l, What: what}
		}
		return fmt.Errorf("%w: %s: someone else acted (last: %s by %s); look again before retrying", domain.ErrConflict, what, l.Action, l.Who())
	}
	return fmt.Errorf("%w: %s: someone else acted; look again before retrying", domain.ErrConflict, what)
}

// alreadyDone tells, for a guard action that failed with a conflict (or with kubectl's "unable
// to find specified revision": another guard rolled back and the revision was renumbered),
// whether another process did the same action meanwhile; it then returns the stand-down.
func (e *Executor) alreadyDone(ctx context.Context, a domain.Action, id string, err error) error {
	if !a.Trigger.ByGuard() {
		return nil
	}
	if !errors.Is(err, domain.ErrConflict) && !strings.Contains(err.Error(), "unable to find specified revision") {
		return nil
	}
	var ann map[string]string
	if svc, gerr := e.Client.CoreV1().Services(a.Namespace).Get(ctx, a.Service, metav1.GetOptions{}); gerr == nil && bluegreen.IsBlueGreen(svc) {
		ann = svc.Annotations
	} else if d, gerr := e.Client.AppsV1().Deployments(a.Namespace).Get(ctx, a.Service, metav1.GetOptions{}); gerr == nil {
		ann = d.Annotations
	}
	l, ok := domain.ParseLastAction(ann)
	if !ok || l.ID == id || l.Action != a.Kind {
		return nil
	}
	return &domain.StoodDownError{By: l, What: safe.OneLine(err.Error())}
}

// changedSinceConfirmed compares what the person confirmed (a.Expect) with the service now.
func changedSinceConfirmed(a domain.Action, now domain.Precondition) error {
	x := a.Expect
	if x == nil {
		return nil
	}
	var diffs []string
	if x.Color != "" && now.Color != x.Color {
		diffs = append(diffs, fmt.Sprintf("traffic is on %s, not %s", now.Color, x.Color))
	}
	if x.Revision != 0 && now.Revision != x.Revision {
		diffs = append(diffs, fmt.Sprintf("revision %d, not %d", now.Revision, x.Revision))
	}
	if x.Image != "" && now.Image != x.Image {
		diffs = append(diffs, fmt.Sprintf("image %s, not %s", now.Image, x.Image))
	}
	if x.Generation != 0 && now.Generation != x.Generation && len(diffs) == 0 {
		diffs = append(diffs, fmt.Sprintf("its spec changed (generation %d, not %d)", now.Generation, x.Generation))
	}
	if now.Color != "" && x.ResourceVersion != "" && now.ResourceVersion != x.ResourceVersion && len(diffs) == 0 {
		// A blue-green Service's annotations hold the pending switch and its deadlines.
		diffs = append(diffs, "its Service changed (a switch was started, done or cancelled)")
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: changed since you confirmed: %s: %s; nothing was changed, look again", domain.ErrConflict, a.Service, strings.Join(diffs, ", "))
}

// Settled is an action of unknown outcome that Recover looked up in the cluster.
type Settled struct {
	Intent audit.Entry
	// Found says what the cluster shows now and whether the action took effect.
	Found string
}

// Line is the one line a person reads: "rollback order-service at 03:12 UTC (guard), check it:
// found ...".
func (s Settled) Line() string {
	return fmt.Sprintf("%s %s in %s at %s UTC (%s by %s), check it: found %s", s.Intent.Action, s.Intent.Service, s.Intent.Namespace,
		s.Intent.Time.UTC().Format("2006-01-02 15:04:05"), s.Intent.Trigger, orUnknown(s.Intent.User), s.Found)
}

// Summary is the headline of a list of settled actions: "1 action of unknown outcome".
func Summary(s []Settled) string {
	if len(s) == 1 {
		return "1 action of unknown outcome: " + s[0].Line()
	}
	return fmt.Sprintf("%d actions of unknown outcome", len(s))
}

// Recover finds the actions whose process stopped between the intent line and the outcome
// line (killed, power lost), reads the cluster to say what actually happened, and writes an
// outcome line for each ("unknown outcome, found: ..."), so each is reported once. Intents of
// processes still running on this host are left alone: they are in flight.
func (e *Executor) Recover(ctx context.Context) ([]Settled, error) {
	if e.Audit == nil || e.ReadOnly {
		return nil, nil
	}
	if fi, err := os.Stat(e.Audit.Path()); err != nil || !fi.Mode().IsRegular() {
		return nil, nil // no log yet, or none that can hold lines: an action will say why
	}
	unlock, err := e.Audit.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	open, rerr := audit.Unfinished(e.Audit.Path())
	var out []Settled
	for _, in := range open {
		if inFlight(in) {
			continue
		}
		s := Settled{Intent: in, Found: e.lookUp(ctx, in)}
		line := in
		line.Time, line.Result = e.now(), "unknown outcome, found: "+s.Found
		line.PID, line.Host = 0, ""
		if err := e.Audit.Append(line); err != nil {
			return out, err
		}
		out = append(out, s)
	}
	if rerr != nil {
		return out, fmt.Errorf("reading the audit log for actions of unknown outcome: %w", rerr)
	}
	return out, nil
}

// inFlight tells whether the process that wrote an intent still runs on this host.
func inFlight(in audit.Entry) bool {
	if in.PID <= 0 || in.Host != hostname() {
		return false
	}
	if in.PID == os.Getpid() {
		return true
	}
	err := syscall.Kill(in.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// lookUp says what the cluster shows of an intent's service and whether its action took effect.
func (e *Executor) lookUp(ctx context.Context, in audit.Entry) string {
	if svc, err := e.Client.CoreV1().Services(in.Namespace).Get(ctx, in.Service, metav1.GetOptions{}); err == nil && bluegreen.IsBlueGreen(svc) {
		l, _ := domain.ParseLastAction(svc.Annotations)
		st := bluegreen.ReadState(svc)
		now := fmt.Sprintf("%s serves from %s at revision %d", in.Service, svc.Spec.Selector[bluegreen.ColorLabel], st.Revision)
		if st.Pending != "" {
			now += fmt.Sprintf(", a switch to %s pending", st.Pending)
		}
		return now + ": " + verdict(in, l, st.Revision, "")
	}
	d, err := e.Client.AppsV1().Deployments(in.Namespace).Get(ctx, in.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("no Deployment %s in namespace %s any more", in.Service, in.Namespace)
	case err != nil:
		return "the cluster could not be read (" + safe.OneLine(err.Error()) + ")"
	}
	rev, _ := rollout.Revision(d)
	img := mainImage(d)
	l, _ := domain.ParseLastAction(d.Annotations)
	return fmt.Sprintf("%s at revision %d with image %s: %s", in.Service, rev, img, verdict(in, l, rev, img))
}

// verdict says whether the intent took effect: certain when the object's last-action names the
// intent, else judged from the image (or revision) it was going to.
func verdict(in audit.Entry, l domain.LastAction, rev int64, img string) string {
	switch {
	case l.ID != "" && l.ID == in.ID:
		return fmt.Sprintf("the %s took effect", in.Action)
	case l.ID != "" && l.Time.After(in.Time):
		return fmt.Sprintf("the %s did not take effect; %s by %s came after it", in.Action, l.Action, l.Who())
	case img != "" && in.ToImage != in.FromImage && img == in.ToImage:
		return fmt.Sprintf("it runs %s, so the %s took effect", in.ToImage, in.Action)
	case img != "" && in.ToImage != in.FromImage && img == in.FromImage:
		return fmt.Sprintf("it still runs %s, so the %s did not take effect", in.FromImage, in.Action)
	case img == "" && in.ToRevision != in.FromRevision && rev == in.ToRevision:
		return fmt.Sprintf("the %s took effect", in.Action)
	case img == "" && rev == in.FromRevision:
		return fmt.Sprintf("the %s did not take effect", in.Action)
	}
	return fmt.Sprintf("whether the %s took effect cannot be told", in.Action)
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

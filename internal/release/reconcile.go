package release

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Reconciler performs pending deploys that have come due. Any number of opsdeck processes may
// run one: a deploy is claimed with a resourceVersion-conditional patch (state performing, by
// whom, when) before the executor runs it, so only one process wins; a claim older than
// StaleAfter (its process died) is judged again from the cluster.
type Reconciler struct {
	Client   kubernetes.Interface
	Exec     Executor
	Policies PolicyConfig
	Clock    domain.Clock
	// Who names this process in claims ("guard@host/pid").
	Who        string
	StaleAfter time.Duration
	// Deployments lists the watched Deployments from an informer cache; NamespaceFreeze is the
	// freeze of a namespace (nil: none), read only for a namespace with a waiting deploy. A
	// freeze that cannot be read is best answered as a short freeze that says so: unknown is
	// not "not frozen".
	Deployments     func() []*appsv1.Deployment
	NamespaceFreeze func(ns string) *Freeze
	// Log receives one line per thing done; nil discards.
	Log func(string)
}

func (r *Reconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

func (r *Reconciler) logf(format string, a ...any) {
	if r.Log != nil {
		r.Log(fmt.Sprintf(format, a...))
	}
}

// Run reconciles every interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick looks at every Deployment with a pending deploy once and performs those due. It returns
// how many it performed.
func (r *Reconciler) Tick(ctx context.Context) int {
	n := 0
	for _, d := range r.Deployments() {
		p := ParsePending(d.Annotations[AnnotationPending])
		if p == nil {
			continue
		}
		done, err := r.one(ctx, d, p)
		if err != nil {
			r.logf("pending deploy of %s/%s: %v", d.Namespace, d.Name, err)
		}
		if done {
			n++
		}
	}
	return n
}

func (r *Reconciler) one(ctx context.Context, d *appsv1.Deployment, p *Pending) (bool, error) {
	now := r.now()
	stale := r.StaleAfter
	if stale <= 0 {
		stale = 30 * time.Second
	}
	if p.State == StatePerforming {
		if now.Sub(p.ClaimedAt) < stale {
			return false, nil // another process is on it
		}
		if mainImage(d) == p.Image {
			// It deployed and died before clearing: only clear.
			_, err := patchAnnotation(ctx, r.Client, d.Namespace, d.Name, AnnotationPending, nil, d.ResourceVersion)
			if err == nil {
				r.logf("%s/%s already runs %s: cleared the stale claim of %s", d.Namespace, d.Name, p.Image, p.ClaimedBy)
			}
			return false, ignoreConflict(err)
		}
	} else {
		var nsFreeze *Freeze
		if r.NamespaceFreeze != nil {
			nsFreeze = r.NamespaceFreeze(d.Namespace)
		}
		pol, err := r.Policies.Resolve(d.Name, d.Annotations)
		if err != nil {
			return false, err
		}
		freeze := ActiveFreeze(ServiceFreeze(d), nsFreeze, now)
		approved := p.ApprovedBy
		if !p.Approval {
			approved = "not needed"
		}
		dec := Judge(pol, p.Trigger, p.Image, domain.ImageTag(mainImage(d)), p.NotBefore, freeze, approved, false, now)
		if dec.State == "skipped" {
			_, err := patchAnnotation(ctx, r.Client, d.Namespace, d.Name, AnnotationPending, nil, d.ResourceVersion)
			if err == nil {
				r.logf("%s/%s: dropped pending %s: %s", d.Namespace, d.Name, p.Image, dec.Message)
			}
			return false, ignoreConflict(err)
		}
		if dec.State != "started" {
			if dec.State != p.State || !dec.Until.Equal(p.Until) {
				q := *p
				q.State, q.Until = dec.State, dec.Until
				_, err := patchAnnotation(ctx, r.Client, d.Namespace, d.Name, AnnotationPending, q, d.ResourceVersion)
				return false, ignoreConflict(err)
			}
			return false, nil
		}
	}
	// Claim it: only the process whose patch lands on the resourceVersion it read goes on.
	claim := *p
	claim.State, claim.ClaimedBy, claim.ClaimedAt = StatePerforming, r.Who, now
	claimed, err := patchAnnotation(ctx, r.Client, d.Namespace, d.Name, AnnotationPending, claim, d.ResourceVersion)
	if err != nil {
		return false, ignoreConflict(err)
	}
	trig := p.Trigger
	if Person(trig) || trig == "" {
		trig = domain.TriggerSchedule
	}
	reason := p.Reason
	if p.ApprovedBy != "" && p.Approval {
		reason = fmt.Sprintf("%s (approved by %s)", reason, p.ApprovedBy)
	}
	// Expect the generation of the claimed object: if another process performed a stale claim
	// meanwhile, the spec moved and the executor refuses instead of deploying twice.
	_, err = r.Exec.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: d.Namespace, Service: d.Name,
		Image: p.Image, Container: p.Container, Trigger: trig, RequestedBy: p.RequestedBy, Reason: reason,
		Expect: &domain.Precondition{Generation: claimed.Generation}})
	if err != nil {
		return false, err // the claim stays; once stale it is judged again
	}
	// Clear our claim, and only ours. The rollout just started moves the Deployment's status
	// (and resourceVersion) many times a second, so a conflict here is read again and retried,
	// not left for the stale-claim path half a minute later.
	gerr := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := r.Client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if q := ParsePending(cur.Annotations[AnnotationPending]); q != nil && q.ID == p.ID && q.ClaimedBy == r.Who {
			_, err = patchAnnotation(ctx, r.Client, d.Namespace, d.Name, AnnotationPending, nil, cur.ResourceVersion)
		}
		return err
	})
	r.logf("%s/%s: performed pending deploy of %s (%s)", d.Namespace, d.Name, p.Image, trig)
	return true, ignoreConflict(gerr)
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// Package actions is opsdeck's one executor: every mutation, whether a key in the console, a
// CLI verb or an auto-guard decision, goes through it. Executor.Plan alone decides whether an
// action may run (read-only mode, validation), reads its target (a Deployment, or a blue-green
// pair through its Service) and asks that target's planner for one plan: the sentence a person
// confirms, the state it was read at, the objects to save, the change. Executing a plan
// (Execute, ExecutePlan) checks that state still holds, saves the objects, acts with kubectl's
// own helpers under resourceVersion preconditions, writes the audit line and records a
// Kubernetes Event, in one place for every plan. One file per action holds what is particular
// to it on a Deployment; bluegreen.go plans the blue-green ones.
package actions

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"
	"net"
	"net/url"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/imageref"
)

// Executor performs actions. Construct it with its fields; the zero Clock is the system clock.
// It is safe for concurrent use.
type Executor struct {
	Client kubernetes.Interface
	// Audit receives one line per mutation before Execute reports success. Required.
	Audit *audit.Log
	// Identity names the user and context in audit lines and events.
	Identity domain.Identity
	// ReadOnly refuses every action.
	ReadOnly bool
	// Recorder records an Event on the Deployment for each mutation (NewEventRecorder); nil
	// records none.
	Recorder record.EventRecorder
	Clock    domain.Clock
	// BlueGreen holds the preview and scale-down delay of blue-green deploys.
	BlueGreen BlueGreenSettings
}

// ErrNotFound marks an action on a service that does not exist.
var ErrNotFound = errors.New("not found")

// ErrForbidden marks an action the API server's authorization refused.
var ErrForbidden = errors.New("forbidden")

// retryStatusConflicts runs fn on d and, when the API answers Conflict, reads the Deployment
// again: if only its status moved (the controller reports progress all through a rollout), fn
// runs again on the fresh copy; if its spec changed (generation) someone else acted and the
// conflict stands.
func retryStatusConflicts(ctx context.Context, e *Executor, d *appsv1.Deployment, fn func(cur *appsv1.Deployment) error) error {
	cur := d
	for attempt := 0; ; attempt++ {
		err := fn(cur)
		if !apierrors.IsConflict(err) || attempt >= 5 {
			return err
		}
		fresh, gerr := e.Client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if gerr != nil {
			return err
		}
		if fresh.Generation != d.Generation || fresh.UID != d.UID {
			return err
		}
		cur = fresh
	}
}

func (e *Executor) now() time.Time {
	if e.Clock == nil {
		return domain.SystemClock{}.Now()
	}
	return e.Clock.Now()
}

// observeTimeout bounds how long an action with ExpectRevision waits for the Deployment
// controller to observe a pending spec change.
const observeTimeout = 5 * time.Second

func (e *Executor) awaitObserved(ctx context.Context, a domain.Action, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	deadline := time.Now().Add(observeTimeout)
	for d.Generation > d.Status.ObservedGeneration {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %s has a change the controller has not observed yet: someone else acted; look again before retrying",
				domain.ErrConflict, a.Service)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		fresh, err := e.Client.AppsV1().Deployments(a.Namespace).Get(ctx, a.Service, metav1.GetOptions{})
		if err != nil {
			return nil, e.apiError(err, a, "get", "deployments")
		}
		d = fresh
	}
	return d, nil
}

func validate(a domain.Action) error {
	if a.Service == "" {
		return fmt.Errorf("%s: no service named", a.Kind)
	}
	if a.Namespace == "" {
		return fmt.Errorf("%s %s: no namespace", a.Kind, a.Service)
	}
	switch a.Kind {
	case domain.ActionDeploy:
		return imageref.Validate(a.Image)
	case domain.ActionRollback:
		if a.ToRevision < 0 {
			return fmt.Errorf("rollback %s: revision %d is negative (0 means the previous one)", a.Service, a.ToRevision)
		}
	case domain.ActionScale:
		if a.Replicas < 0 {
			return fmt.Errorf("scale %s: replicas %d is negative", a.Service, a.Replicas)
		}
	}
	return nil
}

// apiError turns an API error into one line: not found with a hint, forbidden naming the user,
// verb, resource and namespace, conflicts as domain.ErrConflict.
func (e *Executor) apiError(err error, a domain.Action, verb, resource string) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err) && verb == "get" && resource == "deployments":
		return fmt.Errorf("service %q %w in namespace %q (opsdeck status -n %s lists the services there)",
			a.Service, ErrNotFound, a.Namespace, a.Namespace)
	case apierrors.IsForbidden(err):
		user := e.Identity.User
		if u := forbiddenUser(err); u != "" {
			user = u
		}
		if user == "" {
			user = "(unknown)"
		}
		return fmt.Errorf("%w: user %s may not %s %s in namespace %s", ErrForbidden, user, verb, resource, a.Namespace)
	case apierrors.IsConflict(err):
		return fmt.Errorf("%w: %s changed while opsdeck acted on it (someone else acted); look again before retrying",
			domain.ErrConflict, a.Service)
	case errors.Is(err, domain.ErrConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrForbidden),
		errors.Is(err, domain.ErrUnreachable):
		return err
	case unreachable(err):
		return fmt.Errorf("%w: %s", domain.ErrUnreachable, safe.OneLine(err.Error()))
	}
	return errors.New(safe.OneLine(err.Error()))
}

// unreachable tells an API server that did not answer (no connection, a timeout, an overloaded
// or failing server) from one that answered no: after the former nothing is known to have
// changed, and the same action may be judged again once it answers.
func unreachable(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err)
}

// forbiddenUser reads the user out of the API server's message: `User "bob" cannot patch ...`.
func forbiddenUser(err error) string {
	msg := err.Error()
	i := strings.Index(msg, `User "`)
	if i < 0 {
		return ""
	}
	rest := msg[i+len(`User "`):]
	if j := strings.Index(rest, `"`); j > 0 {
		return rest[:j]
	}
	return ""
}

// Event reasons of the Normal events, by action.
var eventReasons = map[domain.ActionKind]string{
	domain.ActionDeploy:   "OpsdeckDeploy",
	domain.ActionRollback: "OpsdeckRollback",
	domain.ActionPause:    "OpsdeckPause",
	domain.ActionResume:   "OpsdeckResume",
	domain.ActionRestart:  "OpsdeckRestart",
	domain.ActionScale:    "OpsdeckScale",
	// Blue-green only.
	domain.ActionSwitch:    "OpsdeckSwitch",
	domain.ActionScaleDown: "OpsdeckScaleDown",
}

// AutoRollbackReason is the reason of the Warning event a guard's rollback records.
const AutoRollbackReason = "AutoRollback"

func mainImage(d *appsv1.Deployment) string {
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		return cs[0].Image
	}
	return ""
}

// deploymentForSnapshot is d as `kubectl get -o json` shows it: with its kind and apiVersion,
// without managed fields.
func deploymentForSnapshot(d *appsv1.Deployment) *appsv1.Deployment {
	c := d.DeepCopy()
	c.APIVersion, c.Kind = "apps/v1", "Deployment"
	c.ManagedFields = nil
	return c
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown user"
	}
	return s
}

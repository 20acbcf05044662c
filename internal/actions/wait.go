package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/opsdeck/opsdeck/internal/rollout"
)

// DefaultWaitTimeout bounds --wait when no deadline is given.
const DefaultWaitTimeout = 5 * time.Minute

// WaitForRollout watches Deployment namespace/name until its rollout completes, with kubectl
// rollout status's semantics: done when every replica is updated and available and the spec was
// observed, an error when the Deployment reports ProgressDeadlineExceeded. progress, if not
// nil, receives each distinct status line. timeout 0 means DefaultWaitTimeout.
func WaitForRollout(ctx context.Context, client kubernetes.Interface, namespace, name string, timeout time.Duration, progress func(string)) error {
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return client.AppsV1().Deployments(namespace).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return client.AppsV1().Deployments(namespace).Watch(ctx, o)
		},
	}
	last := ""
	seen := false
	_, err := watchtools.UntilWithSync(ctx, lw, &appsv1.Deployment{}, func(store cache.Store) (bool, error) {
		if len(store.List()) == 0 {
			return true, fmt.Errorf("service %q %w in namespace %q", name, ErrNotFound, namespace)
		}
		return false, nil
	}, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Deleted:
			return true, fmt.Errorf("deployment %s/%s was deleted while waiting", namespace, name)
		case watch.Added, watch.Modified:
		default:
			return false, nil
		}
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok {
			return false, nil
		}
		seen = true
		msg, done, err := rollout.Status(d)
		if err != nil {
			return true, err
		}
		if msg != last && progress != nil {
			progress(msg)
		}
		last = msg
		return done, nil
	})
	if err != nil && parent.Err() != nil {
		return fmt.Errorf("stopped waiting for the rollout of %s: %w", name, parent.Err())
	}
	if err != nil && (wait.Interrupted(err) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil) {
		if !seen {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, name)
		}
		return fmt.Errorf("timed out after %s waiting for the rollout of %s: %s", timeout, name, last)
	}
	return err
}

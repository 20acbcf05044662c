// Package podlogs reads the logs of a service's pods through the API server's pod log endpoint
// (kubectl logs' semantics: container, previous container, follow, tail, since), keeps them in
// a ring of bounded size however fast the pods write, and reconnects a followed stream that
// ends when its container restarts.
package podlogs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Revision picks the pods: of the new (current) revision, or of the old one still running.
type Revision string

// Revisions.
const (
	RevisionNew Revision = "new"
	RevisionOld Revision = "old"
)

// Target is one pod's container whose log is read.
type Target struct {
	Namespace string
	Pod       string
	Container string
	Revision  int64
	Restarts  int32
	// Reason is the waiting reason of its container (CrashLoopBackOff, ...), if any.
	Reason string
}

// Targets are the pods of svc's new or old revision, as the watched state knows them, in pod
// name order; an error says in one line why there are none.
func Targets(svc domain.Service, which Revision) ([]Target, error) {
	var sets []domain.ReplicaSet
	switch which {
	case RevisionNew, "":
		rs, ok := svc.NewReplicaSet()
		if !ok {
			return nil, fmt.Errorf("service %s has no ReplicaSet for its current revision yet", svc.Name)
		}
		sets = []domain.ReplicaSet{rs}
	case RevisionOld:
		sets = svc.OldReplicaSets()
		if len(sets) == 0 {
			return nil, fmt.Errorf("service %s has no old revision running pods (no rollout in progress); use --revision new", svc.Name)
		}
	default:
		return nil, fmt.Errorf("--revision must be new or old, not %q", which)
	}
	container := ""
	if len(svc.Containers) > 0 {
		container = svc.Containers[0].Name
	}
	var out []Target
	for _, rs := range sets {
		for _, p := range rs.Pods {
			out = append(out, Target{Namespace: svc.Namespace, Pod: p.Name, Container: container, Revision: rs.Revision,
				Restarts: p.Restarts, Reason: p.Reason})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("service %s has no pods in its %s revision", svc.Name, orNew(which))
	}
	return out, nil
}

func orNew(r Revision) Revision {
	if r == "" {
		return RevisionNew
	}
	return r
}

// Options are kubectl logs' options.
type Options struct {
	Follow   bool
	Previous bool
	// TailLines is the number of last lines to read; negative means all.
	TailLines int64
	Since     time.Duration
}

// Line is one log line.
type Line struct {
	Pod  string
	Time time.Time // the kubelet's timestamp; zero when it sent none
	Text string
	// Previous marks a line of the previous container.
	Previous bool
}

// Reader reads pod logs through the API server.
type Reader struct {
	Client kubernetes.Interface
	// Retry is the pause before a followed stream that ended is opened again (default 1s).
	Retry time.Duration
}

// open opens one stream, with timestamps so that a reconnection resumes after the last line.
func (r Reader) open(ctx context.Context, t Target, o Options, since *metav1.Time) (io.ReadCloser, error) {
	po := &corev1.PodLogOptions{Container: t.Container, Follow: o.Follow && !o.Previous, Previous: o.Previous, Timestamps: true}
	if o.TailLines >= 0 && since == nil {
		n := o.TailLines
		po.TailLines = &n
	}
	if since != nil {
		po.SinceTime = since
	} else if o.Since > 0 {
		s := int64(o.Since.Seconds())
		po.SinceSeconds = &s
	}
	rc, err := r.Client.CoreV1().Pods(t.Namespace).GetLogs(t.Pod, po).Stream(ctx)
	if err != nil {
		return nil, explain(t, o, err)
	}
	return rc, nil
}

// Stream sends t's log lines to out until the log ends (without Follow) or ctx ends. With
// Follow, a stream that ends (the container restarted, the connection dropped) is opened
// again after Retry, from the last line's time, so the lines go on across restarts.
func (r Reader) Stream(ctx context.Context, t Target, o Options, out func(Line)) error {
	retry := r.Retry
	if retry <= 0 {
		retry = time.Second
	}
	var last time.Time
	for {
		var since *metav1.Time
		if !last.IsZero() {
			since = &metav1.Time{Time: last}
		}
		rc, err := r.open(ctx, t, o, since)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !o.Follow || last.IsZero() {
				return err
			}
		} else {
			last, err = copyLines(rc, t.Pod, o.Previous, last, out)
			rc.Close()
			if ctx.Err() != nil {
				return nil
			}
			if !o.Follow || o.Previous {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

// copyLines splits a stream of "TIMESTAMP TEXT" lines; lines at or before after are skipped
// (a reconnection from the last line's time sends that line again). It returns the time of
// the last line.
func copyLines(rc io.Reader, pod string, previous bool, after time.Time, out func(Line)) (time.Time, error) {
	br := bufio.NewReaderSize(rc, 64<<10)
	last := after
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: keep its start, drop the rest.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		}
		if len(b) > 0 {
			text := strings.TrimRight(string(b), "\r\n")
			l := Line{Pod: pod, Text: text, Previous: previous}
			if ts, rest, ok := strings.Cut(text, " "); ok {
				if at, perr := time.Parse(time.RFC3339Nano, ts); perr == nil {
					l.Time, l.Text = at, rest
				}
			}
			if l.Time.IsZero() || l.Time.After(after) {
				out(l)
				if l.Time.After(last) {
					last = l.Time
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
				return last, nil
			}
			return last, err
		}
	}
}

// MayReadLogs asks the API server whether the current user may read pod logs in namespace.
func MayReadLogs(ctx context.Context, client kubernetes.Interface, namespace string) (bool, error) {
	review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authv1.ResourceAttributes{Namespace: namespace, Verb: "get", Resource: "pods", Subresource: "log"},
	}}
	res, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("checking permissions (get pods/log): %w", err)
	}
	return res.Status.Allowed, nil
}

// explain turns the API server's answer into one line that says what to do.
func explain(t Target, o Options, err error) error {
	pod := t.Namespace + "/" + t.Pod
	var st apierrors.APIStatus
	msg := err.Error()
	if errors.As(err, &st) {
		msg = st.Status().Message
	}
	msg = strings.Join(strings.Fields(msg), " ")
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("not allowed to read the logs of pod %s: %s (ask for get on pods/log in namespace %s)", pod, msg, t.Namespace)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("pod %s is gone: %s", pod, msg)
	case o.Previous && t.Restarts == 0:
		return fmt.Errorf("pod %s has not restarted, so it has no previous container log (drop --previous)", pod)
	case apierrors.IsBadRequest(err):
		return fmt.Errorf("pod %s has no logs to read: %s", pod, msg)
	}
	return fmt.Errorf("logs of pod %s: %s", pod, msg)
}

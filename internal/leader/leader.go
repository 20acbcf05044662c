// Package leader lets several `opsdeck guard` replicas share one namespace: they elect one
// leader with client-go's leader election on a coordination.k8s.io Lease, and only the leader
// acts. It also reads that Lease for the console, which stands aside when a leader guards.
package leader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaseName is the Lease that the guard replicas of a namespace compete for.
const LeaseName = "opsdeck-guard"

// DefaultLeaseDuration is how long a leader's claim lasts without renewal: a standby takes
// over at most this long after the leader dies (client-go's usual 15 s).
const DefaultLeaseDuration = 15 * time.Second

// Identity names this process in the Lease: the pod (host) name and the pid, so two replicas
// on one host, and a restarted process, are told apart.
func Identity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "opsdeck"
	}
	return fmt.Sprintf("%s_%d", host, os.Getpid())
}

// Pod is the pod (host) part of an identity made by Identity.
func Pod(identity string) string {
	if i := strings.LastIndexByte(identity, '_'); i > 0 {
		return identity[:i]
	}
	return identity
}

// Config configures an election.
type Config struct {
	Client    kubernetes.Interface
	Namespace string
	Identity  string
	// LeaseDuration is how long a claim lasts; the renew deadline and retry period follow from
	// it in client-go's default proportions (15 s, 10 s, 2 s).
	LeaseDuration time.Duration
	// OnNewLeader, when set, is told each leader observed (this process included).
	OnNewLeader func(identity string)
}

func (c Config) timings() (lease, renew, retry time.Duration) {
	lease = c.LeaseDuration
	if lease <= 0 {
		lease = DefaultLeaseDuration
	}
	return lease, lease * 2 / 3, lease * 2 / 15
}

// Run takes part in the election until ctx ends. Each time this process becomes the leader it
// calls lead with a context that ends when leadership is lost; lead must stop acting then. A
// lost leadership puts the process back in the queue as a standby. On ctx's end the Lease is
// released, so a standby takes over at once rather than after the lease duration.
func Run(ctx context.Context, cfg Config, lead func(ctx context.Context)) error {
	if cfg.Namespace == "" {
		return errors.New("leader election needs a namespace for its Lease")
	}
	lease, renew, retry := cfg.timings()
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, cfg.Namespace, LeaseName,
		cfg.Client.CoreV1(), cfg.Client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: cfg.Identity})
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   lease,
			RenewDeadline:   renew,
			RetryPeriod:     retry,
			ReleaseOnCancel: true,
			Name:            "opsdeck-guard",
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: lead,
				OnStoppedLeading: func() {},
				OnNewLeader: func(id string) {
					if cfg.OnNewLeader != nil {
						cfg.OnNewLeader(id)
					}
				},
			},
		})
		if err != nil {
			return err
		}
		// Run returns when leadership is lost (or ctx ends); OnStartedLeading's context is
		// cancelled first, and Run waits for nothing more, so the caller's lead must not act
		// after its context ends.
		elector.Run(ctx)
	}
	return nil
}

// Holder is who holds the namespace's Lease, as a console sees it.
type Holder struct {
	Identity string
	// Valid is true while the claim is renewed: renewed within the lease duration.
	Valid bool
	// Expires is when the claim ends unless renewed.
	Expires time.Time
}

// Read reads the Lease of namespace ns. No Lease, or none the user may read, is no holder.
func Read(ctx context.Context, client kubernetes.Interface, ns string, now time.Time) (Holder, error) {
	l, err := client.CoordinationV1().Leases(ns).Get(ctx, LeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return Holder{}, nil
	}
	if err != nil {
		return Holder{}, err
	}
	return holderOf(l, now), nil
}

func holderOf(l *coordinationv1.Lease, now time.Time) Holder {
	var h Holder
	if l.Spec.HolderIdentity != nil {
		h.Identity = *l.Spec.HolderIdentity
	}
	if h.Identity == "" || l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return h
	}
	h.Expires = l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
	h.Valid = now.Before(h.Expires)
	return h
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// breachingBackend serves one service whose 5xx ratio is 40 %, on a clock that moves 10 s per
// round, so the errors rule (20 s) fires within a few rounds.
type breachingBackend struct {
	svc domain.Service
}

func (b breachingBackend) Identity() domain.Identity { return domain.Identity{User: "admin"} }
func (b breachingBackend) Watch(ctx context.Context) <-chan domain.ClusterState {
	ch := make(chan domain.ClusterState, 1)
	ch <- domain.ClusterState{Synced: true, Services: []domain.Service{b.svc}}
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}
func (b breachingBackend) Metrics(context.Context, []domain.Service) domain.MetricsFrame {
	return domain.MetricsFrame{Services: map[string]domain.Values{b.svc.Key(): {domain.MetricErrorRatio: 0.4, domain.MetricRequestRate: 100}}}
}
func (b breachingBackend) History(context.Context, domain.Service, time.Duration, time.Duration) ([]domain.Series, error) {
	return nil, nil
}
func (b breachingBackend) Revisions(context.Context, domain.Service) ([]domain.Revision, error) {
	return nil, nil
}
func (b breachingBackend) Plan(_ context.Context, a domain.Action) (domain.Plan, error) {
	return domain.Plan{Action: a}, domain.ErrReadOnly
}
func (b breachingBackend) Execute(context.Context, domain.Action) (domain.Result, error) {
	return domain.Result{}, domain.ErrReadOnly
}

type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(10 * time.Second)
	return c.t
}

// A read-only console raises its alerts on screen only: no ThresholdBreached Event in the
// cluster, no post to Alertmanager or the webhook. The same console without --readonly does
// both, so the test can tell.
func TestReadOnlyConsoleRecordsNoEventsAndPostsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	client := env.Client(t)
	for _, readOnly := range []bool{true, false} {
		t.Run(fmt.Sprintf("readonly=%v", readOnly), func(t *testing.T) {
			ns := env.NewNamespace(t)
			env.CreateDeployment(t, ns, "web", "web:v1", 1)
			var posts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posts.Add(1) }))
			defer srv.Close()
			cfg, errs := config.Parse([]byte(fmt.Sprintf("notify:\n  alertmanager_url: %s/am\n  webhook_url: %s/hook\n", srv.URL, srv.URL)))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			rec := actions.NewEventRecorder(client)
			b := breachingBackend{svc: domain.Service{Namespace: ns, Name: "web", Kind: domain.KindDeployment}}
			cg := newConsoleGuard(cfg, b, rec, false, readOnly, time.Second)
			cg.runner.Clock = &steppingClock{t: time.Now()}
			var alerted atomic.Int32
			cg.runner.OnEvaluate = func(ev guard.Evaluation) { alerted.Add(int32(len(ev.Alerts))) }
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go cg.run(ctx)
			sandbox.WaitFor(t, 30*time.Second, "the console's alert", func() (bool, string) { return alerted.Load() > 0, "" })
			if readOnly {
				// Give a write every chance to happen before looking: the recorder's queue is
				// flushed, the notification queue had rounds to deliver.
				rec.Close(5 * time.Second)
				time.Sleep(2 * time.Second)
				if n := posts.Load(); n != 0 {
					t.Errorf("a read-only console posted %d notifications", n)
				}
				evs, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs.Items {
					if strings.HasPrefix(e.Reason, "Threshold") {
						t.Errorf("a read-only console recorded Event %s: %s", e.Reason, e.Message)
					}
				}
				return
			}
			defer rec.Close(time.Second)
			sandbox.WaitFor(t, 30*time.Second, "the notifications and the Event", func() (bool, string) {
				evs, _ := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
				found := false
				for _, e := range evs.Items {
					found = found || e.Reason == "ThresholdBreached" && e.Type == corev1.EventTypeWarning
				}
				return found && posts.Load() >= 2, fmt.Sprintf("event %v, %d posts", found, posts.Load())
			})
		})
	}
}

package guard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// hungBackend answers nothing: Metrics and Execute block until released, ignoring their
// context, like a Prometheus or an API server that accepted the connection and went silent.
type hungBackend struct {
	release  chan struct{}
	frame    domain.MetricsFrame
	hangRead bool
}

func (b *hungBackend) Identity() domain.Identity                            { return domain.Identity{} }
func (b *hungBackend) Watch(ctx context.Context) <-chan domain.ClusterState { return nil }
func (b *hungBackend) History(context.Context, domain.Service, time.Duration, time.Duration) ([]domain.Series, error) {
	return nil, nil
}
func (b *hungBackend) Revisions(context.Context, domain.Service) ([]domain.Revision, error) {
	return nil, nil
}
func (b *hungBackend) Metrics(context.Context, []domain.Service) domain.MetricsFrame {
	if b.hangRead {
		<-b.release
	}
	return b.frame
}
func (b *hungBackend) Plan(_ context.Context, a domain.Action) (domain.Plan, error) {
	return domain.Plan{Action: a}, nil
}
func (b *hungBackend) Execute(context.Context, domain.Action) (domain.Result, error) {
	<-b.release
	return domain.Result{}, nil
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// Issue 9, defect 9: nothing the guard calls may hold it. An action that never answers fails
// within ActTimeout; a read that never answers makes the round inconclusive within ReadTimeout
// (TestRunnerRunReadDeadline: the stream reads the frame).
func TestRunnerDeadlines(t *testing.T) {
	svc := service(domain.PhaseStalled, t0, bad2, good1) // bad without metrics: a decision at once
	t.Run("an action that never answers", func(t *testing.T) {
		b := &hungBackend{release: make(chan struct{}), frame: frame(nil)}
		defer close(b.release)
		r := &Runner{Backend: b, Engine: New(testConfig()), Clock: &fixedClock{t0}, ReadTimeout: 100 * time.Millisecond,
			ActTimeout: 200 * time.Millisecond}
		start := time.Now()
		ev := r.Judge(context.Background(), state(svc), b.frame)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("round took %s with a 200ms action deadline", took)
		}
		if len(ev.Outcomes) != 1 || ev.Outcomes[0].Err == nil || !strings.Contains(ev.Outcomes[0].Err.Error(), "no answer within 200ms") {
			t.Fatalf("outcomes %+v, want one failed by its deadline", ev.Outcomes)
		}
	})
}

// watchedHung is a hungBackend whose watch gives one synced state.
type watchedHung struct {
	*hungBackend
	st domain.ClusterState
}

func (b watchedHung) Watch(ctx context.Context) <-chan domain.ClusterState {
	ch := make(chan domain.ClusterState, 1)
	ch <- b.st
	return ch
}

// The same deadline holds for the rounds of Run, whose frames the state stream reads: a read
// that never answers gives an inconclusive round within ReadTimeout, and the next round comes.
func TestRunnerRunReadDeadline(t *testing.T) {
	svc := service(domain.PhaseProgressing, t0, bad2, good1)
	b := watchedHung{&hungBackend{release: make(chan struct{}), hangRead: true}, state(svc)}
	defer close(b.release)
	evs := make(chan Evaluation, 16)
	r := &Runner{Backend: b, Engine: New(testConfig()), Clock: &fixedClock{t0}, Interval: 50 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond, ActTimeout: 100 * time.Millisecond,
		OnEvaluate: func(ev Evaluation) {
			select {
			case evs <- ev:
			default:
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	for i := range 2 {
		select {
		case ev := <-evs:
			st := ev.Statuses[svc.Key()]
			if st.Verdict != VerdictInconclusive || !strings.Contains(st.Detail, "no answer within 100ms") {
				t.Errorf("round %d: status %+v, want inconclusive naming the deadline", i+1, st)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d did not come within 3 s of a hung read", i+1)
		}
	}
}

package guard

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func TestEngineSignal(t *testing.T) {
	firing := Signal{Namespace: "shop", Service: "order-service", Name: "HighCheckoutFailures", Summary: "checkout failures\nabove 2%", Firing: true}
	resolved := firing
	resolved.Firing = false
	other := firing
	other.Service = "cart"
	rolling := service(domain.PhaseProgressing, t0, bad2, good1)
	old := service(domain.PhaseComplete, t0.Add(-2*time.Hour), bad2, good1)
	only := service(domain.PhaseProgressing, t0, bad2)

	cases := []struct {
		name  string
		svc   domain.Service
		s     Signal
		acted bool
		want  string
	}{
		{"a firing alert in the window rolls back at once", rolling, firing, true,
			"rolled back order-service rev 2 -> 1: alert HighCheckoutFailures: checkout failures above 2%"},
		{"a resolved alert changes nothing", rolling, resolved, false, "ignored: alert HighCheckoutFailures on shop/order-service is resolved"},
		{"an unwatched service", rolling, other, false, "ignored: alert HighCheckoutFailures names shop/cart, which this guard does not watch"},
		{"outside the window", old, firing, false, "ignored: order-service is not in a guard window (last rollout 2h0m0s ago; window 15m0s)"},
		{"no earlier revision", only, firing, false, "no earlier revision of order-service to roll back to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(testConfig())
			d, res := e.Signal(t0, tc.svc, tc.s.Service == tc.svc.Name, tc.s)
			if res.Acted != tc.acted || (d != nil) != tc.acted || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("got %+v (decision %v), want acted=%v and %q", res, d != nil, tc.acted, tc.want)
			}
			if strings.Contains(res.Message, "\n") {
				t.Errorf("message on more than one line: %q", res.Message)
			}
			if d != nil {
				a := d.Action()
				if a.Trigger != domain.TriggerAlert || a.ExpectRevision != 2 || a.ToRevision != 1 || !strings.HasPrefix(a.Reason, "alert HighCheckoutFailures: checkout failures above 2%") {
					t.Errorf("action %+v", a)
				}
			}
		})
	}
}

// An outside signal obeys the engine's at-most-once rules: nothing while a rollback is pending,
// nothing on the revision it rolled back to, and a failed rollback is held, not retried.
func TestEngineSignalAtMostOnce(t *testing.T) {
	s := Signal{Namespace: "shop", Service: "order-service", Name: "HighCheckoutFailures", Firing: true}
	e := New(testConfig())
	svc := service(domain.PhaseProgressing, t0, bad2, good1)
	d, _ := e.Signal(t0, svc, true, s)
	if d == nil {
		t.Fatal("no decision")
	}
	if d2, res := e.Signal(t0.Add(time.Second), svc, true, s); d2 != nil || !strings.Contains(res.Message, "already under way") {
		t.Fatalf("second signal while pending: %+v", res)
	}
	// The round decides nothing either while it is pending.
	if _, ds := e.Evaluate(t0.Add(time.Second), state(svc), frame(map[string]float64{bad2.Name: 0.3, good1.Name: 0.002})); len(ds) != 0 {
		t.Fatalf("the round decided beside the signal's rollback: %+v", ds)
	}
	e.Done(*d, nil, false)
	g := good1
	g.Revision = 3
	after := service(domain.PhaseComplete, t0.Add(time.Minute), g, bad2)
	if d3, res := e.Signal(t0.Add(2*time.Second), after, true, s); d3 != nil || !strings.Contains(res.Message, "held") {
		t.Fatalf("signal after the rollback: %+v", res)
	}

	e = New(testConfig())
	d, _ = e.Signal(t0, svc, true, s)
	e.Done(*d, errors.New("forbidden"), false)
	if d4, res := e.Signal(t0.Add(time.Second), svc, true, s); d4 != nil || !strings.Contains(res.Message, "held (rollback failed: forbidden)") {
		t.Fatalf("signal after a failed rollback: %+v", res)
	}
}

package guard

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func TestAlerterRaisesRepeatsAndResolves(t *testing.T) {
	a := &Alerter{Thresholds: testConfig().Thresholds, Repeat: time.Minute}
	svc := domain.Service{Namespace: "shop", Name: "payment-service"}
	at := func(errRatio float64) domain.MetricsFrame {
		return domain.MetricsFrame{Services: map[string]domain.Values{svc.Key(): {domain.MetricErrorRatio: errRatio}}}
	}
	steps := []struct {
		at    time.Duration
		ratio float64
		want  string // "" = no alert; "fire", "resolve"
	}{
		{0, 0.3, ""},                    // breach starts
		{10 * time.Second, 0.3, ""},     // not for 20 s yet
		{20 * time.Second, 0.3, "fire"}, // raised
		{30 * time.Second, 0.3, ""},     // rate-limited
		{80 * time.Second, 0.3, "fire"}, // repeated after a minute
		{90 * time.Second, 0.01, "resolve"},
		{100 * time.Second, 0.01, ""},
	}
	for _, s := range steps {
		got := a.Evaluate(t0.Add(s.at), []domain.Service{svc}, at(s.ratio))
		switch s.want {
		case "":
			if len(got) != 0 {
				t.Fatalf("at %s: %+v, want no alert", s.at, got)
			}
		case "fire":
			if len(got) != 1 || got[0].Resolved || !strings.Contains(got[0].Message, "5xx ratio at 30.0%, threshold 5.0%") {
				t.Fatalf("at %s: %+v, want the alert with its values", s.at, got)
			}
			if !got[0].StartsAt.Equal(t0.Add(20 * time.Second)) {
				t.Errorf("alert starts at %s, want when it was raised", got[0].StartsAt)
			}
		case "resolve":
			if len(got) != 1 || !got[0].Resolved || !strings.HasPrefix(got[0].Message, "resolved:") {
				t.Fatalf("at %s: %+v, want a resolved alert", s.at, got)
			}
		}
	}
}

func TestAlerterIgnoresMissingData(t *testing.T) {
	a := &Alerter{Thresholds: testConfig().Thresholds}
	svc := domain.Service{Namespace: "shop", Name: "gateway"}
	bad := domain.MetricsFrame{Services: map[string]domain.Values{svc.Key(): {domain.MetricErrorRatio: 0.3}}}
	a.Evaluate(t0, []domain.Service{svc}, bad)
	if got := a.Evaluate(t0.Add(25*time.Second), []domain.Service{svc}, bad); len(got) != 1 {
		t.Fatalf("want the alert raised, got %+v", got)
	}
	if got := a.Evaluate(t0.Add(30*time.Second), []domain.Service{svc}, domain.MetricsFrame{}); len(got) != 0 {
		t.Fatalf("missing data resolved or raised an alert: %+v", got)
	}
}

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

func TestAlerterMemoryGrowth(t *testing.T) {
	th := domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
		domain.MetricMemory:       {Metric: domain.MetricMemory, Value: 4 << 30, For: time.Minute}, // a level the leak never reaches
		domain.MetricMemoryGrowth: {Metric: domain.MetricMemoryGrowth, Value: 1 << 20, For: time.Minute},
	}}
	a := &Alerter{Thresholds: th}
	leak := domain.Service{Namespace: "shop", Name: "order-service"}
	flat := domain.Service{Namespace: "shop", Name: "cart"}
	const mib = 1 << 20
	leakMem := 120.0 * mib
	var raised, resolved bool
	for i := 0; i <= 150; i++ { // a frame every 2 s for 5 minutes
		at := time.Duration(i) * 2 * time.Second
		if at <= 3*time.Minute && i > 0 { // order-service grows 10 MiB/s for 3 minutes, then stays flat
			leakMem += 2 * 10 * mib
		}
		f := domain.MetricsFrame{Services: map[string]domain.Values{
			leak.Key(): {domain.MetricMemory: leakMem},
			flat.Key(): {domain.MetricMemory: 200*mib + float64(i%3)*mib}, // jitter, no trend
		}}
		for _, al := range a.Evaluate(t0.Add(at), []domain.Service{leak, flat}, f) {
			if al.Service == flat.Name {
				t.Fatalf("at %s: flat service alerted: %+v", at, al)
			}
			if al.Metric != domain.MetricMemoryGrowth {
				t.Fatalf("at %s: unexpected alert %+v", at, al)
			}
			switch {
			case !al.Resolved && !raised:
				raised = true
				// Growth is measurable after 10 s and must then last a minute.
				if at < 70*time.Second || at > 80*time.Second {
					t.Errorf("raised at %s, want after 10 s + for (1m)", at)
				}
				if !strings.Contains(al.Message, "order-service memory growing 10.0 MiB/s, threshold 1.0 MiB/s") {
					t.Errorf("message %q", al.Message)
				}
			case al.Resolved:
				if !raised || resolved {
					t.Fatalf("at %s: unexpected resolution %+v", at, al)
				}
				resolved = true
				// Flat from 3m: the slope over the last minute falls under 1 MiB/s within it.
				if at <= 3*time.Minute || at > 4*time.Minute {
					t.Errorf("resolved at %s, want within a minute of the leak stopping at 3m", at)
				}
			}
		}
	}
	if !raised || !resolved {
		t.Errorf("raised %v, resolved %v; want both", raised, resolved)
	}
}

func TestAlerterMemoryGrowthNeedsData(t *testing.T) {
	th := domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
		domain.MetricMemoryGrowth: {Metric: domain.MetricMemoryGrowth, Value: 1 << 20},
	}}
	a := &Alerter{Thresholds: th}
	svc := domain.Service{Namespace: "shop", Name: "leak"}
	frame := func(v float64) domain.MetricsFrame {
		return domain.MetricsFrame{Services: map[string]domain.Values{svc.Key(): {domain.MetricMemory: v}}}
	}
	if got := a.Evaluate(t0, []domain.Service{svc}, frame(100<<20)); len(got) != 0 {
		t.Fatalf("one sample raised %+v", got)
	}
	if got := a.Evaluate(t0.Add(4*time.Second), []domain.Service{svc}, frame(200<<20)); len(got) != 0 {
		t.Fatalf("4 s of samples raised %+v", got)
	}
	if got := a.Evaluate(t0.Add(12*time.Second), []domain.Service{svc}, frame(300<<20)); len(got) != 1 {
		t.Fatalf("12 s of 8 MiB/s: %+v, want the alert", got)
	}
	// No memory value: nothing changes, no resolution.
	if got := a.Evaluate(t0.Add(14*time.Second), []domain.Service{svc}, domain.MetricsFrame{}); len(got) != 0 {
		t.Fatalf("missing data: %+v", got)
	}
}

func TestAlerterCPUOfRequest(t *testing.T) {
	th := domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
		domain.MetricCPU: {Metric: domain.MetricCPU, Value: 0.9, For: time.Minute, OfRequest: true},
	}}
	a := &Alerter{Thresholds: th}
	healthy := domain.Service{Namespace: "shop", Name: "cart", CPURequest: 0.25}
	hog := domain.Service{Namespace: "shop", Name: "hog", CPURequest: 0.25}
	none := domain.Service{Namespace: "shop", Name: "batch"} // no request: 0.9 cores
	f := domain.MetricsFrame{Services: map[string]domain.Values{
		healthy.Key(): {domain.MetricCPU: 0.1}, hog.Key(): {domain.MetricCPU: 0.95}, none.Key(): {domain.MetricCPU: 0.5},
	}}
	svcs := []domain.Service{healthy, hog, none}
	a.Evaluate(t0, svcs, f)
	got := a.Evaluate(t0.Add(time.Minute), svcs, f)
	if len(got) != 1 || got[0].Service != "hog" || !strings.Contains(got[0].Message, "CPU at 0.95 cores, threshold 0.23 cores") || got[0].Threshold != 0.225 {
		t.Fatalf("got %+v, want only hog against 90 %% of its 0.25-core request", got)
	}
}

// An alert names the Deployment its Events go to: the active colour's for a blue-green service.
func TestAlertNamesTheServingDeployment(t *testing.T) {
	a := &Alerter{Thresholds: testConfig().Thresholds}
	bg := domain.Service{Namespace: "shop", Name: "checkout", Kind: domain.KindBlueGreen, BlueGreen: &domain.BlueGreen{
		Active: domain.ColorGreen,
		Colors: map[domain.Color]domain.ColorState{
			domain.ColorBlue:  {Color: domain.ColorBlue, Deployment: "checkout-blue"},
			domain.ColorGreen: {Color: domain.ColorGreen, Deployment: "checkout-green"},
		},
	}}
	plain := domain.Service{Namespace: "shop", Name: "gateway"}
	bad := domain.MetricsFrame{Services: map[string]domain.Values{
		bg.Key(): {domain.MetricErrorRatio: 0.3}, plain.Key(): {domain.MetricErrorRatio: 0.3}}}
	a.Evaluate(t0, []domain.Service{bg, plain}, bad)
	got := map[string]string{}
	for _, al := range a.Evaluate(t0.Add(25*time.Second), []domain.Service{bg, plain}, bad) {
		got[al.Service] = al.Deployment
	}
	if got["checkout"] != "checkout-green" || got["gateway"] != "gateway" {
		t.Errorf("deployments %v, want checkout-green and gateway", got)
	}
}

package guard

import (
	"math"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Known answers, computed independently of this code with Python's mpmath at 40 digits from
// the definitions (Wald 1945, the SPRT's log-likelihood ratio; the mixture is the log of the
// mean of exp(LLR_k) over k in {1.5, 2, 4, 8, 16} with k*p0 < 1):
//
//	from mpmath import mp, mpf, log, exp; mp.dps = 40
//	llr = lambda x, n, p0, p1: x*log(p1/p0) + (n-x)*log((1-p1)/(1-p0))
//	mix = lambda x, n, p0: log(sum(exp(llr(x, n, p0, k*p0)) for k in K if k*p0 < 1) / len(...))
func TestEvidenceKnownAnswers(t *testing.T) {
	cases := []struct {
		name       string
		x, n, p0   float64
		wantMix    float64 // mix(x, n, p0)
		wantWald2x float64 // llr(x, n, p0, 2*p0)
	}{
		{"the issue's example, 61 of 212 against 5%", 61, 212, 0.05, 57.2782882595615, 34.117827602345},
		{"tiny counts: 3 of 3", 3, 3, 0.05, 6.84233637041726, 2.07944154167984},
		{"tiny counts: 1 of 1 against 1%", 1, 1, 0.01, 1.84054963339749, 0.693147180559945},
		{"zero requests", 0, 0, 0.05, 0, 0},
		{"10 of 100: twice the bound, not yet proven", 10, 100, 0.05, 0.979852082056741, 2.06542189127463},
		{"25 of 100", 25, 100, 0.05, 20.1735536237108, 13.273637918728},
		{"latency: 40 of 212 slower against 1%", 40, 212, 0.01, 81.0339918340076, 25.9796793305867},
		{"healthy: 0 of 1000", 0, 1000, 0.05, -28.2776849945942, -54.0672212702758},
		{"below the bound: 5 of 50 against 10%", 5, 50, 0.1, -1.68785714315174, -1.83450070173753},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := evidenceAbove(tc.x, tc.n, tc.p0); math.Abs(got-tc.wantMix) > 1e-9 {
				t.Errorf("evidenceAbove(%v, %v, %v) = %.12f, want %.12f", tc.x, tc.n, tc.p0, got, tc.wantMix)
			}
			if tc.n > 0 {
				if got := logLikelihoodRatio(tc.x, tc.n, tc.p0, 2*tc.p0); math.Abs(got-tc.wantWald2x) > 1e-9 {
					t.Errorf("Wald's LLR = %.12f, want %.12f", got, tc.wantWald2x)
				}
			}
		})
	}
}

// The smallest number of failures that proves the share above the bound with confidence
// 1-1e-9 (log threshold ln 1e9 = 20.7232658369464), found by the same mpmath code counting x up
// from 0 until mix(x, n, p0) >= ln(1e9).
func TestProvenAboveBoundary(t *testing.T) {
	cases := []struct {
		n, p0 float64
		x     float64 // fewest failures proven
	}{
		{50, 0.05, 18}, {100, 0.05, 26}, {212, 0.05, 38}, {1000, 0.05, 103},
		{100, 0.01, 14}, {1000, 0.01, 38},
		{9, 0.05, 9}, {9, 0.01, 9}, // all of 9 failing is the fewest requests that prove anything
	}
	for _, tc := range cases {
		if !provenAbove(tc.x, tc.n, tc.p0, 1e-9) || provenAbove(tc.x-1, tc.n, tc.p0, 1e-9) {
			t.Errorf("%v of %v against %v%%: want exactly %v failures to prove it", tc.x, tc.n, 100*tc.p0, tc.x)
		}
	}
	if provenAbove(8, 8, 0.05, 1e-9) || provenAbove(0, 0, 0.05, 1e-9) {
		t.Error("8 of 8, or nothing, proved a breach")
	}
	if provenAbove(2, 1, 0.05, 1e-9) != provenAbove(1, 1, 0.05, 1e-9) {
		t.Error("more failures than requests (counters read a moment apart) must count as all failing")
	}
}

func TestFormatConfidence(t *testing.T) {
	for c, want := range map[float64]string{1 - 1e-9: "1-1e-9", 0.999999: "1-1e-6", 0.99: "99%", 0.95: "95%"} {
		if got := formatConfidence(c); got != want {
			t.Errorf("formatConfidence(%v) = %q, want %q", c, got, want)
		}
	}
}

// Latency counts: the bucket whose le is the bound, or the first above it.
func TestSlowerThan(t *testing.T) {
	c := domain.RevisionCounts{Latency: []domain.Bucket{{LE: 0.5, Count: 150}, {LE: 1, Count: 180}, {LE: 2.5, Count: 195}, {LE: math.Inf(1), Count: 200}}}
	for _, tc := range []struct {
		bound, slow, edge float64
		ok                bool
	}{
		{1, 20, 1, true},      // on an edge: 200 - 180
		{1.2, 5, 2.5, true},   // not an edge: the next one above, 2.5 s (undercounts: conservative)
		{0.25, 50, 0.5, true}, // below the first edge
		{3, 0, 0, false},      // above every finite edge: cannot count
	} {
		slow, total, edge, ok := c.SlowerThan(tc.bound)
		if ok != tc.ok || (ok && (slow != tc.slow || edge != tc.edge || total != 200)) {
			t.Errorf("SlowerThan(%v) = %v of %v at %v (%v), want %v at %v (%v)", tc.bound, slow, total, edge, ok, tc.slow, tc.edge, tc.ok)
		}
	}
	if _, _, _, ok := (domain.RevisionCounts{}).SlowerThan(1); ok {
		t.Error("no histogram counted something")
	}
}

func pc(pod string, req, errs float64) domain.PodCounters {
	return domain.PodCounters{Namespace: "shop", Pod: bad2.Name + "-" + pod, ReplicaSet: bad2.Name, Requests: req, Errors: errs,
		Latency: []domain.Bucket{{LE: 1, Count: req - errs/2}, {LE: math.Inf(1), Count: req}}}
}

// The counter book: sums a revision's pods, survives counter resets and pods that go away,
// and counts an old revision from its first reading.
func TestCounterBook(t *testing.T) {
	key := "shop/" + bad2.Name
	scope := map[string]countScope{key: {Since: t0}}
	b := newCounterBook()
	steps := []struct {
		pods         []domain.PodCounters
		wantRequests float64
		wantErrors   float64
	}{
		{[]domain.PodCounters{pc("aaaaa", 50, 15)}, 50, 15},
		{[]domain.PodCounters{pc("aaaaa", 100, 30), pc("bbbbb", 40, 12)}, 140, 42},
		// aaaaa restarts: its counters start again from 0 (it had counted 100 and 30).
		{[]domain.PodCounters{pc("aaaaa", 10, 3), pc("bbbbb", 90, 27)}, 200, 60},
		// bbbbb is gone (scaled down): what it counted stays.
		{[]domain.PodCounters{pc("aaaaa", 60, 18)}, 250, 75},
	}
	for i, s := range steps {
		got := b.observe(t0.Add(time.Duration(i)*time.Second), scope, s.pods)[key]
		if got.Requests != s.wantRequests || got.Errors != s.wantErrors || !got.Since.Equal(t0) {
			t.Fatalf("step %d: %+v, want %v requests and %v errors since t0", i, got, s.wantRequests, s.wantErrors)
		}
		if slow, total, _, _ := got.SlowerThan(1); total != s.wantRequests || slow != s.wantErrors/2 {
			t.Fatalf("step %d: %v slow of %v, want %v of %v", i, slow, total, s.wantErrors/2, s.wantRequests)
		}
	}
	if got := b.observe(t0.Add(time.Minute), map[string]countScope{}, nil); len(got) != 0 || len(b.pods) != 0 {
		t.Errorf("a ReplicaSet out of scope is still counted: %+v", got)
	}

	old := newCounterBook()
	oldScope := map[string]countScope{key: {Old: true}}
	old.observe(t0, oldScope, []domain.PodCounters{pc("aaaaa", 100000, 200)})
	got := old.observe(t0.Add(2*time.Second), oldScope, []domain.PodCounters{pc("aaaaa", 100100, 230)})[key]
	if got.Requests != 100 || got.Errors != 30 || !got.Since.Equal(t0) {
		t.Errorf("old revision: %+v, want 30 of 100 counted since its first reading", got)
	}
}

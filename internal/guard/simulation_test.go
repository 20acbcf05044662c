package guard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The false-rollback simulation of the early verdict (issue 12): rollouts of three pods with
// the sandbox simulator's traffic (internal/simulator: 50 requests/s per pod on a random walk
// of ±10 %, the 5xx share jittered by 5 % each second, latency log-normal with sigma 0.5 and a
// jitter walk of ±7.5 %), with each second's failures drawn binomially (the simulator adds
// expected counts, which would make the test easier than real traffic). Pods of a rolling
// update (maxSurge 1) start 1 to 3 s apart; Prometheus scrapes every second; the guard looks
// at a random phase after each scrape, with min_requests 50 and confidence 1-1e-9.
//
// Healthy rollouts (0.2 % 5xx, p99 120 ms) are watched for the whole 15-minute window, and
// must never be judged bad. Bad ones (the 5xx rule at 2x, 6x and 20x its 5 % bound, the p99
// rule at 2x, 6x and 60x its 1 % share above 1 s) report their time to verdict.
func TestEarlyVerdictSimulation(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	rng := rand.New(rand.NewPCG(12, 2026))

	healthySlow := slowShare(0.120, 1)
	t.Logf("healthy: share of requests above 1 s at p99 120 ms: %.3g", healthySlow)
	falseErr, falseLat := 0, 0
	for range n {
		r := simulateRollout(rng, 900, func(float64) (float64, float64) { return 0.002, healthySlow })
		if r.errAt >= 0 {
			falseErr++
		}
		if r.slowAt >= 0 {
			falseLat++
		}
	}
	t.Logf("healthy rollouts judged bad over 15 min: 5xx rule %d of %d, p99 rule %d of %d", falseErr, n, falseLat, n)
	if falseErr+falseLat > 0 {
		t.Errorf("%d healthy rollouts rolled back by the 5xx rule and %d by the p99 rule, want 0", falseErr, falseLat)
	}

	// At the bound itself, the worst case the confidence is about: Ville's bound says at most
	// alpha of them, ever.
	atBound := 0
	for range n / 10 {
		r := simulateRollout(rng, 900, func(float64) (float64, float64) { return 0.05, 0.01 })
		if r.errAt >= 0 || r.slowAt >= 0 {
			atBound++
		}
	}
	t.Logf("rollouts exactly at the bounds judged bad over 15 min: %d of %d", atBound, n/10)
	if atBound > 0 {
		t.Errorf("%d rollouts at the bound were judged above it", atBound)
	}

	var table []string
	table = append(table, "| rule | true share | multiple of bound | decided early within 20 s | median | p95 | max |", "|---|---|---|---|---|---|---|")
	for _, c := range []struct {
		rule     string
		share    float64
		multiple float64
	}{
		{"5xx > 5 %", 0.10, 2}, {"5xx > 5 %", 0.30, 6}, {"5xx > 5 %", 1.0, 20},
		{"p99 > 1 s (1 % above 1 s)", 0.02, 2}, {"p99 > 1 s (1 % above 1 s)", 0.06, 6}, {"p99 > 1 s (1 % above 1 s)", 0.60, 60},
	} {
		var times []float64
		within := 0
		for range n {
			isErr := strings.HasPrefix(c.rule, "5xx")
			r := simulateRollout(rng, 60, func(float64) (float64, float64) {
				if isErr {
					return c.share, healthySlow
				}
				return 0.002, c.share
			})
			at := r.slowAt
			if isErr {
				at = r.errAt
			}
			if at < 0 {
				at = math.Inf(1)
			}
			if at <= 20 {
				within++
			}
			times = append(times, at)
		}
		slices.Sort(times)
		q := func(p float64) string {
			v := times[min(int(p*float64(len(times))), len(times)-1)]
			if math.IsInf(v, 1) {
				return "> 60 s"
			}
			return fmt.Sprintf("%.1f s", v)
		}
		table = append(table, fmt.Sprintf("| %s | %.0f %% | %gx | %.1f %% | %s | %s | %s |", c.rule, 100*c.share, c.multiple,
			100*float64(within)/float64(n), q(0.5), q(0.95), q(1)))
		if c.multiple >= 6 && within < n {
			t.Errorf("%s at %gx: only %d of %d decided early within 20 s", c.rule, c.multiple, within, n)
		}
	}
	t.Logf("time from the first sample of the bad revision to the early verdict, %d rollouts each:\n%s", n, strings.Join(table, "\n"))
}

// simResult is when (seconds after the first sample) each rule was proven breached; -1 never.
type simResult struct{ errAt, slowAt float64 }

// simulateRollout runs one rollout for secs seconds of looks; shares gives the true 5xx share
// and the share slower than 1 s at a time since the first pod started.
func simulateRollout(rng *rand.Rand, secs int, shares func(t float64) (errShare, slowShare float64)) simResult {
	const alpha, minRequests, p0err, p0slow = 1e-9, 50, 0.05, 0.01
	type pod struct {
		start                 float64
		noise, jitter         float64
		req, fail, slow, last float64
	}
	// Pods start 1 to 3 s apart (Ready after 1 to 3 s, then maxSurge lets the next one in).
	pods := []*pod{{start: 0}}
	for i := 1; i < 3; i++ {
		pods = append(pods, &pod{start: pods[i-1].start + 1 + 2*rng.Float64()})
	}
	for _, p := range pods {
		p.noise, p.jitter, p.last = 1, 1, p.start
	}
	first := rng.Float64() // the first scrape after the first pod started
	phase := rng.Float64() // the guard looks this long after each scrape
	res := simResult{errAt: -1, slowAt: -1}
	for k := 0; k <= secs; k++ {
		scrape := first + float64(k)
		var req, fail, slow float64
		for _, p := range pods {
			if scrape > p.start {
				dt := scrape - p.last
				p.last = scrape
				p.noise = simWalk(p.noise, rng.NormFloat64(), 0.04)
				p.jitter = simWalk(p.jitter, rng.NormFloat64(), 0.03)
				errShare, slowShare := shares(scrape)
				reqs := float64(binomialCount(rng, 50*p.noise*dt))
				e := min(max(errShare*(1+0.05*rng.NormFloat64()), 0), 1)
				p.req += reqs
				p.fail += float64(binomial(rng, int(reqs), e))
				p.slow += float64(binomial(rng, int(reqs), slowShare))
			}
			req += math.Floor(p.req)
			fail += math.Floor(p.fail)
			slow += math.Floor(p.slow)
		}
		look := float64(k) + phase // seconds since the first sample
		if req >= minRequests {
			if res.errAt < 0 && provenAbove(fail, req, p0err, alpha) {
				res.errAt = look
			}
			if res.slowAt < 0 && provenAbove(slow, req, p0slow, alpha) {
				res.slowAt = look
			}
		}
	}
	return res
}

// simWalk is the metrics simulator's random walk around 1 (internal/simulator.walk).
func simWalk(x, z, amp float64) float64 {
	x += 0.2*(1-x) + amp*0.5*z
	return min(max(x, 1-2.5*amp), 1+2.5*amp)
}

// binomialCount rounds an expected count to an integer at random, keeping its mean.
func binomialCount(rng *rand.Rand, mean float64) int {
	n := math.Floor(mean)
	if rng.Float64() < mean-n {
		n++
	}
	return int(n)
}

// binomial draws from Binomial(n, p) by inversion (n is at most a few hundred here).
func binomial(rng *rand.Rand, n int, p float64) int {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if p > 0.5 {
		return n - binomial(rng, n, 1-p)
	}
	u := rng.Float64()
	q := 1 - p
	prob := math.Pow(q, float64(n))
	cdf := prob
	k := 0
	for u > cdf && k < n {
		prob *= float64(n-k) / float64(k+1) * p / q
		cdf += prob
		k++
	}
	return k
}

// slowShare is the share of requests slower than bound seconds for the metrics simulator's
// latency model at the given p99 (internal/simulator.latencyFor: log-normal with sigma 0.5 whose
// p99, read from the buckets as histogram_quantile does, is p99).
func slowShare(p99, bound float64) float64 {
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	const sigma = 0.5
	cdf := func(median, le float64) float64 {
		return 0.5 * math.Erfc(-(math.Log(le)-math.Log(median))/(sigma*math.Sqrt2))
	}
	quantile := func(median float64) float64 {
		rank, lower, below := 0.99, 0.0, 0.0
		for _, le := range buckets {
			c := cdf(median, le)
			if c >= rank {
				return lower + (le-lower)*(rank-below)/(c-below)
			}
			lower, below = le, c
		}
		return buckets[len(buckets)-1]
	}
	lo, hi := math.Log(1e-5), math.Log(100.0)
	for range 100 {
		mid := (lo + hi) / 2
		if quantile(math.Exp(mid)) < p99 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return 1 - cdf(math.Exp((lo+hi)/2), bound)
}

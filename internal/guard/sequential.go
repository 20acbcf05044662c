package guard

import (
	"math"
	"strconv"
	"strings"
)

// The early verdict is a sequential test on counts: of n requests of the new revision, x
// failed (5xx, or slower than the bound). The rule holds the true share of failures p to a
// bound p0; the guard wants to know, as early as the evidence allows, whether p > p0.
//
// Why this test. The guard looks every second for as long as a rollout is watched, so a test
// whose error rate holds for one look (a z-test, a fixed-sample binomial bound) would, asked
// thousands of times, eventually fire on a healthy revision. Wald's sequential probability
// ratio test does not: its likelihood ratio
//
//	L_k(x, n) = (p1/p0)^x * ((1-p1)/(1-p0))^(n-x),   p1 = k*p0,
//
// is, under p = p0, a nonnegative martingale with mean 1 over the sequence of requests, so by
// Ville's inequality P(L ever reaches 1/alpha) <= alpha, however often and at whatever times
// it is looked at (Wald 1945; Ville 1939; Ramdas et al., "Game-theoretic statistics and
// safe anytime-valid inference", 2023). For p < p0 it is a supermartingale (E[L_1] is linear
// in p, 1 at p0 and increasing), so a revision below the bound trips it less often still.
// Batching the requests into scrapes only removes looks, which cannot add false verdicts.
//
// Which k. One k makes the test fast near k*p0 and blind below about 1.4*p0 (k=2) or slow
// far above it. An average of SPRTs over several k, with weights fixed in advance, is itself
// a nonnegative martingale with mean 1 (Robbins' mixture method), so the same Ville bound
// holds with no split of alpha, and it reacts at the speed of the best k: a revision failing
// 30 % against a 5 % bound trips it in about 70 requests, one at 2x the bound in about 1,000.
// A one-sided binomial bound with alpha spent across looks would need the number of looks
// fixed in advance, and would spend most of alpha on looks that come to nothing.
//
// Between the bound and about 1.4x it the test may never decide: the rule's `for` does, as
// before. The early verdict only adds rollbacks that the counts prove.

// earlyMultiples are the alternatives p1 = k*p0 of the mixture, equally weighted; those with
// p1 >= 1 are left out (the weights of the others still sum to 1).
var earlyMultiples = []float64{1.5, 2, 4, 8, 16}

// logLikelihoodRatio is log L_k for x failures of n with p1 = k*p0: Wald's SPRT statistic.
func logLikelihoodRatio(x, n, p0, p1 float64) float64 {
	return x*math.Log(p1/p0) + (n-x)*math.Log((1-p1)/(1-p0))
}

// evidenceAbove is the log of the mixture likelihood ratio that the share of failures is above
// p0, for x failures of n requests: 0 with no requests, and it grows with evidence. x is
// clamped to [0, n] (counters read at slightly different times may disagree by a request).
func evidenceAbove(x, n, p0 float64) float64 {
	if !(n > 0) || !(p0 > 0 && p0 < 1) {
		return 0
	}
	x = min(max(x, 0), n)
	var logs []float64
	for _, k := range earlyMultiples {
		if p1 := k * p0; p1 < 1 {
			logs = append(logs, logLikelihoodRatio(x, n, p0, p1))
		}
	}
	if len(logs) == 0 {
		return 0
	}
	// log of the mean of exp(logs), without overflow.
	top := math.Inf(-1)
	for _, l := range logs {
		top = max(top, l)
	}
	sum := 0.0
	for _, l := range logs {
		sum += math.Exp(l - top)
	}
	return top + math.Log(sum/float64(len(logs)))
}

// provenAbove tells whether x failures of n show, with confidence 1-alpha valid at every look,
// that the share of failures is above p0.
func provenAbove(x, n, p0, alpha float64) bool {
	if !(alpha > 0 && alpha < 1) {
		return false
	}
	return evidenceAbove(x, n, p0) >= math.Log(1/alpha)
}

// formatConfidence writes a confidence as an SRE reads it: 0.999999999 -> "1-1e-9",
// 0.95 -> "95%".
func formatConfidence(c float64) string {
	alpha := 1 - c
	if alpha >= 0.001 {
		return strconv.FormatFloat(c*100, 'f', -1, 64) + "%"
	}
	s := strconv.FormatFloat(alpha, 'e', 0, 64) // "1e-09"
	s = strings.Replace(strings.Replace(s, "e-0", "e-", 1), "e+0", "e+", 1)
	return "1-" + s
}

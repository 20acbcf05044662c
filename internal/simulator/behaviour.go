package simulator

import (
	"math"
	"strings"
	"sync"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Buckets are the upper bounds of the http_request_duration_seconds histogram.
var Buckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// MiB is a mebibyte in bytes.
const MiB = 1 << 20

// Behaviour is how the pods of one revision serve, per pod. design.md's table sets it from the
// image tag.
type Behaviour struct {
	// RPS is requests per second.
	RPS float64
	// ErrorRatio is the share of responses with code 500; NotFoundRatio of code 404.
	ErrorRatio    float64
	NotFoundRatio float64
	// P99 is the 99th percentile of latency in seconds, as histogram_quantile reads it from
	// Buckets.
	P99 float64
	// CPU is cores in use.
	CPU float64
	// Memory is the working set in bytes at start; MemoryGrowth adds bytes per second since.
	Memory       float64
	MemoryGrowth float64
	// Serving is false for pods that never become ready: they get no requests.
	Serving bool
}

// Healthy is the behaviour of an image whose tag names no fault.
var Healthy = Behaviour{
	RPS:           50,
	ErrorRatio:    0.002,
	NotFoundRatio: 0.005,
	P99:           0.120,
	CPU:           0.1,
	Memory:        120 * MiB,
	Serving:       true,
}

// BehaviourFor returns the behaviour of pods running image (the sandbox's metrics simulator and
// opsdeck --demo both read it), from the words its tag contains:
// bad (30 % 5xx), slow (p99 2 s), hog (0.95 cores), leak (+10 MiB/s), crash (no traffic); they
// combine ("v2-slow-leak").
func BehaviourFor(image string) Behaviour {
	b := Healthy
	tag := strings.ToLower(domain.ImageTag(image))
	if strings.Contains(tag, "bad") {
		b.ErrorRatio = 0.3
	}
	if strings.Contains(tag, "slow") {
		b.P99 = 2.0
	}
	if strings.Contains(tag, "hog") {
		b.CPU = 0.95
	}
	if strings.Contains(tag, "leak") {
		b.MemoryGrowth = 10 * MiB
	}
	if strings.Contains(tag, "crash") {
		b.Serving = false
		b.RPS = 0
		b.CPU = 0.01
	}
	return b
}

// latency is a log-normal latency distribution whose p99, read from Buckets the way
// histogram_quantile reads it (linear within a bucket), is the behaviour's P99.
type latency struct {
	median float64
}

// sigma is the log-normal shape of every latency distribution.
const sigma = 0.5

var (
	latencyMu    sync.Mutex
	latencyCache = map[float64]latency{}
)

// latencyFor returns the distribution whose bucketed p99 is p99 seconds.
func latencyFor(p99 float64) latency {
	latencyMu.Lock()
	defer latencyMu.Unlock()
	if l, ok := latencyCache[p99]; ok {
		return l
	}
	// The bucketed p99 grows with the median: bisect on a log scale.
	lo, hi := math.Log(1e-5), math.Log(100.0)
	var cdf [16]float64
	for range 100 {
		mid := (lo + hi) / 2
		l := latency{median: math.Exp(mid)}
		l.cdf(1, cdf[:len(Buckets)])
		if bucketQuantile(0.99, Buckets, cdf[:len(Buckets)], 1) < p99 {
			lo = mid
		} else {
			hi = mid
		}
	}
	l := latency{median: math.Exp((lo + hi) / 2)}
	latencyCache[p99] = l
	return l
}

// cdf writes the share of requests at or under each bucket bound into out, with the median
// scaled by scale.
func (l latency) cdf(scale float64, out []float64) {
	lm := math.Log(l.median * scale)
	for i, le := range Buckets {
		out[i] = 0.5 * math.Erfc(-(math.Log(le)-lm)/(sigma*math.Sqrt2))
	}
}

// LatencyCDF is the share of a behaviour's requests at or under each bound of Buckets: what
// its latency histogram's buckets count, per request served.
func LatencyCDF(p99 float64) []float64 {
	out := make([]float64, len(Buckets))
	latencyFor(p99).cdf(1, out)
	return out
}

// mean is the mean latency in seconds, with the median scaled by scale.
func (l latency) mean(scale float64) float64 {
	return l.median * scale * math.Exp(sigma*sigma/2)
}

// bucketQuantile is histogram_quantile over cumulative bucket counts (upper bounds les, total
// in the +Inf bucket): linear interpolation inside the bucket that holds the rank, the first
// bucket starting at 0, and the last finite bound when the rank falls in +Inf.
func bucketQuantile(q float64, les, cum []float64, total float64) float64 {
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, le := range les {
		if cum[i] >= rank {
			in := cum[i] - below
			if in <= 0 {
				return le
			}
			return lower + (le-lower)*(rank-below)/in
		}
		lower, below = le, cum[i]
	}
	return les[len(les)-1]
}

// Share is one pod's part of a set of pods read together: its request rate, its behaviour's
// p99 and a factor on its latency (noise around 1).
type Share struct {
	RPS, P99, Scale float64
}

// MixedP99 is the p99 histogram_quantile reads from the summed buckets of several pods (the
// per-service and per-revision p99 of opsdeck's queries), with this package's latency
// distributions; NaN when none serves.
func MixedP99(pods []Share) float64 {
	cum := make([]float64, len(Buckets))
	one := make([]float64, len(Buckets))
	var total float64
	for _, p := range pods {
		if p.RPS <= 0 {
			continue
		}
		scale := p.Scale
		if scale <= 0 {
			scale = 1
		}
		latencyFor(p.P99).cdf(scale, one)
		for i := range cum {
			cum[i] += p.RPS * one[i]
		}
		total += p.RPS
	}
	return bucketQuantile(0.99, Buckets, cum, total)
}

package demo

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Per-pod behaviour of a healthy revision, from the design's behaviour table.
const (
	healthyRPS     = 50.0
	healthyErrors  = 0.002
	badErrors      = 0.30
	healthyP99     = 0.120
	slowP99        = 1.8
	healthyCPU     = 0.10
	hogCPU         = 0.95
	crashCPU       = 0.02
	cpuRequest     = 0.25 // per-pod CPU request of every demo service: healthy pods use 40 %
	healthyMemory  = 120 << 20
	leakPerSecond  = 10 << 20
	historyKeep    = 7200 // seconds of recorded samples per series
	metricsQueries = 5    // one query per metric, whatever the number of services
)

// noise is deterministic noise in [-1, 1] for a pod, a metric and a second.
func noise(pod string, m domain.Metric, sec int64) float64 {
	h := hash64(pod, string(m), strconv.FormatInt(sec, 10))
	return float64(h%20001)/10000 - 1
}

// podSample is what one pod reports at one time.
type podSample struct {
	served        bool // Ready pods receive traffic
	rps, errRatio float64
	p99, cpu, mem float64
}

func samplePod(p *pod, b behaviour, t time.Time) podSample {
	sec := t.Unix()
	n := func(m domain.Metric) float64 { return noise(p.name, m, sec) }
	var s podSample
	s.served = p.ready(t)
	if s.served {
		s.rps = healthyRPS * (1 + 0.06*n(domain.MetricRequestRate))
	}
	s.errRatio = healthyErrors * (1 + 0.3*n(domain.MetricErrorRatio))
	if b.bad {
		s.errRatio = badErrors * (1 + 0.05*n(domain.MetricErrorRatio))
	}
	s.p99 = healthyP99 * (1 + 0.08*n(domain.MetricLatencyP99))
	if b.slow {
		s.p99 = slowP99 * (1 + 0.05*n(domain.MetricLatencyP99))
	}
	s.cpu = healthyCPU * (1 + 0.1*n(domain.MetricCPU))
	switch {
	case b.crash:
		s.cpu = crashCPU * (1 + 0.2*n(domain.MetricCPU))
	case b.hog:
		s.cpu = hogCPU * (1 + 0.02*n(domain.MetricCPU))
	}
	s.mem = healthyMemory * (1 + 0.01*n(domain.MetricMemory))
	if b.leak {
		s.mem += leakPerSecond * math.Max(0, t.Sub(p.created).Seconds())
	}
	return s
}

// weighted is one pod's latency distribution in a mixture, with its share of traffic.
type weighted struct{ w, p99 float64 }

// mixtureP99 is the 99th percentile of the latencies of several pods together, as
// histogram_quantile over summed buckets gives it: each pod's latency is modelled as
// exponential with its own p99, weighted by the pod's request rate.
func mixtureP99(ps []weighted) float64 {
	var total float64
	hi := 0.0
	for _, p := range ps {
		total += p.w
		hi = math.Max(hi, p.p99)
	}
	if total == 0 {
		return math.NaN()
	}
	tail := func(x float64) float64 { // P(L > x) of the mixture
		var s float64
		for _, p := range ps {
			s += p.w / total * math.Exp(-x*math.Log(100)/p.p99)
		}
		return s
	}
	lo, up := 0.0, hi*2
	for range 50 {
		mid := (lo + up) / 2
		if tail(mid) > 0.01 {
			lo = mid
		} else {
			up = mid
		}
	}
	return (lo + up) / 2
}

// aggregate combines pods into one set of values: rates are summed, ratios are summed
// numerators over summed denominators, the p99 is that of the merged distribution, and CPU
// and memory are per pod (summed usage over the number of pods).
func aggregate(samples []podSample) domain.Values {
	v := domain.Values{}
	if len(samples) == 0 {
		return v
	}
	var rps, errs, cpu, mem float64
	var lat []weighted
	for _, s := range samples {
		cpu += s.cpu
		mem += s.mem
		if s.served {
			rps += s.rps
			errs += s.rps * s.errRatio
			lat = append(lat, weighted{s.rps, s.p99})
		}
	}
	n := float64(len(samples))
	v[domain.MetricRequestRate] = rps
	v[domain.MetricCPU] = cpu / n
	v[domain.MetricMemory] = mem / n
	if rps > 0 {
		v[domain.MetricErrorRatio] = errs / rps
		v[domain.MetricLatencyP99] = mixtureP99(lat)
	}
	return v
}

func sampleRS(rs *replicaSet, pods []*pod, t time.Time) []podSample {
	b := rs.tmpl.behaviour()
	out := make([]podSample, 0, len(pods))
	for _, p := range pods {
		out = append(out, samplePod(p, b, t))
	}
	return out
}

// frame computes the values of every Deployment and ReplicaSet with pods at t.
func (s *sim) frame(t time.Time, want map[string]bool) domain.MetricsFrame {
	f := domain.MetricsFrame{At: t, Services: map[string]domain.Values{}, ReplicaSets: map[string]domain.Values{}, Queries: metricsQueries}
	for _, d := range s.deps {
		if want != nil && !want[d.key()] {
			continue
		}
		all, perRS := s.values(d, t)
		f.Services[d.key()] = all
		for k, v := range perRS {
			f.ReplicaSets[k] = v
		}
	}
	for _, bg := range s.bgs {
		if want != nil && !want[bg.key()] {
			continue
		}
		all, perRS := s.blueGreenValues(bg, t)
		f.Services[bg.key()] = all
		for k, v := range perRS {
			f.ReplicaSets[k] = v
		}
	}
	return f
}

func (s *sim) values(d *deployment, t time.Time) (domain.Values, map[string]domain.Values) {
	var all []podSample
	perRS := map[string]domain.Values{}
	for _, rs := range d.rss {
		if len(rs.pods) == 0 {
			continue
		}
		ss := sampleRS(rs, rs.pods, t)
		all = append(all, ss...)
		perRS[namespace+"/"+rs.name] = aggregate(ss)
	}
	return aggregate(all), perRS
}

// history is one series' recorded samples, one per simulated second.
type history struct {
	secs []int64
	vals []domain.Values
}

func (h *history) add(sec int64, v domain.Values) {
	if n := len(h.secs); n > 0 && h.secs[n-1] >= sec {
		h.vals[n-1] = v
		return
	}
	h.secs = append(h.secs, sec)
	h.vals = append(h.vals, v)
	if len(h.secs) > historyKeep {
		drop := len(h.secs) - historyKeep
		h.secs = append(h.secs[:0], h.secs[drop:]...)
		h.vals = append(h.vals[:0], h.vals[drop:]...)
	}
}

// at is the latest sample at or before sec.
func (h *history) at(sec int64) (domain.Values, bool) {
	i := sort.Search(len(h.secs), func(i int) bool { return h.secs[i] > sec })
	if i == 0 {
		return nil, false
	}
	return h.vals[i-1], true
}

// fresh is the sample of sec itself or of the second before: a ReplicaSet that no longer has
// pods has no fresh samples.
func (h *history) fresh(sec int64) (domain.Values, bool) {
	i := sort.Search(len(h.secs), func(i int) bool { return h.secs[i] > sec })
	if i == 0 || h.secs[i-1] < sec-1 {
		return nil, false
	}
	return h.vals[i-1], true
}

func (s *sim) record(t time.Time) {
	sec := t.Unix()
	for _, d := range s.deps {
		all, perRS := s.values(d, t)
		s.series(d.key()).add(sec, all)
		for k, v := range perRS {
			s.series(k).add(sec, v)
		}
	}
	for _, bg := range s.bgs {
		all, perRS := s.blueGreenValues(bg, t)
		s.series(bg.key()).add(sec, all)
		for k, v := range perRS {
			s.series(k).add(sec, v)
		}
	}
}

func (s *sim) series(key string) *history {
	h := s.hist[key]
	if h == nil {
		h = &history{}
		s.hist[key] = h
	}
	return h
}

// backfill returns a service's history over window, one point per step, for the whole service
// and for each of its ReplicaSets that ran pods in the window. Before the simulation started
// the service ran its seeded revision, steadily.
func (s *sim) backfill(d *deployment, now time.Time, window, step time.Duration) []domain.Series {
	if step <= 0 {
		step = 2 * time.Second
	}
	if window <= 0 {
		window = 10 * time.Minute
	}
	type key struct {
		rs string
		m  domain.Metric
	}
	points := map[key][]domain.Sample{}
	var order []string
	seen := map[string]bool{}
	add := func(rs string, t time.Time, v domain.Values) {
		if !seen[rs] {
			seen[rs] = true
			order = append(order, rs)
		}
		for _, m := range domain.Metrics {
			if x, ok := v.Get(m); ok {
				points[key{rs, m}] = append(points[key{rs, m}], domain.Sample{T: t, V: x})
			}
		}
	}
	rsNames := map[string]bool{d.initial.name: true}
	for _, rs := range d.rss {
		rsNames[rs.name] = true
	}
	first := now.Add(-window)
	for t := first; !t.After(now); t = t.Add(step) {
		if t.Before(s.start) {
			v := aggregate(sampleRS(d.initial, d.initial.pods, t))
			add("", t, v)
			add(d.initial.name, t, v)
			continue
		}
		if v, ok := s.series(d.key()).at(t.Unix()); ok {
			add("", t, v)
		}
		for name := range rsNames {
			if h, ok := s.hist[namespace+"/"+name]; ok {
				if v, ok := h.fresh(t.Unix()); ok {
					add(name, t, v)
				}
			}
		}
	}
	sort.Strings(order) // "" (the whole service) first, then ReplicaSets by name
	var out []domain.Series
	for _, rs := range order {
		for _, m := range domain.Metrics {
			if ps := points[key{rs, m}]; len(ps) > 0 {
				out = append(out, domain.Series{Metric: m, ReplicaSet: rs, Points: ps})
			}
		}
	}
	return out
}

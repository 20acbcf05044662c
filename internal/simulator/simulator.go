// Package simulator simulates the per-pod metrics of the services that the sandbox runs: the
// cAdvisor and HTTP instrumentation series that a real cluster has, with values that follow
// design.md's behaviour table by image tag. A Simulator is a prometheus.Collector.
package simulator

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Pod is one running pod to simulate.
type Pod struct {
	Namespace string
	Name      string
	Container string
	Image     string
	// Started is when the pod started; a leak grows from it. Zero means when first upserted.
	Started time.Time
}

type podKey struct{ ns, name string }

// pod is a simulated pod and its counters. Counters accumulate as floats and are written
// rounded down, so they only go up and the histogram stays consistent.
type pod struct {
	Pod
	b       Behaviour
	lat     latency
	last    time.Time // counters are advanced up to here
	noise   float64   // slow random walk around 1: traffic and CPU
	jitter  float64   // slow random walk around 1: latency
	cpu     float64
	ok      float64
	missing float64
	failed  float64
	count   float64
	sum     float64
	buckets [16]float64 // cumulative per bound of Buckets
	labels  [3]string   // namespace, pod, container
}

// Simulator keeps a set of pods and serves their metrics, computed at scrape time.
type Simulator struct {
	mu   sync.Mutex
	now  func() time.Time
	rng  *rand.Rand
	pods map[podKey]*pod
	// order is pods sorted for Collect; nil after a pod is added or removed.
	order []*pod

	cpuDesc, reqDesc, memDesc, durDesc, podsDesc *prometheus.Desc
	cdfBuf                                       [16]float64
}

// Option configures a Simulator.
type Option func(*Simulator)

// WithClock makes the simulator read time from now (tests advance it by hand).
func WithClock(now func() time.Time) Option { return func(s *Simulator) { s.now = now } }

// WithSeed makes the noise reproducible.
func WithSeed(seed uint64) Option {
	return func(s *Simulator) { s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

var podLabels = []string{"namespace", "pod", "container"}

// New returns a simulator with no pods.
func New(opts ...Option) *Simulator {
	s := &Simulator{
		now:  time.Now,
		rng:  rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		pods: map[podKey]*pod{},
		cpuDesc: prometheus.NewDesc("container_cpu_usage_seconds_total",
			"Cumulative CPU time consumed in seconds (simulated).", podLabels, nil),
		reqDesc: prometheus.NewDesc("http_requests_total",
			"HTTP requests served, by status code (simulated).", []string{"code", "namespace", "pod", "container"}, nil),
		memDesc: prometheus.NewDesc("container_memory_working_set_bytes",
			"Current working set in bytes (simulated).", podLabels, nil),
		durDesc: prometheus.NewDesc("http_request_duration_seconds",
			"HTTP request latency in seconds (simulated).", podLabels, nil),
		podsDesc: prometheus.NewDesc("opsdeck_simulator_pods",
			"Pods the metrics simulator serves metrics for.", nil, nil),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Upsert adds a pod, or updates one already known (keeping its counters).
func (s *Simulator) Upsert(p Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := podKey{p.Namespace, p.Name}
	now := s.now()
	if p.Container == "" {
		p.Container = "app"
	}
	st, ok := s.pods[k]
	if !ok {
		st = &pod{last: now, noise: 1, jitter: 1}
		s.pods[k] = st
		s.order = nil
	} else {
		s.advance(st, now)
		if p.Started.IsZero() {
			p.Started = st.Started
		}
	}
	if p.Started.IsZero() {
		p.Started = now
	}
	if st.Container != p.Container {
		s.order = nil
	}
	st.Pod = p
	st.b = BehaviourFor(p.Image)
	st.lat = latencyFor(st.b.P99)
	st.labels = [3]string{p.Namespace, p.Name, p.Container}
}

// Delete forgets a pod; its series disappear from the next scrape.
func (s *Simulator) Delete(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pods[podKey{namespace, name}]; ok {
		delete(s.pods, podKey{namespace, name})
		s.order = nil
	}
}

// Len is the number of pods.
func (s *Simulator) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pods)
}

// Describe sends the descriptors of every series.
func (s *Simulator) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.cpuDesc
	ch <- s.reqDesc
	ch <- s.memDesc
	ch <- s.durDesc
	ch <- s.podsDesc
}

// Collect advances every pod to now and sends its series. Each family is sent in the order the
// registry sorts it into (by container, namespace, pod, then code), which keeps that sort cheap.
func (s *Simulator) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ch <- prometheus.MustNewConstMetric(s.podsDesc, prometheus.GaugeValue, float64(len(s.pods)))
	if s.order == nil {
		s.order = make([]*pod, 0, len(s.pods))
		for _, p := range s.pods {
			s.order = append(s.order, p)
		}
		slices.SortFunc(s.order, func(a, b *pod) int {
			return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
	}
	for _, p := range s.order {
		s.advance(p, now)
		ch <- prometheus.MustNewConstMetric(s.cpuDesc, prometheus.CounterValue, math.Floor(p.cpu*1e6)/1e6, p.labels[:]...)
	}
	for _, p := range s.order {
		ch <- prometheus.MustNewConstMetric(s.memDesc, prometheus.GaugeValue, s.memory(p, now), p.labels[:]...)
	}
	for _, code := range []string{"200", "404", "500"} {
		for _, p := range s.order {
			if !p.b.Serving {
				continue
			}
			v := p.ok
			switch code {
			case "404":
				v = p.missing
			case "500":
				v = p.failed
			}
			l := p.labels
			ch <- prometheus.MustNewConstMetric(s.reqDesc, prometheus.CounterValue, math.Floor(v), code, l[0], l[1], l[2])
		}
	}
	for _, p := range s.order {
		if !p.b.Serving {
			continue
		}
		// The histogram keeps its map until it is written: one map per pod and scrape.
		count := uint64(p.count)
		buckets := make(map[float64]uint64, len(Buckets))
		prev := uint64(0)
		for i, le := range Buckets {
			c := min(max(uint64(p.buckets[i]), prev), count)
			buckets[le] = c
			prev = c
		}
		ch <- prometheus.MustNewConstHistogram(s.durDesc, count, p.sum, buckets, p.labels[:]...)
	}
}

// advance moves p's counters from p.last to now.
func (s *Simulator) advance(p *pod, now time.Time) {
	dt := now.Sub(p.last).Seconds()
	if dt <= 0 {
		return
	}
	p.last = now
	// Slow random walks, pulled back towards 1: a few percent of wander, like real traffic.
	p.noise = walk(p.noise, s.rng.NormFloat64(), 0.04)
	p.jitter = walk(p.jitter, s.rng.NormFloat64(), 0.03)

	p.cpu += p.b.CPU * p.noise * dt
	if !p.b.Serving {
		return
	}
	n := p.b.RPS * p.noise * dt
	errRatio := min(max(p.b.ErrorRatio*(1+0.05*s.rng.NormFloat64()), 0), 1)
	notFound := min(p.b.NotFoundRatio, 1-errRatio)
	p.failed += n * errRatio
	p.missing += n * notFound
	p.ok += n * (1 - errRatio - notFound)
	p.count += n
	p.sum += n * p.lat.mean(p.jitter)
	cdf := s.cdfBuf[:len(Buckets)]
	p.lat.cdf(p.jitter, cdf)
	for i := range cdf {
		p.buckets[i] += n * cdf[i]
	}
}

// memory is p's working set at now.
func (s *Simulator) memory(p *pod, now time.Time) float64 {
	m := p.b.Memory * (1 + 0.5*(p.jitter-1))
	if p.b.MemoryGrowth > 0 {
		m += p.b.MemoryGrowth * max(now.Sub(p.Started).Seconds(), 0)
	}
	return math.Round(m)
}

// walk takes one step of a random walk around 1 with spread amp, clamped to 1±2.5·amp.
func walk(x, z, amp float64) float64 {
	x += 0.2*(1-x) + amp*0.5*z
	return min(max(x, 1-2.5*amp), 1+2.5*amp)
}

package demo

import (
	"context"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/simulator"
)

// metricsSource is the demo's Prometheus: the values a service's pods would report, computed
// from the sandbox simulator's behaviour table (simulator.BehaviourFor) for the pods the
// simulation ran at the time asked, so a frame or a backfill is a function of the clock.
type metricsSource struct {
	sim   *sim
	clock domain.Clock
}

// queriesPerFrame is what a frame would cost in Prometheus queries: one per metric.
const queriesPerFrame = 5

// noise is deterministic noise in [-1, 1] for a pod, a metric and a second.
func noise(pod string, m domain.Metric, sec int64) float64 {
	h := fnv.New64a()
	h.Write([]byte(pod + "\x00" + string(m) + "\x00" + strconv.FormatInt(sec, 10)))
	return float64(h.Sum64()%20001)/10000 - 1
}

// aggregate reads pods together as opsdeck's queries do: request rates summed, the error
// ratio as summed errors over summed requests, the p99 from summed buckets, CPU and memory per
// pod. Pods that are not Ready serve nothing.
func aggregate(pods []*podLife, t time.Time) domain.Values {
	v := domain.Values{}
	if len(pods) == 0 {
		return v
	}
	sec := t.Unix()
	var rps, errs, cpu, mem float64
	var shares []simulator.Share
	for _, p := range pods {
		b := simulator.BehaviourFor(p.image)
		n := func(m domain.Metric) float64 { return noise(p.name, m, sec) }
		cpu += b.CPU * (1 + 0.1*n(domain.MetricCPU))
		mem += b.Memory*(1+0.01*n(domain.MetricMemory)) + b.MemoryGrowth*math.Max(0, t.Sub(p.created).Seconds())
		if !p.ready(t) || !b.Serving {
			continue
		}
		r := b.RPS * (1 + 0.06*n(domain.MetricRequestRate))
		rps += r
		errs += r * b.ErrorRatio * (1 + 0.1*n(domain.MetricErrorRatio))
		shares = append(shares, simulator.Share{RPS: r, P99: b.P99, Scale: 1 + 0.04*n(domain.MetricLatencyP99)})
	}
	n := float64(len(pods))
	v[domain.MetricRequestRate] = rps
	v[domain.MetricCPU] = cpu / n
	v[domain.MetricMemory] = mem / n
	if rps > 0 {
		v[domain.MetricErrorRatio] = errs / rps
		v[domain.MetricLatencyP99] = simulator.MixedP99(shares)
	}
	return v
}

// values are a service's values at t and those of each of its ReplicaSets with pods.
func (m *metricsSource) values(service string, t time.Time) (domain.Values, map[string]domain.Values) {
	pods := m.sim.livesAt(service, t)
	byRS := map[string][]*podLife{}
	for _, p := range pods {
		byRS[p.replicaSet] = append(byRS[p.replicaSet], p)
	}
	perRS := make(map[string]domain.Values, len(byRS))
	for rs, ps := range byRS {
		perRS[rs] = aggregate(ps, t)
	}
	return aggregate(pods, t), perRS
}

// Frame computes the latest values of services and of their ReplicaSets with pods.
func (m *metricsSource) Frame(ctx context.Context, services []domain.Service) domain.MetricsFrame {
	now := m.clock.Now()
	f := domain.MetricsFrame{At: now, Services: map[string]domain.Values{}, ReplicaSets: map[string]domain.Values{}, Queries: queriesPerFrame}
	if err := ctx.Err(); err != nil {
		f.Err = err
		return f
	}
	m.sim.mu.Lock()
	defer m.sim.mu.Unlock()
	for _, svc := range services {
		if svc.Namespace != Namespace {
			continue
		}
		all, perRS := m.values(svc.Name, now)
		if len(perRS) == 0 {
			continue
		}
		f.Services[svc.Key()] = all
		for rs, v := range perRS {
			f.ReplicaSets[Namespace+"/"+rs] = v
		}
	}
	return f
}

// History backfills a service's series over window, one point per step, for the whole
// service and each ReplicaSet that ran pods then.
func (m *metricsSource) History(ctx context.Context, svc domain.Service, window, step time.Duration) ([]domain.Series, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if step <= 0 {
		step = 2 * time.Second
	}
	if window <= 0 {
		window = 10 * time.Minute
	}
	now := m.clock.Now()
	m.sim.mu.Lock()
	defer m.sim.mu.Unlock()
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
		for _, metric := range domain.Metrics {
			if x, ok := v.Get(metric); ok {
				points[key{rs, metric}] = append(points[key{rs, metric}], domain.Sample{T: t, V: x})
			}
		}
	}
	for t := now.Add(-window); !t.After(now); t = t.Add(step) {
		all, perRS := m.values(svc.Name, t)
		if len(perRS) == 0 {
			continue
		}
		add("", t, all)
		for rs, v := range perRS {
			add(rs, t, v)
		}
	}
	sort.Strings(order) // "" (the whole service) first, then ReplicaSets by name
	var out []domain.Series
	for _, rs := range order {
		for _, metric := range domain.Metrics {
			if ps := points[key{rs, metric}]; len(ps) > 0 {
				out = append(out, domain.Series{Metric: metric, ReplicaSet: rs, Points: ps})
			}
		}
	}
	return out, nil
}

// Counters are the request counters of the pods of rss, as Prometheus would have last scraped
// them: requests served since each pod became Ready, the 5xx among them, and the latency
// histogram, from the same behaviour table as the frames. The guard's early verdict reads them.
func (m *metricsSource) Counters(ctx context.Context, rss []domain.ReplicaSetRef) ([]domain.PodCounters, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(rss))
	for _, r := range rss {
		if r.Namespace == Namespace {
			want[r.Name] = true
		}
	}
	now := m.clock.Now()
	m.sim.mu.Lock()
	defer m.sim.mu.Unlock()
	var out []domain.PodCounters
	for _, p := range m.sim.livesAt("", now) {
		if !want[p.replicaSet] {
			continue
		}
		b := simulator.BehaviourFor(p.image)
		c := domain.PodCounters{Namespace: Namespace, Pod: p.name, ReplicaSet: p.replicaSet}
		if p.ready(now) && b.Serving {
			c.Requests = math.Floor(b.RPS * now.Sub(p.readyAt).Seconds())
			c.Errors = math.Floor(c.Requests * b.ErrorRatio)
			for i, share := range simulator.LatencyCDF(b.P99) {
				c.Latency = append(c.Latency, domain.Bucket{LE: simulator.Buckets[i], Count: math.Floor(c.Requests * share)})
			}
			c.Latency = append(c.Latency, domain.Bucket{LE: math.Inf(1), Count: c.Requests})
		}
		out = append(out, c)
	}
	return out, nil
}

package metrics

import (
	"math"

	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// group is a ReplicaSet (or, for p99 per deployment, a Deployment) in a namespace.
type group struct{ ns, name string }

// rsData is what the frame's queries returned for one ReplicaSet.
type rsData struct {
	requests, errors float64 // rates: numerators and denominators of the error ratio
	cpu, memory      float64 // sums over pods
	cpuPods, memPods float64 // how many pods the sums are over
	p99              float64
	hasRequests      bool
	hasP99           bool
}

// raw is what the frame's queries returned, indexed once by ReplicaSet.
type raw struct {
	index         map[group]int
	rs            []rsData
	p99Deployment map[group]float64
}

func (r *raw) get(g group) (*rsData, bool) {
	i, ok := r.index[g]
	if !ok {
		return nil, false
	}
	return &r.rs[i], true
}

func (r *raw) getOrAdd(g group) *rsData {
	if i, ok := r.index[g]; ok {
		return &r.rs[i]
	}
	r.index[g] = len(r.rs)
	r.rs = append(r.rs, rsData{})
	return &r.rs[len(r.rs)-1]
}

// rawFrom reads the results of the frame's queries; label holds the ReplicaSet name.
func rawFrom(res [numFrameQueries]model.Value, label string) raw {
	n := 0
	if v, ok := res[qRequests].(model.Vector); ok {
		n = len(v)
	}
	r := raw{index: make(map[group]int, n), rs: make([]rsData, 0, n), p99Deployment: map[group]float64{}}
	ln := model.LabelName(label)
	for q, v := range res {
		vec, _ := v.(model.Vector)
		for _, s := range vec {
			ns := string(s.Metric["namespace"])
			x := float64(s.Value)
			if q == qP99Deployment {
				if d := string(s.Metric[labelDeployment]); d != "" {
					r.p99Deployment[group{ns, d}] = x
				}
				continue
			}
			name := string(s.Metric[ln])
			if name == "" {
				continue // a pod whose name is not a ReplicaSet's and a suffix
			}
			d := r.getOrAdd(group{ns, name})
			switch q {
			case qRequests:
				d.requests, d.hasRequests = x, true
			case qErrors:
				d.errors = x
			case qCPU:
				d.cpu = x
			case qMemory:
				d.memory = x
			case qPods:
				switch string(s.Metric[labelMetric]) {
				case string(domain.MetricCPU):
					d.cpuPods = x
				case string(domain.MetricMemory):
					d.memPods = x
				}
			case qP99:
				d.p99, d.hasP99 = x, true
			}
		}
	}
	return r
}

// sums accumulates numerators and denominators over ReplicaSets.
type sums struct {
	requests, errors float64
	hasRequests      bool
	cpu, cpuPods     float64
	memory, memPods  float64
}

func (s *sums) add(d *rsData) {
	if d.hasRequests {
		s.requests += d.requests
		s.errors += d.errors // no 5xx series: no errors
		s.hasRequests = true
	}
	if d.cpuPods > 0 {
		s.cpu += d.cpu
		s.cpuPods += d.cpuPods
	}
	if d.memPods > 0 {
		s.memory += d.memory
		s.memPods += d.memPods
	}
}

// values turns the sums into metrics: ratios of summed numerators over summed denominators,
// and per-pod averages as summed usage over summed pod counts.
func (s *sums) values(into domain.Values) {
	if s.hasRequests {
		into[domain.MetricRequestRate] = s.requests
		if s.requests > 0 {
			into[domain.MetricErrorRatio] = s.errors / s.requests
		}
	}
	if s.cpuPods > 0 {
		into[domain.MetricCPU] = s.cpu / s.cpuPods
	}
	if s.memPods > 0 {
		into[domain.MetricMemory] = s.memory / s.memPods
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// aggregate maps ReplicaSets to services and computes each one's values, and each of their
// ReplicaSets' (keyed namespace/name). A service's ReplicaSets come from Service.ReplicaSets;
// a service that lists none takes those whose name is its name and a hash.
func aggregate(r raw, services []domain.Service) (map[string]domain.Values, map[string]domain.Values) {
	svcOut := make(map[string]domain.Values, len(services))
	rsOut := make(map[string]domain.Values, 2*len(services))
	var byDeployment map[group][]string // built only when a service lists no ReplicaSet

	var names []string
	for _, svc := range services {
		names = names[:0]
		for _, rs := range svc.ReplicaSets {
			names = append(names, rs.Name)
		}
		if len(names) == 0 {
			if byDeployment == nil {
				byDeployment = indexByDeployment(r)
			}
			names = append(names, byDeployment[group{svc.Namespace, svc.Name}]...)
		}

		// A ReplicaSet alone with pods in its Deployment has its Deployment's p99: the per
		// ReplicaSet p99 is asked only for services with more than one (detailServices).
		running := map[string]int{}
		for _, name := range names {
			if d, ok := r.get(group{svc.Namespace, name}); ok && d.hasRequests {
				running[deploymentOf(name)]++
			}
		}
		var total sums
		p99 := math.NaN()
		for _, name := range names {
			if d, ok := r.get(group{svc.Namespace, name}); ok {
				if !d.hasP99 && d.hasRequests && running[deploymentOf(name)] == 1 {
					d.p99, d.hasP99 = r.p99Deployment[group{svc.Namespace, deploymentOf(name)}]
				}
				var one sums
				one.add(d)
				total.add(d)
				v := make(domain.Values, len(domain.Metrics))
				one.values(v)
				if d.hasP99 && finite(d.p99) {
					v[domain.MetricLatencyP99] = d.p99
				}
				if len(v) > 0 {
					rsOut[svc.Namespace+"/"+name] = v
				}
			}
			// The p99 of a service whose ReplicaSets belong to two Deployments (blue-green) is
			// the larger of theirs: an upper bound of the p99 of all its requests.
			if x, ok := r.p99Deployment[group{svc.Namespace, deploymentOf(name)}]; ok && finite(x) && !(x <= p99) {
				p99 = x
			}
		}
		v := make(domain.Values, len(domain.Metrics))
		total.values(v)
		if finite(p99) {
			v[domain.MetricLatencyP99] = p99
		}
		if len(v) > 0 {
			svcOut[svc.Key()] = v
		}
	}
	return svcOut, rsOut
}

// indexByDeployment lists the ReplicaSets seen in r by namespace and Deployment name.
func indexByDeployment(r raw) map[group][]string {
	out := map[group][]string{}
	for g := range r.index {
		if d := deploymentOf(g.name); d != "" {
			k := group{g.ns, d}
			out[k] = append(out[k], g.name)
		}
	}
	return out
}

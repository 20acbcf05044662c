package metrics

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// The counters the guard's early verdict counts, by the names design.md gives (the common HTTP
// instrumentation): requests by code, and the request duration histogram.
const (
	requestsCounter = "http_requests_total"
	latencyBuckets  = "http_request_duration_seconds_bucket"
	labelCount      = "opsdeck_count" // tells the three parts of the counters query apart
)

var podName = regexp.MustCompile(`^` + podToReplicaSet + `$`)

// Counters reads, with one instant query, the request counters of the given ReplicaSets' pods
// (by name) as last scraped: all requests, 5xx responses, and the latency histogram's
// buckets, each summed over the pod's containers (and, for requests, codes). Values are the
// pods' raw counters, not rates: a new pod's start at 0, so their sum is what a revision
// served since its first sample (the guard adjusts for restarts).
func (s *Source) Counters(ctx context.Context, rss []domain.ReplicaSetRef) ([]domain.PodCounters, error) {
	q := countersQuery(rss)
	if q == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, _, _, err := s.api.Query(ctx, q, s.now(), v1.WithTimeout(s.timeout))
	if err != nil {
		return nil, s.wrap("counters", err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, s.wrap("counters", fmt.Errorf("answer is a %s, not a vector", v.Type()))
	}
	return parseCounters(vec), nil
}

// countersQuery is the one query of Counters, scoped to the namespaces and the pods of rss; ""
// when they have no pod.
func countersQuery(rss []domain.ReplicaSetRef) string {
	var nss, pods []string
	for _, r := range rss {
		if len(r.Pods) > 0 {
			nss = append(nss, r.Namespace)
			pods = append(pods, r.Pods...)
		}
	}
	if len(pods) == 0 {
		return ""
	}
	sel := fmt.Sprintf(`%s,pod=~%q`, namespaceSelector(distinct(nss)), nameSet(pods))
	part := func(kind, expr string) string {
		return fmt.Sprintf(`label_replace(%s, %q, %q, "", "")`, expr, labelCount, kind)
	}
	return part("requests", fmt.Sprintf(`sum by (namespace, pod) (%s{%s})`, requestsCounter, sel)) +
		" or " + part("errors", fmt.Sprintf(`sum by (namespace, pod) (%s{%s,code=~"5.."})`, requestsCounter, sel)) +
		" or " + part("latency", fmt.Sprintf(`sum by (namespace, pod, le) (%s{%s})`, latencyBuckets, sel))
}

// parseCounters gathers the series of the counters query by pod, sorted by namespace and pod.
// A pod with requests but no 5xx series has 0 errors.
func parseCounters(vec model.Vector) []domain.PodCounters {
	byPod := map[string]*domain.PodCounters{}
	for _, smp := range vec {
		ns, pod := string(smp.Metric["namespace"]), string(smp.Metric["pod"])
		m := podName.FindStringSubmatch(pod)
		if m == nil {
			continue
		}
		key := ns + "/" + pod
		p := byPod[key]
		if p == nil {
			p = &domain.PodCounters{Namespace: ns, Pod: pod, ReplicaSet: m[1]}
			byPod[key] = p
		}
		v := float64(smp.Value)
		switch smp.Metric[labelCount] {
		case "requests":
			p.Requests = v
		case "errors":
			p.Errors = v
		case "latency":
			le, err := strconv.ParseFloat(string(smp.Metric["le"]), 64)
			if err != nil {
				continue
			}
			p.Latency = append(p.Latency, domain.Bucket{LE: le, Count: v})
		}
	}
	out := make([]domain.PodCounters, 0, len(byPod))
	for _, p := range byPod {
		sort.Slice(p.Latency, func(i, j int) bool { return p.Latency[i].LE < p.Latency[j].LE })
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Pod < out[j].Pod
	})
	return out
}

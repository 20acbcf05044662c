package metrics

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// The series that config/examples/prometheus-rules.yaml records; their names are the contract
// between that file and opsdeck.
const (
	recRequests      = "namespace_replicaset:http_requests:rate1m"
	recErrors        = "namespace_replicaset:http_requests_5xx:rate1m"
	recBuckets       = "namespace_replicaset:http_request_duration_seconds_bucket:rate1m"
	recBucketsDeploy = "namespace_deployment:http_request_duration_seconds_bucket:rate1m"
	recCPU           = "namespace_replicaset:container_cpu_usage_seconds:rate1m"
	recMemory        = "namespace_replicaset:container_memory_working_set_bytes:sum"
	recPodsCPU       = "namespace_replicaset:pods_cpu:count"
	recPodsMemory    = "namespace_replicaset:pods_memory:count"
)

// RecordedNames are every series the rules record; opsdeck reads them only when all exist.
var RecordedNames = []string{recRequests, recErrors, recBuckets, recBucketsDeploy, recCPU, recMemory, recPodsCPU, recPodsMemory}

// rulesRecheck is how often the source looks again whether the rules are loaded.
const rulesRecheck = 5 * time.Minute

// rulesApply tells whether the recorded series compute what the configured queries do: the
// default per-pod queries over a 1m window, ReplicaSets named from pods.
func rulesApply(q config.Queries, workloadLabel string) bool {
	d := config.DefaultQueries()
	return workloadLabel == "" && q.Window.Duration == time.Minute &&
		q.Requests == d.Requests && q.Errors == d.Errors && q.Latency == d.Latency && q.CPU == d.CPU && q.Memory == d.Memory
}

// deploymentSelectors match the recorded series of the services' Deployments by name (a set
// Prometheus looks up), one selector per scope (see scopesOf).
func deploymentSelectors(services []domain.Service) []string {
	var out []string
	for _, sc := range scopesOf(services, deploymentsOf) {
		out = append(out, fmt.Sprintf("%s,%s=~%s", sc.namespaces, labelDeployment, strconv.Quote(sc.alt)))
	}
	return out
}

// recordedQueries are frameQueries over the recorded series: one series per ReplicaSet (per
// bucket for latency) instead of one per pod.
func (b builder) recordedQueries(services, detail []domain.Service) [numFrameQueries]string {
	// The recorded series name their ReplicaSet in a label, as a workload label does.
	byRS := b
	byRS.label, byRS.relabel = labelReplicaSet, false
	sels := byRS.frameSelectors(services)
	series := func(name string) string {
		return union(sels, func(sel string) string { return name + "{" + sel + "}" })
	}
	pods := func(sel, name, metric string) string {
		return fmt.Sprintf(`label_replace(%s{%s}, %q, %q, "", "")`, name, sel, labelMetric, metric)
	}
	var q [numFrameQueries]string
	q[qRequests] = series(recRequests)
	q[qErrors] = series(recErrors)
	q[qCPU] = series(recCPU)
	q[qMemory] = series(recMemory)
	q[qPods] = union(sels, func(sel string) string {
		return pods(sel, recPodsCPU, string(domain.MetricCPU)) + " or " + pods(sel, recPodsMemory, string(domain.MetricMemory))
	})
	if len(detail) > 0 {
		q[qP99] = union(byRS.frameSelectors(detail), func(sel string) string {
			return fmt.Sprintf("histogram_quantile(0.99, %s{%s})", recBuckets, sel)
		})
	}
	q[qP99Deployment] = union(deploymentSelectors(services), func(sel string) string {
		return fmt.Sprintf("histogram_quantile(0.99, %s{%s})", recBucketsDeploy, sel)
	})
	return q
}

// detectRules asks Prometheus, from its index alone (no samples are read), whether every
// recorded series has been written in the last few minutes.
func (s *Source) detectRules(ctx context.Context) bool {
	end := s.now()
	match := `{__name__=~"` + strings.Join(RecordedNames, "|") + `"}`
	names, _, _, err := s.api.LabelValues(ctx, "__name__", []string{match}, end.Add(-2*time.Minute), end)
	if err != nil {
		return false
	}
	for _, want := range RecordedNames {
		if !slices.ContainsFunc(names, func(n model.LabelValue) bool { return string(n) == want }) {
			return false
		}
	}
	return true
}

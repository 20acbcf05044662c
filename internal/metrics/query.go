package metrics

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Labels that queries add with label_replace.
const (
	labelReplicaSet = "replicaset"
	labelDeployment = "deployment"
	labelMetric     = "metric" // tells the two halves of the pod-count query apart
)

// A pod's name is its ReplicaSet's name and a 5-character suffix; a ReplicaSet's name is its
// Deployment's name and the pod-template hash.
const (
	podToReplicaSet        = `(.+)-[a-z0-9]{5}`
	replicaSetToDeployment = `(.+)-[a-z0-9]+`
)

// The instant queries of a frame, always all of them, whatever the number of services.
const (
	qRequests      = iota // sum of request rates per ReplicaSet
	qErrors               // sum of 5xx rates per ReplicaSet
	qCPU                  // sum of CPU cores per ReplicaSet
	qMemory               // sum of working-set bytes per ReplicaSet
	qPods                 // pods reporting CPU, and memory, per ReplicaSet
	qP99                  // p99 latency per ReplicaSet
	qP99Deployment        // p99 latency per Deployment (all its ReplicaSets' buckets summed)
	numFrameQueries
)

// queryNames name the frame's queries in error messages.
var queryNames = [numFrameQueries]string{"requests", "errors", "cpu", "memory", "pods", "p99", "p99 per deployment"}

// builder writes PromQL from the configured per-pod templates.
type builder struct {
	q config.Queries
	// label is the label holding the ReplicaSet name: "replicaset" (made from the pod label
	// with label_replace) or the configured workload label.
	label string
	// relabel is set when label comes from label_replace.
	relabel bool
	// rules reads the series that config/examples/prometheus-rules.yaml records instead of
	// the per-pod ones.
	rules bool
}

func newBuilder(q config.Queries, workloadLabel string) builder {
	if q.Window.Duration <= 0 {
		q.Window = config.DefaultQueries().Window
	}
	if workloadLabel != "" {
		return builder{q: q, label: workloadLabel}
	}
	return builder{q: q, label: labelReplicaSet, relabel: true}
}

// expand fills a template's placeholders. The selector goes where the template has $selector;
// an empty selector leaves no stray comma behind.
func (b builder) expand(tmpl, selector string) string {
	if selector == "" {
		tmpl = strings.NewReplacer(config.PlaceholderSelector+",", "", ","+config.PlaceholderSelector, "").Replace(tmpl)
	}
	return strings.NewReplacer(
		config.PlaceholderSelector, selector,
		config.PlaceholderWindow, model.Duration(b.q.Window.Duration).String(),
	).Replace(tmpl)
}

// withReplicaSet gives each series of expr its ReplicaSet label.
func (b builder) withReplicaSet(expr string) string {
	if !b.relabel {
		return expr
	}
	return fmt.Sprintf(`label_replace(%s, %q, "$1", "pod", %q)`, expr, labelReplicaSet, podToReplicaSet)
}

// perPod sums expr per pod (over containers), keeping what withReplicaSet needs.
func (b builder) perPod(expr string) string {
	if b.relabel {
		return fmt.Sprintf("sum by (namespace, pod) (%s)", expr)
	}
	return fmt.Sprintf("sum by (namespace, pod, %s) (%s)", b.label, expr)
}

// frameQueries are the instant queries of one refresh over the given services: scoped to
// their namespaces and, with a bounded matcher, to their Deployments' pods, so that what
// Prometheus reads grows with the services asked for (those on screen and rolling out), not
// with the fleet. detail are the services whose ReplicaSets need their own p99 (more than one
// running pods); with none, that query is "" and not asked.
func (b builder) frameQueries(services, detail []domain.Service) [numFrameQueries]string {
	if b.rules {
		return b.recordedQueries(services, detail)
	}
	sels, detailSels := b.servicesSelectors(services), b.servicesSelectors(detail)
	byRS := "namespace, " + b.label
	sum := func(tmpl string) string {
		return union(sels, func(sel string) string {
			return fmt.Sprintf("sum by (%s) (%s)", byRS, b.withReplicaSet(b.expand(tmpl, sel)))
		})
	}
	pods := func(sel, tmpl, metric string) string {
		return fmt.Sprintf(`label_replace(count by (%s) (%s), %q, %q, "", "")`,
			byRS, b.withReplicaSet(b.perPod(b.expand(tmpl, sel))), labelMetric, metric)
	}
	var q [numFrameQueries]string
	q[qRequests] = sum(b.q.Requests)
	q[qErrors] = sum(b.q.Errors)
	q[qCPU] = sum(b.q.CPU)
	q[qMemory] = sum(b.q.Memory)
	q[qPods] = union(sels, func(sel string) string {
		return pods(sel, b.q.CPU, string(domain.MetricCPU)) + " or " + pods(sel, b.q.Memory, string(domain.MetricMemory))
	})
	if len(detail) > 0 {
		q[qP99] = union(detailSels, func(sel string) string {
			return fmt.Sprintf("histogram_quantile(0.99, sum by (%s, le) (%s))", byRS, b.withReplicaSet(b.expand(b.q.Latency, sel)))
		})
	}
	q[qP99Deployment] = union(sels, func(sel string) string {
		return fmt.Sprintf(`histogram_quantile(0.99, sum by (namespace, %s, le) (label_replace(%s, %q, "$1", %q, %q)))`,
			labelDeployment, b.withReplicaSet(b.expand(b.q.Latency, sel)), labelDeployment, b.label, replicaSetToDeployment)
	})
	return q
}

// union joins with "or" one expression per selector. Every frame query keeps the namespace
// and the ReplicaSet (or Deployment) label, and each service's series come from one selector
// only, so no two parts share a label set and "or" drops nothing.
func union(selectors []string, expr func(selector string) string) string {
	parts := make([]string, len(selectors))
	for i, sel := range selectors {
		parts[i] = expr(sel)
	}
	return strings.Join(parts, " or ")
}

// historyQueries are the range queries of one service's history, one per metric: each returns
// a series per ReplicaSet (with the ReplicaSet label) and one for the whole service (without).
func (b builder) historyQueries(svc domain.Service) map[domain.Metric]string {
	sel := b.serviceSelector(svc)
	x := func(tmpl string) string { return b.expand(tmpl, sel) }
	byRS := func(agg, expr string) string {
		return fmt.Sprintf("%s by (%s) (%s)", agg, b.label, b.withReplicaSet(expr))
	}
	req, errs, lat := x(b.q.Requests), x(b.q.Errors), x(b.q.Latency)
	cpu, mem := b.perPod(x(b.q.CPU)), b.perPod(x(b.q.Memory))
	return map[domain.Metric]string{
		domain.MetricRequestRate: fmt.Sprintf("%s or sum(%s)", byRS("sum", req), req),
		// A missing 5xx series means no errors: fall back to 0 times the requests.
		domain.MetricErrorRatio: fmt.Sprintf("(%s or 0 * %s) / %s or (sum(%s) or 0 * sum(%s)) / sum(%s)",
			byRS("sum", errs), byRS("sum", req), byRS("sum", req), errs, req, req),
		domain.MetricLatencyP99: fmt.Sprintf("histogram_quantile(0.99, sum by (%s, le) (%s)) or histogram_quantile(0.99, sum by (le) (%s))",
			b.label, b.withReplicaSet(lat), lat),
		domain.MetricCPU:    fmt.Sprintf("%s or avg(%s)", byRS("avg", cpu), cpu),
		domain.MetricMemory: fmt.Sprintf("%s or avg(%s)", byRS("avg", mem), mem),
	}
}

// serviceSelector matches the pods of svc's Deployments (one, or two for blue-green).
func (b builder) serviceSelector(svc domain.Service) string {
	return b.servicesSelectors([]domain.Service{svc})[0]
}

// servicesSelectors match the pods of the services' Deployments (named from their
// ReplicaSets, or from a service's own name when none is known): one selector per scope (see
// scopesOf), each of its namespaces and a bounded regular expression over its Deployments'
// names.
func (b builder) servicesSelectors(services []domain.Service) []string {
	var out []string
	for _, sc := range scopesOf(services) {
		if b.relabel {
			out = append(out, fmt.Sprintf("%s,pod=~%s", sc.namespaces, strconv.Quote("^"+sc.alt+"-[a-z0-9]+-[a-z0-9]{5}$")))
		} else {
			out = append(out, fmt.Sprintf("%s,%s=~%s", sc.namespaces, b.label, strconv.Quote("^"+sc.alt+"-[a-z0-9]+$")))
		}
	}
	return out
}

// scope is what bounds a query to some services: the matcher of their namespaces, and an
// alternation of their Deployments' names (regexp-quoted, sorted, distinct) for a regex
// matcher to anchor. Every namespace of a scope holds every one of its Deployments.
type scope struct{ namespaces, alt string }

// scopesOf groups the services' namespaces by the Deployment names they hold, one scope per
// distinct set, in a stable order. One matcher of all the namespaces and all the names would
// also match each name in every other namespace: with -A over namespaces that reuse names
// (svc-001 in each of 100), the rows on screen would read a hundred times the pods they show.
func scopesOf(services []domain.Service) []scope {
	byNS := map[string][]string{}
	for _, svc := range services {
		byNS[svc.Namespace] = append(byNS[svc.Namespace], deploymentsOf(svc)...)
	}
	byDeps := map[string][]string{}
	for ns, deps := range byNS {
		slices.Sort(deps)
		deps = slices.Compact(deps)
		for i, d := range deps {
			deps[i] = regexp.QuoteMeta(d)
		}
		alt := strings.Join(deps, "|")
		if len(deps) > 1 {
			alt = "(" + alt + ")"
		}
		byDeps[alt] = append(byDeps[alt], ns)
	}
	out := make([]scope, 0, len(byDeps))
	for alt, nss := range byDeps {
		slices.Sort(nss)
		out = append(out, scope{namespaces: namespaceSelector(nss), alt: alt})
	}
	slices.SortFunc(out, func(a, b scope) int { return strings.Compare(a.namespaces+a.alt, b.namespaces+b.alt) })
	return out
}

// deploymentsOf names svc's Deployments from its ReplicaSets, or is its own name when it lists
// none.
func deploymentsOf(svc domain.Service) []string {
	var deps []string
	for _, rs := range svc.ReplicaSets {
		if d := deploymentOf(rs.Name); d != "" && !slices.Contains(deps, d) {
			deps = append(deps, d)
		}
	}
	if len(deps) == 0 {
		deps = []string{svc.Name}
	}
	return deps
}

// namespaceSelector matches the given namespaces (sorted, distinct).
func namespaceSelector(namespaces []string) string {
	switch len(namespaces) {
	case 0:
		return ""
	case 1:
		return "namespace=" + strconv.Quote(namespaces[0])
	}
	alts := make([]string, len(namespaces))
	for i, ns := range namespaces {
		alts[i] = regexp.QuoteMeta(ns)
	}
	return "namespace=~" + strconv.Quote(strings.Join(alts, "|"))
}

// deploymentOf strips a ReplicaSet name's last "-segment" as the PromQL regex (.+)-[a-z0-9]+
// does; "" when the name has no such segment.
func deploymentOf(rs string) string {
	i := strings.LastIndexByte(rs, '-')
	if i <= 0 || i == len(rs)-1 {
		return ""
	}
	for _, c := range rs[i+1:] {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return ""
		}
	}
	return rs[:i]
}

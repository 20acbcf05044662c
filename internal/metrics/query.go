package metrics

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

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
	podToDeployment        = `(.+)-[a-z0-9]+-[a-z0-9]{5}`
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
	// now is the time of the frame: whether a service's pods are all known depends on it.
	now time.Time
	// learned are the names Prometheus held for services (namespace/name) that the watch
	// does not know all of yet (Source.learn).
	learned map[string][]string
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

// reduced sums expr per pod (and the by labels) before withReplicaSet relabels it: Prometheus
// then copies and relabels one series per pod, not one per container, code or other label of
// the raw series. Measured on a frame of 48 services (TestPerfFrameMatch), it took 79 to 84 ms
// of Prometheus's time instead of 102, the p99 per Deployment 46 to 48 ms instead of 61. The
// sums are the same, the ReplicaSet being a function of the pod. With a workload label there is
// no relabelling to spare.
func (b builder) reduced(expr string, by ...string) string {
	if !b.relabel {
		return expr
	}
	return fmt.Sprintf("sum by (%s) (%s)", strings.Join(append([]string{"namespace", "pod"}, by...), ", "), expr)
}

// perPod sums expr per pod (over containers), keeping what withReplicaSet needs.
func (b builder) perPod(expr string) string {
	if b.relabel {
		return b.reduced(expr)
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
	sels, detailSels := b.frameSelectors(services), b.frameSelectors(detail)
	byRS := "namespace, " + b.label
	sum := func(tmpl string) string {
		return union(sels, func(sel string) string {
			return fmt.Sprintf("sum by (%s) (%s)", byRS, b.withReplicaSet(b.reduced(b.expand(tmpl, sel))))
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
			return fmt.Sprintf("histogram_quantile(0.99, sum by (%s, le) (%s))", byRS, b.withReplicaSet(b.reduced(b.expand(b.q.Latency, sel), "le")))
		})
	}
	// The Deployment straight from the pod's name (or the ReplicaSet's, with a workload label):
	// one relabelling per series, not two.
	from, toDeployment := b.label, replicaSetToDeployment
	if b.relabel {
		from, toDeployment = "pod", podToDeployment
	}
	q[qP99Deployment] = union(sels, func(sel string) string {
		return fmt.Sprintf(`histogram_quantile(0.99, sum by (namespace, %s, le) (label_replace(%s, %q, "$1", %q, %q)))`,
			labelDeployment, b.reduced(b.expand(b.q.Latency, sel), "le"), labelDeployment, from, toDeployment)
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

// knowsPods tells whether the watch knows every pod that svc had within a frame's lookback:
// its rate window, and as much again for a deleted pod's last scrapes to age out.
func (b builder) knowsPods(svc domain.Service) bool {
	lookback := 2 * b.q.Window.Duration
	return !svc.PodsKnownSince.IsZero() && lookback <= domain.GonePodsKept && b.now.Sub(svc.PodsKnownSince) >= lookback
}

// frameSelectors match the pods (or ReplicaSets) of the services for a frame: by their exact
// names (running, and gone within the lookback) for the services whose pods the watch knows
// or Prometheus told (learned), by their Deployments' names (servicesSelectors) for the
// others. Prometheus looks a set of names up in its index, but matches a pattern against every
// pod name it holds, once per selector: over many namespaces (-A) that was most of what a frame
// cost it.
func (b builder) frameSelectors(services []domain.Service) []string {
	label, watched := "pod", podNames
	if !b.relabel {
		label, watched = b.label, replicaSetNames
	}
	names := func(svc domain.Service) []string {
		return append(watched(svc), b.learned[svc.Key()]...)
	}
	known, rest := b.splitKnown(services, names)
	var out []string
	if len(known) > 0 {
		// Pod names end in a random suffix: one selector over all the namespaces cannot
		// match another namespace's pods. ReplicaSet names can repeat across namespaces
		// (same name, same template), so those are matched per set of namespaces.
		var nss, pods []string
		if b.relabel {
			for _, svc := range known {
				nss = append(nss, svc.Namespace)
				pods = append(pods, names(svc)...)
			}
			out = append(out, fmt.Sprintf("%s,%s=~%s", namespaceSelector(distinct(nss)), label, strconv.Quote(nameSet(pods))))
		} else {
			for _, sc := range scopesOf(known, names) {
				out = append(out, fmt.Sprintf("%s,%s=~%s", sc.namespaces, label, strconv.Quote(sc.alt)))
			}
		}
	}
	return append(out, b.servicesSelectors(rest)...)
}

// splitKnown parts services into those matched by the exact names that names gives (their
// pods all known, and some) and the rest.
func (b builder) splitKnown(services []domain.Service, names func(domain.Service) []string) (known, rest []domain.Service) {
	for _, svc := range services {
		_, learned := b.learned[svc.Key()]
		if (learned || b.knowsPods(svc)) && len(names(svc)) > 0 {
			known = append(known, svc)
		} else {
			rest = append(rest, svc)
		}
	}
	return known, rest
}

// podNames are svc's pods, running and gone.
func podNames(svc domain.Service) []string {
	out := slices.Clone(svc.GonePods)
	for _, rs := range svc.ReplicaSets {
		out = append(out, rs.PodNames()...)
	}
	return out
}

// replicaSetNames are svc's ReplicaSets, and those of its gone pods (a ReplicaSet deleted
// within the lookback, by its Deployment's history limit, still has samples in it).
func replicaSetNames(svc domain.Service) []string {
	var out []string
	for _, rs := range svc.ReplicaSets {
		out = append(out, rs.Name)
	}
	for _, p := range svc.GonePods {
		if i := strings.LastIndexByte(p, '-'); i > 0 {
			out = append(out, p[:i])
		}
	}
	return out
}

// nameSet is a regular expression matching exactly the given names (sorted, distinct), which
// Prometheus reads as a set to look up rather than a pattern to scan with.
func nameSet(names []string) string {
	names = distinct(names)
	for i, n := range names {
		names[i] = regexp.QuoteMeta(n)
	}
	return strings.Join(names, "|")
}

// distinct sorts names in place and drops repeats.
func distinct(names []string) []string {
	slices.Sort(names)
	return slices.Compact(names)
}

// servicesSelectors match the pods of the services' Deployments (named from their
// ReplicaSets, or from a service's own name when none is known): one selector per scope (see
// scopesOf), each of its namespaces and a bounded regular expression over its Deployments'
// names.
func (b builder) servicesSelectors(services []domain.Service) []string {
	var out []string
	for _, sc := range scopesOf(services, deploymentsOf) {
		if b.relabel {
			out = append(out, fmt.Sprintf("%s,pod=~%s", sc.namespaces, strconv.Quote("^"+sc.alt+"-[a-z0-9]+-[a-z0-9]{5}$")))
		} else {
			out = append(out, fmt.Sprintf("%s,%s=~%s", sc.namespaces, b.label, strconv.Quote("^"+sc.alt+"-[a-z0-9]+$")))
		}
	}
	return out
}

// scope is what bounds a query to some services: the matcher of their namespaces, and an
// alternation of names (regexp-quoted, sorted, distinct; Deployments' or ReplicaSets') for a
// regex matcher. Every namespace of a scope holds every one of its names.
type scope struct{ namespaces, alt string }

// scopesOf groups the services' namespaces by the names (names(svc)) they hold, one scope per
// distinct set, in a stable order. One matcher of all the namespaces and all the names would
// also match each name in every other namespace: with -A over namespaces that reuse names
// (svc-001 in each of 100), the rows on screen would read a hundred times the pods they show.
func scopesOf(services []domain.Service, names func(domain.Service) []string) []scope {
	byNS := map[string][]string{}
	for _, svc := range services {
		byNS[svc.Namespace] = append(byNS[svc.Namespace], names(svc)...)
	}
	byNames := map[string][]string{}
	for ns, names := range byNS {
		names = distinct(names)
		alt := nameSet(names)
		if len(names) > 1 {
			alt = "(" + alt + ")"
		}
		byNames[alt] = append(byNames[alt], ns)
	}
	out := make([]scope, 0, len(byNames))
	for alt, nss := range byNames {
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

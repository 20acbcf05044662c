package guard

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// earlyVerdict is a rule proven breached by counts.
type earlyVerdict struct {
	detail string
	// notRollout is set when the old revision's counts say the same: alert only.
	notRollout bool
}

// early judges rule th of svc on the new revision's counts (see sequential.go). It is false
// when the counts prove nothing (yet): the rule's for decides then, as without counts. Only
// the 5xx ratio and p99 latency rules are statements about counts; CPU and memory keep for.
func (e *Engine) early(svc domain.Service, newRS domain.ReplicaSet, th domain.Threshold, f domain.MetricsFrame, now time.Time) (earlyVerdict, bool) {
	cfg := e.cfg.Early
	if !cfg.Enabled || th.Below || f.Counts == nil || f.CountsErr != nil {
		return earlyVerdict{}, false
	}
	c, ok := f.Counts[svc.Namespace+"/"+newRS.Name]
	if !ok {
		return earlyVerdict{}, false
	}
	x, n, p0, what, ok := countFailures(c, th)
	if !ok || n < float64(cfg.MinRequests) || !provenAbove(x, n, p0, 1-cfg.Confidence) {
		return earlyVerdict{}, false
	}
	secs := max(int(math.Round(now.Sub(c.Since).Seconds())), 0)
	v := earlyVerdict{detail: fmt.Sprintf("%s: %.0f of %.0f requests%s in %d s (%s %%), above %s %% with confidence %s",
		th.Metric, x, n, what, secs, percent(x/n), percent(p0), formatConfidence(cfg.Confidence))}

	// The old revision that still serves, as the for rule compares it: when it fails as much,
	// the cause is not the rollout.
	for _, old := range svc.OldReplicaSets() {
		if old.Ready == 0 {
			continue
		}
		key := svc.Namespace + "/" + old.Name
		if ov, ok := f.ReplicaSets[key].Get(th.Metric); ok && th.Breached(ov) {
			v.notRollout = true
			v.detail += fmt.Sprintf(", old revision at %s: both revisions breach, so the cause is not the rollout; alerting only", formatValue(th.Metric, ov))
			return v, true
		}
		oc, ok := f.Counts[key]
		if !ok {
			return earlyVerdict{}, false // nothing to compare with yet: for decides
		}
		ox, on, _, _, ok := countFailures(oc, th)
		if !ok || on < float64(cfg.MinRequests) {
			return earlyVerdict{}, false
		}
		if ox/on > p0 {
			v.notRollout = true
			v.detail += fmt.Sprintf("; the old revision's counts say the same (%.0f of %.0f, %s %%): the cause is not the rollout; alerting only",
				ox, on, percent(ox/on))
		}
		return v, true
	}
	return v, true
}

// countFailures reads the failures and requests that rule th is about from c, with the bound
// p0 on their share: 5xx of all requests for the 5xx ratio; for p99 latency, requests slower
// than the bound (or than the first bucket edge above it, said in what) of all, against 1 %.
func countFailures(c domain.RevisionCounts, th domain.Threshold) (x, n, p0 float64, what string, ok bool) {
	switch th.Metric {
	case domain.MetricErrorRatio:
		return c.Errors, c.Requests, th.Value, "", c.Requests > 0
	case domain.MetricLatencyP99:
		slow, total, edge, ok := c.SlowerThan(th.Value)
		if !ok {
			return 0, 0, 0, "", false
		}
		what = " slower than " + seconds(th.Value)
		if edge > th.Value*(1+1e-9) {
			what = fmt.Sprintf(" slower than %s (the first bucket edge above the %s bound)", seconds(edge), seconds(th.Value))
		}
		return slow, total, 0.01, what, total > 0
	}
	return 0, 0, 0, "", false
}

// percent writes a share as a percentage: whole above 10, one decimal below.
func percent(share float64) string {
	p := share * 100
	if p >= 10 {
		return strconv.FormatFloat(math.Round(p), 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64)
}

func seconds(s float64) string {
	return strconv.FormatFloat(s, 'f', -1, 64) + " s"
}

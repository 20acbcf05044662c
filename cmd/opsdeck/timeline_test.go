package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/sandbox"
	"github.com/opsdeck/opsdeck/internal/timeline"
)

// A bad deploy rolled back by auto-guard: the timeline gives, in order, the deploy, the breach,
// the rollback and the alert's resolution, at the times of the audit log and the Events, and
// counts the failed requests within 10 % of what the simulator's own counters say.
func TestTimelineOfAutoRollback(t *testing.T) {
	env, client, ns := guardedService(t, "tl")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	// A short for: the breach, the rollback and the alert follow the deploy within seconds. The
	// early verdict is off: it would roll back before the rule's for runs out, so no alert would
	// be raised (and none resolved) for the timeline to show.
	if err := os.WriteFile(cfg, []byte("thresholds:\n  errors:\n    for: 5s\nguard:\n  early:\n    enabled: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGuard(t, env, ns, "--config", cfg)
	common := []string{"--kubeconfig", env.Kubeconfig, "-n", ns, "--prometheus", env.PrometheusURL, "--audit-log", g.audit, "--config", cfg}

	// The old revision's pods must have metrics before the deploy, as in production.
	sandbox.WaitFor(t, 60*time.Second, "metrics of tl:v1", func() (bool, string) {
		s, err := sandbox.Query(context.Background(), env.PrometheusURL, fmt.Sprintf(`sum(rate(http_requests_total{namespace=%q}[1m]))`, ns))
		return err == nil && len(s) > 0 && s[0].Value > 0, fmt.Sprint(s, err)
	})
	if r := opsdeck(t, nil, append([]string{"deploy", "tl", "tl:v2-bad", "--yes"}, common...)...); r.code != 0 {
		t.Fatalf("deploy: %+v", r)
	}
	sandbox.WaitFor(t, 90*time.Second, "the guard to roll back tl:v2-bad", func() (bool, string) {
		return image(t, client, ns, "tl") == "tl:v1", g.output()
	})
	sandbox.WaitRolledOut(t, client, ns, "tl", 60*time.Second)
	var resolved corev1.Event
	sandbox.WaitFor(t, 180*time.Second, "the ThresholdResolved Event", func() (bool, string) {
		evs := eventsWithReason(t, client, ns, "ThresholdResolved")
		if len(evs) == 0 {
			return false, g.output()
		}
		resolved = evs[0]
		return true, ""
	})

	r := opsdeck(t, nil, append([]string{"timeline", "tl", "-o", "json", "--since", "30m"}, common...)...)
	if r.code != 0 {
		t.Fatalf("timeline: %+v", r)
	}
	var tl timeline.Timeline
	if err := json.Unmarshal([]byte(r.stdout), &tl); err != nil {
		t.Fatalf("timeline json: %v\n%s", err, r.stdout)
	}

	// In order: the deploy, the breach, the rollback, the alert's resolution.
	find := func(kind string) (int, timeline.Entry) {
		for i, e := range tl.Entries {
			if e.Kind == kind && (kind != timeline.KindDeploy || e.Image == "tl:v2-bad") {
				return i, e
			}
		}
		t.Fatalf("no %s entry in %+v", kind, tl.Entries)
		return 0, timeline.Entry{}
	}
	iDeploy, deploy := find(timeline.KindDeploy)
	iBreach, breach := find(timeline.KindBreach)
	iRollback, rollback := find(timeline.KindRollback)
	iResolved, res := find(timeline.KindResolved)
	if !(iDeploy < iBreach && iBreach < iRollback && iRollback < iResolved) {
		t.Errorf("order deploy %d, breach %d, rollback %d, resolved %d", iDeploy, iBreach, iRollback, iResolved)
	}
	if !breach.Time.After(deploy.Time) || !breach.Time.Before(rollback.Time) {
		t.Errorf("breach %s not between deploy %s and rollback %s", breach.Time, deploy.Time, rollback.Time)
	}

	// The times are those of the audit log and of the Events.
	entries, err := audit.Read(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	var deployLines, rollbackOK []audit.Entry
	for _, e := range entries {
		switch {
		case e.Action == "deploy":
			deployLines = append(deployLines, e)
		case e.Action == "rollback" && e.Result == audit.ResultOK:
			rollbackOK = append(rollbackOK, e)
		}
	}
	if len(deployLines) == 0 || len(rollbackOK) != 1 {
		t.Fatalf("audit log: %+v", entries)
	}
	if !deploy.Time.Equal(deployLines[0].Time) || deploy.Revision != 2 || deploy.Image != "tl:v2-bad" {
		t.Errorf("deploy entry %+v, audit line at %s", deploy, deployLines[0].Time)
	}
	if !rollback.At().Equal(rollbackOK[0].Time) || rollback.Trigger != "guard" {
		t.Errorf("rollback entry at %s, audit line at %s (%+v)", rollback.At(), rollbackOK[0].Time, rollback)
	}
	auto := eventsWithReason(t, client, ns, "AutoRollback")
	if len(auto) != 1 || rollback.EventTime == nil || !rollback.EventTime.Equal(auto[0].FirstTimestamp.Time) {
		t.Errorf("rollback entry's Event time %v, AutoRollback Events %+v", rollback.EventTime, auto)
	}
	if !res.Time.Equal(resolved.FirstTimestamp.Time) {
		t.Errorf("resolved at %s, Event at %s", res.Time, resolved.FirstTimestamp.Time)
	}
	f := tl.Figures
	if f.DeployToBreachSeconds == nil || f.TimeToRollbackSeconds == nil || f.BreachDurationSeconds == nil ||
		f.Peak5xx == nil || f.PeakP99 == nil {
		t.Fatalf("figures %+v", f)
	}
	// The whole service's peak lies between the healthy 0.2 % and the bad pods' 30 %.
	if f.Peak5xx.Value < 0.02 || f.Peak5xx.Value > 0.35 {
		t.Errorf("peak 5xx ratio %.3f", f.Peak5xx.Value)
	}

	// The failed requests, against the simulator's own counters over the same interval:
	// for each 5xx series, its last sample at the end less its last sample at the start (0 for
	// a pod born after it; the simulator's counters start at 0).
	if f.FailedRequests == nil {
		t.Fatalf("no failed requests: %+v", f.Missing)
	}
	served := servedFailures(t, env.PrometheusURL, ns, f.FailedFrom, f.FailedTo)
	t.Logf("failed requests: timeline %.0f, counters %.0f, from %s to %s; deploy to breach %.1fs, to rollback %.1fs, breach %.1fs, peak 5xx %.1f %%",
		*f.FailedRequests, served, f.FailedFrom.Format("15:04:05.000"), f.FailedTo.Format("15:04:05.000"),
		*f.DeployToBreachSeconds, *f.TimeToRollbackSeconds, *f.BreachDurationSeconds, 100*f.Peak5xx.Value)
	if served < 100 || *f.FailedRequests < 0.9*served || *f.FailedRequests > 1.1*served {
		t.Errorf("failed requests %.0f, the counters say %.0f: not within 10 %%", *f.FailedRequests, served)
	}

	// The Markdown has the same story.
	r = opsdeck(t, nil, append([]string{"timeline", "tl"}, common...)...)
	for _, want := range []string{"# Timeline of " + ns + "/tl", "DEPLOY deploy tl:v1 → tl:v2-bad", "BREACH", "ROLLBACK", "RESOLVED",
		"| Requests that failed |", "```text\n5xx ratio (%)"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("markdown lacks %q (exit %d):\n%s%s", want, r.code, r.stdout, r.stderr)
		}
	}

	// Bad input: an unknown service fails in one line; with Prometheus down the timeline still
	// renders, without metrics, and says why.
	r = opsdeck(t, nil, append([]string{"timeline", "nope"}, common...)...)
	if got := oneLineFailure(t, r); !strings.Contains(got, `service "nope" not found in namespace `+ns) {
		t.Errorf("unknown service: %q", got)
	}
	down := slices.Clone(common)
	down[slices.Index(down, env.PrometheusURL)] = "http://127.0.0.1:1"
	r = opsdeck(t, nil, append([]string{"timeline", "tl"}, down...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "no metrics: Prometheus did not answer") || !strings.Contains(r.stdout, "ROLLBACK") {
		t.Errorf("prometheus down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = opsdeck(t, nil, append([]string{"timeline", "tl", "--around", "9"}, common...)...)
	if got := oneLineFailure(t, r); !strings.Contains(got, "revision 9 is not in the rollout history") {
		t.Errorf("unknown revision: %q", got)
	}
}

// With the defaults, the early verdict rolls a bad deploy back before any alert's for runs
// out: the timeline still gives the deploy, then the breach read from Prometheus and the
// rollback, the rollback with the counts it was decided on, and the failed requests within
// 10 % of the simulator's counters.
func TestTimelineOfEarlyVerdictRollback(t *testing.T) {
	env, client, ns := guardedService(t, "tle")
	g := startGuard(t, env, ns)
	common := []string{"--kubeconfig", env.Kubeconfig, "-n", ns, "--prometheus", env.PrometheusURL, "--audit-log", g.audit}
	sandbox.WaitFor(t, 60*time.Second, "metrics of tle:v1", func() (bool, string) {
		s, err := sandbox.Query(context.Background(), env.PrometheusURL, fmt.Sprintf(`sum(rate(http_requests_total{namespace=%q}[1m]))`, ns))
		return err == nil && len(s) > 0 && s[0].Value > 0, fmt.Sprint(s, err)
	})
	if r := opsdeck(t, nil, append([]string{"deploy", "tle", "tle:v2-bad", "--yes"}, common...)...); r.code != 0 {
		t.Fatalf("deploy: %+v", r)
	}
	sandbox.WaitFor(t, 90*time.Second, "the guard to roll back tle:v2-bad", func() (bool, string) {
		return image(t, client, ns, "tle") == "tle:v1", g.output()
	})
	// The failed requests are counted to now until the quiet minutes after the rollback are
	// over; the counters are read to the same end.
	sandbox.WaitFor(t, 60*time.Second, "the failed-requests figure", func() (bool, string) {
		r := opsdeck(t, nil, append([]string{"timeline", "tle", "-o", "json", "--since", "30m"}, common...)...)
		var tl timeline.Timeline
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &tl) != nil {
			return false, r.stdout + r.stderr
		}
		if tl.Figures.FailedRequests == nil {
			return false, fmt.Sprintf("%+v", tl.Figures)
		}
		var kinds []string
		var rollback timeline.Entry
		for _, e := range tl.Entries {
			if e.Kind == timeline.KindDeploy && e.Image != "tle:v2-bad" {
				continue
			}
			kinds = append(kinds, e.Kind)
			if e.Kind == timeline.KindRollback {
				rollback = e
			}
		}
		// The breach is read from the rate of the new pods' counters, which needs two scrapes
		// in its window; the early verdict counts the same scrapes' increases, so on a loaded
		// machine the rollback may be patched a moment before the rate shows the breach.
		deploy, breach, back := slices.Index(kinds, timeline.KindDeploy), slices.Index(kinds, timeline.KindBreach), slices.Index(kinds, timeline.KindRollback)
		if deploy < 0 || breach < deploy || back < deploy {
			return false, fmt.Sprintf("entries %v: want the deploy, then the breach and the rollback", kinds)
		}
		if f := tl.Figures; f.DeployToBreachSeconds == nil || f.TimeToRollbackSeconds == nil ||
			math.Abs(*f.DeployToBreachSeconds-*f.TimeToRollbackSeconds) > 10 {
			t.Errorf("deploy to breach %v s, to rollback %v s: want both, within 10 s of each other", deref(f.DeployToBreachSeconds), deref(f.TimeToRollbackSeconds))
		}
		if rollback.Trigger != "guard" || !strings.Contains(rollback.Reason, " requests in ") {
			t.Errorf("rollback entry %+v: want auto-guard's, with the counts it decided on", rollback)
		}
		f := tl.Figures
		served := servedFailures(t, env.PrometheusURL, ns, f.FailedFrom, f.FailedTo)
		t.Logf("early verdict: failed requests %.0f, counters %.0f; deploy to breach %v s, to rollback %v s",
			*f.FailedRequests, served, deref(f.DeployToBreachSeconds), deref(f.TimeToRollbackSeconds))
		if served < 10 || *f.FailedRequests < 0.9*served || *f.FailedRequests > 1.1*served {
			t.Errorf("failed requests %.0f, the counters say %.0f: not within 10 %%", *f.FailedRequests, served)
		}
		return true, ""
	})
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func eventsWithReason(t *testing.T, client kubernetes.Interface, ns, reason string) []corev1.Event {
	t.Helper()
	return warningEvents(t, client, ns, reason) // lists by reason, whatever the type
}

// servedFailures sums, over the namespace's 5xx counters, what they grew from from to to,
// reading their raw samples.
func servedFailures(t *testing.T, promURL, ns string, from, to time.Time) float64 {
	t.Helper()
	span := to.Sub(from) + time.Minute
	q := fmt.Sprintf(`http_requests_total{namespace=%q,code=~"5.."}[%ds]`, ns, int(span.Seconds())+1)
	u := promURL + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(to.UnixNano())/1e9, 'f', 3, 64)}}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, s := range body.Data.Result {
		base, last, prev := 0.0, 0.0, 0.0
		grown := 0.0
		for _, p := range s.Values {
			ts := p[0].(float64)
			v, _ := strconv.ParseFloat(p[1].(string), 64)
			at := time.Unix(0, int64(ts*1e9))
			if !at.After(from) {
				base, prev = v, v
				continue
			}
			if v < prev { // a counter reset
				grown += prev
			}
			prev, last = v, v
		}
		if last > 0 || grown > 0 {
			total += grown + last - base
		}
	}
	return total
}

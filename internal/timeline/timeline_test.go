package timeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// day is the fixed clock's day; at gives a time on it.
func at(hms string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.000", "2026-03-14 "+hms)
	if err != nil {
		panic(err)
	}
	return t
}

// fakeMetrics serves fixed series: the bad revision's pods fail 30 % of requests from 10:00:05
// to 10:00:50, the service's ratio follows, and the counter says 1234 requests failed.
type fakeMetrics struct {
	err       error
	asked     [][2]time.Time
	failedErr error
}

func (f *fakeMetrics) Between(_ context.Context, _ domain.Service, start, end time.Time, step time.Duration) ([]domain.Series, error) {
	if f.err != nil {
		return nil, f.err
	}
	series := map[string]*domain.Series{}
	add := func(m domain.Metric, rs string, t time.Time, v float64) {
		k := string(m) + "/" + rs
		if series[k] == nil {
			series[k] = &domain.Series{Metric: m, ReplicaSet: rs}
		}
		series[k].Points = append(series[k].Points, domain.Sample{T: t, V: v})
	}
	badFrom, badTo := at("10:00:05.000"), at("10:00:50.000")
	for t := start; !t.After(end); t = t.Add(step) {
		ratio, p99 := 0.002, 0.118
		if !t.Before(badFrom) && t.Before(badTo) {
			ratio, p99 = 0.28, 0.131
			add(domain.MetricErrorRatio, "web-7c9d8f6b5", t, 0.3)
		} else if !t.Before(badTo) && t.Before(at("10:01:40.000")) {
			ratio = 0.04 // the bad pods' rate window drains
		}
		add(domain.MetricRequestRate, "", t, 150)
		add(domain.MetricErrorRatio, "", t, ratio)
		add(domain.MetricLatencyP99, "", t, p99)
		add(domain.MetricCPU, "", t, 0.1)
		add(domain.MetricMemory, "", t, 120<<20)
	}
	var out []domain.Series
	for _, k := range []string{"rps/", "errors/", "errors/web-7c9d8f6b5", "p99/", "cpu/", "memory/"} {
		if s := series[k]; s != nil {
			out = append(out, *s)
		}
	}
	return out, nil
}

func (f *fakeMetrics) FailedRequests(_ context.Context, _ domain.Service, start, end time.Time) (float64, string, error) {
	f.asked = append(f.asked, [2]time.Time{start, end})
	if f.failedErr != nil {
		return 0, "", f.failedErr
	}
	return 1234.4, `sum(increase(http_requests_total{namespace="shop",pod=~"^web-[a-z0-9]+-[a-z0-9]{5}$",code=~"5.."}[2m10s]))`, nil
}

// history is a bad deploy of shop/web rolled back by auto-guard, as the audit log, the Events
// and the rollout history tell it, with an older action outside the Events' hour.
func history(m MetricsReader) Input {
	svc := domain.Service{Namespace: "shop", Name: "web", Kind: domain.KindDeployment}
	entry := func(hms, action, trigger, result string, from, to int64, fromImg, toImg, reason string) audit.Entry {
		return audit.Entry{Time: at(hms), User: "alice", Context: "prod", Namespace: "shop", Service: "web", Action: action,
			FromRevision: from, ToRevision: to, FromImage: fromImg, ToImage: toImg, Trigger: trigger, Reason: reason, Result: result}
	}
	guardUser := func(e audit.Entry) audit.Entry { e.User = "system:serviceaccount:ops:opsdeck"; return e }
	why := "errors > 5.0% for 20s: revision 2 at 30.1%, old revision at 0.2%; rolling back from revision 2 (web:v2-bad) to revision 1 (web:v1)"
	return Input{
		Service: svc, Context: "prod", Now: at("10:30:00.000"), From: at("08:30:00.000"),
		Thresholds: domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
			domain.MetricErrorRatio: {Metric: domain.MetricErrorRatio, Value: 0.05, For: 20 * time.Second, Rollback: true},
			domain.MetricLatencyP99: {Metric: domain.MetricLatencyP99, Value: 1, For: 30 * time.Second, Rollback: true},
		}},
		Audit: []audit.Entry{
			entry("09:10:00.000", "scale", "key", "ok", 1, 1, "web:v1", "web:v1", "scaled to 3"),
			{Time: at("09:50:00.000"), Namespace: "other", Service: "web", Action: "deploy", Result: "ok"}, // another namespace
			entry("10:00:00.000", "deploy", "cli", "pending", 1, 0, "web:v1", "web:v2-bad", ""),
			entry("10:00:00.420", "deploy", "cli", "ok", 1, 2, "web:v1", "web:v2-bad", ""),
			guardUser(entry("10:00:45.010", "rollback", "guard", "pending", 2, 1, "web:v2-bad", "web:v1", why)),
			guardUser(entry("10:00:45.230", "rollback", "guard", "ok", 2, 3, "web:v2-bad", "web:v1", why)),
		},
		Events: []Event{
			{Time: at("10:00:31.000"), Last: at("10:00:44.000"), Count: 3, Type: "Warning", Reason: "Unhealthy",
				Object: "pod/web-7c9d8f6b5-x2x7q", Message: "Readiness probe failed: HTTP probe failed with statuscode: 500"},
			{Time: at("10:00:45.000"), Type: "Warning", Reason: "AutoRollback", Object: "deployment/web", Source: "opsdeck",
				Message: why + ": rolled back (guard by system:serviceaccount:ops:opsdeck)"},
			{Time: at("10:00:46.000"), Type: "Warning", Reason: "ThresholdBreached", Object: "deployment/web", Source: "opsdeck",
				Message: "web 5xx ratio at 29.8%, threshold 5.0% (errors > 5.0% for 20s)"},
			{Time: at("10:00:50.000"), Type: "Normal", Reason: "ScalingReplicaSet", Object: "deployment/web",
				Source: "deployment-controller", Message: "Scaled down replica set web-7c9d8f6b5 from 3 to 0"},
			{Time: at("10:02:10.000"), Type: "Normal", Reason: "ThresholdResolved", Object: "deployment/web", Source: "opsdeck",
				Message: "resolved: web 5xx ratio is 0.3% again (errors > 5.0% for 20s)"},
		},
		Revisions: []domain.Revision{
			{Number: 3, Image: "web:v1", Created: at("08:00:00.000").Add(-24 * time.Hour), ReplicaSet: "web-5f6d7c8b9", Current: true},
			{Number: 2, Image: "web:v2-bad", ChangeCause: "INC-42 | new checkout flow", Created: at("10:00:00.300"), ReplicaSet: "web-7c9d8f6b5"},
		},
		Metrics: m,
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, got)
	}
}

// The Markdown of a fixed history, on a fixed clock, is the golden file; its order and figures
// are what a postmortem needs.
func TestMarkdownGolden(t *testing.T) {
	m := &fakeMetrics{}
	tl := Build(context.Background(), history(m))
	var b bytes.Buffer
	if err := WriteMarkdown(&b, tl); err != nil {
		t.Fatal(err)
	}
	golden(t, "bad-deploy.md", b.Bytes())

	var kinds []string
	for _, e := range tl.Entries {
		kinds = append(kinds, e.Kind)
	}
	want := []string{KindAction, KindDeploy, KindBreach, KindWarning, KindRollback, KindAlert, KindResolved}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("entries %v, want %v", kinds, want)
	}
	f := tl.Figures
	if f.DeployAt == nil || !f.DeployAt.Equal(at("10:00:00.000")) || f.DeployRevision != 2 {
		t.Errorf("deploy %v rev %d", f.DeployAt, f.DeployRevision)
	}
	if f.FirstBreachAt == nil || !f.FirstBreachAt.Equal(at("10:00:05.000")) || *f.DeployToBreachSeconds != 5 {
		t.Errorf("first breach %v", f.FirstBreachAt)
	}
	if f.RollbackAt == nil || !f.RollbackAt.Equal(at("10:00:45.230")) || *f.TimeToRollbackSeconds != 45.23 {
		t.Errorf("rollback %v (the audit outcome line is when it was done)", f.RollbackAt)
	}
	if f.BreachEndAt == nil || !f.BreachEndAt.Equal(at("10:02:10.000")) || *f.BreachDurationSeconds != 125 {
		t.Errorf("breach end %v", f.BreachEndAt)
	}
	if f.FailedRequests == nil || *f.FailedRequests != 1234 || len(m.asked) != 1 ||
		!m.asked[0][0].Equal(at("10:00:00.000")) || !m.asked[0][1].Equal(at("10:02:10.000")) {
		t.Errorf("failed %v asked over %v, want deploy to resolution", f.FailedRequests, m.asked)
	}
	if f.Peak5xx == nil || f.Peak5xx.Value != 0.28 {
		t.Errorf("peak 5xx %+v", f.Peak5xx)
	}
	// The rollback entry joins its intent line, its outcome and its AutoRollback Event.
	for _, e := range tl.Entries {
		if e.Kind == KindRollback && (e.Done == nil || e.EventTime == nil || e.Result != "ok" || e.Revision != 3) {
			t.Errorf("rollback entry %+v", e)
		}
	}
	// JSON carries the same document.
	var buf bytes.Buffer
	if err := WriteJSON(&buf, tl); err != nil {
		t.Fatal(err)
	}
	var back Timeline
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Entries) != len(tl.Entries) || back.Figures.FailedRequests == nil {
		t.Errorf("json round trip: %v %+v", err, back.Figures)
	}
}

// With Prometheus down the timeline still renders from the audit log and the Events, and
// says why the figures that need metrics are missing.
func TestMarkdownWithoutMetrics(t *testing.T) {
	in := history(nil)
	in.MetricsErr = `Prometheus did not answer: prometheus http://127.0.0.1:1: connection refused`
	tl := Build(context.Background(), in)
	var b bytes.Buffer
	if err := WriteMarkdown(&b, tl); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"ROLLBACK", "ALERT", "RESOLVED", "no metrics: Prometheus did not answer", "peaks and failed requests: no metrics",
		"Deploy to first breach | 46s, at 10:00:46: the first alert (ThresholdBreached Event)"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "## Metrics around") {
		t.Errorf("metrics section without metrics:\n%s", out)
	}

	// A Prometheus that fails the range query: the window says why, in one line.
	tl = Build(context.Background(), history(&fakeMetrics{err: errors.New("prometheus: query timed out\nafter 5s")}))
	b.Reset()
	_ = WriteMarkdown(&b, tl)
	if !strings.Contains(b.String(), "No metrics: prometheus: query timed out after 5s") {
		t.Errorf("range failure not reported:\n%s", b.String())
	}
}

// A blue-green service's switches are entries of their own; an Event for an action nobody
// audited here (a guard elsewhere) is one too.
func TestBlueGreenSwitchesAndForeignGuard(t *testing.T) {
	svc := domain.Service{Namespace: "shop", Name: "checkout", Kind: domain.KindBlueGreen}
	in := Input{Service: svc, Now: at("11:00:00.000"), From: at("10:00:00.000"),
		Audit: []audit.Entry{
			{Time: at("10:10:00.000"), Namespace: "shop", Service: "checkout", Action: "deploy", Trigger: "cli", User: "bob",
				FromImage: "checkout:v1", ToImage: "checkout:v2", Result: "ok"},
			{Time: at("10:10:20.000"), Namespace: "shop", Service: "checkout", Action: "switch", Trigger: "cli", User: "bob",
				FromImage: "checkout:v1", ToImage: "checkout:v2", Reason: "green is Ready: switching from blue", Result: "ok"},
		},
		Events: []Event{{Time: at("10:11:00.000"), Type: "Warning", Reason: "AutoRollback", Object: "service/checkout",
			Message: "p99 > 1s for 30s: switching back from green (checkout:v2) to blue (checkout:v1)"}},
	}
	tl := Build(context.Background(), in)
	var b bytes.Buffer
	_ = WriteMarkdown(&b, tl)
	out := b.String()
	for _, want := range []string{"blue-green service", "SWITCH switch checkout:v1 → checkout:v2 — bob (cli)",
		"ROLLBACK rollback by auto-guard — auto-guard", "Time to rollback | 1m00s after the deploy"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

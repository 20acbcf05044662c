package timeline

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Limits of the metrics part: the last few deploys each get a window of about maxRows steps.
const (
	maxWindows   = 3
	maxRows      = 40
	windowBefore = 2 * time.Minute  // metrics shown before a deploy
	windowAfter  = 2 * time.Minute  // and after the end of its incident
	windowMax    = 30 * time.Minute // at most after the deploy
	// mergeWithin is how far apart an audit line and the Event or revision that describe the
	// same action may be.
	mergeWithin = time.Minute
	// quietAfterRollback ends an incident that no alert resolution closes.
	quietAfterRollback = 2 * time.Minute
)

// DefaultEventTTL is the API server's default --event-ttl.
const DefaultEventTTL = time.Hour

// Build assembles the timeline. It asks in.Metrics (when set) for the windows around the last
// deploys and for the failed requests; everything else is computed from in.
func Build(ctx context.Context, in Input) Timeline {
	svc := in.Service
	if in.To.IsZero() || in.To.After(in.Now) {
		in.To = in.Now
	}
	if in.EventTTL <= 0 {
		in.EventTTL = DefaultEventTTL
	}
	t := Timeline{Namespace: svc.Namespace, Service: svc.Name, Kind: svc.Kind, Context: in.Context,
		Generated: in.Now.UTC(), From: in.From.UTC(), To: in.To.UTC(), Entries: []Entry{}, Revisions: []Revision{}, Metrics: []Window{}}
	if t.Kind == "" {
		t.Kind = domain.KindDeployment
	}
	for _, r := range in.Revisions {
		t.Revisions = append(t.Revisions, Revision{Number: r.Number, Image: r.Image, ChangeCause: r.ChangeCause,
			Created: r.Created.UTC(), ReplicaSet: r.ReplicaSet, Current: r.Current, Color: r.Color})
	}
	t.Entries = fromAudit(in, svc)
	t.Entries = mergeEvents(t.Entries, in)
	t.Entries = mergeRevisions(t.Entries, in)
	sortEntries(t.Entries)

	if in.AuditNote != "" {
		t.Notes = append(t.Notes, in.AuditNote)
	}
	if in.EventsErr != "" {
		t.Notes = append(t.Notes, "no Kubernetes Events: "+in.EventsErr)
	}
	if oldest := in.Now.Add(-in.EventTTL); in.From.Before(oldest) {
		t.Notes = append(t.Notes, fmt.Sprintf("Kubernetes Events are kept %s by default (the API server's --event-ttl): "+
			"before %s this timeline has only the audit log, the rollout history and the metrics",
			fmtDuration(in.EventTTL), clock(oldest.UTC(), t.From, t.To)))
	}
	if in.Metrics == nil {
		why := in.MetricsErr
		if why == "" {
			why = "no Prometheus configured"
		}
		t.Notes = append(t.Notes, "no metrics: "+why)
	}

	deploys := deployIndexes(t.Entries)
	focus := -1
	var focusBreach bool
	for n, i := range deploys {
		inc := incidentOf(t.Entries, deploys, n, in.Now)
		breached := inc.alert >= 0
		if in.Metrics != nil && len(deploys)-n <= maxWindows {
			w := readWindow(ctx, in, t.Entries[i], t.Revisions, inc)
			if b, ok := firstBreach(w, svc, in.Thresholds); ok {
				b = refineBreach(ctx, in, w, b)
				w.breach, breached = &b, true
				t.Entries = append(t.Entries, Entry{Time: b.at, Kind: KindBreach, Summary: b.what,
					Revision: t.Entries[i].Revision, Sources: []string{SourcePrometheus}})
			}
			t.Metrics = append(t.Metrics, w)
		}
		if breached {
			focus, focusBreach = n, true
		} else if !focusBreach {
			focus = n
		}
	}
	sortEntries(t.Entries)
	deploys = deployIndexes(t.Entries)
	if focus >= 0 {
		inc := incidentOf(t.Entries, deploys, focus, in.Now)
		var win *Window
		for i := range t.Metrics {
			if t.Metrics[i].Deploy.Equal(t.Entries[deploys[focus]].Time) {
				win = &t.Metrics[i]
			}
		}
		t.Figures = figures(ctx, in, t.Entries, deploys[focus], inc, win)
	}
	for i := range t.Metrics {
		markRows(&t.Metrics[i], t.Entries)
	}
	return t
}

// fromAudit turns the service's audit lines into entries: an intent line (result "pending")
// and the outcome line that follows it with the same fields become one entry.
func fromAudit(in Input, svc domain.Service) []Entry {
	var out []Entry
	open := map[string]int{} // intent key -> index in out, while waiting for its outcome
	for _, a := range in.Audit {
		if a.Namespace != svc.Namespace || a.Service != svc.Name {
			continue
		}
		key := strings.Join([]string{a.Action, a.Trigger, a.User, a.FromImage, a.ToImage, fmt.Sprint(a.FromRevision)}, "\x00")
		if a.Result != "pending" {
			if i, ok := open[key]; ok {
				done := a.Time.UTC()
				out[i].Done = &done
				out[i].Result = a.Result
				out[i].Summary = auditSummary(a)
				if a.ToRevision != 0 {
					out[i].Revision = a.ToRevision
				}
				if a.Snapshot != "" {
					out[i].Snapshot = a.Snapshot
				}
				if a.Reason != "" && out[i].Reason == "" {
					out[i].Reason = a.Reason
				}
				delete(open, key)
				continue
			}
		}
		if a.Time.Before(in.From) || a.Time.After(in.To) {
			continue
		}
		e := Entry{Time: a.Time.UTC(), Kind: kindOfAction(a.Action), Reason: a.Reason, Trigger: a.Trigger,
			By: by(a.User, a.Trigger), Revision: a.ToRevision, Image: a.ToImage, Result: a.Result,
			Snapshot: a.Snapshot, Sources: []string{SourceAudit}}
		e.Summary = auditSummary(a)
		if a.Result == "pending" {
			open[key] = len(out)
		}
		out = append(out, e)
	}
	return out
}

func kindOfAction(action string) string {
	switch action {
	case string(domain.ActionDeploy):
		return KindDeploy
	case string(domain.ActionRollback):
		return KindRollback
	case string(domain.ActionSwitch):
		return KindSwitch
	}
	return KindAction
}

func by(user, trigger string) string {
	who := user
	if who == "" {
		who = "unknown user"
	}
	if trigger == string(domain.TriggerGuard) {
		return "auto-guard (as " + who + ")"
	}
	if trigger == "" {
		return who
	}
	return who + " (" + trigger + ")"
}

func auditSummary(a audit.Entry) string {
	s := a.Action
	switch {
	case a.FromImage != "" && a.ToImage != "" && a.FromImage != a.ToImage:
		s += " " + a.FromImage + " → " + a.ToImage
	case a.ToImage != "":
		s += " " + a.ToImage
	}
	if a.FromRevision != 0 || a.ToRevision != 0 {
		s += fmt.Sprintf(" (revision %s → %s)", revText(a.FromRevision), revText(a.ToRevision))
	}
	return s
}

func revText(n int64) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

// mergeEvents adds the Events: an opsdeck Event that reports an audited action (its Normal
// Opsdeck* events, AutoRollback) joins that action's entry; alerts and warnings are entries of
// their own; other Normal events (the controllers' scaling steps) are left out as noise.
func mergeEvents(entries []Entry, in Input) []Entry {
	for _, ev := range in.Events {
		if ev.Time.Before(in.From) || ev.Time.After(in.To) {
			continue
		}
		switch {
		case ev.Reason == "ThresholdBreached":
			entries = append(entries, eventEntry(ev, KindAlert, "alert: "+ev.Message))
		case ev.Reason == "ThresholdResolved":
			entries = append(entries, eventEntry(ev, KindResolved, "alert resolved: "+strings.TrimPrefix(ev.Message, "resolved: ")))
		case ev.Reason == "AutoRollback" || strings.HasPrefix(ev.Reason, "Opsdeck"):
			kind := KindAction
			switch {
			case ev.Reason == "AutoRollback":
				kind = KindRollback
			case ev.Reason == "OpsdeckDeploy":
				kind = KindDeploy
			case ev.Reason == "OpsdeckRollback":
				kind = KindRollback
			case ev.Reason == "OpsdeckSwitch":
				kind = KindSwitch
			}
			if i := auditMatch(entries, ev, kind); i >= 0 {
				t := ev.Time.UTC()
				if entries[i].EventTime == nil {
					entries[i].EventTime = &t
					entries[i].Sources = append(entries[i].Sources, SourceEvent+" "+ev.Reason)
				}
				continue
			}
			e := eventEntry(ev, kind, ev.Message)
			if ev.Reason == "AutoRollback" {
				e.Summary, e.Reason, e.By, e.Trigger = "rollback by auto-guard", ev.Message, "auto-guard", string(domain.TriggerGuard)
			}
			entries = append(entries, e)
		case ev.Type == "Warning":
			entries = append(entries, eventEntry(ev, KindWarning, ev.Reason+" "+ev.Object+": "+ev.Message))
		}
	}
	return entries
}

func eventEntry(ev Event, kind, summary string) Entry {
	t := ev.Time.UTC()
	e := Entry{Time: t, Kind: kind, Summary: summary, EventTime: &t, Sources: []string{SourceEvent + " " + ev.Reason}}
	if ev.Count > 1 {
		e.Count = ev.Count
		e.Summary += fmt.Sprintf(" (×%d until %s)", ev.Count, ev.Last.UTC().Format("15:04:05"))
	}
	return e
}

// auditMatch is the audit entry of kind nearest to the Event's time, within mergeWithin and
// without an Event yet; -1 when none.
func auditMatch(entries []Entry, ev Event, kind string) int {
	best, bestD := -1, mergeWithin
	for i, e := range entries {
		if e.Kind != kind || e.EventTime != nil || !slices.Contains(e.Sources, SourceAudit) {
			continue
		}
		if ev.Reason == "AutoRollback" && e.Trigger != string(domain.TriggerGuard) {
			continue
		}
		d := ev.Time.Sub(e.At()).Abs()
		if d2 := ev.Time.Sub(e.Time).Abs(); d2 < d {
			d = d2
		}
		if d <= bestD {
			best, bestD = i, d
		}
	}
	return best
}

// mergeRevisions adds the revisions created in the window: one that an audited deploy made
// gives that entry its revision; one that nobody audited (kubectl, CI) is a deploy of its own.
func mergeRevisions(entries []Entry, in Input) []Entry {
	for _, r := range in.Revisions {
		if r.Created.Before(in.From) || r.Created.After(in.To) {
			continue
		}
		matched := false
		for i := range entries {
			e := &entries[i]
			if e.Kind != KindDeploy || !slices.Contains(e.Sources, SourceAudit) || e.Image != r.Image {
				continue
			}
			if r.Created.Sub(e.Time).Abs() <= mergeWithin || (e.Done != nil && r.Created.Sub(*e.Done).Abs() <= mergeWithin) {
				e.Revision = r.Number
				if !slices.Contains(e.Sources, SourceRevisions) {
					e.Sources = append(e.Sources, SourceRevisions)
				}
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		e := Entry{Time: r.Created.UTC(), Kind: KindDeploy, Revision: r.Number, Image: r.Image,
			Summary: fmt.Sprintf("%s rolled out: the ReplicaSet of revision %d was created", r.Image, r.Number), Sources: []string{SourceRevisions}}
		if r.Color != "" {
			e.Summary += " (" + string(r.Color) + ")"
		}
		if r.ChangeCause != "" {
			e.Reason = "change cause: " + r.ChangeCause
		}
		entries = append(entries, e)
	}
	return entries
}

func sortEntries(es []Entry) {
	slices.SortStableFunc(es, func(a, b Entry) int { return a.Time.Compare(b.Time) })
}

func deployIndexes(es []Entry) []int {
	var out []int
	for i, e := range es {
		if e.Kind == KindDeploy && (e.Result == "" || e.Result == audit.ResultOK || e.Result == "pending") {
			out = append(out, i)
		}
	}
	return out
}

// incident is what followed one deploy, as indexes into the entries (-1 when none).
type incident struct {
	deploy, next       int
	alert, resolved    int
	rollback           int
	end                time.Time // the end of the incident: resolution, or quiet after rollback, or the next deploy, or now
	endWhy             string
	nextDeployTime     time.Time
	hasNextDeploy      bool
	deployTime         time.Time
	rollbackTimeOrZero time.Time
}

func incidentOf(es []Entry, deploys []int, n int, now time.Time) incident {
	inc := incident{deploy: deploys[n], next: -1, alert: -1, resolved: -1, rollback: -1}
	inc.deployTime = es[inc.deploy].Time
	limit := now
	if n+1 < len(deploys) {
		inc.next = deploys[n+1]
		inc.hasNextDeploy = true
		inc.nextDeployTime = es[inc.next].Time
		limit = inc.nextDeployTime
	}
	for i := inc.deploy + 1; i < len(es); i++ {
		e := es[i]
		if e.Time.After(limit) {
			break
		}
		switch e.Kind {
		case KindAlert:
			if inc.alert < 0 {
				inc.alert = i
			}
		case KindResolved:
			if inc.alert >= 0 && inc.resolved < 0 {
				inc.resolved = i
			}
		case KindRollback, KindSwitch:
			if inc.rollback < 0 && (e.Kind == KindRollback || e.Trigger == string(domain.TriggerGuard)) {
				inc.rollback = i
				inc.rollbackTimeOrZero = e.At()
			}
		}
	}
	switch {
	case inc.resolved >= 0:
		inc.end, inc.endWhy = es[inc.resolved].Time, "the alert's resolution"
	case inc.rollback >= 0:
		inc.end, inc.endWhy = inc.rollbackTimeOrZero.Add(quietAfterRollback), fmt.Sprintf("%s after the rollback", fmtDuration(quietAfterRollback))
	case inc.hasNextDeploy:
		inc.end, inc.endWhy = inc.nextDeployTime, "the next deploy"
	default:
		inc.end, inc.endWhy = now, "now"
	}
	if inc.end.After(limit) {
		inc.end = limit
	}
	if inc.end.After(now) {
		inc.end, inc.endWhy = now, "now"
	}
	return inc
}

// revisionOf finds the revision a deploy made: by number, else the newest of its image.
func revisionOf(e Entry, revs []Revision) (Revision, bool) {
	for _, r := range revs {
		if e.Revision != 0 && r.Number == e.Revision && (e.Image == "" || r.Image == e.Image) {
			return r, true
		}
	}
	var best Revision
	found := false
	for _, r := range revs {
		if e.Image != "" && r.Image == e.Image && (!found || r.Number > best.Number) {
			best, found = r, true
		}
	}
	return best, found
}

// readWindow reads the metrics around one deploy.
func readWindow(ctx context.Context, in Input, d Entry, revs []Revision, inc incident) Window {
	w := Window{Deploy: d.Time, Revision: d.Revision, Image: d.Image}
	if r, ok := revisionOf(d, revs); ok {
		w.ReplicaSet = r.ReplicaSet
	}
	w.Start = d.Time.Add(-windowBefore)
	w.End = inc.end.Add(windowAfter)
	if limit := d.Time.Add(windowMax); w.End.After(limit) {
		w.End = limit
	}
	if w.End.After(in.Now) {
		w.End = in.Now
	}
	w.Step = niceStep(w.End.Sub(w.Start) / maxRows)
	w.Start = w.Start.Truncate(w.Step)
	w.StepSeconds = w.Step.Seconds()
	series, err := in.Metrics.Between(ctx, in.Service, w.Start, w.End, w.Step)
	if err != nil {
		w.Err = safe.OneLine(err.Error())
		return w
	}
	fillRows(&w, series)
	return w
}

// fillRows lays series on the window's steps.
func fillRows(w *Window, series []domain.Series) {
	byTime := map[int64]*Row{}
	for at := w.Start; !at.After(w.End); at = at.Add(w.Step) {
		w.Rows = append(w.Rows, Row{Time: at.UTC(), Values: map[domain.Metric]float64{}})
	}
	for i := range w.Rows {
		byTime[w.Rows[i].Time.Unix()] = &w.Rows[i]
	}
	for _, s := range series {
		for _, p := range s.Points {
			r := byTime[p.T.Unix()]
			if r == nil || !finite(p.V) {
				continue
			}
			switch {
			case s.ReplicaSet == "":
				r.Values[s.Metric] = p.V
			case s.ReplicaSet == w.ReplicaSet && s.Metric == domain.MetricErrorRatio:
				v := p.V
				r.New5xx = &v
			}
		}
	}
	w.newRev = newRevisionSeries(series, w.ReplicaSet)
}

// refineBreach reads the step before a breach found at a coarse step again at one second, so
// that "deploy to first breach" is not rounded to the window's step.
func refineBreach(ctx context.Context, in Input, w Window, b breach) breach {
	if w.Step <= time.Second {
		return b
	}
	start := b.at.Add(-w.Step)
	if start.Before(w.Deploy) {
		start = w.Deploy.Truncate(time.Second)
	}
	fine := Window{Deploy: w.Deploy, Revision: w.Revision, ReplicaSet: w.ReplicaSet, Start: start, End: b.at, Step: time.Second}
	series, err := in.Metrics.Between(ctx, in.Service, fine.Start, fine.End, fine.Step)
	if err != nil {
		return b
	}
	fillRows(&fine, series)
	if fb, ok := firstBreach(fine, in.Service, in.Thresholds); ok && fb.metric == b.metric {
		fb.end = b.end
		return fb
	}
	return b
}

// niceStep is the first of the steps a reader counts in that is at least d.
func niceStep(d time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute} {
		if s >= d {
			return s
		}
	}
	return 15 * time.Minute
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func newRevisionSeries(series []domain.Series, rs string) map[domain.Metric][]domain.Sample {
	out := map[domain.Metric][]domain.Sample{}
	for _, s := range series {
		if rs != "" && s.ReplicaSet == rs {
			out[s.Metric] = s.Points
		}
	}
	return out
}

// breach is the first threshold crossing of a deploy's new pods.
type breach struct {
	at     time.Time
	metric domain.Metric
	value  float64
	what   string
	end    time.Time // first step without the breach; zero while it lasted to the window's end
}

// firstBreach finds the first step from the deploy on at which the deployed revision's pods
// (or the whole service, when the revision is unknown) crossed a threshold.
func firstBreach(w Window, svc domain.Service, th domain.Thresholds) (breach, bool) {
	rev := w.newRev
	value := func(r Row, m domain.Metric) (float64, bool) {
		if pts, ok := rev[m]; ok {
			for _, p := range pts {
				if p.T.Unix() == r.Time.Unix() {
					return p.V, finite(p.V)
				}
			}
			return 0, false
		}
		v, ok := r.Values[m]
		return v, ok
	}
	whose := "the whole service"
	if len(rev) > 0 {
		whose = fmt.Sprintf("revision %d's pods", w.Revision)
		if w.Revision == 0 {
			whose = "the new pods"
		}
	}
	for i, r := range w.Rows {
		if r.Time.Before(w.Deploy) {
			continue
		}
		for _, m := range domain.Metrics {
			t, ok := th.ForService(svc, m)
			if !ok {
				continue
			}
			v, ok := value(r, m)
			if !ok || !t.Breached(v) {
				continue
			}
			b := breach{at: r.Time, metric: m, value: v}
			b.what = fmt.Sprintf("%s of %s %s (%s, threshold %s)", m.Title(), whose, crossWord(t), fmtValue(m, v), fmtValue(m, t.Value))
			for _, r2 := range w.Rows[i+1:] {
				v2, ok := value(r2, m)
				if !ok || !t.Breached(v2) {
					b.end = r2.Time
					break
				}
			}
			return b, true
		}
	}
	return breach{}, false
}

func crossWord(t domain.Threshold) string {
	if t.Below {
		return "fell below the threshold"
	}
	return "crossed the threshold"
}

// figures computes the numbers at the top for the deploy at index d.
func figures(ctx context.Context, in Input, es []Entry, d int, inc incident, w *Window) Figures {
	dep := es[d]
	at := dep.Time
	f := Figures{DeployAt: &at, DeployRevision: dep.Revision, DeployImage: dep.Image, DeployBy: dep.By}
	for i := d + 1; i < len(es); i++ {
		if es[i].Kind == KindBreach && (inc.next < 0 || i < inc.next) {
			t := es[i].Time
			f.FirstBreachAt, f.FirstBreach = &t, es[i].Summary+", read from Prometheus"
			break
		}
	}
	if f.FirstBreachAt == nil && inc.alert >= 0 {
		t := es[inc.alert].Time
		f.FirstBreachAt, f.FirstBreach = &t, "the first alert (ThresholdBreached Event): "+strings.TrimPrefix(es[inc.alert].Summary, "alert: ")
	}
	if f.FirstBreachAt != nil {
		f.DeployToBreachSeconds = secs(f.FirstBreachAt.Sub(at))
		switch {
		case inc.resolved >= 0:
			t := es[inc.resolved].Time
			f.BreachEndAt, f.BreachEnd = &t, "the alert's resolution, ThresholdResolved Event"
		case w != nil && w.breach != nil && !w.breach.end.IsZero():
			t := w.breach.end
			f.BreachEndAt, f.BreachEnd = &t, "the first step back within the threshold, read from Prometheus"
		}
		if f.BreachEndAt != nil {
			f.BreachDurationSeconds = secs(f.BreachEndAt.Sub(*f.FirstBreachAt))
		} else {
			f.Missing = append(f.Missing, "breach duration: the breach had not ended by the end of the window")
		}
	} else {
		f.Missing = append(f.Missing, "first breach: no threshold was crossed after the deploy (by the metrics and the alert Events)")
	}
	if inc.rollback >= 0 {
		r := es[inc.rollback]
		t := r.At()
		f.RollbackAt, f.RollbackBy = &t, r.By
		f.TimeToRollbackSeconds = secs(t.Sub(at))
		if f.FirstBreachAt != nil {
			f.BreachToRollbackSecs = secs(t.Sub(*f.FirstBreachAt))
		}
	}
	if w != nil && w.Err == "" {
		for _, r := range w.Rows {
			if r.Time.Before(at) || r.Time.After(inc.end) {
				continue
			}
			if v, ok := r.Values[domain.MetricErrorRatio]; ok && (f.Peak5xx == nil || v > f.Peak5xx.Value) {
				f.Peak5xx = &Peak{Value: v, At: r.Time}
			}
			if v, ok := r.Values[domain.MetricLatencyP99]; ok && (f.PeakP99 == nil || v > f.PeakP99.Value) {
				f.PeakP99 = &Peak{Value: v, At: r.Time}
			}
		}
	}
	switch {
	case in.Metrics == nil:
		f.Missing = append(f.Missing, "peaks and failed requests: no metrics")
	case w != nil && w.Err != "":
		f.Missing = append(f.Missing, "peaks and failed requests: "+w.Err)
	case !inc.end.After(at):
		f.Missing = append(f.Missing, "failed requests: the incident has no duration yet")
	default:
		n, q, err := in.Metrics.FailedRequests(ctx, in.Service, at, inc.end)
		if err != nil {
			f.Missing = append(f.Missing, "failed requests: "+safe.OneLine(err.Error()))
		} else {
			n = math.Round(n)
			f.FailedRequests, f.FailedFrom, f.FailedTo, f.FailedQuery = &n, at, inc.end.UTC(), q
		}
	}
	return f
}

// markRows names, on each row, the entries of the step that ends at it: a value read at t
// covers what happened up to t.
func markRows(w *Window, es []Entry) {
	for i := range w.Rows {
		to := w.Rows[i].Time
		from := to.Add(-w.Step)
		for _, e := range es {
			if e.Time.After(from) && !e.Time.After(to) && e.Kind != KindWarning {
				w.Rows[i].Marks = append(w.Rows[i].Marks, e.Kind)
			}
		}
		w.Rows[i].Marks = slices.Compact(w.Rows[i].Marks)
	}
}

func secs(d time.Duration) *float64 {
	s := math.Round(d.Seconds()*1000) / 1000
	return &s
}

// fmtValue writes a metric's value in its display unit.
func fmtValue(m domain.Metric, v float64) string {
	d := m.Display(v)
	switch m {
	case domain.MetricErrorRatio:
		return fmt.Sprintf("%.1f %%", d)
	case domain.MetricLatencyP99:
		return fmt.Sprintf("%.0f ms", d)
	case domain.MetricRequestRate:
		return fmt.Sprintf("%.1f req/s", d)
	case domain.MetricCPU:
		return fmt.Sprintf("%.2f cores", d)
	case domain.MetricMemory:
		return fmt.Sprintf("%.0f MiB", d)
	}
	return fmt.Sprintf("%g", d)
}

// fmtDuration writes a duration the way an incident review does: 45s, 3m12s, 1h05m.
func fmtDuration(d time.Duration) string {
	neg := d < 0
	d = d.Abs().Round(time.Second)
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		s = fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	if neg {
		return "-" + s
	}
	return s
}

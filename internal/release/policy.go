// Package release decides whether, and when, a deploy may run: a per-service policy (which
// triggers may deploy, which tags, in which windows, with approval or not), freezes, and the
// deploys that wait (queued, scheduled, awaiting approval) kept as an annotation on the
// Deployment so that any running opsdeck performs them, once, after any restart.
package release

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Annotations on a Deployment that override its policy from the config.
const (
	// AnnotationTriggers: comma-separated triggers that may deploy it ("cli,key,webhook,registry").
	AnnotationTriggers = "opsdeck.io/deploy-triggers"
	// AnnotationTags: the tag policy ("any", "patch", "minor", "major", "glob:v2.*", "exact:v3").
	AnnotationTags = "opsdeck.io/tag-policy"
	// AnnotationWindows: deploy windows separated by ";" ("Mon-Fri 09:00-17:00 Europe/Berlin").
	AnnotationWindows = "opsdeck.io/deploy-windows"
	// AnnotationApproval: "true" when an automated deploy waits for `opsdeck approve`.
	AnnotationApproval = "opsdeck.io/approval"
)

// Policy is what one service allows. The zero Policy allows every trigger and tag at any time
// without approval.
type Policy struct {
	// Triggers that may deploy the service; empty allows all.
	Triggers []domain.Trigger
	Tags     TagPolicy
	// Windows in which automated deploys may start; empty means any time.
	Windows  []Window
	Approval bool
}

// PolicyConfig is the `policies:` section of the config: a default and per-service entries
// (keyed by service name), each written as in the annotations.
type PolicyConfig struct {
	Default  PolicySpec            `json:"default"`
	Services map[string]PolicySpec `json:"services"`
}

// PolicySpec is a policy as written in the config or annotations. Empty fields inherit.
type PolicySpec struct {
	Triggers string   `json:"triggers"`
	Tags     string   `json:"tags"`
	Windows  []string `json:"windows"`
	Approval *bool    `json:"approval"`
}

// Resolve builds the policy of a service: the config's default, then its entry, then the
// Deployment's annotations, each overriding the fields it sets.
func (c PolicyConfig) Resolve(service string, annotations map[string]string) (Policy, error) {
	specs := []PolicySpec{c.Default, c.Services[service], fromAnnotations(annotations)}
	var p Policy
	for _, s := range specs {
		if s.Triggers != "" {
			ts, err := ParseTriggers(s.Triggers)
			if err != nil {
				return Policy{}, fmt.Errorf("policy of %s: %w", service, err)
			}
			p.Triggers = ts
		}
		if s.Tags != "" {
			t, err := ParseTagPolicy(s.Tags)
			if err != nil {
				return Policy{}, fmt.Errorf("policy of %s: %w", service, err)
			}
			p.Tags = t
		}
		if len(s.Windows) > 0 {
			p.Windows = nil
			for _, w := range s.Windows {
				win, err := ParseWindow(w)
				if err != nil {
					return Policy{}, fmt.Errorf("policy of %s: %w", service, err)
				}
				p.Windows = append(p.Windows, win)
			}
		}
		if s.Approval != nil {
			p.Approval = *s.Approval
		}
	}
	return p, nil
}

// Validate parses every entry, for config validation.
func (c PolicyConfig) Validate() error {
	if _, err := c.Resolve("", nil); err != nil {
		return err
	}
	for name := range c.Services {
		if _, err := c.Resolve(name, nil); err != nil {
			return err
		}
	}
	return nil
}

func fromAnnotations(a map[string]string) PolicySpec {
	s := PolicySpec{Triggers: a[AnnotationTriggers], Tags: a[AnnotationTags]}
	for _, w := range strings.Split(a[AnnotationWindows], ";") {
		if w = strings.TrimSpace(w); w != "" {
			s.Windows = append(s.Windows, w)
		}
	}
	if v, ok := a[AnnotationApproval]; ok {
		b := v == "true"
		s.Approval = &b
	}
	return s
}

// Person reports whether a trigger is a person at the keys or at a shell: their deploys are not
// held to tags, windows or approval (they chose), only asked once more during a freeze.
func Person(t domain.Trigger) bool { return t == domain.TriggerCLI || t == domain.TriggerKey }

// ParseTriggers parses "cli,key,webhook".
func ParseTriggers(s string) ([]domain.Trigger, error) {
	known := []domain.Trigger{domain.TriggerCLI, domain.TriggerKey, domain.TriggerWebhook,
		domain.TriggerRegistry, domain.TriggerGit, domain.TriggerSchedule}
	var out []domain.Trigger
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		ok := false
		for _, k := range known {
			if string(k) == f {
				out, ok = append(out, k), true
			}
		}
		if !ok {
			return nil, fmt.Errorf("unknown trigger %q in %q; use cli, key, webhook, registry, git or schedule", f, s)
		}
	}
	return out, nil
}

// Allows reports whether t may deploy under p.
func (p Policy) Allows(t domain.Trigger) bool {
	if len(p.Triggers) == 0 {
		return true
	}
	for _, a := range p.Triggers {
		if a == t {
			return true
		}
	}
	return false
}

// TagPolicy says which new tags an automated deploy may bring, relative to the running one.
type TagPolicy struct {
	Kind    string // "", "any", "patch", "minor", "major", "glob", "exact"
	Pattern string // glob or exact tag
}

// ParseTagPolicy parses "patch", "minor", "major", "any", "glob:PATTERN" or "exact:TAG".
func ParseTagPolicy(s string) (TagPolicy, error) {
	switch s {
	case "any", "patch", "minor", "major":
		return TagPolicy{Kind: s}, nil
	}
	if k, pat, ok := strings.Cut(s, ":"); ok && (k == "glob" || k == "exact") && pat != "" {
		if k == "glob" {
			if _, err := path.Match(pat, ""); err != nil {
				return TagPolicy{}, fmt.Errorf("bad glob in tag policy %q: %v", s, err)
			}
		}
		return TagPolicy{Kind: k, Pattern: pat}, nil
	}
	return TagPolicy{}, fmt.Errorf("unknown tag policy %q; use any, patch, minor, major, glob:PATTERN or exact:TAG", s)
}

// Accepts reports whether newTag may replace running; why says what refused it.
// The semver kinds accept only a higher version that changes nothing above their level:
// "patch" takes 1.2.3 -> 1.2.4, "minor" also 1.3.0, "major" also 2.0.0. Pre-releases are
// refused by them (a release candidate is not a patch). Tags may carry a leading "v" or not.
func (t TagPolicy) Accepts(running, newTag string) (ok bool, why string) {
	switch t.Kind {
	case "", "any":
		return true, ""
	case "exact":
		if newTag == t.Pattern {
			return true, ""
		}
		return false, fmt.Sprintf("tag %s is not %s (policy exact:%s)", newTag, t.Pattern, t.Pattern)
	case "glob":
		if m, _ := path.Match(t.Pattern, newTag); m {
			return true, ""
		}
		return false, fmt.Sprintf("tag %s does not match %s (policy glob:%s)", newTag, t.Pattern, t.Pattern)
	}
	nv, cv := canonical(newTag), canonical(running)
	if nv == "" {
		return false, fmt.Sprintf("tag %s is not a semantic version (policy %s)", newTag, t.Kind)
	}
	if semver.Prerelease(nv) != "" {
		return false, fmt.Sprintf("tag %s is a pre-release (policy %s)", newTag, t.Kind)
	}
	if cv == "" {
		return false, fmt.Sprintf("running tag %s is not a semantic version, so %s cannot be judged (policy %s)", running, newTag, t.Kind)
	}
	if semver.Compare(nv, cv) <= 0 {
		return false, fmt.Sprintf("tag %s is not newer than the running %s (policy %s)", newTag, running, t.Kind)
	}
	switch t.Kind {
	case "patch":
		if semver.MajorMinor(nv) != semver.MajorMinor(cv) {
			return false, fmt.Sprintf("tag %s is more than a patch above %s (policy patch)", newTag, running)
		}
	case "minor":
		if semver.Major(nv) != semver.Major(cv) {
			return false, fmt.Sprintf("tag %s is a new major version above %s (policy minor)", newTag, running)
		}
	}
	return true, ""
}

// canonical is the canonical semver of a tag ("1.2" -> "v1.2.0"), "" when it is not one.
func canonical(tag string) string {
	if !strings.HasPrefix(tag, "v") {
		tag = "v" + tag
	}
	return semver.Canonical(tag)
}

// Window is a weekly deploy window in a time zone: the days it opens on and the time of day it
// opens and closes. A close at or before the open means the window runs past midnight into the
// next day (it still belongs to the day it opened on).
type Window struct {
	Days        [7]bool // by time.Weekday
	Open, Close int     // minutes after midnight
	Zone        *time.Location
	Text        string
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseWindow parses "Mon-Fri 09:00-17:00 Europe/Berlin" (days: a day, a range, or a list
// "Mon,Wed"; zone: an IANA name, UTC when left out).
func ParseWindow(s string) (Window, error) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return Window{}, fmt.Errorf("bad window %q; write DAYS HH:MM-HH:MM [ZONE], e.g. \"Mon-Fri 09:00-17:00 Europe/Berlin\"", s)
	}
	w := Window{Zone: time.UTC, Text: s}
	for _, part := range strings.Split(f[0], ",") {
		a, b, isRange := strings.Cut(strings.ToLower(part), "-")
		from, ok1 := dayNames[a]
		to, ok2 := from, true
		if isRange {
			to, ok2 = dayNames[b]
		}
		if !ok1 || !ok2 {
			return Window{}, fmt.Errorf("bad days %q in window %q; use Mon..Sun, a range Mon-Fri or a list Mon,Wed", f[0], s)
		}
		for d := from; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == to {
				break
			}
		}
	}
	o, c, ok := strings.Cut(f[1], "-")
	var err1, err2 error
	w.Open, err1 = clockMinutes(o)
	w.Close, err2 = clockMinutes(c)
	if !ok || err1 != nil || err2 != nil {
		return Window{}, fmt.Errorf("bad hours %q in window %q; write HH:MM-HH:MM (24-hour)", f[1], s)
	}
	if len(f) == 3 {
		loc, err := time.LoadLocation(f[2])
		if err != nil {
			return Window{}, fmt.Errorf("unknown time zone %q in window %q; use an IANA name such as Europe/Berlin", f[2], s)
		}
		w.Zone = loc
	}
	return w, nil
}

func clockMinutes(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// span is the interval of w that opens on the calendar day y-m-d (in w.Zone). time.Date
// normalises a wall time that DST skips to the hour after, so a window opening at 02:30 on
// the day clocks go forward opens at 03:30.
func (w Window) span(y int, m time.Month, d int) (open, close time.Time) {
	open = time.Date(y, m, d, w.Open/60, w.Open%60, 0, 0, w.Zone)
	cd := d
	if w.Close <= w.Open {
		cd++
	}
	close = time.Date(y, m, cd, w.Close/60, w.Close%60, 0, 0, w.Zone)
	return open, close
}

// Next is when w is open: now itself (open=true) when it is open at now, else the next
// opening. It always finds one within eight days when w has a day.
func (w Window) Next(now time.Time) (at time.Time, open bool) {
	local := now.In(w.Zone)
	for i := -1; i <= 8; i++ {
		day := time.Date(local.Year(), local.Month(), local.Day()+i, 12, 0, 0, 0, w.Zone)
		if !w.Days[day.Weekday()] {
			continue
		}
		o, c := w.span(day.Year(), day.Month(), day.Day())
		if !now.Before(o) && now.Before(c) {
			return now, true
		}
		if o.After(now) {
			return o, false
		}
	}
	return time.Time{}, false
}

// NextOpen is when any of ws is open (now when one is, or no windows are set); zero when
// none ever opens.
func NextOpen(ws []Window, now time.Time) (time.Time, bool) {
	if len(ws) == 0 {
		return now, true
	}
	var best time.Time
	for _, w := range ws {
		at, open := w.Next(now)
		if open {
			return now, true
		}
		if !at.IsZero() && (best.IsZero() || at.Before(best)) {
			best = at
		}
	}
	return best, false
}

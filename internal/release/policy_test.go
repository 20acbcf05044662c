package release

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func TestTagPolicyAccepts(t *testing.T) {
	cases := []struct {
		policy, running, tag string
		ok                   bool
		why                  string
	}{
		{"patch", "v1.2.3", "v1.2.4", true, ""},
		{"patch", "1.2.3", "1.2.10", true, ""}, // no leading v, numeric not lexical order
		{"patch", "v1.2.3", "v1.3.0", false, "more than a patch"},
		{"patch", "v1.2.3", "v1.2.3", false, "not newer"},
		{"patch", "v1.2.3", "v1.2.2", false, "not newer"},
		{"patch", "v1.2.3", "v1.2.4-rc.1", false, "pre-release"},
		{"minor", "v1.2.3", "v1.9.0", true, ""},
		{"minor", "v1.2.3", "v2.0.0", false, "new major"},
		{"minor", "v1.2", "v1.2.1", true, ""}, // v1.2 reads as v1.2.0
		{"major", "v1.2.3", "v2.0.0", true, ""},
		{"major", "v1.2.3", "latest", false, "not a semantic version"},
		{"major", "latest", "v2.0.0", false, "running tag latest"},
		{"glob:v2.*", "v1", "v2.7", true, ""},
		{"glob:v2.*", "v1", "v3.0", false, "does not match"},
		{"exact:v3", "v1", "v3", true, ""},
		{"exact:v3", "v1", "v3.0", false, "is not v3"},
		{"any", "v1", "whatever", true, ""},
	}
	for _, c := range cases {
		p, err := ParseTagPolicy(c.policy)
		if err != nil {
			t.Fatalf("%s: %v", c.policy, err)
		}
		ok, why := p.Accepts(c.running, c.tag)
		if ok != c.ok || !strings.Contains(why, c.why) {
			t.Errorf("%s: %s -> %s = %v %q, want %v containing %q", c.policy, c.running, c.tag, ok, why, c.ok, c.why)
		}
	}
	for _, bad := range []string{"semver", "glob:", "glob:[", "exact"} {
		if _, err := ParseTagPolicy(bad); err == nil {
			t.Errorf("ParseTagPolicy(%q) accepted it", bad)
		}
	}
}

func mustWindow(t *testing.T, s string) Window {
	t.Helper()
	w, err := ParseWindow(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func at(t *testing.T, s, zone string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWindowNext(t *testing.T) {
	const ber = "Europe/Berlin"
	cases := []struct {
		window, now string
		open        bool
		next        string // in Berlin time, when not open
	}{
		// 2026-11-27 is a Friday.
		{"Mon-Fri 09:00-17:00 Europe/Berlin", "2026-11-27 10:00", true, ""},
		{"Mon-Fri 09:00-17:00 Europe/Berlin", "2026-11-27 17:00", false, "2026-11-30 09:00"}, // close is exclusive, weekend skipped
		{"Mon-Fri 09:00-17:00 Europe/Berlin", "2026-11-27 08:59", false, "2026-11-27 09:00"},
		// Across midnight: Friday's 22:00-02:00 still holds at 01:00 on Saturday.
		{"Fri 22:00-02:00 Europe/Berlin", "2026-11-28 01:00", true, ""},
		{"Fri 22:00-02:00 Europe/Berlin", "2026-11-28 02:00", false, "2026-12-04 22:00"},
		// Week wrap: Sat-Mon.
		{"Sat-Mon 10:00-11:00 Europe/Berlin", "2026-11-30 10:30", true, ""},
		// DST: on 2026-03-29 Berlin skips 02:00-03:00; a 02:30 opening opens at 03:30 CEST.
		{"Sun 02:30-04:00 Europe/Berlin", "2026-03-29 01:00", false, "2026-03-29 03:30"},
		// DST back: 2026-10-25 has 25 hours; a 00:00-06:00 window lasts 7 real hours.
		{"Sun 00:00-06:00 Europe/Berlin", "2026-10-25 05:30", true, ""},
		// A window in another zone, asked in Berlin time: 09:00 New York is 15:00 Berlin.
		{"Mon-Fri 09:00-10:00 America/New_York", "2026-11-27 14:00", false, "2026-11-27 15:00"},
	}
	for _, c := range cases {
		w := mustWindow(t, c.window)
		now := at(t, c.now, ber)
		next, open := w.Next(now)
		if open != c.open {
			t.Errorf("%s at %s: open=%v, want %v", c.window, c.now, open, c.open)
			continue
		}
		if !open && !next.Equal(at(t, c.next, ber)) {
			t.Errorf("%s at %s: next %s, want %s", c.window, c.now, next.In(now.Location()), c.next)
		}
	}
	// The DST-back window really is 7 hours long.
	w := mustWindow(t, "Sun 00:00-06:00 Europe/Berlin")
	o, c := w.span(2026, time.October, 25)
	if c.Sub(o) != 7*time.Hour {
		t.Errorf("window on the DST-back day lasts %s, want 7h", c.Sub(o))
	}
	for _, bad := range []string{"Mon 9-17", "Funday 09:00-10:00", "Mon 09:00-25:00", "Mon 09:00-10:00 Mars/Base", "09:00-10:00"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted it", bad)
		}
	}
}

func TestNextOpenOfSeveral(t *testing.T) {
	ws := []Window{mustWindow(t, "Mon 09:00-10:00 UTC"), mustWindow(t, "Sat 12:00-13:00 UTC")}
	now := at(t, "2026-11-27 11:00", "UTC") // Friday
	next, open := NextOpen(ws, now)
	if open || !next.Equal(at(t, "2026-11-28 12:00", "UTC")) {
		t.Fatalf("NextOpen = %s %v, want Saturday 12:00", next, open)
	}
	if _, open := NextOpen(nil, now); !open {
		t.Fatal("no windows must mean always open")
	}
}

func TestJudge(t *testing.T) {
	now := at(t, "2026-11-27 11:00", "UTC") // Friday
	closed := Policy{Windows: []Window{mustWindow(t, "Mon 09:00-10:00 UTC")}}
	freeze := &Freeze{Until: now.Add(time.Hour), Reason: "black friday", By: "alice", Scope: "all"}
	expired := &Freeze{Until: now.Add(-time.Second), Reason: "old", By: "bob"}
	cases := []struct {
		name     string
		p        Policy
		trig     domain.Trigger
		image    string
		nb       time.Time
		freeze   *Freeze
		approved string
		override bool
		state    string
		msg      string
	}{
		{"open", Policy{}, domain.TriggerRegistry, "a:v2", time.Time{}, nil, "", false, "started", ""},
		{"trigger refused", Policy{Triggers: []domain.Trigger{domain.TriggerGit}}, domain.TriggerRegistry, "a:v2", time.Time{}, nil, "", false, "skipped", "trigger registry"},
		{"tag refused", Policy{Tags: TagPolicy{Kind: "patch"}}, domain.TriggerRegistry, "a:v2.0.0", time.Time{}, nil, "", false, "skipped", "more than a patch"},
		{"window closed", closed, domain.TriggerWebhook, "a:v2", time.Time{}, nil, "", false, StateQueued, "deploy window"},
		{"person ignores window", closed, domain.TriggerCLI, "a:v2", time.Time{}, nil, "", false, "started", ""},
		{"frozen", Policy{}, domain.TriggerGit, "a:v2", time.Time{}, freeze, "", false, StateQueued, "black friday"},
		{"automated cannot override", Policy{}, domain.TriggerGit, "a:v2", time.Time{}, freeze, "", true, StateQueued, "alice"},
		{"person overrides", Policy{}, domain.TriggerKey, "a:v2", time.Time{}, freeze, "", true, "started", ""},
		{"expired freeze ignored", Policy{}, domain.TriggerGit, "a:v2", time.Time{}, expired, "", false, "started", ""},
		{"scheduled", Policy{}, domain.TriggerCLI, "a:v2", now.Add(time.Minute), nil, "", false, StateScheduled, "scheduled"},
		{"needs approval", Policy{Approval: true}, domain.TriggerRegistry, "a:v2", time.Time{}, nil, "", false, StateAwaiting, "approval"},
		{"approved", Policy{Approval: true}, domain.TriggerRegistry, "a:v2", time.Time{}, nil, "carol", false, "started", ""},
	}
	for _, c := range cases {
		d := Judge(c.p, c.trig, c.image, "v1.0.0", c.nb, c.freeze, c.approved, c.override, now)
		if d.State != c.state || !strings.Contains(d.Message, c.msg) {
			t.Errorf("%s: %s %q, want %s containing %q", c.name, d.State, d.Message, c.state, c.msg)
		}
		if c.name == "frozen" && !d.Until.Equal(freeze.Until) {
			t.Errorf("frozen: until %s, want the freeze's end %s", d.Until, freeze.Until)
		}
	}
}

func TestResolveLayers(t *testing.T) {
	yes := true
	c := PolicyConfig{
		Default:  PolicySpec{Triggers: "cli,key", Tags: "patch"},
		Services: map[string]PolicySpec{"web": {Tags: "minor", Approval: &yes}},
	}
	p, err := c.Resolve("web", map[string]string{AnnotationTriggers: "registry", AnnotationWindows: "Mon 09:00-10:00 UTC; Tue 09:00-10:00 UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Triggers) != 1 || p.Triggers[0] != domain.TriggerRegistry || p.Tags.Kind != "minor" || !p.Approval || len(p.Windows) != 2 {
		t.Fatalf("resolved %+v", p)
	}
	if _, err := c.Resolve("web", map[string]string{AnnotationTriggers: "carrier-pigeon"}); err == nil || !strings.Contains(err.Error(), "carrier-pigeon") {
		t.Fatalf("bad annotation error %v", err)
	}
}

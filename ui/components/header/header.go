// Package header is the console's two-line header: where opsdeck is connected (context,
// cluster, user, namespaces, DEMO), the health of the API server and of Prometheus, the
// auto-guard state and the clock. Every state is written in words, so it reads without colour.
package header

import (
	"github.com/opsdeck/opsdeck/internal/safe"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// Info is everything the header shows.
type Info struct {
	Identity domain.Identity
	// API is the API server's health from the latest cluster state; HaveState is false until
	// the first one arrives.
	API       domain.Health
	HaveState bool
	// MetricsErr is the latest frame's error; MetricsOK the time of the latest good frame.
	HaveMetrics bool
	MetricsErr  error
	MetricsOK   time.Time
	Guard       bool
	GuardText   string // extra guard status, e.g. from the guard engine
	GuardLeader string // the pod of a guard leader that guards the namespace instead of the console
	ReadOnly    bool
	// Freeze names the active freezes ("FROZEN namespace until ... by alice: reason"), or "".
	Freeze string
	Now    time.Time
	// OffScreenEvery, when set, is how often rows neither on screen nor rolling out get new
	// values (they are read in turn).
	OffScreenEvery time.Duration
}

// Height is the number of lines View returns.
const Height = 2

// View renders the header in exactly two lines of width cells.
func View(t theme.Theme, width int, in Info) string {
	sep := t.Muted.Render(" │ ")
	id := in.Identity
	ns := "all namespaces"
	if len(id.Namespaces) > 0 {
		ns = strings.Join(id.Namespaces, ",")
	}
	left := t.Brand.Render("opsdeck")
	if id.Demo {
		left += " " + t.Demo.Render(" DEMO ")
	}
	left += " " + t.Label.Render("ctx ") + t.Value.Render(id.Context) + sep +
		t.Label.Render("cluster ") + t.Value.Render(id.Cluster) + sep +
		t.Label.Render("user ") + t.Value.Render(id.User) + sep +
		t.Label.Render("ns ") + t.Value.Render(ns)
	clock := ""
	if !in.Now.IsZero() {
		clock = in.Now.Format(time.TimeOnly)
	}
	line1 := join(left, t.Value.Render(clock), width)

	var api string
	switch {
	case !in.HaveState:
		api = t.Warn.Render("API connecting…")
	case in.API.Reconnecting:
		api = t.Warn.Render("API reconnecting") + t.Muted.Render(ago(in.Now, in.API.LastSuccess))
	case !in.API.OK:
		api = t.Bad.Render("API error: "+in.API.Err) + t.Muted.Render(ago(in.Now, in.API.LastSuccess))
	default:
		api = t.OK.Render("API ok")
	}
	var prom string
	switch {
	case !in.HaveMetrics:
		prom = t.Warn.Render("metrics waiting…")
	case in.MetricsErr != nil:
		prom = t.Bad.Render("metrics stale: "+safe.OneLine(in.MetricsErr.Error())) + t.Muted.Render(ago(in.Now, in.MetricsOK))
	default:
		prom = t.OK.Render("metrics ok")
		if in.OffScreenEvery > 0 {
			prom += t.Muted.Render(" (off-screen rows every " + in.OffScreenEvery.Round(time.Second).String() + ")")
		}
	}
	guard := t.Muted.Render("auto-guard: off")
	if in.Guard {
		guard = t.OK.Render("auto-guard: on")
		if in.GuardLeader != "" {
			guard = t.OK.Render("auto-guard: by " + in.GuardLeader + " (leader)")
		}
	}
	if in.GuardText != "" {
		guard += " " + t.Muted.Render(in.GuardText)
	}
	line2 := api + sep + prom + sep + guard
	if in.ReadOnly {
		line2 += sep + t.Warn.Render("READ-ONLY")
	}
	if in.Freeze != "" {
		line2 += sep + t.Warn.Render(safe.OneLine(in.Freeze))
	}
	return line1 + "\n" + format.Fit(line2, width)
}

// join puts right at the end of a width-cell line that starts with left.
func join(left, right string, width int) string {
	rw := ansi.StringWidth(right)
	if rw >= width {
		return format.Fit(right, width)
	}
	return format.Fit(left, width-rw-1) + " " + right
}

func ago(now, t time.Time) string {
	if t.IsZero() || now.IsZero() {
		return " (never ok)"
	}
	return " (last ok " + format.Age(now.Sub(t)) + " ago)"
}

package header

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// A console whose namespace a guard leader already guards says who guards it, in place of
// "on"; with auto-guard off it says off, whoever leads.
func TestHeaderNamesTheGuardLeader(t *testing.T) {
	base := Info{HaveState: true, API: domain.Health{OK: true}, HaveMetrics: true, Now: time.Now()}
	cases := []struct {
		guard  bool
		leader string
		want   string
	}{
		{true, "", "auto-guard: on"},
		{true, "opsdeck-guard-7d9f-x2k4q", "auto-guard: by opsdeck-guard-7d9f-x2k4q (leader)"},
		{false, "opsdeck-guard-7d9f-x2k4q", "auto-guard: off"},
	}
	for _, c := range cases {
		in := base
		in.Guard, in.GuardLeader = c.guard, c.leader
		got := ansi.Strip(View(theme.Plain(), 120, in))
		if !strings.Contains(got, c.want) {
			t.Errorf("guard %v leader %q: header\n%s\nwant %q", c.guard, c.leader, got, c.want)
		}
	}
}

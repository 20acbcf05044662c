package services

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// A waiting deploy replaces "complete" in PHASE with what waits and until when.
func TestPhaseShowsWaitingDeploys(t *testing.T) {
	nine := time.Date(2026, 11, 30, 9, 0, 0, 0, time.Local)
	cases := []struct {
		p    domain.PendingDeploy
		want string
	}{
		{domain.PendingDeploy{Image: "orders:v2", State: "queued", Until: nine}, "queued v2 09:00"},
		{domain.PendingDeploy{Image: "orders:v2", State: "scheduled", NotBefore: nine}, "scheduled v2 09:00"},
		{domain.PendingDeploy{Image: "orders:v2", State: "awaiting-approval"}, "awaits approval"},
	}
	for _, c := range cases {
		s := svc("orders")
		p := c.p
		s.Pending = &p
		m := New(theme.Plain(), th)
		m.SetServices([]domain.Service{s})
		m.SetSize(160, 5)
		if out := ansi.Strip(m.View()); !strings.Contains(out, c.want) {
			t.Errorf("PHASE of %s: want %q in\n%s", c.p.State, c.want, out)
		}
	}
}

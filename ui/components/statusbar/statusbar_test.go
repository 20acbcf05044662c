package statusbar

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// TestStatusThenHelp: a status shows, marked as failed or not, until TTL; then the help.
func TestStatusThenHelp(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	m := New(theme.Plain())
	help := func() string { return "d deploy" }
	if got := m.View(40, now, help); strings.TrimSpace(got) != "d deploy" || len(got) != 40 {
		t.Fatalf("no status: %q", got)
	}
	m.Set("deploy cart-service: done", false, now)
	if got := m.View(40, now.Add(TTL-time.Second), help); !strings.HasPrefix(got, "• deploy cart-service: done") {
		t.Fatalf("status: %q", got)
	}
	if got := m.View(40, now.Add(TTL), help); strings.TrimSpace(got) != "d deploy" {
		t.Fatalf("after TTL: %q", got)
	}
	m.Set("read-only: deploy refused", true, now)
	if got := ansi.Strip(m.View(40, now, help)); !strings.HasPrefix(got, "✗ read-only: deploy refused") {
		t.Fatalf("failure: %q", got)
	}
	if got := m.View(30, now.Add(TTL), help); len(got) != 30 {
		t.Fatalf("at 30 columns: %q", got)
	}
}

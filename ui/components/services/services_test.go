package services

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/theme"
)

var th = domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
	domain.MetricErrorRatio: {Metric: domain.MetricErrorRatio, Value: 0.05},
	domain.MetricCPU:        {Metric: domain.MetricCPU, Value: 0.8},
}}

func svc(name string) domain.Service {
	return domain.Service{Namespace: "shop", Name: name, Image: name + ":v1", Desired: 3, Ready: 3, Revision: 1, Phase: domain.PhaseComplete}
}

func table(w, h int) Model {
	m := New(theme.Plain(), th)
	m.SetServices([]domain.Service{svc("cart"), svc("gateway"), svc("orders"), svc("payments")})
	m.SetValues(map[string]domain.Values{
		"shop/cart":     {domain.MetricErrorRatio: 0.001, domain.MetricCPU: 0.9, domain.MetricLatencyP99: 0.1},
		"shop/gateway":  {domain.MetricErrorRatio: 0.02, domain.MetricCPU: 0.2},
		"shop/orders":   {domain.MetricErrorRatio: 0.30, domain.MetricCPU: 0.1, domain.MetricLatencyP99: 1.9},
		"shop/payments": {},
	})
	m.SetSize(w, h)
	return m
}

func names(m Model) string {
	var out []string
	for _, s := range m.Visible() {
		out = append(out, s.Name)
	}
	return strings.Join(out, ",")
}

func TestSortOrders(t *testing.T) {
	m := table(100, 10)
	tests := []struct {
		key  SortKey
		want string
	}{
		{SortErrors, "orders,gateway,cart,payments"}, // highest first, missing values last
		{SortP99, "orders,cart,gateway,payments"},
		{SortCPU, "cart,gateway,orders,payments"},
		{SortName, "cart,gateway,orders,payments"},
	}
	for _, tc := range tests {
		if got := m.CycleSort(); got != tc.key {
			t.Fatalf("CycleSort = %s, want %s", got, tc.key)
		}
		if got := names(m); got != tc.want {
			t.Errorf("sort %s: %s, want %s", tc.key, got, tc.want)
		}
	}
}

func TestSelectionSurvivesSortAndFilter(t *testing.T) {
	m := table(100, 10)
	m.Select("shop/gateway")
	m.SetSort(SortErrors)
	if s, _ := m.Selected(); s.Name != "gateway" {
		t.Fatalf("after sort selected %s", s.Name)
	}
	m.SetFilter("AY") // gateway, payments
	if names(m) != "gateway,payments" {
		t.Fatalf("filter: %s", names(m))
	}
	if s, _ := m.Selected(); s.Name != "gateway" {
		t.Fatalf("after filter selected %s", s.Name)
	}
	m.SetFilter("orders")
	if s, _ := m.Selected(); s.Name != "orders" {
		t.Fatalf("selection should move to what is shown, got %s", s.Name)
	}
	m.SetFilter("")
	if m.Len() != 4 {
		t.Fatal("clearing the filter")
	}
}

func TestBreachesAreMarkedWithoutColour(t *testing.T) {
	m := table(100, 6)
	view := ansi.Strip(m.View())
	lines := strings.Split(view, "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); w != 100 {
			t.Errorf("line width %d: %q", w, l)
		}
	}
	row := func(name string) string {
		for _, l := range lines {
			if strings.Contains(l, " "+name+" ") || strings.Contains(l, "▶"+name+" ") {
				return l
			}
		}
		t.Fatalf("no row %s in\n%s", name, view)
		return ""
	}
	if r := row("orders"); !strings.Contains(r, "30.0!") || !strings.Contains(r, "1900") || strings.Contains(r, "1900!") {
		t.Errorf("orders: %q (5xx breached, p99 has no threshold)", r)
	}
	if r := row("cart"); !strings.Contains(r, "0.90!") || strings.Contains(r, "0.10!") || !strings.HasPrefix(r, "▶") {
		t.Errorf("cart: %q (cpu breached, selected)", r)
	}
	if r := row("payments"); strings.Count(r, " - ") < 3 {
		t.Errorf("payments without values: %q", r)
	}
	if !strings.Contains(lines[0], "GUARD") {
		t.Error("no GUARD column")
	}
	m.SetGuardStates(map[string]string{"shop/orders": "armed"})
	if !strings.Contains(ansi.Strip(m.View()), "armed") {
		t.Error("guard state not shown")
	}
}

func TestColumnsFitNarrowAndWide(t *testing.T) {
	for _, w := range []int{80, 120, 200} {
		m := table(w, 3)
		for _, l := range strings.Split(ansi.Strip(m.View()), "\n") {
			if got := ansi.StringWidth(l); got != w {
				t.Errorf("width %d: line of %d cells: %q", w, got, l)
			}
		}
	}
	if h := ansi.Strip(table(80, 2).View()); !strings.Contains(h, "GUARD") || !strings.Contains(h, "5XX%") {
		t.Errorf("80 columns: %q", h)
	}
	if h := ansi.Strip(table(120, 2).View()); !strings.Contains(h, "REV") {
		t.Errorf("120 columns: %q", h)
	}
}

func TestScrollKeepsCursorVisible(t *testing.T) {
	m := New(theme.Plain(), th)
	var svcs []domain.Service
	for i := range 50 {
		svcs = append(svcs, svc("svc-"+string(rune('a'+i/26))+string(rune('a'+i%26))))
	}
	m.SetServices(svcs)
	m.SetSize(80, 6) // 5 rows
	m.Move(12)
	view := ansi.Strip(m.View())
	if !strings.Contains(view, "▶svc-am") {
		t.Fatalf("cursor row not visible:\n%s", view)
	}
	if strings.Count(view, "\n") != 5 {
		t.Fatalf("rendered more than the visible rows")
	}
}

// The watches fill in any order: until they have synced the first row in sort order is
// selected, whatever a partial list selected; after, the selection is kept by name.
func TestStartsAtTheTopThenKeepsSelectionByName(t *testing.T) {
	m := New(theme.Plain(), th)
	m.SetSize(120, 3) // two rows on screen
	m.SetServices([]domain.Service{svc("checkout"), svc("orders")})
	m.SetServices([]domain.Service{svc("cart"), svc("checkout"), svc("gateway"), svc("orders")})
	m.Settle()
	if s, _ := m.Selected(); s.Name != "cart" {
		t.Fatalf("first screen selects %q, want cart (the first row)", s.Name)
	}
	if first, n := m.VisibleRange(); first != 0 || n != 2 {
		t.Errorf("first screen shows rows %d..%d, want 0..2", first, first+n)
	}
	m.Move(1)
	m.SetServices([]domain.Service{svc("a-new"), svc("cart"), svc("checkout"), svc("gateway"), svc("orders")})
	if s, _ := m.Selected(); s.Name != "checkout" {
		t.Errorf("after a new service, selected %q, want checkout (kept by name)", s.Name)
	}
}

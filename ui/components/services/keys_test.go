package services

import (
	"testing"

	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/keys/keytest"
)

func send(m Model, ks ...string) Model {
	for _, k := range ks {
		m, _ = m.Update(keytest.Press(k))
	}
	return m
}

func selected(m Model) string {
	s, _ := m.Selected()
	return s.Name
}

func TestKeysMoveTheSelection(t *testing.T) {
	m := table(100, 10)
	for _, step := range []struct {
		key, want string
	}{
		{"j", "gateway"}, {"down", "orders"}, {"k", "gateway"},
		{"G", "payments"}, {"j", "payments"}, // the last row stays selected
		{"g", "cart"}, {"k", "cart"},
		{"x", "cart"}, // not a table key: ignored
	} {
		m = send(m, step.key)
		if got := selected(m); got != step.want {
			t.Fatalf("after %q: selected %q, want %q", step.key, got, step.want)
		}
	}
}

func TestSortKeyCyclesAndKeepsTheSelection(t *testing.T) {
	m := send(table(100, 10), "j") // gateway
	m = send(m, "o")
	if m.Sort() != SortErrors || names(m) != "orders,gateway,cart,payments" {
		t.Fatalf("o: sort %s, rows %s", m.Sort(), names(m))
	}
	if selected(m) != "gateway" {
		t.Fatalf("sorting moved the selection to %q", selected(m))
	}
}

func TestFilterIsTypedInTheTable(t *testing.T) {
	m := send(table(100, 10), "/")
	if !m.Filtering() {
		t.Fatal("/ did not start the filter")
	}
	m = send(m, "P", "A", "Y")
	if names(m) != "payments" || m.Filter() != "pay" {
		t.Fatalf("typing PAY: rows %s, filter %q", names(m), m.Filter())
	}
	// While the filter is typed, the table's own keys are text.
	m = send(m, "backspace", "backspace", "backspace", "o")
	if m.Sort() != SortName || names(m) != "orders" {
		t.Fatalf("o while filtering: sort %s, rows %s", m.Sort(), names(m))
	}
	m = send(m, "enter")
	if m.Filtering() || m.Filter() != "o" {
		t.Fatalf("enter should keep the filter: filtering %v, filter %q", m.Filtering(), m.Filter())
	}
	m = send(m, "j") // moves within the filtered rows
	if selected(m) != "orders" {
		t.Fatalf("selected %q", selected(m))
	}
	m = send(m, "esc")
	if m.Filter() != "" || m.Len() != 4 {
		t.Fatalf("esc should clear a kept filter: %q, %d rows", m.Filter(), m.Len())
	}
	m = send(m, "/", "c", "esc")
	if m.Filtering() || m.Filter() != "" || m.Len() != 4 {
		t.Fatalf("esc while typing should clear: filtering %v, %q, %d rows", m.Filtering(), m.Filter(), m.Len())
	}
}

func TestTableKeysFollowOverrides(t *testing.T) {
	km := keys.Default()
	if err := km.Apply(map[string][]string{"down": {"n"}, "filter": {"f"}}); err != nil {
		t.Fatal(err)
	}
	m := table(100, 10)
	m.SetKeyMap(NewKeyMap(km))
	if m = send(m, "j"); selected(m) != "cart" {
		t.Fatalf("j still moves down after it was rebound: %q", selected(m))
	}
	if m = send(m, "n"); selected(m) != "gateway" {
		t.Fatalf("n does not move down: %q", selected(m))
	}
	if m = send(m, "f"); !m.Filtering() {
		t.Fatal("f does not start the filter")
	}
	if h := m.KeyMap().Down.Help().Key; h != "n" {
		t.Fatalf("help shows %q for down", h)
	}
}

package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/components/metrics"
	"github.com/opsdeck/opsdeck/ui/keys/keytest"
)

// BenchmarkRefresh500 is what one refresh costs the UI with 500 services at 200x60: Update
// with a new metrics frame (table values, series store, alerts) and the View after it. At the
// default 2 s refresh this is most of the console's idle CPU.
func BenchmarkRefresh500(b *testing.B) {
	m, big := benchModel(b)
	at := big.now
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		at = at.Add(2 * time.Second)
		f := big.frame(at) // the backend's work, not the UI's
		b.StartTimer()
		m.pollGen++
		mm, _ := m.Update(frameMsg{gen: m.pollGen, round: domain.Round{Frame: f}})
		m = mm.(Model)
		_ = m.View()
	}
}

// The series store keeps the history of the services a person looked at last, not of every
// service in every frame: at 2,000 services that grew the console by a megabyte every few
// seconds. Moving down the table through more services than it keeps, the store holds the
// last historyKept of them (and their ReplicaSets), the selected one's sparklines drawn.
func TestStoreKeepsTheHistoryOfTheServicesLookedAt(t *testing.T) {
	m, big := benchModel(t)
	at := big.now
	up := func(msg tea.Msg) {
		mm, _ := m.Update(msg)
		m = mm.(Model)
	}
	var visited []string
	for range 3 * historyKept {
		svc, _ := m.selected()
		visited = append(visited, svc.Key())
		at = at.Add(2 * time.Second)
		up(frameMsg{gen: m.pollGen, round: domain.Round{Frame: big.frame(at)}})
		up(keytest.Press("down"))
	}
	sel, _ := m.selected()
	want := map[string]bool{}
	for _, k := range append(visited[len(visited)-historyKept+1:], sel.Key()) {
		want[k] = true
		svc, _ := m.state.Find(k)
		for _, rs := range svc.ReplicaSets {
			want[metrics.ReplicaSetKey(svc.Namespace, rs.Name)] = true
		}
	}
	got := m.store.Keys()
	slices.Sort(got)
	for _, k := range got {
		if !want[k] {
			t.Errorf("the store keeps %s, which is not among the %d services looked at last", k, historyKept)
		}
	}
	if len(got) != len(want) {
		t.Errorf("the store keeps %d series keys, want %d: %v", len(got), len(want), got)
	}
	if pts := m.store.Points(sel.Key(), domain.MetricRequestRate); len(pts) == 0 {
		t.Errorf("no request rate points of the selected %s", sel.Key())
	}
	if strings.Contains(m.View().Content, "waiting for metrics") {
		t.Errorf("the selected service's metrics wait for the next frame")
	}
}

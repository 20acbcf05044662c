package app

import (
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
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

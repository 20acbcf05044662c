package services

import (
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// SetNow sets the time the PHASE column's countdowns (a blue-green service's scale-down) are
// measured from; the table is redrawn when a shown countdown changes.
func (m *Model) SetNow(t time.Time) {
	t = t.Truncate(time.Second)
	if t.Equal(m.now) {
		return
	}
	m.now = t
	for _, s := range m.all {
		if s.BlueGreen != nil && !s.BlueGreen.ScaleDownAt.IsZero() {
			m.version++
			return
		}
	}
}

// blueGreenCell is the PHASE cell of a blue-green service: the active colour, the pending
// switch or the scale-down countdown.
func (m *Model) blueGreenCell(s domain.Service) (string, *theme.Paint) {
	text, state := format.BlueGreenState(s, m.now)
	switch state {
	case "bad":
		return text, &m.paint.bad
	case "warn":
		return text, &m.paint.warn
	}
	return text, &m.paint.ok
}

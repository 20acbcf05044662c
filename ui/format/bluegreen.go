package format

import (
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Countdown writes a time left as m:ss (or h:mm:ss), never negative: "4:32", "0:05".
func Countdown(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int((d + time.Second - 1) / time.Second) // round up: 0:00 only when due
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// BlueGreenState is how a blue-green service's phase reads in a table cell of at most 11
// cells, and whether it is settled (ok), in progress (warn) or broken (bad):
//
//	"invalid"       the pair does not follow the convention
//	"→green 2/3"    a switch to green waits for its pods
//	"→green hold"   green is Ready and held in preview
//	"green ↓4:32"   green serves; the previous colour scales down in 4:32
//	"green"         green serves, the other colour is idle
func BlueGreenState(s domain.Service, now time.Time) (text string, state string) {
	bg := s.BlueGreen
	switch {
	case bg == nil:
		return string(s.Phase), ""
	case bg.Problem != "":
		return "invalid", "bad"
	case bg.Pending != "":
		c := bg.Of(bg.Pending)
		if c.AllReady() && c.Image == bg.PendingImage {
			return "→" + string(bg.Pending) + " hold", "warn"
		}
		return fmt.Sprintf("→%s %d/%d", bg.Pending, min(c.Ready, c.Updated), c.Desired), "warn"
	case !bg.ScaleDownAt.IsZero():
		return string(bg.Active) + " ↓" + Countdown(bg.ScaleDownAt.Sub(now)), "ok"
	case s.Phase == domain.PhaseStalled:
		return string(bg.Active) + " stalled", "bad"
	case s.Phase != domain.PhaseComplete:
		return string(bg.Active) + " " + string(s.Phase), "warn"
	}
	return string(bg.Active), "ok"
}

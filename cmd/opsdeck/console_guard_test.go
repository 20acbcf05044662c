package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/app"
)

// Issue 9, defect 9: the console's guard never waits for the UI. With nobody reading (a frozen
// console), a thousand rounds are handed over at once; the console then reads the latest
// states and every event of the rounds it missed, in order.
func TestConsoleGuardNeverBlocksOnTheUI(t *testing.T) {
	c := &consoleGuard{updates: make(chan app.GuardUpdate, 1)}
	start := time.Now()
	for i := range 1000 {
		c.publish(app.GuardUpdate{
			States: map[string]string{"shop/order-service": fmt.Sprint("round ", i)},
			Events: []domain.Event{{Reason: "AutoRollback", Message: fmt.Sprint(i)}},
		})
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("1000 rounds with a blocked console took %s", took)
	}
	select {
	case u := <-c.updates:
		if got := u.States["shop/order-service"]; got != "round 999" {
			t.Errorf("state %q, want the latest, round 999", got)
		}
		if len(u.Events) != 1000 || u.Events[0].Message != "0" || u.Events[999].Message != "999" {
			t.Errorf("%d events, want all 1000 in order", len(u.Events))
		}
	default:
		t.Fatal("no update for the console")
	}
}

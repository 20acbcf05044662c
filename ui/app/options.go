package app

import (
	"context"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Options configure the console. The zero value works: defaults fill what is unset.
type Options struct {
	// Clock gives the time; SystemClock in production, a manual clock in tests.
	Clock domain.Clock
	// Refresh is the metrics refresh interval (default 2s).
	Refresh time.Duration
	// Thresholds colour values, mark breaches and raise the console's alerts.
	Thresholds domain.Thresholds
	// ReadOnly refuses deploy, rollback, pause/resume, restart and scale with a message in
	// place (the executor refuses too; the console says so before asking anything).
	ReadOnly bool
	// KeyOverrides rebinds actions by name, from the config ("deploy": ["D"]); see keys.Names.
	KeyOverrides map[string][]string
	// HistoryWindow is the span of the sparklines (default 10m).
	HistoryWindow time.Duration
	// OnGuardToggle, when set, is called (from a command, not from Update) when the user
	// switches auto-guard on or off with its key.
	OnGuardToggle func(on bool)
	// OnGuardRelease, when set, is called (from a command) with a service key when the user
	// clears auto-guard's hold on that service: a human has looked at it.
	OnGuardRelease func(key string)
	// Pending, when set, acts on a service's waiting deploy: verb "approve", "cancel" or
	// "run-now" (the A, x and N keys, after a confirmation). It returns a one-line message.
	Pending func(ctx context.Context, verb, namespace, service string) (string, error)
	// Freeze, when set, returns the namespace's active freeze for the header (cheap: it is
	// read from memory, refreshed elsewhere).
	Freeze func() *domain.FreezeInfo
	// GuardOn is the auto-guard state at start.
	GuardOn bool
	// Rounds, when set, is the backend's state stream: each round brings the metrics frame,
	// auto-guard's GUARD column and its rollbacks and verdict changes, and the threshold
	// alerts raised or resolved. The console then reads no metrics itself, and rings the
	// terminal bell on each Warning. Unset, it polls the backend every Refresh.
	Rounds <-chan domain.Round
	// Judge, when set and Rounds is not, acts on each round the console polls itself, as a
	// stream's actors would (tests raise alerts with it). It runs in a command.
	Judge func(r *domain.Round)
	// Timeline, when set, writes a service's incident timeline to a file and returns its path
	// (the t key); it runs in a command.
	Timeline TimelineFunc
	// Logs, when set, reads the selected service's pods' logs (the l key).
	Logs LogSource
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = domain.SystemClock{}
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.HistoryWindow <= 0 {
		o.HistoryWindow = 10 * time.Minute
	}
	return o
}

//go:build faults

package actions

import (
	"fmt"
	"os"
	"time"
)

// Fault injection, for game days only, and only in a binary built with -tags faults (the
// tests build theirs so): each variable holds every action for the duration it is set to (e.g.
// 60s), after the intent line (before the first API call) or after the API calls (before the
// outcome line), so that a test can kill the process there. A release binary has no such hook.
const (
	faultHoldAfterIntent   = "OPSDECK_FAULT_HOLD_AFTER_INTENT"
	faultHoldBeforeOutcome = "OPSDECK_FAULT_HOLD_BEFORE_OUTCOME"
)

func holdForFault(env string) {
	v := os.Getenv(env)
	if v == "" {
		return
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		fmt.Fprintf(os.Stderr, "opsdeck: %s: holding %s\n", env, d)
		time.Sleep(d)
	}
}

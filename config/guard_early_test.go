package config

import (
	"strings"
	"testing"
)

func TestGuardEarlyAndCrashRestartsValidation(t *testing.T) {
	_, errs := Parse([]byte("guard:\n  crash_restarts: 0\n  early:\n    confidence: 1\n    min_requests: 0\n"))
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	for _, want := range []string{"guard.crash_restarts: must be at least 1, not 0",
		"guard.early.confidence: must be at least 0.9 and below 1", "guard.early.min_requests: must be at least 1, not 0"} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("problems %q, want one saying %q", got, want)
		}
	}
	c, errs := Parse([]byte("guard:\n  early:\n    enabled: false\n"))
	if errs != nil || c.Guard.Early.Enabled || c.Guard.Early.Confidence != 1-1e-9 || c.Guard.CrashRestarts != 3 {
		t.Errorf("early off: %+v %v, want the other defaults kept", c.Guard, errs)
	}
}

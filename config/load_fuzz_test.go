package config

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to the config loader. Whatever the input, it returns
// (never panics or hangs), every problem is one non-empty line (as `opsdeck config check`
// prints them), and a document it accepts yields a configuration that validates. Run: make fuzz.
func FuzzParse(f *testing.F) {
	f.Add([]byte("refresh: 2s\n"))
	f.Add([]byte("thresholds:\n  errors: {above: 0.05, for: 20s, action: rollback}\n  cpu: null\n"))
	f.Add([]byte("services:\n  web:\n    thresholds:\n      p99: {above: 2.5}\n"))
	f.Add([]byte("guard: {window: 15m, no_data: rollback}\nprometheus: {url: http://127.0.0.1:9090, service: a/b:1}\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("refresh: [1, {a: b}]\nunknown: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, errs := Parse(data)
		for _, err := range errs {
			if err == nil {
				t.Fatalf("a nil problem for %q", data)
			}
			msg := err.Error()
			if strings.TrimSpace(msg) == "" || strings.Contains(msg, "\n") {
				t.Fatalf("problem %q for %q: want one non-empty line", msg, data)
			}
		}
		if len(errs) == 0 {
			if again := c.Validate(); len(again) > 0 {
				t.Fatalf("accepted %q, but the result does not validate: %v", data, again)
			}
		}
	})
}

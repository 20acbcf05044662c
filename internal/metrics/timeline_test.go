package metrics

import "testing"

// The errors template of the defaults, and the usual spellings, name their counter.
func TestRateOfCounter(t *testing.T) {
	for tmpl, want := range map[string]string{
		`rate(http_requests_total{$selector,code=~"5.."}[$window])`:   `http_requests_total{$selector,code=~"5.."}`,
		` irate(http_requests_total{$selector,code=~"5.."}[$window])`: `http_requests_total{$selector,code=~"5.."}`,
		`sum(rate(x{$selector}[$window]))`:                            "",
	} {
		m := rateOfCounter.FindStringSubmatch(tmpl)
		got := ""
		if m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%s: %q, want %q", tmpl, got, want)
		}
	}
}

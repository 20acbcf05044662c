package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

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

// A counter's growth after start, worked by hand: the base is the last sample at or before
// start, a series born after start counts from 0, and a restart counts again from 0.
func TestCounterGrowth(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(sec int64, v float64) model.SamplePair {
		return model.SamplePair{Timestamp: model.TimeFromUnix(sec), Value: model.SampleValue(v)}
	}
	for name, c := range map[string]struct {
		samples []model.SamplePair
		want    float64
	}{
		"none":                      {nil, 0},
		"only before start":         {[]model.SamplePair{at(990, 5), at(995, 7)}, 0},
		"steady":                    {[]model.SamplePair{at(990, 10), at(1000, 12), at(1005, 20), at(1010, 31)}, 19},
		"born after start":          {[]model.SamplePair{at(1003, 4), at(1008, 9)}, 9},
		"restart":                   {[]model.SamplePair{at(995, 100), at(1005, 110), at(1010, 3), at(1015, 8)}, 10 + 3 + 5},
		"restart to the same value": {[]model.SamplePair{at(995, 5), at(1005, 5), at(1010, 5)}, 0},
		"flat":                      {[]model.SamplePair{at(995, 40), at(1005, 40)}, 0},
	} {
		if got := counterGrowth(c.samples, start); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

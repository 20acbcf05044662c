package metrics

import (
	"context"
	"fmt"
	"regexp"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Between reads svc's series from start to end at step, with the same queries as History: for
// each metric the whole service's series (ReplicaSet "") and each ReplicaSet's. The timeline
// reads the minutes around a deploy with it, long after they happened.
func (s *Source) Between(ctx context.Context, svc domain.Service, start, end time.Time, step time.Duration) ([]domain.Series, error) {
	if !end.After(start) || step <= 0 {
		return nil, fmt.Errorf("metrics of %s: empty range %s to %s", svc.Key(), start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return s.seriesOver(ctx, svc, v1.Range{Start: start, End: end, Step: step}, "range")
}

// rateOfCounter matches a template that is the rate of a counter over $window, capturing the
// counter's selector: rate(http_requests_total{$selector,code=~"5.."}[$window]).
var rateOfCounter = regexp.MustCompile(`^\s*i?rate\((.+)\[` + regexp.QuoteMeta(config.PlaceholderWindow) + `\]\)\s*$`)

// FailedRequests counts the 5xx responses of svc's pods between start and end from the raw
// samples of the counter behind the errors query, not from increase(): increase() extrapolates
// to the edges of its window, which over a deploy's few minutes overcounts by a tenth or more.
// It asks for COUNTER[end-start+lookback] at end and adds up each series' growth after start
// (see counterGrowth). It returns the count and the query it asked. The errors template must be
// rate() (or irate()) of a counter over $window; any other form cannot be turned into a count and
// is an error saying so.
func (s *Source) FailedRequests(ctx context.Context, svc domain.Service, start, end time.Time) (float64, string, error) {
	if !end.After(start) {
		return 0, "", fmt.Errorf("failed requests of %s: empty range", svc.Key())
	}
	m := rateOfCounter.FindStringSubmatch(s.b.q.Errors)
	if m == nil {
		return 0, "", fmt.Errorf("the errors query %q is not rate() of a counter over $window, so failed requests cannot be counted", s.b.q.Errors)
	}
	counter := s.b.expand(m[1], s.b.serviceSelector(svc))
	// The lookback finds each series' last sample before start, the base its growth counts from.
	span := end.Sub(start).Round(time.Second) + counterLookback
	q := fmt.Sprintf("%s[%s]", counter, model.Duration(span).String())
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, _, _, err := s.api.Query(ctx, q, end, v1.WithTimeout(s.timeout))
	if err != nil {
		return 0, q, s.wrap("failed requests", err)
	}
	mat, _ := v.(model.Matrix)
	total := 0.0
	for _, series := range mat {
		total += counterGrowth(series.Values, start)
	}
	return total, q, nil
}

// counterLookback is how far before a range FailedRequests looks for each counter's base sample:
// several scrape intervals at any sane setting.
const counterLookback = time.Minute

// counterGrowth is how much a counter grew after start, from its raw samples in time order: the
// last sample at or before start is the base; a series whose first sample comes after start
// belongs to a pod born inside the range, whose counter began at 0; a fall is a restart, after
// which the counter counts again from 0.
func counterGrowth(samples []model.SamplePair, start time.Time) float64 {
	grown, prev := 0.0, 0.0
	for _, p := range samples {
		v := float64(p.Value)
		if !p.Timestamp.Time().After(start) {
			prev = v
			continue
		}
		if v >= prev {
			grown += v - prev
		} else {
			grown += v
		}
		prev = v
	}
	return grown
}

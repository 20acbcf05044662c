package metrics

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// labelValuesAPI answers the label values calls of learn, counting them; every other method
// of v1.API is left nil.
type labelValuesAPI struct {
	v1.API
	values model.LabelValues
	err    error
	calls  int
}

func (a *labelValuesAPI) LabelValues(_ context.Context, label string, matches []string, _, _ time.Time, _ ...v1.Option) (model.LabelValues, v1.Warnings, v1.Infos, error) {
	a.calls++
	return a.values, nil, nil, a.err
}

// learn asks Prometheus once per service whose watch has synced but not yet covered the
// lookback, gives each service the names of its own Deployment, keeps them for one lookback,
// and after a failure does not ask again for a while.
func TestLearnAsksOncePerYoungService(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	api := &labelValuesAPI{values: model.LabelValues{"web-6d4b7c9f8d-abcde", "web-5c8f7d6b4a-fghij", "api-7f6e5d4c3b-klmno", "web-stray"}}
	src := &Source{api: api, timeout: time.Second, b: newBuilder(config.DefaultQueries(), "")}
	young := func(name string) domain.Service {
		return domain.Service{Namespace: "shop", Name: name, PodsKnownSince: now,
			ReplicaSets: []domain.ReplicaSet{{Name: name + "-6d4b7c9f8d"}}}
	}
	unsynced := young("db")
	unsynced.PodsKnownSince = time.Time{}
	old := young("cache")
	old.PodsKnownSince = now.Add(-time.Hour)
	services := []domain.Service{young("web"), young("api"), unsynced, old}
	b := src.b
	b.now = now

	got := src.learn(context.Background(), b, services, now)
	if api.calls != 1 {
		t.Fatalf("%d label values calls, want 1 for all the young services", api.calls)
	}
	if w := got["shop/web"]; !slices.Equal(w, []string{"web-6d4b7c9f8d-abcde", "web-5c8f7d6b4a-fghij"}) {
		t.Errorf("web learned %v, want its two pods (old ReplicaSet's included) and no stray name", w)
	}
	if a := got["shop/api"]; !slices.Equal(a, []string{"api-7f6e5d4c3b-klmno"}) {
		t.Errorf("api learned %v", a)
	}
	for _, k := range []string{"shop/db", "shop/cache"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s learned: a watch not synced, or one that covers the lookback, needs no look-up", k)
		}
	}
	q := b
	q.learned = got
	if sel := q.frameSelectors(services[:1])[0]; sel != `namespace="shop",pod=~"web-5c8f7d6b4a-fghij|web-6d4b7c9f8d-abcde"` {
		t.Errorf("web's selector %s, want its learned pods by name", sel)
	}

	lookback := 2 * config.DefaultQueries().Window.Duration
	src.learn(context.Background(), b, services, now.Add(lookback-time.Second))
	if api.calls != 1 {
		t.Errorf("%d calls: the names learned hold for a lookback", api.calls)
	}
	// After a lookback the watch knows the pods itself: nothing is learned or asked.
	later := now.Add(lookback)
	b.now = later
	if got := src.learn(context.Background(), b, services, later); len(got) != 0 || api.calls != 1 {
		t.Errorf("after the lookback: learned %v in %d calls, want nothing new", got, api.calls)
	}

	// A service seen later is asked for; a failed look-up is not asked again at once.
	api.err = errors.New("forbidden")
	fresh := young("search")
	fresh.PodsKnownSince = later
	src.learn(context.Background(), b, []domain.Service{fresh}, later)
	src.learn(context.Background(), b, []domain.Service{fresh}, later.Add(learnRetry-time.Second))
	if api.calls != 2 {
		t.Errorf("%d calls, want 2: after a failure the look-up waits %s", api.calls, learnRetry)
	}
	api.err = nil
	if got := src.learn(context.Background(), b, []domain.Service{fresh}, later.Add(learnRetry)); api.calls != 3 || got == nil {
		t.Errorf("%d calls, learned %v: the look-up is asked again after %s", api.calls, got, learnRetry)
	}
}

package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// learnedNames are the pod (or ReplicaSet) names Prometheus held for a service's Deployments at
// a time: the pods gone before the watch began, which it cannot know, and whose samples stay
// in a frame's lookback for a while.
type learnedNames struct {
	at    time.Time
	names []string
}

// podBook keeps what Source learned of each service (namespace/name), for one lookback from
// when it asked: after that the watch knows every pod (builder.knowsPods).
type podBook struct {
	mu       sync.Mutex
	byKey    map[string]learnedNames
	failedAt time.Time
	// rules tells what the names are: ReplicaSets' with the recorded series, else pods'.
	rules bool
}

// learnRetry is how long a failed look-up (a Prometheus, or a proxy, that refuses the label
// values API) is not asked again; frames match by pattern meanwhile, as before.
const learnRetry = 2 * time.Minute

// learn returns the names learned for services, asking Prometheus first, in one label values
// call, for those the watch does not know yet: a series look-up in its index that reads no
// sample. It scans its pod names with the services' Deployment pattern once, where frames by
// pattern would scan them with every query of every refresh until the watch has covered the
// lookback. Only services whose watch had synced by at are asked: the pods deleted after that
// are the watch's to know (Service.GonePods), as long as it keeps them for the lookback.
func (s *Source) learn(ctx context.Context, b builder, services []domain.Service, at time.Time) map[string][]string {
	lookback := 2 * b.q.Window.Duration
	bk := &s.pods
	bk.mu.Lock()
	defer bk.mu.Unlock()
	if bk.rules != b.rules {
		bk.byKey, bk.rules = nil, b.rules
	}
	for k, l := range bk.byKey {
		if at.Sub(l.at) >= lookback {
			delete(bk.byKey, k)
		}
	}
	var ask []domain.Service
	for _, svc := range services {
		_, done := bk.byKey[svc.Key()]
		if !done && !b.knowsPods(svc) && !svc.PodsKnownSince.IsZero() && !at.Before(svc.PodsKnownSince) && lookback <= domain.GonePodsKept {
			ask = append(ask, svc)
		}
	}
	if len(ask) > 0 && at.Sub(bk.failedAt) >= learnRetry {
		if names, err := s.heldNames(ctx, b, ask, at.Add(-lookback), at); err != nil {
			bk.failedAt = at
		} else {
			if bk.byKey == nil {
				bk.byKey = map[string]learnedNames{}
			}
			for _, svc := range ask {
				bk.byKey[svc.Key()] = learnedNames{at: at, names: names[svc.Key()]}
			}
		}
	}
	if len(bk.byKey) == 0 {
		return nil
	}
	out := map[string][]string{}
	for _, svc := range services {
		if l, ok := bk.byKey[svc.Key()]; ok {
			out[svc.Key()] = l.names
		}
	}
	return out
}

// heldNames asks Prometheus which pod (or ReplicaSet) names its series of the services'
// Deployments have between start and end, and gives them to the services by Deployment name.
// A name tells its Deployment but not its namespace: services of the same name in two
// namespaces asked together both get both's names, which only makes a set a little larger.
func (s *Source) heldNames(ctx context.Context, b builder, services []domain.Service, start, end time.Time) (map[string][]string, error) {
	if b.rules {
		b.label, b.relabel = labelReplicaSet, false // the recorded series' label (recordedQueries)
	}
	label, owner := "pod", func(name string) string {
		if m := podName.FindStringSubmatch(name); m != nil {
			return deploymentOf(m[1])
		}
		return ""
	}
	if !b.relabel {
		label, owner = b.label, deploymentOf
	}
	sels := b.servicesSelectors(services)
	for i, sel := range sels {
		sels[i] = "{" + sel + "}"
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	values, _, _, err := s.api.LabelValues(ctx, label, sels, start, end)
	if err != nil {
		return nil, s.wrap("pod names", err)
	}
	byDeployment := map[string][]string{}
	for _, v := range values {
		if d := owner(string(v)); d != "" {
			byDeployment[d] = append(byDeployment[d], string(v))
		}
	}
	out := map[string][]string{}
	for _, svc := range services {
		for _, d := range deploymentsOf(svc) {
			out[svc.Key()] = append(out[svc.Key()], byDeployment[d]...)
		}
	}
	return out, nil
}

package listener

import "testing"

// A push answers 409 only when nothing of it runs now and something waits.
func TestOnlyQueued(t *testing.T) {
	q := ServiceResult{Service: "a", State: StateQueued, Message: "frozen"}
	cases := []struct {
		name    string
		results []ServiceResult
		want    bool
	}{
		{"queued alone", []ServiceResult{q}, true},
		{"queued and skipped", []ServiceResult{{State: StateSkipped}, q}, true},
		{"queued and started", []ServiceResult{q, {State: StateStarted}}, false},
		{"queued and scheduled", []ServiceResult{q, {State: "scheduled"}}, false},
		{"all skipped", []ServiceResult{{State: StateSkipped}}, false},
		{"none", nil, false},
	}
	for _, c := range cases {
		got, ok := onlyQueued(c.results)
		if ok != c.want || (ok && got.Service != "a") {
			t.Errorf("%s: %+v %v, want %v", c.name, got, ok, c.want)
		}
	}
}

package logs

import (
	"context"
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/podlogs"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/keys/keytest"
	"github.com/opsdeck/opsdeck/ui/theme"
)

func view(km keys.KeyMap) Model {
	return New(theme.Plain(), NewKeyMap(km), "orders", []podlogs.Target{
		{Pod: "orders-a", Container: "app", Revision: 2},
		{Pod: "orders-b", Container: "app", Revision: 2, Restarts: 3, Reason: "CrashLoopBackOff"},
	})
}

func pod(m Model) string { t, _ := m.Target(); return t.Pod }

func TestPodKeysRestartTheStream(t *testing.T) {
	m := view(keys.Default())
	src := &fakeSource{}
	m.Follow(context.Background(), src)
	for _, step := range []struct {
		key      string
		pod      string
		previous bool
	}{
		{"tab", "orders-b", true}, // a crash-looping pod opens on the crashed container
		{"p", "orders-b", false},
		{"]", "orders-a", false},
		{"left", "orders-b", true},
	} {
		var out Outcome
		var cmd tea.Cmd
		gen := m.gen
		m, out, cmd = m.Update(keytest.Press(step.key))
		if out != Stay || cmd == nil || m.gen != gen+1 || pod(m) != step.pod || m.Previous() != step.previous {
			t.Fatalf("after %q: outcome %d, new stream %v, pod %s, previous %v", step.key, out, cmd != nil && m.gen == gen+1, pod(m), m.Previous())
		}
	}
}

func TestSearchThenClose(t *testing.T) {
	m := view(keys.Default())
	m.Ring.Add(podlogs.Line{Text: "GET /orders 200"})
	m.Ring.Add(podlogs.Line{Text: "payment failed: timeout"})
	m.SetSize(80, 10)
	var out Outcome
	for _, k := range []string{"/", "f", "a", "i", "l", "enter"} {
		m, out, _ = m.Update(keytest.Press(k))
		if out != Stay {
			t.Fatalf("%q while searching: outcome %d", k, out)
		}
	}
	if m.Searching() || m.Query != "fail" || strings.Contains(m.View(), "GET /orders") || !strings.Contains(m.View(), "payment failed") {
		t.Fatalf("search: searching %v, query %q:\n%s", m.Searching(), m.Query, m.View())
	}
	if m, out, _ = m.Update(keytest.Press("esc")); out != Stay || m.Query != "" {
		t.Fatalf("esc should clear the search first: outcome %d, query %q", out, m.Query)
	}
	if _, out, _ = m.Update(keytest.Press("esc")); out != Close {
		t.Fatalf("esc without a search: outcome %d", out)
	}
	if _, out, _ = m.Update(keytest.Press("q")); out != Close {
		t.Fatalf("q: outcome %d", out)
	}
}

func TestLogsKeysFollowOverrides(t *testing.T) {
	km := keys.Default()
	if err := km.Apply(map[string][]string{"next-pod": {"n"}, "quit": {"Q"}, "filter": {"f"}}); err != nil {
		t.Fatal(err)
	}
	m := view(km)
	if m2, _, _ := m.Update(keytest.Press("n")); pod(m2) != "orders-b" {
		t.Fatalf("n: pod %s", pod(m2))
	}
	if _, out, _ := m.Update(keytest.Press("q")); out != Stay {
		t.Fatalf("q still closes after quit was rebound: outcome %d", out)
	}
	if _, out, _ := m.Update(keytest.Press("Q")); out != Close {
		t.Fatalf("Q: outcome %d", out)
	}
	m.SetSize(120, 6)
	if v := m.View(); !strings.Contains(v, "n next pod") || !strings.Contains(v, "f search") || !strings.Contains(v, "Q/esc back") {
		t.Fatalf("the bottom line does not show the rebound keys:\n%s", v)
	}
}

// fakeSource streams the lines it is given, then ends with err.
type fakeSource struct {
	lines   []string
	err     error
	streams []podlogs.Target
}

func (f *fakeSource) Targets(domain.Service) ([]podlogs.Target, error) { return nil, nil }

func (f *fakeSource) Stream(_ context.Context, t podlogs.Target, _ bool, out func(podlogs.Line)) error {
	f.streams = append(f.streams, t)
	for _, l := range f.lines {
		out(podlogs.Line{Text: l})
	}
	return f.err
}

// runStream runs the stream a command started (the first of its batch) and returns its end.
func runStream(t *testing.T, cmd tea.Cmd) tea.Msg {
	t.Helper()
	batch, ok := cmd().(tea.BatchMsg)
	if !ok || len(batch) == 0 {
		t.Fatalf("not a stream and its redraw: %T", cmd())
	}
	return batch[0]()
}

// TestStreamEndsAndRetries: lines reach the view; a stream that fails says why and is opened
// again after the retry delay; an end from an older stream changes nothing.
func TestStreamEndsAndRetries(t *testing.T) {
	src := &fakeSource{lines: []string{"started", "listening on :8080"}, err: errors.New("pods \"orders-a\" not found")}
	m := view(keys.Default())
	m.SetSize(80, 10)
	end := runStream(t, m.Follow(context.Background(), src))
	m, _, retryCmd := m.Update(end)
	v := m.View()
	if !strings.Contains(v, "listening on :8080") || !strings.Contains(v, `pods "orders-a" not found; trying again in 2s`) {
		t.Fatalf("after a failed stream:\n%s", v)
	}
	if retryCmd == nil {
		t.Fatal("a failed stream is not tried again")
	}
	// The retry opens the same pod again.
	src.err = nil
	m, _, cmd := m.Update(retryMsg{m.gen})
	if cmd == nil || len(src.streams) != 1 {
		t.Fatalf("retry: command %v, streams %d", cmd != nil, len(src.streams))
	}
	end = runStream(t, cmd)
	if m, _, _ = m.Update(end); !strings.Contains(m.View(), "the stream ended") || len(src.streams) != 2 || src.streams[1].Pod != "orders-a" {
		t.Fatalf("after the retry (streams %v):\n%s", src.streams, m.View())
	}
	// An end from before a pod switch is dropped.
	m, _, _ = m.Update(keytest.Press("tab"))
	status := m.status
	if m, _, _ = m.Update(endedMsg{gen: m.gen - 1, err: errors.New("old")}); m.status != status {
		t.Fatalf("an old stream's end changed the status to %q", m.status)
	}
}

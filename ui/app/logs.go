package app

import (
	"context"
	"errors"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/podlogs"
	"github.com/opsdeck/opsdeck/ui/components/logs"
)

// LogSource reads the logs of a service's pods (the l key).
type LogSource interface {
	// Targets are the service's pods, the new revision's first.
	Targets(svc domain.Service) ([]podlogs.Target, error)
	// Stream sends a pod's log lines to out until it ends or ctx ends; the current container
	// is followed (across its restarts), the previous one read to its end.
	Stream(ctx context.Context, t podlogs.Target, previous bool, out func(podlogs.Line)) error
}

// logsState is the open logs view and its stream.
type logsState struct {
	view   logs.Model
	gen    int
	cancel context.CancelFunc
}

// logsTickMsg redraws the logs view while it is open; logsEndedMsg says a stream ended.
type (
	logsTickMsg  struct{ gen int }
	logsEndedMsg struct {
		gen int
		err error
	}
	logsRetryMsg struct{ gen int }
)

const (
	logsRedraw = 250 * time.Millisecond
	// logsRetry is how long a failed stream waits before it is opened again: a crash-looping
	// pod's previous log may not exist yet, and the API server may be briefly away.
	logsRetry = 2 * time.Second
)

// openLogs opens the logs view on the selected service's pods.
func (m *Model) openLogs() tea.Cmd {
	svc, ok := m.selected()
	if !ok {
		m.setStatus("logs: no service selected", true)
		return nil
	}
	src := m.opts.Logs
	if src == nil {
		m.setStatus("logs: not available on this backend", true)
		return nil
	}
	targets, err := src.Targets(svc)
	if err != nil {
		m.setStatus("logs: "+err.Error(), true)
		return nil
	}
	m.logs = &logsState{view: logs.New(m.theme, logs.NewKeyMap(m.keys), svc.Name, targets)}
	m.logs.view.SetSize(m.width, m.height)
	return m.startLogStream()
}

// startLogStream (re)starts the stream of the pod and container the view shows.
func (m *Model) startLogStream() tea.Cmd {
	l := m.logs
	if l.cancel != nil {
		l.cancel()
	}
	l.view.Ring.Reset()
	l.gen++
	t, ok := l.view.Target()
	if !ok {
		l.view.SetStatus("no pods", true)
		return nil
	}
	previous := l.view.Previous()
	if previous {
		l.view.SetStatus("the previous container's log (it restarted "+strconv.Itoa(int(t.Restarts))+" times)", false)
	} else {
		l.view.SetStatus("following", false)
	}
	ctx, cancel := context.WithCancel(m.ctx)
	l.cancel = cancel
	gen, src, ring := l.gen, m.opts.Logs, l.view.Ring
	stream := func() tea.Msg {
		return logsEndedMsg{gen: gen, err: src.Stream(ctx, t, previous, ring.Add)}
	}
	return tea.Batch(stream, tea.Tick(logsRedraw, func(time.Time) tea.Msg { return logsTickMsg{gen} }))
}

func (m *Model) logsTick(msg logsTickMsg) tea.Cmd {
	if m.logs == nil || msg.gen != m.logs.gen {
		return nil
	}
	return tea.Tick(logsRedraw, func(time.Time) tea.Msg { return logsTickMsg{msg.gen} })
}

// logsEnded shows why a stream ended. A stream that failed is opened again after logsRetry,
// as long as the view still shows the same pod and container.
func (m *Model) logsEnded(msg logsEndedMsg) tea.Cmd {
	if m.logs == nil || msg.gen != m.logs.gen {
		return nil
	}
	switch {
	case msg.err != nil && !errors.Is(msg.err, context.Canceled):
		m.logs.view.SetStatus(msg.err.Error()+"; trying again in "+logsRetry.String(), true)
		return tea.Tick(logsRetry, func(time.Time) tea.Msg { return logsRetryMsg{msg.gen} })
	case m.logs.view.Previous():
		m.logs.view.SetStatus("end of the previous container's log (p: the current one)", false)
	default:
		m.logs.view.SetStatus("the stream ended", false)
	}
	return nil
}

// logsRetried opens a failed stream again, unless the view moved on meanwhile.
func (m *Model) logsRetried(msg logsRetryMsg) tea.Cmd {
	if m.logs == nil || msg.gen != m.logs.gen {
		return nil
	}
	return m.startLogStream()
}

// closeLogs stops the stream and returns to the services pane.
func (m *Model) closeLogs() {
	if m.logs.cancel != nil {
		m.logs.cancel()
	}
	m.logs = nil
	m.focus = paneServices
}

// logsKey gives a key to the logs view and runs what it asks for: another stream, or none.
func (m *Model) logsKey(k tea.KeyPressMsg) tea.Cmd {
	v, out, cmd := m.logs.view.Update(k)
	m.logs.view = v
	switch out {
	case logs.Close:
		m.closeLogs()
		return nil
	case logs.Restart:
		return m.startLogStream()
	}
	return cmd
}

// logsView is the screen while the logs view is open.
func (m *Model) logsView() string {
	m.logs.view.SetSize(m.width, m.height-1)
	s := m.logs.view.View()
	if m.logs.view.Searching() {
		return s + "\n" + m.logs.view.SearchView()
	}
	return s + "\n"
}

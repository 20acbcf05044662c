package logs

import (
	"context"
	"errors"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/podlogs"
)

// Source reads the logs of a service's pods.
type Source interface {
	// Targets are the service's pods, the new revision's first.
	Targets(svc domain.Service) ([]podlogs.Target, error)
	// Stream sends a pod's log lines to out until it ends or ctx ends; the current container
	// is followed (across its restarts), the previous one read to its end.
	Stream(ctx context.Context, t podlogs.Target, previous bool, out func(podlogs.Line)) error
}

// Msg is the view's own messages (redraws and the ends of streams); the app hands them to
// Update while the view is open.
type Msg interface{ logsMsg() }

type (
	// tickMsg redraws the view while its stream runs.
	tickMsg struct{ gen int }
	// endedMsg says a stream ended, and why.
	endedMsg struct {
		gen int
		err error
	}
	// retryMsg opens a failed stream again.
	retryMsg struct{ gen int }
)

func (tickMsg) logsMsg()  {}
func (endedMsg) logsMsg() {}
func (retryMsg) logsMsg() {}

const (
	redraw = 250 * time.Millisecond
	// retry is how long a failed stream waits before it is opened again: a crash-looping
	// pod's previous log may not exist yet, and the API server may be briefly away.
	retry = 2 * time.Second
)

// Follow streams the shown pod's log from src until Stop; ctx bounds every stream.
func (m *Model) Follow(ctx context.Context, src Source) tea.Cmd {
	m.ctx, m.src = ctx, src
	return m.restart()
}

// Stop ends the stream.
func (m *Model) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
}

// restart (re)starts the stream of the pod and container the view shows. Messages of the
// streams before carry an older generation and are dropped.
func (m *Model) restart() tea.Cmd {
	m.Stop()
	m.Ring.Reset()
	m.gen++
	t, ok := m.Target()
	if !ok {
		m.SetStatus("no pods", true)
		return nil
	}
	if m.src == nil {
		return nil // not following (a view built without Follow)
	}
	previous := m.previous
	if previous {
		m.SetStatus("the previous container's log (it restarted "+strconv.Itoa(int(t.Restarts))+" times)", false)
	} else {
		m.SetStatus("following", false)
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.cancel = cancel
	gen, src, ring := m.gen, m.src, m.Ring
	stream := func() tea.Msg {
		return endedMsg{gen: gen, err: src.Stream(ctx, t, previous, ring.Add)}
	}
	return tea.Batch(stream, tea.Tick(redraw, func(time.Time) tea.Msg { return tickMsg{gen} }))
}

// streamMsg handles the view's own messages.
func (m *Model) streamMsg(msg Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tickMsg:
		if msg.gen == m.gen {
			return tea.Tick(redraw, func(time.Time) tea.Msg { return tickMsg{msg.gen} })
		}
	case endedMsg:
		if msg.gen == m.gen {
			return m.ended(msg.err)
		}
	case retryMsg:
		if msg.gen == m.gen {
			return m.restart()
		}
	}
	return nil
}

// ended shows why a stream ended. A stream that failed is opened again after retry, as long
// as the view still shows the same pod and container.
func (m *Model) ended(err error) tea.Cmd {
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		m.SetStatus(err.Error()+"; trying again in "+retry.String(), true)
		gen := m.gen
		return tea.Tick(retry, func(time.Time) tea.Msg { return retryMsg{gen} })
	case m.previous:
		m.SetStatus("end of the previous container's log (p: the current one)", false)
	default:
		m.SetStatus("the stream ended", false)
	}
	return nil
}

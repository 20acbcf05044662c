package app

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// timelineDoneMsg is the result of the t key: the path of the timeline written, or why not.
type timelineDoneMsg struct {
	service string
	path    string
	err     error
}

// writeTimeline writes the selected service's incident timeline through Options.Timeline, in
// a command (it reads the cluster, the audit log and Prometheus).
func (m *Model) writeTimeline() tea.Cmd {
	svc, ok := m.selected()
	if !ok {
		m.setStatus("timeline: no service selected", true)
		return nil
	}
	write := m.opts.Timeline
	if write == nil {
		m.setStatus("timeline: not available on this backend (it reads a cluster's audit log, Events and Prometheus)", true)
		return nil
	}
	m.setStatus("writing the timeline of "+svc.Name+"…", false)
	ctx := m.ctx
	return func() tea.Msg {
		path, err := write(ctx, svc)
		return timelineDoneMsg{service: svc.Name, path: path, err: err}
	}
}

func (m *Model) timelineDone(msg timelineDoneMsg) {
	if msg.err != nil {
		m.setStatus("timeline of "+msg.service+": "+msg.err.Error(), true)
		return
	}
	m.setStatus("timeline of "+msg.service+" written to "+msg.path, false)
}

// TimelineFunc writes a service's timeline and returns the file's path.
type TimelineFunc func(ctx context.Context, svc domain.Service) (string, error)

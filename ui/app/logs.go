package app

import (
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ui/components/logs"
)

// LogSource reads the logs of a service's pods (the l key).
type LogSource = logs.Source

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
	v := logs.New(m.theme, logs.NewKeyMap(m.keys), svc.Name, targets)
	v.SetSize(m.width, m.height)
	m.logs = &v
	return m.logs.Follow(m.ctx, src)
}

// logsUpdate gives a key or a stream's message to the open logs view; closing it returns to
// the services pane.
func (m *Model) logsUpdate(msg tea.Msg) tea.Cmd {
	if m.logs == nil {
		return nil // a message of a view closed since
	}
	v, out, cmd := m.logs.Update(msg)
	if out == logs.Close {
		m.logs = nil
		m.focus.pane = paneServices
		return nil
	}
	m.logs = &v
	return cmd
}

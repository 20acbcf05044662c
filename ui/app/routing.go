package app

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/ui/components/services"
)

// setKeyMaps hands each pane its keys, drawn from the console's key map after the config's
// overrides.
func (m *Model) setKeyMaps() {
	m.table.SetKeyMap(services.NewKeyMap(m.keys))
	m.rollout.SetKeyMap(m.keys.Scrolling())
	m.events.SetKeyMap(m.keys.Scrolling())
}

// handleKey routes a key. ctrl+c always quits; an open dialog, the logs view, the help and a
// filter being typed take every key; then come the console's own keys (quit, help, focus,
// details, and the keys that act on the selected service); the rest go to the focused pane.
func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case k.String() == "ctrl+c":
		return m.quit()
	case m.dialog != nil:
		return m.dialogKey(k)
	case m.logs != nil:
		return m.logsUpdate(k)
	case m.help.IsOpen():
		if key.Matches(k, m.keys.Quit) {
			return m.quit()
		}
		m.help, _ = m.help.Update(k)
		return nil
	case m.table.Filtering():
		return m.tableKey(k)
	case m.width < MinWidth || m.height < MinHeight:
		if key.Matches(k, m.keys.Quit) {
			return m.quit()
		}
		return nil
	}
	if cmd, ok := m.consoleKey(k); ok {
		return cmd
	}
	return m.paneKey(k)
}

// consoleKey handles the keys that mean the same in every pane, and reports whether k was one.
func (m *Model) consoleKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	km := m.keys
	switch {
	case key.Matches(k, km.Quit):
		return m.quit(), true
	case key.Matches(k, km.Help):
		m.help.Open()
	case key.Matches(k, km.Cancel) && m.focus.details:
		m.focus.closeDetails()
	case key.Matches(k, km.NextPane):
		m.focus.next()
	case key.Matches(k, km.Details):
		if _, ok := m.selected(); ok {
			m.focus.openDetails()
		}
	case key.Matches(k, km.Guard):
		return m.toggleGuard(), true
	case key.Matches(k, km.Release):
		return m.releaseGuardHold(), true
	case key.Matches(k, km.Timeline):
		return m.writeTimeline(), true
	case key.Matches(k, km.Logs):
		return m.openLogs(), true
	default:
		return m.actionKey(k)
	}
	return nil, true
}

// actionKey opens the dialogs of the actions on the selected service.
func (m *Model) actionKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	km := m.keys
	switch {
	case key.Matches(k, km.Deploy):
		return m.beginDeploy(), true
	case key.Matches(k, km.Rollback):
		return m.beginRollback(), true
	case key.Matches(k, km.Pause):
		return m.beginPause(), true
	case key.Matches(k, km.Restart):
		return m.beginRestart(), true
	case key.Matches(k, km.Scale):
		return m.beginScale(), true
	case key.Matches(k, km.Approve):
		return m.beginPending("approve"), true
	case key.Matches(k, km.CancelPending):
		return m.beginPending("cancel"), true
	case key.Matches(k, km.RunNow):
		return m.beginPending("run-now"), true
	}
	return nil, false
}

// paneKey gives a key to the focused pane. The rollout and events panes take their scroll
// keys; every other key goes to the services table, which stays on screen whatever has the
// focus (the metrics pane draws the table's selection, so moving there moves the selection),
// except in the details view, where the table is hidden.
func (m *Model) paneKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case m.focus.is(paneRollout) && m.rollout.Handles(k):
		m.rollout, _ = m.rollout.Update(k)
	case m.focus.is(paneEvents) && m.events.Handles(k):
		m.events, _ = m.events.Update(k)
	case m.focus.details:
	default:
		return m.tableKey(k)
	}
	return nil
}

// tableKey gives a key to the services table and says when it changed the sort order.
func (m *Model) tableKey(k tea.KeyPressMsg) tea.Cmd {
	sort := m.table.Sort()
	var cmd tea.Cmd
	m.table, cmd = m.table.Update(k)
	if s := m.table.Sort(); s != sort {
		m.setStatus("sorted by "+s.String(), false)
	}
	return cmd
}

// toggleGuard switches auto-guard on or off (never on in read-only mode).
func (m *Model) toggleGuard() tea.Cmd {
	if m.opts.ReadOnly && !m.guardOn {
		m.setStatus("read-only mode: auto-guard rolls back without asking, so it stays off (started with --readonly)", true)
		return nil
	}
	m.guardOn = !m.guardOn
	on, hook := m.guardOn, m.opts.OnGuardToggle
	state := "off"
	if on {
		state = "on"
	}
	m.setStatus("auto-guard: "+state, false)
	return func() tea.Msg {
		if hook != nil {
			hook(on)
		}
		return nil
	}
}

package app

import (
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/safe"
)

// feed takes in what the backend sends: cluster states from the watch, the state stream's
// rounds (or, without a stream, the frames of the console's own polls), backfilled history
// and rollout histories. It returns the commands that wait for, or ask for, the next.
func (m *Model) feed(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	switch msg := msg.(type) {
	case watchStartedMsg:
		m.watching = true
		cmds = append(cmds, waitForState(msg.ch))

	case stateMsg:
		m.applyState(msg.state)
		cmds = append(cmds, waitForState(msg.ch))
		// The first frame as soon as there is something to read it for: the watch's first
		// state comes before its caches have filled, without services (a frame read for it
		// is empty, yet says "metrics ok", and the next waits for the refresh tick).
		if m.opts.Rounds == nil && !m.haveFrame && !m.polling && msg.state.Synced && len(msg.state.Services) > 0 {
			cmds = append(cmds, m.startPoll())
		}

	case watchClosedMsg:
		m.watching = false
		if m.ctx.Err() == nil {
			m.state.API = domain.Health{OK: false, Reconnecting: true, LastSuccess: m.state.API.LastSuccess, Err: "watch closed"}
			cmds = append(cmds, tea.Tick(m.opts.Refresh, func(time.Time) tea.Msg { return restartWatchMsg{} }))
		}

	case restartWatchMsg:
		if !m.watching && m.ctx.Err() == nil {
			cmds = append(cmds, startWatch(m.ctx, m.backend))
		}

	case tickMsg:
		if msg.id != m.tickID {
			return nil // a stale tick loop
		}
		cmds = append(cmds, tick(m.opts.Refresh, m.tickID))
		if !m.polling && m.haveState {
			cmds = append(cmds, m.startPoll())
		}

	case frameMsg:
		if msg.gen != m.pollGen {
			return nil // a stale poll
		}
		m.polling = false
		if m.applyRound(msg.round) {
			cmds = append(cmds, tea.Raw("\a")) // an alert was raised: ring the terminal bell
		}

	case roundMsg:
		m.focusMetrics()
		cmds = append(cmds, waitForRound(msg.ch))
		if m.applyRound(msg.r) {
			cmds = append(cmds, tea.Raw("\a")) // a Warning: ring the terminal bell
		}

	case historyMsg:
		if msg.err != nil {
			m.backfill[msg.key] = false // ask again when selected again
			m.setStatus("history of "+msg.key+": "+msg.err.Error(), true)
			return nil
		}
		m.store.Backfill(msg.key, msg.ns, msg.series)

	case revisionsMsg:
		if m.revAsked[msg.key] == msg.stamp {
			delete(m.revAsked, msg.key)
		}
		for i := range msg.revs {
			msg.revs[i].Image, msg.revs[i].ChangeCause = safe.Text(msg.revs[i].Image), safe.Text(msg.revs[i].ChangeCause)
		}
		m.revisions[msg.key] = msg
		cmds = append(cmds, m.revisionsArrived(msg))

	}
	return tea.Batch(cmds...)
}

// Package app is the console's root Bubble Tea model: it owns the layout, the focus and the
// routing of keys, feeds the panes from the backend's watch and metrics polls (all I/O in
// commands), and turns keys into actions through the backend's one executor.
package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/safe"
	"github.com/opsdeck/opsdeck/ui/components/dialog"
	"github.com/opsdeck/opsdeck/ui/components/events"
	"github.com/opsdeck/opsdeck/ui/components/keyhelp"
	"github.com/opsdeck/opsdeck/ui/components/logs"
	"github.com/opsdeck/opsdeck/ui/components/metrics"
	"github.com/opsdeck/opsdeck/ui/components/rollout"
	"github.com/opsdeck/opsdeck/ui/components/services"
	"github.com/opsdeck/opsdeck/ui/components/statusbar"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// Minimum terminal size the layout needs.
const (
	MinWidth  = 80
	MinHeight = 24
)

// Model is the root model. Create it with New.
type Model struct {
	backend domain.Backend
	opts    Options
	ctx     context.Context
	cancel  context.CancelFunc
	theme   theme.Theme
	keys    keys.KeyMap
	help    keyhelp.Model

	width, height int
	now           time.Time

	identity  domain.Identity
	state     domain.ClusterState
	haveState bool
	watching  bool

	tickID    int
	pollGen   int
	polling   bool
	frame     domain.MetricsFrame
	haveFrame bool
	lastGood  time.Time
	store     *metrics.Store
	backfill  map[string]bool
	revisions map[string]revisionsMsg
	revAsked  map[string]string // key -> historyStamp asked for, while in flight

	table   services.Model
	metrics metrics.Pane
	rollout rollout.Model
	events  events.Model
	alerts  *alerts

	focus  focus
	selKey string
	// recent are the keys of the services whose series the store keeps, the selected first
	// (see keepHistory).
	recent []string

	dialog  *dialog.Model
	flow    flow
	pending int // actions in flight

	status statusbar.Model

	guardOn     bool
	guardLeader string // the pod of a guard leader this console stands aside for
	guardStates map[string]string
	guardText   string

	logs *logs.Model // the logs view, while open

	cache  *viewCache
	states int // cluster states received, to prune the store now and then
}

// New builds the console for backend b. Nothing runs until the program calls Init.
func New(b domain.Backend, o Options) Model {
	return newModel(context.Background(), b, o)
}

func newModel(parent context.Context, b domain.Backend, o Options) Model {
	o = o.withDefaults()
	ctx, cancel := context.WithCancel(parent)
	th := theme.FromEnv()
	km := keys.Default()
	m := Model{
		backend:   b,
		opts:      o,
		ctx:       ctx,
		cancel:    cancel,
		theme:     th,
		keys:      km,
		identity:  b.Identity(),
		store:     metrics.NewStore(int(o.HistoryWindow/min(o.Refresh, historyStep(o.HistoryWindow))) + 16),
		backfill:  map[string]bool{},
		revisions: map[string]revisionsMsg{},
		revAsked:  map[string]string{},
		table:     services.New(th, o.Thresholds),
		rollout:   rollout.New(th),
		events:    events.New(th),
		alerts:    newAlerts(),
		status:    statusbar.New(th),
		guardOn:   o.GuardOn,
		cache:     newViewCache(),
	}
	m.metrics = metrics.NewPane(th, o.Thresholds, m.store, o.HistoryWindow)
	if err := m.keys.Apply(o.KeyOverrides); err != nil {
		m.setStatus(err.Error(), true)
	}
	m.help = keyhelp.New(th, m.keys)
	m.setKeyMaps()
	m.now = o.Clock.Now()
	m.layout()
	return m
}

// withTheme replaces the theme (tests pin the plain one).
func (m Model) withTheme(t theme.Theme) Model {
	m.theme = t
	m.cache = newViewCache()
	m.table = services.New(t, m.opts.Thresholds)
	m.rollout = rollout.New(t)
	m.events = events.New(t)
	m.status.SetTheme(t)
	m.help = keyhelp.New(t, m.keys)
	m.help.SetWidth(m.width)
	m.metrics = metrics.NewPane(t, m.opts.Thresholds, m.store, m.opts.HistoryWindow)
	m.setKeyMaps()
	m.layout()
	return m
}

// Init starts the watch and the refresh ticks.
func (m Model) Init() tea.Cmd {
	if m.opts.Rounds != nil {
		return tea.Batch(startWatch(m.ctx, m.backend), waitForRound(m.opts.Rounds))
	}
	return tea.Batch(startWatch(m.ctx, m.backend), tick(m.opts.Refresh, m.tickID))
}

// Update handles one message. It never blocks: I/O runs in the commands it returns.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	m.now = m.opts.Clock.Now()
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)

	case tea.KeyPressMsg:
		cmds = append(cmds, m.handleKey(msg))

	case watchStartedMsg, stateMsg, watchClosedMsg, restartWatchMsg, tickMsg, frameMsg, roundMsg, historyMsg, revisionsMsg:
		cmds = append(cmds, m.feed(msg))

	case pendingDoneMsg:
		if msg.err != nil {
			m.setStatus(msg.err.Error(), true)
		} else {
			m.setStatus(msg.msg, false)
		}
	case planMsg:
		cmds = append(cmds, m.planArrived(msg))
	case actionDoneMsg:
		cmds = append(cmds, m.actionDone(msg))

	case timelineDoneMsg:
		m.timelineDone(msg)

	case logs.Msg:
		cmds = append(cmds, m.logsUpdate(msg))

	case GuardStatesMsg:
		m.guardStates = msg.States
		m.guardText = msg.Status
		m.table.SetGuardStates(msg.States)

	case ToggleGuardMsg:
		m.guardOn = msg.On

	default:
		if m.dialog != nil {
			d, _, cmd := m.dialog.Update(msg)
			m.dialog = &d
			cmds = append(cmds, cmd)
		} else if m.table.Filtering() {
			var cmd tea.Cmd
			m.table, cmd = m.table.Update(msg)
			cmds = append(cmds, cmd)
		}
	}
	m.layout()
	cmds = append(cmds, m.followSelection())
	return m, tea.Batch(cmds...)
}

// historyStep is the backfill's resolution: 300 points over the window, at least a second.
func historyStep(window time.Duration) time.Duration {
	return max(time.Second, window/300)
}

// focuser is a backend that reads some services in every frame and the others in turn.
type focuser interface{ Focus(keys []string) }

// focusMetrics tells the backend which services every frame must read: the rows on screen
// and the selection (a frame's cost then follows the screen, not the fleet).
func (m *Model) focusMetrics() {
	f, ok := m.backend.(focuser)
	if !ok {
		return
	}
	// Only the rows on screen: copying the whole table here, every update, was the
	// console's largest allocation at 2,000 services.
	first, n := m.table.VisibleRange()
	keys := make([]string, 0, n+1)
	for i := first; i < first+n; i++ {
		if svc, ok := m.table.Row(i); ok {
			keys = append(keys, svc.Key())
		}
	}
	if s, ok := m.table.Selected(); ok {
		keys = append(keys, s.Key())
	}
	f.Focus(keys)
}

// offScreenEvery is how often rows off screen get new values: 0 when every frame reads all.
func (m *Model) offScreenEvery() time.Duration {
	if m.frame.Rotation <= 1 {
		return 0
	}
	return time.Duration(m.frame.Rotation) * m.opts.Refresh
}

func (m *Model) startPoll() tea.Cmd {
	m.focusMetrics()
	m.pollGen++
	m.polling = true
	return poll(m.ctx, m.backend, m.pollGen, m.state, m.opts.Judge)
}

func (m *Model) applyState(st domain.ClusterState) {
	// Text from the cluster is drawn only after safe.Text: an Event message or an image
	// name must not drive the terminal.
	st = st.Printable()
	m.state = st
	m.haveState = true
	m.table.SetServices(st.Services)
	if st.Synced {
		m.table.Settle()
	}
	m.events.SetClusterEvents(st.Events)
	m.states++
	if m.states%50 == 0 {
		m.pruneStore()
	}
	if m.selKey == "" && st.Synced {
		if s, ok := m.table.Selected(); ok {
			m.selKey = s.Key()
		}
	}
}

// pruneStore forgets the series of services and ReplicaSets that are gone.
func (m *Model) pruneStore() {
	live := map[string]bool{}
	for _, s := range m.state.Services {
		live[s.Key()] = true
		for _, rs := range s.ReplicaSets {
			live[metrics.ReplicaSetKey(s.Namespace, rs.Name)] = true
		}
	}
	m.store.Prune(func(k string) bool { return live[k] })
	for k := range m.backfill {
		if !live[k] {
			delete(m.backfill, k)
		}
	}
}

// applyRound takes a round of the stream in: its frame, auto-guard's view, its events and the
// alerts raised or resolved. It reports whether any of them is a Warning (the bell rings).
func (m *Model) applyRound(r domain.Round) (warn bool) {
	if !r.Frame.At.IsZero() {
		m.applyFrame(r.Frame)
	}
	if r.Guard.Judged {
		m.guardStates, m.guardText, m.guardLeader = r.Guard.States, r.Guard.Status, r.Guard.Leader
		m.table.SetGuardStates(r.Guard.States)
	}
	at := r.Frame.At
	if at.IsZero() {
		at = r.At
	}
	events := append(append([]domain.Event(nil), r.Events...), m.alerts.observe(m.opts.Thresholds, r.State.Services, at, r.Alerts)...)
	for _, e := range events {
		m.events.Add(e)
		warn = warn || e.Type == "Warning"
	}
	return warn
}

// applyFrame takes a metrics frame in.
func (m *Model) applyFrame(f domain.MetricsFrame) {
	m.frame = f
	m.haveFrame = true
	if f.Err != nil {
		return // keep the last good values; the header says they are stale
	}
	m.lastGood = f.At
	m.store.AddFrame(f, m.historyKeys())
	m.table.SetValues(f.Services)
}

// selected is the selected service in its latest state.
func (m *Model) selected() (domain.Service, bool) {
	return m.table.Selected()
}

// followSelection backfills a newly selected service's history once and reads its revisions
// when its revision changed.
func (m *Model) followSelection() tea.Cmd {
	svc, ok := m.selected()
	if !ok || !m.haveState {
		return nil
	}
	m.selKey = svc.Key()
	m.keepHistory(svc)
	var cmds []tea.Cmd
	if !m.backfill[svc.Key()] {
		m.backfill[svc.Key()] = true
		cmds = append(cmds, fetchHistory(m.ctx, m.backend, svc, m.opts.HistoryWindow, historyStep(m.opts.HistoryWindow)))
	}
	if cmd := m.askRevisions(svc, false); cmd != nil {
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

// historyKept is how many services' series the store keeps: the selected one and those
// selected last, so that moving back to one shows its history at once.
const historyKept = 8

// keepHistory puts svc first among the services whose series the store keeps, forgets the
// series of one pushed out (selecting it again backfills it again), and records svc's values
// of the last frame so that they show before the next one.
func (m *Model) keepHistory(svc domain.Service) {
	key := svc.Key()
	if len(m.recent) > 0 && m.recent[0] == key {
		return // followSelection runs after every message: only a new selection does work
	}
	if i := slices.Index(m.recent, key); i >= 0 {
		m.recent = slices.Delete(m.recent, i, i+1)
	}
	m.recent = slices.Insert(m.recent, 0, key)
	if len(m.recent) > historyKept {
		out := m.recent[historyKept:]
		m.recent = slices.Clip(m.recent[:historyKept])
		keep := m.historyKeys()
		m.store.Prune(func(k string) bool { return keep[k] })
		for _, k := range out {
			delete(m.backfill, k)
		}
	}
	if m.haveFrame && m.frame.Err == nil {
		m.store.AddFrame(m.frame, m.historyKeys())
	}
}

// historyKeys are the store keys of the services whose series are kept, and of their
// ReplicaSets.
func (m *Model) historyKeys() map[string]bool {
	keys := make(map[string]bool, 3*len(m.recent))
	for _, k := range m.recent {
		keys[k] = true
		ns, name, _ := strings.Cut(k, "/")
		if s, ok := m.state.FindByName(ns, name); ok {
			for _, rs := range s.ReplicaSets {
				keys[metrics.ReplicaSetKey(ns, rs.Name)] = true
			}
		}
	}
	return keys
}

// historyStamp identifies what a service's rollout history was read at: its revision and its
// ReplicaSets. A blue-green deploy adds the idle colour's ReplicaSet without changing the
// revision (which counts switches), and a deploy's result can come before the watch has the
// new ReplicaSet: either way the history is read again once the ReplicaSets change.
func historyStamp(svc domain.Service) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", svc.Revision)
	for _, rs := range svc.ReplicaSets {
		fmt.Fprintf(&b, " %s@%d", rs.Name, rs.Revision)
	}
	return b.String()
}

// askRevisions reads a service's revisions unless they are known (or asked for) at its
// current revision; force asks again.
func (m *Model) askRevisions(svc domain.Service, force bool) tea.Cmd {
	stamp := historyStamp(svc)
	if r, ok := m.revisions[svc.Key()]; ok && r.stamp == stamp && r.err == nil && !force {
		return nil
	}
	if s, ok := m.revAsked[svc.Key()]; ok && s == stamp && !force {
		return nil
	}
	m.revAsked[svc.Key()] = stamp
	return fetchRevisions(m.ctx, m.backend, svc)
}

func (m *Model) setStatus(s string, bad bool) {
	m.status.Set(safe.Redact(safe.Text(s)), bad, m.now)
}

func (m *Model) quit() tea.Cmd {
	m.cancel()
	return tea.Quit
}

// releaseGuardHold clears auto-guard's hold on the selected service, which it keeps after a
// rollback until a new deploy or a human says so.
func (m *Model) releaseGuardHold() tea.Cmd {
	svc, ok := m.selected()
	if !ok {
		return nil
	}
	if m.guardStates[svc.Key()] != "held" {
		m.setStatus(svc.Name+" is not held by auto-guard: nothing to clear", false)
		return nil
	}
	hook := m.opts.OnGuardRelease
	m.guardStates[svc.Key()] = "watching"
	m.table.SetGuardStates(m.guardStates)
	m.setStatus("auto-guard hold on "+svc.Name+" cleared: it is watched again", false)
	key := svc.Key()
	return func() tea.Msg {
		if hook != nil {
			hook(key)
		}
		return nil
	}
}

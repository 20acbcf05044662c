package app

import (
	"context"
	"fmt"
	"strconv"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/safe"
	"github.com/opsdeck/opsdeck/ui/components/dialog"
	"github.com/opsdeck/opsdeck/ui/format"
)

// stage is where an action's dialogs are.
type stage int

const (
	stageNone stage = iota
	stageContainer
	stageImage
	stageLoadingRevisions
	stageRevision
	stageReplicas
	stageConfirm
	// stagePlanning waits for the executor's plan of the action entered; back is the stage
	// (an input) that a refusal returns to.
	stagePlanning
	// stageFrozen is the extra question before a deploy's confirmation during a freeze.
	stageFrozen
	// stagePending is the confirmation of approve, cancel or run-now of a waiting deploy.
	stagePending
)

// flow is the action being built by its dialogs.
type flow struct {
	stage     stage
	action    domain.Action
	svc       domain.Service
	container int
	revisions []domain.Revision
	choices   []choice // the rollback picker's entries
	verb      string   // stagePending: approve, cancel or run-now
	// plan is the executor's plan of the action, whose sentence the confirmation shows and
	// which is executed when confirmed.
	plan domain.Plan
	// back is the input stage a refusal of the plan returns to (stageImage, stageReplicas),
	// or stageNone: the refusal closes the dialog.
	back stage
}

// planMsg is the executor's plan (or its one-line refusal) of the action being built.
type planMsg struct {
	action domain.Action
	plan   domain.Plan
	err    error
}

func askPlan(ctx context.Context, b domain.Backend, a domain.Action) tea.Cmd {
	return func() tea.Msg {
		p, err := b.Plan(ctx, a)
		return planMsg{action: a, plan: p, err: err}
	}
}

// askExecutor asks the executor for the plan of the flow's action; the confirmation, or the
// refusal, follows when it arrives (planArrived).
func (m *Model) askExecutor() tea.Cmd {
	f := &m.flow
	f.back = stageNone
	if f.stage == stageImage || f.stage == stageReplicas {
		f.back = f.stage
	}
	f.stage = stagePlanning
	m.setStatus(fmt.Sprintf("planning %s of %s…", f.action.Kind, f.svc.Name), false)
	return askPlan(m.ctx, m.backend, f.action)
}

// confirmTitle is the question over a plan's sentence.
func confirmTitle(a domain.Action) string {
	verb := string(a.Kind)
	if a.Kind == domain.ActionRollback {
		verb = "roll back"
	}
	return verb + " " + a.Service + "?"
}

// planArrived shows the executor's answer before any question: its refusal in one line (in
// the input, which stays open to be corrected, or in the status line), a plan that changes
// nothing, or the confirmation with the plan's sentence verbatim.
func (m *Model) planArrived(msg planMsg) tea.Cmd {
	f := &m.flow
	if f.stage != stagePlanning || f.action.Kind != msg.action.Kind || f.action.Service != msg.action.Service ||
		f.action.Namespace != msg.action.Namespace {
		return nil // cancelled, or another action began meanwhile
	}
	svc, kind := f.svc, f.action.Kind
	reason := ""
	switch {
	case msg.err != nil:
		reason = safe.OneLine(msg.err.Error())
	case msg.plan.Skipped:
		reason = safe.OneLine(msg.plan.Sentence)
	}
	if reason != "" {
		if f.back != stageNone && m.dialog != nil {
			f.stage = f.back
			m.dialog.Refuse(reason)
			m.setStatus(fmt.Sprintf("%s %s refused: %s", kind, svc.Name, reason), true)
			return nil
		}
		m.setStatus(fmt.Sprintf("%s %s: %s", kind, svc.Name, reason), msg.err != nil)
		m.closeDialog()
		return nil
	}
	f.plan = msg.plan
	m.setStatus("", false)
	if kind == domain.ActionDeploy {
		if fz := m.freezeOf(svc); fz != "" {
			// A person may deploy during a freeze, but is asked once more, naming it.
			f.stage = stageFrozen
			m.open(dialog.NewConfirm(m.theme, m.keys, svc.Name+" is frozen: deploy anyway?", []string{fz}))
			return nil
		}
	}
	f.stage = stageConfirm
	m.open(dialog.NewConfirm(m.theme, m.keys, confirmTitle(f.action), []string{f.plan.Sentence}))
	return nil
}

// refuse is the one place that decides whether an action may start from a key.
func (m *Model) refuse(kind domain.ActionKind) (domain.Service, bool) {
	svc, ok := m.selected()
	if !ok {
		m.setStatus(string(kind)+": no service selected", true)
		return svc, true
	}
	if m.opts.ReadOnly {
		m.setStatus(domain.ReadOnlyRefusal(kind, svc.Name).Error(), true)
		return svc, true
	}
	return svc, false
}

// newAction starts an action on svc as the screen shows it: the revision, spec generation and
// (blue-green) active colour the person sees go with it, and the executor refuses the action,
// changing nothing, if the service has moved on by the time it is confirmed.
func (m *Model) newAction(kind domain.ActionKind, svc domain.Service) domain.Action {
	seen := &domain.Precondition{Revision: svc.Revision, Generation: svc.Generation}
	if svc.BlueGreen != nil {
		seen.Color = svc.BlueGreen.Active
	}
	return domain.Action{Kind: kind, Namespace: svc.Namespace, Service: svc.Name, Trigger: domain.TriggerKey, Expect: seen}
}

func (m *Model) open(d dialog.Model) {
	m.dialog = &d
}

func (m *Model) closeDialog() {
	m.dialog = nil
	m.flow = flow{}
}

// beginDeploy asks for the container (when there are several), then the image.
func (m *Model) beginDeploy() tea.Cmd {
	svc, refused := m.refuse(domain.ActionDeploy)
	if refused {
		return nil
	}
	m.flow = flow{action: m.newAction(domain.ActionDeploy, svc), svc: svc}
	if len(svc.Containers) > 1 {
		var items []string
		for _, c := range svc.Containers {
			items = append(items, format.Fit(c.Name, 12)+" "+c.Image)
		}
		m.flow.stage = stageContainer
		m.open(dialog.NewChoice(m.theme, m.keys, "deploy "+svc.Name+": which container?", nil, items, 0))
		return nil
	}
	return m.askImage()
}

func (m *Model) askImage() tea.Cmd {
	svc := m.flow.svc
	current := svc.Image
	var lines []string
	if len(svc.Containers) > 0 {
		c := svc.Containers[m.flow.container]
		current = c.Image
		m.flow.action.Container = c.Name
		if len(svc.Containers) > 1 {
			lines = append(lines, "container "+c.Name)
		}
	}
	lines = append(lines, "new image (now "+current+"):")
	m.flow.stage = stageImage
	// No validator of its own: the executor judges the image (planArrived shows its refusal).
	d := dialog.NewInput(m.theme, m.keys, "deploy "+svc.Name, lines, current, nil)
	m.open(d)
	return nil
}

// beginRollback reads the revisions, then opens the picker on the previous one.
func (m *Model) beginRollback() tea.Cmd {
	svc, refused := m.refuse(domain.ActionRollback)
	if refused {
		return nil
	}
	m.flow = flow{action: m.newAction(domain.ActionRollback, svc), svc: svc, stage: stageLoadingRevisions}
	if r, ok := m.revisions[svc.Key()]; ok && r.rev == svc.Revision && r.err == nil {
		m.openRevisionPicker(r.revs, r.snaps)
		return nil
	}
	m.setStatus("reading revisions of "+svc.Name+"…", false)
	return m.askRevisions(svc, true)
}

func (m *Model) revisionsArrived(r revisionsMsg) tea.Cmd {
	if m.flow.stage != stageLoadingRevisions || m.flow.svc.Key() != r.key {
		return nil
	}
	if r.err != nil {
		m.setStatus("rollback "+m.flow.svc.Name+": "+r.err.Error(), true)
		m.flow = flow{}
		return nil
	}
	m.openRevisionPicker(r.revs, r.snaps)
	return nil
}

func (m *Model) openRevisionPicker(revs []domain.Revision, snaps []domain.Snapshot) {
	svc := m.flow.svc
	items, choices, def := m.pickerChoices(svc, revs, snaps)
	if def < 0 {
		m.setStatus("rollback "+svc.Name+": no earlier revision to roll back to", true)
		m.flow = flow{}
		return
	}
	m.flow.revisions, m.flow.choices = revs, choices
	m.flow.stage = stageRevision
	title := "roll back " + svc.Name + " to revision:"
	if svc.BlueGreen != nil {
		title = "roll back " + svc.Name + " (blue-green):"
	}
	m.open(dialog.NewChoice(m.theme, m.keys, title, nil, items, def))
}

// beginPause pauses a running rollout or resumes a paused one, at once.
func (m *Model) beginPause() tea.Cmd {
	kind := domain.ActionPause
	if svc, ok := m.selected(); ok && svc.Paused {
		kind = domain.ActionResume
	}
	svc, refused := m.refuse(kind)
	if refused {
		return nil
	}
	return m.run(m.newAction(kind, svc))
}

func (m *Model) beginRestart() tea.Cmd {
	svc, refused := m.refuse(domain.ActionRestart)
	if refused {
		return nil
	}
	m.flow = flow{action: m.newAction(domain.ActionRestart, svc), svc: svc}
	return m.askExecutor()
}

func (m *Model) beginScale() tea.Cmd {
	svc, refused := m.refuse(domain.ActionScale)
	if refused {
		return nil
	}
	m.flow = flow{action: m.newAction(domain.ActionScale, svc), svc: svc, stage: stageReplicas}
	validate := func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("replicas must be a whole number, 0 or more")
		}
		if n > 1000 {
			return fmt.Errorf("replicas must be at most 1000")
		}
		return nil
	}
	m.open(dialog.NewInput(m.theme, m.keys, "scale "+svc.Name, []string{fmt.Sprintf("replicas (now %d):", svc.Desired)},
		strconv.Itoa(int(svc.Desired)), validate))
	return nil
}

// dialogKey passes a key to the open dialog and moves the flow on when it is submitted.
func (m *Model) dialogKey(k tea.KeyPressMsg) tea.Cmd {
	d, out, cmd := m.dialog.Update(k)
	m.dialog = &d
	switch out {
	case dialog.Cancelled:
		m.setStatus(string(m.flow.action.Kind)+" cancelled", false)
		m.closeDialog()
		return nil
	case dialog.Pending:
		return cmd
	}
	f := &m.flow
	svc := f.svc
	switch f.stage {
	case stagePlanning:
		return nil // the plan is on its way
	case stageContainer:
		f.container = d.Index()
		return m.askImage()
	case stageImage:
		f.action.Image = d.Value()
		return m.askExecutor()
	case stageFrozen:
		f.stage = stageConfirm
		m.open(dialog.NewConfirm(m.theme, m.keys, confirmTitle(f.action), []string{f.plan.Sentence}))
	case stageRevision:
		c := f.choices[d.Index()]
		f.action.ToRevision, f.action.Snapshot = 0, ""
		switch {
		case c.rev != nil:
			f.action.ToRevision = c.rev.Number
		case c.snap != nil:
			f.action.Snapshot = c.snap.ID
		}
		return m.askExecutor()
	case stageReplicas:
		n, _ := strconv.Atoi(d.Value())
		f.action.Replicas = int32(n)
		return m.askExecutor()
	case stageConfirm:
		// Execute the plan confirmed: refused, changing nothing, if the service moved since.
		a := f.plan.Confirmed()
		m.closeDialog()
		return m.run(a)
	case stagePending:
		verb := f.verb
		m.closeDialog()
		return m.runPending(verb, svc)
	}
	return cmd
}

// run sends an action to the executor.
func (m *Model) run(a domain.Action) tea.Cmd {
	m.pending++
	m.setStatus(fmt.Sprintf("%s %s…", a.Kind, a.Service), false)
	return execute(m.ctx, m.backend, a)
}

// actionDone records an action's result in the events pane and the status line.
func (m *Model) actionDone(msg actionDoneMsg) tea.Cmd {
	m.pending = max(0, m.pending-1)
	a := msg.action
	ev := domain.Event{Time: msg.result.At, Source: domain.SourceAction, Type: "Normal", Reason: string(a.Kind), Object: "deployment/" + a.Service}
	if ev.Time.IsZero() {
		ev.Time = m.now
	}
	if msg.err != nil {
		ev.Type = "Warning"
		ev.Message = safe.OneLine(msg.err.Error())
		m.setStatus(fmt.Sprintf("%s %s failed: %s", a.Kind, a.Service, ev.Message), true)
	} else {
		ev.Message = msg.result.Message
		if ev.Message == "" {
			ev.Message = fmt.Sprintf("%s %s done", a.Kind, a.Service)
		}
		m.setStatus(ev.Message, false)
	}
	m.events.Add(ev)
	if svc, ok := m.state.FindByName(a.Namespace, a.Service); ok {
		return m.askRevisions(svc, true)
	}
	return nil
}

// pendingDoneMsg is the outcome of approve, cancel or run-now on a waiting deploy.
type pendingDoneMsg struct {
	msg string
	err error
}

// beginPending asks to approve, cancel or run now the selected service's waiting deploy.
func (m *Model) beginPending(verb string) tea.Cmd {
	svc, ok := m.selected()
	switch {
	case !ok:
		m.setStatus(verb+": no service selected", true)
		return nil
	case m.opts.ReadOnly:
		m.setStatus(verb+": refused (read-only)", true)
		return nil
	case m.opts.Pending == nil:
		m.setStatus(verb+": not available here", true)
		return nil
	case svc.Pending == nil:
		m.setStatus(svc.Name+" has no waiting deploy", true)
		return nil
	}
	p := svc.Pending
	title := map[string]string{"approve": "approve", "cancel": "cancel", "run-now": "run now"}[verb]
	lines := []string{fmt.Sprintf("%s -> %s (%s, %s)", svc.Tag(), domain.ImageTag(p.Image), p.State, p.Trigger)}
	if p.RequestedBy != "" {
		lines = append(lines, "requested by "+p.RequestedBy)
	}
	m.flow = flow{svc: svc, stage: stagePending, verb: verb, action: domain.Action{Kind: domain.ActionKind(verb), Service: svc.Name}}
	m.open(dialog.NewConfirm(m.theme, m.keys, title+" the waiting deploy of "+svc.Name+"?", lines))
	return nil
}

func (m *Model) runPending(verb string, svc domain.Service) tea.Cmd {
	hook, ctx := m.opts.Pending, m.ctx
	m.setStatus(verb+" "+svc.Name+"…", false)
	return func() tea.Msg {
		msg, err := hook(ctx, verb, svc.Namespace, svc.Name)
		return pendingDoneMsg{msg: msg, err: err}
	}
}

// freezeOf names the freeze holding svc now (its own, else the namespace's), or "".
func (m *Model) freezeOf(svc domain.Service) string {
	at := func(f *domain.FreezeInfo, scope string) string {
		return fmt.Sprintf("%s frozen until %s by %s: %s", scope, f.Until.Local().Format("Jan 2 15:04"), f.By, f.Reason)
	}
	if f := svc.Freeze; f != nil && m.now.Before(f.Until) {
		return at(f, svc.Name)
	}
	if m.opts.Freeze != nil {
		if f := m.opts.Freeze(); f != nil && m.now.Before(f.Until) {
			return at(f, "namespace")
		}
	}
	return ""
}

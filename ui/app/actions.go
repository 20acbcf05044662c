package app

import (
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"
	"strconv"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/imageref"
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
	from, to  string // what the confirmation shows
	revisions []domain.Revision
	choices   []choice // the rollback picker's entries
	verb      string   // stagePending: approve, cancel or run-now
	// frozenLines are the deploy's confirmation lines, shown after the freeze's question.
	frozenLines []string
}

// refuse is the one place that decides whether an action may start from a key.
func (m *Model) refuse(kind domain.ActionKind) (domain.Service, bool) {
	svc, ok := m.selected()
	if !ok {
		m.setStatus(string(kind)+": no service selected", true)
		return svc, true
	}
	if m.opts.ReadOnly {
		m.setStatus(fmt.Sprintf("read-only: %s of %s refused (started with --readonly)", kind, svc.Name), true)
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
	m.flow.from = current
	m.flow.stage = stageImage
	validate := func(s string) error {
		if err := imageref.Validate(s); err != nil {
			return err
		}
		if s == current {
			return fmt.Errorf("%s already runs %s: change the tag", svc.Name, s)
		}
		return nil
	}
	d := dialog.NewInput(m.theme, m.keys, "deploy "+svc.Name, lines, current, validate)
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
	m.flow = flow{action: m.newAction(domain.ActionRestart, svc), svc: svc, stage: stageConfirm}
	m.open(dialog.NewConfirm(m.theme, m.keys, "restart "+svc.Name+"?", []string{
		fmt.Sprintf("every pod is replaced, %d at a time (a new revision r%d)", 1, svc.Revision+1),
	}))
	return nil
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
		if int32(n) == svc.Desired {
			return fmt.Errorf("%s already has %d replicas", svc.Name, n)
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
	case stageContainer:
		f.container = d.Index()
		return m.askImage()
	case stageImage:
		f.action.Image = d.Value()
		f.to = d.Value()
		lines := []string{f.from + " -> " + f.to}
		if len(svc.Containers) > 1 {
			lines = append([]string{"container " + f.action.Container}, lines...)
		}
		lines = append(lines, blueGreenDeployLines(svc)...)
		if fz := m.freezeOf(svc); fz != "" {
			// A person may deploy during a freeze, but is asked once more, naming it.
			f.stage = stageFrozen
			f.frozenLines = lines
			m.open(dialog.NewConfirm(m.theme, m.keys, svc.Name+" is frozen: deploy anyway?", []string{fz}))
			return cmd
		}
		f.stage = stageConfirm
		m.open(dialog.NewConfirm(m.theme, m.keys, "deploy "+svc.Name+"?", lines))
	case stageFrozen:
		f.stage = stageConfirm
		m.open(dialog.NewConfirm(m.theme, m.keys, "deploy "+svc.Name+"?", f.frozenLines))
	case stageRevision:
		if c := f.choices[d.Index()]; c.rev == nil {
			f.action.Snapshot = ""
			if c.snap != nil {
				f.action.Snapshot = c.snap.ID
			}
			var lines []string
			f.from, f.to, lines = m.pickConfirm(svc, c)
			f.stage = stageConfirm
			m.open(dialog.NewConfirm(m.theme, m.keys, "roll back "+svc.Name+"?", lines))
			return cmd
		}
		r := *f.choices[d.Index()].rev
		f.action.ToRevision = r.Number
		cur := svc.Image
		for _, x := range f.revisions {
			if x.Current {
				cur = "r" + strconv.FormatInt(x.Number, 10) + " " + x.Image
			}
		}
		f.from, f.to = cur, "r"+strconv.FormatInt(r.Number, 10)+" "+r.Image
		f.stage = stageConfirm
		lines := []string{f.from + " -> " + f.to}
		if r.Current {
			lines = append(lines, "(this is the current revision: the rollback will be skipped)")
		}
		m.open(dialog.NewConfirm(m.theme, m.keys, "roll back "+svc.Name+"?", lines))
	case stageReplicas:
		n, _ := strconv.Atoi(d.Value())
		f.action.Replicas = int32(n)
		f.stage = stageConfirm
		m.open(dialog.NewConfirm(m.theme, m.keys, "scale "+svc.Name+"?",
			[]string{fmt.Sprintf("%d -> %d replicas", svc.Desired, n)}))
	case stageConfirm:
		a := f.action
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

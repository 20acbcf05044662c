package app

// pane identifies a focusable pane.
type pane int

const (
	paneServices pane = iota
	paneMetrics
	paneRollout
	paneEvents
	numPanes
)

func (p pane) String() string {
	return [...]string{"services", "metrics", "rollout", "events"}[p]
}

// focus is the pane that takes the keys, and whether the details view (the metrics and
// rollout of the selected service, at full height) is open.
type focus struct {
	pane    pane
	details bool
}

// is reports whether p has the focus.
func (f focus) is(p pane) bool { return f.pane == p }

// next moves to the next pane on screen: the details view has only metrics and rollout.
func (f *focus) next() {
	f.pane = (f.pane + 1) % numPanes
	if f.details && f.pane != paneMetrics && f.pane != paneRollout {
		f.pane = paneMetrics
	}
}

// openDetails opens the details view on the rollout pane.
func (f *focus) openDetails() { *f = focus{pane: paneRollout, details: true} }

// closeDetails returns to the services table.
func (f *focus) closeDetails() { *f = focus{pane: paneServices} }

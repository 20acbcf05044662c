package app

import (
	"context"
	"fmt"
	"strconv"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
)

// choice is one entry of the rollback picker: a revision, a saved snapshot, or a blue-green
// service's switch back to its other colour.
type choice struct {
	rev        *domain.Revision
	snap       *domain.Snapshot
	switchBack bool
}

// maxPickerSnapshots bounds the snapshots the picker lists, newest first.
const maxPickerSnapshots = 8

// snapshots reads a service's saved snapshots when the backend keeps them.
func snapshots(ctx context.Context, b domain.Backend, svc domain.Service) []domain.Snapshot {
	l, ok := b.(domain.SnapshotLister)
	if !ok {
		return nil
	}
	snaps, err := l.Snapshots(ctx, svc)
	if err != nil {
		return nil
	}
	if len(snaps) > maxPickerSnapshots {
		snaps = snaps[:maxPickerSnapshots]
	}
	return snaps
}

// pickerChoices lists what a rollback of svc can go back to, with the picker's lines and the
// default entry (-1 when there is nothing to go back to): for a blue-green service the other
// colour first, for a Deployment its earlier revisions; then the saved snapshots.
func (m *Model) pickerChoices(svc domain.Service, revs []domain.Revision, snaps []domain.Snapshot) ([]string, []choice, int) {
	var items []string
	var choices []choice
	def := -1
	if bg := svc.BlueGreen; bg != nil {
		if bg.Problem == "" {
			items = append(items, switchBackLine(bg))
			choices = append(choices, choice{switchBack: true})
			def = 0
		}
	} else {
		for i := range revs {
			r := revs[i]
			cur := ""
			if r.Current {
				cur = "  (current)"
			} else if def < 0 {
				def = len(items)
			}
			age := ""
			if !r.Created.IsZero() {
				age = format.Age(m.now.Sub(r.Created))
			}
			items = append(items, format.FitLeft("r"+strconv.FormatInt(r.Number, 10), 4)+"  "+format.Fit(r.Image, 30)+" "+format.FitLeft(age, 4)+cur)
			choices = append(choices, choice{rev: &revs[i]})
		}
	}
	for i := range snaps {
		s := snaps[i]
		where := ""
		if s.Color != "" {
			where = " on " + string(s.Color)
		}
		items = append(items, "snap "+s.Time.Local().Format("15:04:05")+" before "+format.Fit(s.Action, 8)+" "+
			format.Fit(s.Image+where, 26)+" ×"+strconv.Itoa(int(s.Replicas)))
		choices = append(choices, choice{snap: &snaps[i]})
		if def < 0 {
			def = len(items) - 1
		}
	}
	return items, choices, def
}

// switchBackLine says what a rollback of a blue-green service does now.
func switchBackLine(bg *domain.BlueGreen) string {
	if bg.Pending != "" {
		return fmt.Sprintf("cancel the switch to %s (%s): traffic stays on %s", bg.Pending, bg.PendingImage, bg.Active)
	}
	idle := bg.Of(bg.Idle())
	if idle.AllReady() {
		return fmt.Sprintf("switch back to %s (%s): instant, %d/%d Ready", bg.Idle(), idle.Image, idle.Ready, idle.Desired)
	}
	return fmt.Sprintf("bring back %s (%s), switch once Ready", bg.Idle(), idle.Image)
}

package domain

import (
	"maps"
	"slices"

	"github.com/opsdeck/opsdeck/internal/safe"
)

// Printable returns the state with every text that comes from the cluster (images, change
// causes, condition and Event messages, pod reasons, ...) made safe to draw on a terminal with
// safe.Text: whoever can write an annotation or an Event must not be able to clear the screen,
// set the clipboard (OSC 52) or reorder text. Names are DNS labels and need nothing. Services
// with nothing to clean are shared, not copied.
func (s ClusterState) Printable() ClusterState {
	out := s
	for i, svc := range s.Services {
		if c, changed := printableService(svc); changed {
			if &out.Services[0] == &s.Services[0] {
				out.Services = slices.Clone(s.Services)
			}
			out.Services[i] = c
		}
	}
	for i, e := range s.Events {
		if c := e.Printable(); c != e {
			if &out.Events[0] == &s.Events[0] {
				out.Events = slices.Clone(s.Events)
			}
			out.Events[i] = c
		}
	}
	return out
}

// Printable is e with its reason, object and message made safe to draw.
func (e Event) Printable() Event {
	e.Reason, e.Object, e.Message = safe.Text(e.Reason), safe.Text(e.Object), safe.Text(e.Message)
	return e
}

// PrintableService is svc with its cluster text made safe to draw (see ClusterState.Printable).
func PrintableService(svc Service) Service {
	c, _ := printableService(svc)
	return c
}

func printableService(svc Service) (Service, bool) {
	changed := false
	str := func(p *string) {
		if t := safe.Text(*p); t != *p {
			*p, changed = t, true
		}
	}
	str(&svc.Image)
	str(&svc.Message)
	if containersDirty(svc.Containers) {
		svc.Containers = printableContainers(svc.Containers)
		changed = true
	}
	if conditionsDirty(svc.Conditions) {
		cs := slices.Clone(svc.Conditions)
		for i := range cs {
			cs[i].Reason, cs[i].Message = safe.Text(cs[i].Reason), safe.Text(cs[i].Message)
		}
		svc.Conditions, changed = cs, true
	}
	if replicaSetsDirty(svc.ReplicaSets) {
		rss := slices.Clone(svc.ReplicaSets)
		for i := range rss {
			rss[i].Image, rss[i].ChangeCause = safe.Text(rss[i].Image), safe.Text(rss[i].ChangeCause)
			pods := slices.Clone(rss[i].Pods)
			for j := range pods {
				pods[j].Phase, pods[j].Reason = safe.Text(pods[j].Phase), safe.Text(pods[j].Reason)
			}
			rss[i].Pods = pods
		}
		svc.ReplicaSets, changed = rss, true
	}
	if bg := svc.BlueGreen; bg != nil && blueGreenDirty(bg) {
		c := *bg
		c.PendingImage, c.Problem = safe.Text(c.PendingImage), safe.Text(c.Problem)
		c.Colors = maps.Clone(bg.Colors)
		for k, cs := range c.Colors {
			cs.Image = safe.Text(cs.Image)
			cs.Containers = printableContainers(cs.Containers)
			c.Colors[k] = cs
		}
		svc.BlueGreen, changed = &c, true
	}
	return svc, changed
}

func dirty(s string) bool { return safe.Text(s) != s }

func containersDirty(cs []Container) bool {
	return slices.ContainsFunc(cs, func(c Container) bool { return dirty(c.Image) || dirty(c.Name) })
}

func printableContainers(cs []Container) []Container {
	if !containersDirty(cs) {
		return cs
	}
	out := slices.Clone(cs)
	for i := range out {
		out[i].Name, out[i].Image = safe.Text(out[i].Name), safe.Text(out[i].Image)
	}
	return out
}

func conditionsDirty(cs []Condition) bool {
	return slices.ContainsFunc(cs, func(c Condition) bool { return dirty(c.Reason) || dirty(c.Message) })
}

func replicaSetsDirty(rss []ReplicaSet) bool {
	return slices.ContainsFunc(rss, func(rs ReplicaSet) bool {
		return dirty(rs.Image) || dirty(rs.ChangeCause) ||
			slices.ContainsFunc(rs.Pods, func(p Pod) bool { return dirty(p.Phase) || dirty(p.Reason) })
	})
}

func blueGreenDirty(bg *BlueGreen) bool {
	if dirty(bg.PendingImage) || dirty(bg.Problem) {
		return true
	}
	for _, c := range bg.Colors {
		if dirty(c.Image) || containersDirty(c.Containers) {
			return true
		}
	}
	return false
}

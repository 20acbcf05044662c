package app

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// startWatch opens the backend's watch; the channel comes back as a message.
func startWatch(ctx context.Context, b domain.Backend) tea.Cmd {
	return func() tea.Msg {
		return watchStartedMsg{ch: b.Watch(ctx)}
	}
}

// waitForState blocks on the watch channel and returns one state; Update re-arms it.
func waitForState(ch <-chan domain.ClusterState) tea.Cmd {
	return func() tea.Msg {
		st, ok := <-ch
		if !ok {
			return watchClosedMsg{}
		}
		return stateMsg{state: st, ch: ch}
	}
}

// waitForRound blocks on the state stream and returns one round; Update re-arms it. A closed
// channel ends the loop (the stream stopped with the program).
func waitForRound(ch <-chan domain.Round) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		r, ok := <-ch
		if !ok {
			return nil
		}
		return roundMsg{r: r, ch: ch}
	}
}

func tick(d time.Duration, id int) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{id: id} })
}

// poll reads a frame for st when the console has no stream, and lets judge act on it.
func poll(ctx context.Context, b domain.Backend, gen int, st domain.ClusterState, judge func(*domain.Round)) tea.Cmd {
	return func() tea.Msg {
		f := b.Metrics(ctx, st.Services)
		r := domain.Round{At: f.At, State: st, Frame: f}
		if judge != nil {
			judge(&r)
		}
		return frameMsg{gen: gen, round: r}
	}
}

func fetchHistory(ctx context.Context, b domain.Backend, svc domain.Service, window, step time.Duration) tea.Cmd {
	return func() tea.Msg {
		series, err := b.History(ctx, svc, window, step)
		return historyMsg{key: svc.Key(), ns: svc.Namespace, series: series, err: err}
	}
}

func fetchRevisions(ctx context.Context, b domain.Backend, svc domain.Service) tea.Cmd {
	return func() tea.Msg {
		revs, err := b.Revisions(ctx, svc)
		return revisionsMsg{key: svc.Key(), stamp: historyStamp(svc), revs: revs, err: err, snaps: snapshots(ctx, b, svc)}
	}
}

func execute(ctx context.Context, b domain.Backend, a domain.Action) tea.Cmd {
	return func() tea.Msg {
		r, err := b.Execute(ctx, a)
		return actionDoneMsg{action: a, result: r, err: err}
	}
}

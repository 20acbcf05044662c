package app

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Run runs the console in the alternate screen until the user quits or ctx ends.
func Run(ctx context.Context, b domain.Backend, o Options) error {
	m := newModel(ctx, b, o)
	defer m.cancel()
	p := tea.NewProgram(m, tea.WithContext(ctx))
	_, err := p.Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return nil // the caller ended the context: a normal stop
	}
	return err
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// actFlags are the flags every mutating verb has.
type actFlags struct {
	yes     bool
	dryRun  bool
	wait    bool
	timeout time.Duration
}

// act runs one action from a verb: connect, ask the executor for the plan (refusals happen
// here, before asking), show its sentence and confirm unless --yes, execute that plan through
// the one executor, print its message, and with --wait follow the rollout to its end. Every
// failure is one error line.
func (g *globals) act(ctx context.Context, a domain.Action, f actFlags) error {
	conn, err := g.connect()
	if err != nil {
		return err
	}
	if a.Namespace == "" {
		a.Namespace = conn.Namespace
	}
	exec, rec, err := g.executor(conn)
	if err != nil {
		return err
	}
	defer rec.Close(eventFlushTimeout)
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	exec.BlueGreen = blueGreenSettings(cfg)

	plan, err := exec.Plan(ctx, a)
	if err != nil {
		return err
	}
	if plan.Skipped {
		fmt.Fprintln(g.streams.Out, plan.Sentence)
		return nil
	}
	if f.dryRun {
		fmt.Fprintf(g.streams.Out, "%s\n(dry run: nothing was changed)\n", plan.Sentence)
		return nil
	}
	if !f.yes {
		if err := g.confirm(plan, conn.Identity.Context); err != nil {
			return err
		}
	}
	// What was planned (and confirmed) is what may change: if the service moved meanwhile,
	// the executor refuses with "changed since you confirmed".
	res, err := exec.ExecutePlan(ctx, plan)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.streams.Out, res.Message)
	if !f.wait || res.Skipped {
		return nil
	}
	if res.Kind == domain.KindBlueGreen {
		return g.waitSwitch(ctx, conn, exec, cfg, a, res, f.timeout)
	}
	start := time.Now()
	err = actions.WaitForRollout(ctx, conn.Client, a.Namespace, a.Service, f.timeout, func(line string) {
		fmt.Fprintln(g.streams.Out, line)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.streams.Out, "rollout of %s complete in %s\n", a.Service, time.Since(start).Round(10*time.Millisecond))
	return nil
}

func (f *actFlags) register(fs interface {
	BoolVarP(*bool, string, string, bool, string)
	BoolVar(*bool, string, bool, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	fs.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what would be done (the plan's sentence) and change nothing")
	fs.BoolVar(&f.wait, "wait", false, "wait until the rollout completes (fails on ProgressDeadlineExceeded)")
	fs.DurationVar(&f.timeout, "timeout", actions.DefaultWaitTimeout, "how long --wait waits")
}

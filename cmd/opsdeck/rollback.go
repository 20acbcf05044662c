package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// rollbackOptions is `opsdeck rollback SERVICE`.
type rollbackOptions struct {
	g          *globals
	service    string
	toRevision int64
	toSnapshot string
	flags      actFlags
}

func newRollbackCmd(g *globals) *cobra.Command {
	o := &rollbackOptions{g: g}
	cmd := &cobra.Command{
		Use:   "rollback SERVICE",
		Short: "Roll a service back to an earlier revision (kubectl rollout undo)",
		Long: `rollback restores the pod template of an earlier revision of the service's Deployment, exactly as
kubectl rollout undo --to-revision does; without --to-revision, the previous revision. With --to-snapshot
it restores the objects saved before an earlier action, replicas included (even when revision history is
gone), guarded against changes made meanwhile. A blue-green service switches back to the other colour: at
once while it is still up, else once it is Ready again. Without --yes it asks for confirmation on a
terminal, and refuses without one.`,
		Example: `  opsdeck rollback order-service -n shop
  opsdeck rollback order-service --to-revision 1 --yes --wait
  opsdeck rollback checkout --yes          (blue-green: switch back to the other colour)
  opsdeck rollback order-service --to-snapshot 20260314T092653.000000000Z_shop_order-service_deploy`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().Int64Var(&o.toRevision, "to-revision", 0, "revision to roll back to (0: the previous one)")
	cmd.Flags().StringVar(&o.toSnapshot, "to-snapshot", "", "restore the objects saved before an earlier action (an ID from the audit log's snapshots; an unknown ID lists them)")
	o.flags.register(cmd.Flags())
	return cmd
}

// Complete takes the argument.
func (o *rollbackOptions) Complete(args []string) error {
	o.service = args[0]
	return nil
}

// Validate checks the flags.
func (o *rollbackOptions) Validate() error {
	if o.toRevision < 0 {
		return usagef("--to-revision must be 0 (the previous revision) or a revision number, not %d", o.toRevision)
	}
	if o.toRevision != 0 && o.toSnapshot != "" {
		return usagef("give --to-revision or --to-snapshot, not both")
	}
	return nil
}

// Run rolls back through the one executor.
func (o *rollbackOptions) Run(ctx context.Context) error {
	return o.g.act(ctx, domain.Action{
		Kind: domain.ActionRollback, Service: o.service, Trigger: domain.TriggerCLI,
		ToRevision: o.toRevision, Snapshot: o.toSnapshot,
	}, o.flags)
}

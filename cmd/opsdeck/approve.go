package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/release"
)

// newApproveCmd is `opsdeck approve SERVICE [--cancel | --now]`.
func newApproveCmd(g *globals) *cobra.Command {
	var cancel, now bool
	cmd := &cobra.Command{
		Use:   "approve SERVICE",
		Short: "Approve (or cancel, or run now) the deploy waiting on a service",
		Long: `A deploy that waits (queued for a window or a freeze, scheduled with deploy --at, or awaiting
approval) is the annotation opsdeck.io/pending-deploy on the Deployment; any running opsdeck
guard (or console with auto-guard on) performs it when it is due. approve records who approved
it; --cancel removes it; --now makes it due at once (ignoring its window and not-before, not a
freeze). The audit log records who did which.`,
		Example: `  opsdeck approve payment-service -n shop
  opsdeck approve payment-service --cancel -n shop`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cancel && now {
				return usagef("approve takes --cancel or --now, not both")
			}
			verb := "approve"
			if cancel {
				verb = "cancel"
			} else if now {
				verb = "run-now"
			}
			if g.readOnly {
				return fmt.Errorf("%w: refusing to %s (started with --readonly)", domain.ErrReadOnly, verb)
			}
			conn, err := g.connect()
			if err != nil {
				return err
			}
			ctx, svc, by := cmd.Context(), args[0], conn.Identity.User
			p, err := pendingVerb(ctx, verb, conn.Client, conn.Namespace, svc, by)
			if err != nil {
				return err
			}
			if err := g.auditNote(conn, verb, svc, fmt.Sprintf("pending deploy of %s (%s, requested by %s)", p.Image, p.Trigger, p.RequestedBy)); err != nil {
				return err
			}
			fmt.Fprintf(g.streams.Out, "%s: %s pending deploy of %s\n", svc, map[string]string{"approve": "approved", "cancel": "cancelled", "run-now": "will run now the"}[verb], p.Image)
			return nil
		},
	}
	cmd.Flags().BoolVar(&cancel, "cancel", false, "remove the pending deploy instead")
	cmd.Flags().BoolVar(&now, "now", false, "run the pending deploy now (its window and not-before aside)")
	return cmd
}

func pendingVerb(ctx context.Context, verb string, c kubernetes.Interface, ns, svc, by string) (*release.Pending, error) {
	switch verb {
	case "cancel":
		return release.Cancel(ctx, c, ns, svc)
	case "run-now":
		return release.RunNow(ctx, c, ns, svc, by)
	}
	return release.Approve(ctx, c, ns, svc, by)
}

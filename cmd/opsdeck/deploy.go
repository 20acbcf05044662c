package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/imageref"
)

// deployOptions is `opsdeck deploy SERVICE IMAGE`.
type deployOptions struct {
	g         *globals
	service   string
	image     string
	container string
	flags     actFlags
}

func newDeployCmd(g *globals) *cobra.Command {
	o := &deployOptions{g: g}
	cmd := &cobra.Command{
		Use:   "deploy SERVICE IMAGE",
		Short: "Roll out a new image of a service's container",
		Long: `deploy sets the image of a container of the service's Deployment (a rolling update) and records
why in its change-cause. Without --yes it asks for confirmation on a terminal, and refuses without one.`,
		Example: `  opsdeck deploy order-service order-service:v2 -n shop
  opsdeck deploy order-service registry.local/order-service:v2 --container app --yes --wait`,
		Args: exactArgs("SERVICE", "IMAGE"),
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
	cmd.Flags().StringVarP(&o.container, "container", "c", "", "container to change (default: the only one, or the one named like the service)")
	o.flags.register(cmd.Flags())
	return cmd
}

// Complete takes the arguments.
func (o *deployOptions) Complete(args []string) error {
	o.service, o.image = args[0], args[1]
	return nil
}

// Validate checks the image reference before anything is asked of the cluster.
func (o *deployOptions) Validate() error {
	if o.service == "" {
		return usagef("deploy needs a SERVICE")
	}
	return imageref.Validate(o.image)
}

// Run deploys through the one executor.
func (o *deployOptions) Run(ctx context.Context) error {
	return o.g.act(ctx, domain.Action{
		Kind: domain.ActionDeploy, Service: o.service, Trigger: domain.TriggerCLI,
		Image: o.image, Container: o.container,
	}, o.flags)
}

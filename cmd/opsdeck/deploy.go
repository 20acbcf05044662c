package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/imageref"
	"github.com/opsdeck/opsdeck/internal/release"
	"github.com/opsdeck/opsdeck/internal/safe"
)

// deployOptions is `opsdeck deploy SERVICE IMAGE`.
type deployOptions struct {
	g         *globals
	service   string
	image     string
	container string
	flags     actFlags
	// at schedules the deploy (RFC3339) instead of starting it; overrideFreeze deploys during
	// a freeze.
	at             string
	overrideFreeze bool
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
	cmd.Flags().StringVar(&o.at, "at", "", "schedule the deploy for this RFC3339 time; any running opsdeck guard performs it")
	cmd.Flags().BoolVar(&o.overrideFreeze, "override-freeze", false, "deploy although the service or namespace is frozen")
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
	if o.at != "" {
		if _, err := time.Parse(time.RFC3339, o.at); err != nil {
			return usagef("--at %q is not an RFC3339 time; write e.g. 2026-12-01T09:00:00Z", o.at)
		}
	}
	return imageref.Validate(o.image)
}

// Run deploys through the one executor.
func (o *deployOptions) Run(ctx context.Context) error {
	if o.at != "" || !o.overrideFreeze {
		if done, err := o.gate(ctx); done || err != nil {
			return err
		}
	}
	return o.g.act(ctx, domain.Action{
		Kind: domain.ActionDeploy, Service: o.service, Trigger: domain.TriggerCLI,
		Image: o.image, Container: o.container,
	}, o.flags)
}

// gate schedules the deploy (--at), or refuses it during a freeze without --override-freeze.
// done is true when nothing is left for act to do.
func (o *deployOptions) gate(ctx context.Context) (done bool, err error) {
	conn, err := o.g.connect()
	if err != nil {
		return false, err
	}
	if o.at == "" {
		d, err := conn.Client.AppsV1().Deployments(conn.Namespace).Get(ctx, o.service, metav1.GetOptions{})
		if err != nil {
			return false, nil // the executor reports a missing service in its own words
		}
		nsf, err := release.NamespaceFreeze(ctx, conn.Client, conn.Namespace)
		if err != nil {
			// Unknown is not "not frozen": say what could not be read and how to go on.
			return false, fmt.Errorf("cannot tell whether namespace %s is frozen (ConfigMap %s): %s; deploy anyway with --override-freeze",
				conn.Namespace, release.FreezeConfigMap, safe.OneLine(err.Error()))
		}
		if f := release.ActiveFreeze(release.ServiceFreeze(d), nsf, time.Now()); f != nil {
			return false, fmt.Errorf("%w: %s; deploy anyway with --override-freeze", release.ErrFrozen, f)
		}
		return false, nil
	}
	if o.g.readOnly {
		return false, fmt.Errorf("%w: refusing to schedule a deploy of %s (started with --readonly)", domain.ErrReadOnly, o.service)
	}
	at, _ := time.Parse(time.RFC3339, o.at)
	if !at.After(time.Now()) {
		return false, nil // a time already past: deploy now, through act's confirmation
	}
	cfg, err := o.g.loadConfig()
	if err != nil {
		return false, err
	}
	gate := &release.Gate{Client: conn.Client, Policies: cfg.Policies}
	out, err := gate.Submit(ctx, release.Request{Namespace: conn.Namespace, Service: o.service, Image: o.image,
		Trigger: domain.TriggerCLI, RequestedBy: conn.Identity.User, NotBefore: at, OverrideFreeze: o.overrideFreeze})
	if err != nil {
		return false, err
	}
	if out.State == "started" {
		return false, nil // --at in the past: deploy now, through act's confirmation
	}
	fmt.Fprintln(o.g.streams.Out, out.Message)
	return true, nil
}

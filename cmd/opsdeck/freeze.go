package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/release"
)

// freezeOptions is `opsdeck freeze [SERVICE | --all] --until RFC3339 --reason TEXT` and
// `opsdeck unfreeze [SERVICE | --all]`.
type freezeOptions struct {
	g       *globals
	service string
	all     bool
	until   string
	reason  string
	thaw    bool
}

func newFreezeCmd(g *globals) *cobra.Command {
	o := &freezeOptions{g: g}
	cmd := &cobra.Command{
		Use:   "freeze [SERVICE | --all] --until RFC3339 --reason TEXT",
		Short: "Hold automated deploys of a service (or the namespace) until a time",
		Long: `freeze makes automated deploys (webhook, registry, git, schedule) of the service, or of every
service of the namespace with --all, wait until the freeze ends; a person's own deploy then needs
--override-freeze (the console asks twice). A service's freeze is the annotation opsdeck.io/freeze
on its Deployment; the namespace's is the ConfigMap opsdeck-freeze. Expired freezes are ignored.`,
		Example: `  opsdeck freeze payment-service --until 2026-12-01T09:00:00Z --reason "card network migration" -n shop
  opsdeck freeze --all --until 2026-11-30T00:00:00Z --reason "black friday" -n shop`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args) },
	}
	cmd.Flags().BoolVar(&o.all, "all", false, "freeze the whole namespace")
	cmd.Flags().StringVar(&o.until, "until", "", "end of the freeze, RFC3339 (e.g. 2026-12-01T09:00:00Z)")
	cmd.Flags().StringVar(&o.reason, "reason", "", "why, shown to whoever's deploy waits")
	return cmd
}

func newUnfreezeCmd(g *globals) *cobra.Command {
	o := &freezeOptions{g: g, thaw: true}
	cmd := &cobra.Command{
		Use:     "unfreeze [SERVICE | --all]",
		Short:   "End a freeze: waiting deploys run as their policy allows",
		Example: `  opsdeck unfreeze payment-service -n shop`,
		RunE:    func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args) },
	}
	cmd.Flags().BoolVar(&o.all, "all", false, "end the namespace's freeze")
	return cmd
}

func (o *freezeOptions) run(ctx context.Context, args []string) error {
	verb := "freeze"
	if o.thaw {
		verb = "unfreeze"
	}
	switch {
	case len(args) > 1:
		return usagef("%s takes one SERVICE or --all, got %q", verb, args)
	case len(args) == 1 && o.all:
		return usagef("%s takes SERVICE or --all, not both", verb)
	case len(args) == 0 && !o.all:
		return usagef("%s needs a SERVICE, or --all for the whole namespace", verb)
	}
	if len(args) == 1 {
		o.service = args[0]
	}
	var f *release.Freeze
	if !o.thaw {
		if o.until == "" || o.reason == "" {
			return usagef("freeze needs --until RFC3339 and --reason TEXT")
		}
		until, err := time.Parse(time.RFC3339, o.until)
		if err != nil {
			return usagef("--until %q is not an RFC3339 time; write e.g. 2026-12-01T09:00:00Z", o.until)
		}
		if !until.After(time.Now()) {
			return usagef("--until %s is already past", o.until)
		}
		f = &release.Freeze{Until: until, Reason: o.reason, At: time.Now().UTC()}
	}
	if o.g.readOnly {
		return fmt.Errorf("%w: refusing to %s (started with --readonly)", domain.ErrReadOnly, verb)
	}
	conn, err := o.g.connect()
	if err != nil {
		return err
	}
	if f != nil {
		f.By = conn.Identity.User
	}
	target := o.service
	if o.all {
		target = "namespace " + conn.Namespace
		err = release.SetNamespaceFreeze(ctx, conn.Client, conn.Namespace, f)
	} else {
		err = release.SetServiceFreeze(ctx, conn.Client, conn.Namespace, o.service, f)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %v", verb, target, err)
	}
	reason := ""
	if f != nil {
		reason = fmt.Sprintf("until %s: %s", f.Until.UTC().Format(time.RFC3339), f.Reason)
	}
	if err := o.g.auditNote(conn, verb, o.service, reason); err != nil {
		return err
	}
	if f != nil {
		fmt.Fprintf(o.g.streams.Out, "froze %s until %s (%s)\n", target, f.Until.UTC().Format(time.RFC3339), f.Reason)
	} else {
		fmt.Fprintf(o.g.streams.Out, "unfroze %s\n", target)
	}
	return nil
}

// auditNote writes one audit line for a change that is not a Deployment action of the
// executor (freeze, unfreeze, approve, cancel), so the log says who did it.
func (g *globals) auditNote(conn *cluster.Conn, action, service, reason string) error {
	log, err := audit.Open(g.auditLog)
	if err != nil {
		return err
	}
	return log.Append(audit.Entry{Time: time.Now().UTC(), User: conn.Identity.User, Context: conn.Identity.Context,
		Namespace: conn.Namespace, Service: service, Action: action, Trigger: string(domain.TriggerCLI),
		Reason: reason, Result: audit.ResultOK})
}

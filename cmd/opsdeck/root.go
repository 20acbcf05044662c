package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/safe"
)

// streams are the standard streams, injected (as kubectl's IOStreams are).
type streams struct {
	In          io.Reader
	Out, ErrOut io.Writer
}

// Exit codes of the contract.
const (
	exitOK     = 0
	exitFailed = 1 // a refused or failed action
	exitUsage  = 2 // bad usage: unknown flag or command, missing arguments
)

// usageError is bad usage: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// globals are the flags every command shares.
type globals struct {
	kube          *cluster.KubeFlags
	allNamespaces bool
	selector      string
	prometheus    string
	configPath    string
	readOnly      bool
	auditLog      string
	streams       streams
	// display is how the user calls us: "opsdeck", or "kubectl opsdeck" as a plugin.
	display string
	// observeOnly keeps the backend from finishing pending blue-green steps (guard --dry-run).
	observeOnly bool
	// settled are the actions of unknown outcome found in the audit log at start.
	settled []actions.Settled
	// reconcileWhile, when set, gates those blue-green steps (guard --leader-elect: the leader's).
	reconcileWhile func() bool
}

// run builds the command tree for args[0]'s name, runs it and returns the exit code, after
// writing a failure as one line on stderr.
func run(ctx context.Context, args []string, s streams) int {
	quietKlog()
	display := "opsdeck"
	if base := strings.TrimSuffix(filepath.Base(args[0]), ".exe"); base == "kubectl-opsdeck" {
		display = "kubectl opsdeck"
	}
	root := newRootCmd(s, display)
	root.SetArgs(args[1:])
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitFailed
	if errors.Is(err, errReported) {
		return code
	}
	if isUsage(err) {
		code = exitUsage
	}
	fmt.Fprintf(s.ErrOut, "opsdeck: %s\n", safe.OneLine(err.Error()))
	if code == exitUsage {
		fmt.Fprintf(s.ErrOut, "Run '%s --help' for usage.\n", display)
	}
	return code
}

func isUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "bad flag syntax", "required flag"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func newRootCmd(s streams, display string) *cobra.Command {
	g := &globals{kube: cluster.NewKubeFlags(), streams: s, display: display}
	var demo, guardOn bool
	root := &cobra.Command{
		Use:   "opsdeck",
		Short: "Terminal operations console for microservices on Kubernetes",
		Long: `opsdeck shows every service (Deployment) of a namespace with live metrics and rollout state,
and deploys, rolls back and guards them from the keyboard. Without a command it opens the console.`,
		Example: fmt.Sprintf(`  %[1]s -n shop                      the console on namespace shop
  %[1]s --demo                       the console on a simulated backend
  %[1]s status -n shop -o json       one snapshot for scripts
  %[1]s deploy order-service order-service:v2 -n shop --yes --wait
  %[1]s rollback order-service --to-revision 1 -n shop --yes`, display),
		Args:          noArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConsole(cmd.Context(), g, demo, guardOn)
		},
	}
	if display != "opsdeck" {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: display}
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	pf := root.PersistentFlags()
	g.kube.AddFlags(pf)
	pf.BoolVarP(&g.allNamespaces, "all-namespaces", "A", false, "watch every namespace")
	pf.StringVarP(&g.selector, "selector", "l", "", "label selector of the Deployments to show (e.g. team=checkout)")
	pf.StringVar(&g.prometheus, "prometheus", "", "Prometheus base URL (overrides prometheus.url of the config)")
	pf.StringVar(&g.configPath, "config", "", "configuration file (default $XDG_CONFIG_HOME/opsdeck/config.yaml)")
	pf.BoolVar(&g.readOnly, "readonly", false, "refuse every mutation")
	pf.StringVar(&g.auditLog, "audit-log", "", "audit log file (default $XDG_STATE_HOME/opsdeck/audit.jsonl)")
	root.Flags().BoolVar(&demo, "demo", false, "run the console on the embedded simulated backend")
	root.Flags().BoolVar(&guardOn, "guard", false, "start the console with auto-guard on (the a key switches it)")

	root.AddCommand(
		newStatusCmd(g),
		newDeployCmd(g),
		newRollbackCmd(g),
		newGuardCmd(g),
		newConfigCmd(g),
		newVersionCmd(g),
		newTimelineCmd(g),
		newLogsCmd(g),
		newFreezeCmd(g),
		newUnfreezeCmd(g),
		newApproveCmd(g),
	)
	return root
}

// noArgs is cobra.NoArgs as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// exactArgs is cobra.ExactArgs as a usage error naming the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s needs %s, got %d argument(s)", cmd.Name(), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// quietKlog keeps client-go's own logging off the terminal: the console owns the screen and a
// verb writes one line on failure. OPSDECK_KLOG=FILE sends it to a file for debugging.
func quietKlog() {
	klog.LogToStderr(false)
	var out io.Writer = io.Discard
	if p := os.Getenv("OPSDECK_KLOG"); p != "" {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
			out = f
		}
	}
	klog.SetOutput(out)
}

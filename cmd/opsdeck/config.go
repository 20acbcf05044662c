package main

import (
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/config"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with opsdeck's configuration file",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("config needs a subcommand: check FILE")
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "check FILE",
		Short:   "Validate a configuration file: one line per problem, naming the field",
		Example: "  opsdeck config check ~/.config/opsdeck/config.yaml",
		Args:    exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return configCheck(g, args[0])
		},
	})
	return cmd
}

// errReported is a failure whose lines were already written.
var errReported = errors.New("reported")

func configCheck(g *globals, path string) error {
	problems := config.Check(path)
	if len(problems) == 0 {
		fmt.Fprintf(g.streams.Out, "%s: ok\n", path)
		return nil
	}
	for _, p := range problems {
		fmt.Fprintf(g.streams.ErrOut, "%s: %s\n", path, safe.OneLine(p.Error()))
	}
	return errReported
}

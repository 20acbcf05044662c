package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// confirm asks on the terminal whether to go ahead with what preview describes. Without a
// terminal it refuses: a script must say --yes.
func (g *globals) confirm(a domain.Action, preview domain.Result, conn string) error {
	if !isTerminal(g.streams.In) {
		return fmt.Errorf("refusing to %s %s without confirmation: stdin is not a terminal (pass --yes)", a.Kind, a.Service)
	}
	fmt.Fprintf(g.streams.Out, "%s %s in namespace %s (%s)\n", a.Kind, a.Service, a.Namespace, conn)
	fmt.Fprintf(g.streams.Out, "  image     %s -> %s\n", preview.FromImage, preview.ToImage)
	fmt.Fprintf(g.streams.Out, "  revision  %d -> %d\n", preview.FromRevision, preview.ToRevision)
	if preview.Kind == domain.KindBlueGreen && preview.Message != "" {
		fmt.Fprintf(g.streams.Out, "  %s\n", preview.Message)
	}
	fmt.Fprint(g.streams.Out, "Proceed? [y/N] ")
	line, _ := bufio.NewReader(g.streams.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%s %s cancelled", a.Kind, a.Service)
}

package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// confirm shows the plan's sentence (the very line the console shows) and asks on the
// terminal whether to go ahead. Without a terminal it refuses: a script must say --yes.
func (g *globals) confirm(p domain.Plan, conn string) error {
	a := p.Action
	if !isTerminal(g.streams.In) {
		return fmt.Errorf("refusing to %s %s without confirmation: stdin is not a terminal (pass --yes)", a.Kind, a.Service)
	}
	return g.ask(p, conn)
}

// ask prints where the plan acts, its sentence and the question, and reads the answer.
func (g *globals) ask(p domain.Plan, conn string) error {
	a := p.Action
	fmt.Fprintf(g.streams.Out, "%s %s in namespace %s (%s):\n", a.Kind, a.Service, a.Namespace, conn)
	fmt.Fprintf(g.streams.Out, "  %s\n", p.Sentence)
	fmt.Fprint(g.streams.Out, "Proceed? [y/N] ")
	line, _ := bufio.NewReader(g.streams.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%s %s cancelled", a.Kind, a.Service)
}

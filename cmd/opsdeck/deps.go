package main

// The modules every part of opsdeck builds on, imported here so that go.mod keeps them while
// the packages that use them land one by one. Drop an entry once a real import covers it.

import (
	_ "charm.land/bubbles/v2/table"
	_ "charm.land/bubbletea/v2"
	_ "charm.land/lipgloss/v2"
	_ "github.com/charmbracelet/x/exp/teatest/v2"
	_ "github.com/guptarohit/asciigraph"
	_ "github.com/prometheus/client_golang/api/prometheus/v1"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/spf13/cobra"
	_ "k8s.io/cli-runtime/pkg/genericclioptions"
	_ "k8s.io/client-go/informers"
	_ "k8s.io/client-go/tools/record"
	_ "k8s.io/kubectl/pkg/polymorphichelpers"
	_ "k8s.io/kubectl/pkg/util/deployment"
	_ "sigs.k8s.io/yaml"
)

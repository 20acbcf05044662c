package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/safe"
)

// statusOptions is `opsdeck status`.
type statusOptions struct {
	g           *globals
	output      string
	syncTimeout time.Duration
}

func newStatusCmd(g *globals) *cobra.Command {
	o := &statusOptions{g: g}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print one snapshot: services, revisions, rollout, metrics, guard verdict",
		Example: `  opsdeck status -n shop
  opsdeck status -A -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	cmd.Flags().DurationVar(&o.syncTimeout, "sync-timeout", 30*time.Second, "how long to wait for the watches to fill")
	return cmd
}

// Validate checks the output format.
func (o *statusOptions) Validate() error {
	if o.output != "table" && o.output != "json" {
		return usagef("--output must be table or json, not %q", o.output)
	}
	return nil
}

// Status is the JSON document of `opsdeck status -o json`.
type Status struct {
	At      time.Time `json:"at"`
	Context string    `json:"context"`
	Cluster string    `json:"cluster"`
	User    string    `json:"user"`
	// Namespaces watched; empty means all (-A).
	Namespaces []string        `json:"namespaces"`
	MetricsErr string          `json:"metrics_error,omitempty"`
	Services   []ServiceStatus `json:"services"`
}

// ServiceStatus is one service in Status.
type ServiceStatus struct {
	Namespace      string             `json:"namespace"`
	Name           string             `json:"name"`
	Image          string             `json:"image"`
	Revision       int64              `json:"revision"`
	Phase          domain.Phase       `json:"phase"`
	Message        string             `json:"message,omitempty"`
	Desired        int32              `json:"desired"`
	Updated        int32              `json:"updated"`
	Ready          int32              `json:"ready"`
	Available      int32              `json:"available"`
	Paused         bool               `json:"paused"`
	RolloutStarted *time.Time         `json:"rollout_started,omitempty"`
	Revisions      []RevisionStatus   `json:"revisions"`
	Metrics        map[string]float64 `json:"metrics"`
	// Guard is the auto-guard verdict; "-" until the guard reports one.
	Guard string `json:"guard"`
	// Kind is Deployment or BlueGreen; BlueGreen then describes both colours.
	Kind      domain.Kind      `json:"kind"`
	BlueGreen *BlueGreenStatus `json:"blue_green,omitempty"`
	// LastAction is the Deployment's opsdeck.io/last-action annotation: the last change opsdeck
	// made, by whom (auto-guard and its pod, or a user), when and why.
	LastAction *LastActionStatus `json:"last_action,omitempty"`
}

// LastActionStatus is ServiceStatus.LastAction.
type LastActionStatus struct {
	Action       domain.ActionKind `json:"action"`
	By           string            `json:"by"`
	Trigger      domain.Trigger    `json:"trigger"`
	Time         time.Time         `json:"time"`
	FromRevision int64             `json:"from_revision"`
	ToRevision   int64             `json:"to_revision"`
	FromImage    string            `json:"from_image,omitempty"`
	ToImage      string            `json:"to_image,omitempty"`
	Reason       string            `json:"reason,omitempty"`
}

// RevisionStatus is one revision in ServiceStatus.
type RevisionStatus struct {
	Number      int64     `json:"number"`
	Image       string    `json:"image"`
	ChangeCause string    `json:"change_cause,omitempty"`
	Created     time.Time `json:"created"`
	ReplicaSet  string    `json:"replicaset"`
	Current     bool      `json:"current"`
	// Color is the colour the revision belongs to, for a blue-green service.
	Color domain.Color `json:"color,omitempty"`
}

// Run takes one snapshot after the watches have synced.
func (o *statusOptions) Run(ctx context.Context) error {
	cfg, err := o.g.loadConfig()
	if err != nil {
		return err
	}
	conn, err := o.g.connect()
	if err != nil {
		return err
	}
	w, stop, err := syncedWatcher(ctx, conn, cluster.WatchOptions{Namespaces: o.g.namespaces(conn), Selector: o.g.selector}, o.syncTimeout)
	if err != nil {
		return err
	}
	defer stop()
	st := w.Build().Printable() // cluster text is printed only after safe.Text

	doc := Status{At: st.At, Context: conn.Identity.Context, Cluster: conn.Identity.Cluster, User: conn.Identity.User,
		Namespaces: append([]string{}, conn.Identity.Namespaces...), Services: []ServiceStatus{}}
	var frame domain.MetricsFrame
	if src, err := metricsSource(cfg, conn); err != nil {
		doc.MetricsErr = safe.Redact(err.Error())
	} else {
		frame = src.Frame(ctx, st.Services)
		if frame.Err != nil {
			doc.MetricsErr = safe.Redact(safe.Text(safe.OneLine(frame.Err.Error())))
		}
	}
	for _, s := range st.Services {
		ss := ServiceStatus{Namespace: s.Namespace, Name: s.Name, Image: s.Image, Revision: s.Revision, Phase: s.Phase,
			Message: s.Message, Desired: s.Desired, Updated: s.Updated, Ready: s.Ready, Available: s.Available,
			Paused: s.Paused, Revisions: []RevisionStatus{}, Metrics: map[string]float64{}, Guard: "-",
			Kind: s.Kind, BlueGreen: blueGreenStatus(s, st.At)}
		if !s.RolloutStarted.IsZero() {
			t := s.RolloutStarted
			ss.RolloutStarted = &t
		}
		if l := s.LastAction; l != nil {
			ss.LastAction = &LastActionStatus{Action: l.Action, By: safe.Text(l.Actor()), Trigger: l.Trigger, Time: l.Time,
				FromRevision: l.FromRevision, ToRevision: l.ToRevision, FromImage: safe.Text(l.FromImage), ToImage: safe.Text(l.ToImage),
				Reason: safe.Text(l.Reason)}
		}
		revs, _ := w.Revisions(s.Namespace, s.Name)
		for _, r := range revs {
			ss.Revisions = append(ss.Revisions, RevisionStatus{Number: r.Number, Image: safe.Text(r.Image), ChangeCause: safe.Text(r.ChangeCause),
				Created: r.Created, ReplicaSet: r.ReplicaSet, Current: r.Current, Color: r.Color})
		}
		for _, m := range domain.Metrics {
			if v, ok := frame.Services[s.Key()].Get(m); ok {
				ss.Metrics[string(m)] = v
			}
		}
		doc.Services = append(doc.Services, ss)
	}
	if o.output == "json" {
		enc := json.NewEncoder(o.g.streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return writeStatusTable(o.g.streams.Out, doc)
}

func writeStatusTable(out io.Writer, doc Status) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	multi := len(doc.Namespaces) != 1
	head := []string{"NAME", "IMAGE", "REV", "PHASE", "READY", "UP-TO-DATE", "RPS", "5XX", "P99", "CPU", "MEM", "GUARD"}
	if multi {
		head = append([]string{"NAMESPACE"}, head...)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, s := range doc.Services {
		phase := string(s.Phase)
		if s.BlueGreen != nil {
			phase = "blue-green " + s.BlueGreen.State
		}
		row := []string{s.Name, s.Image, fmt.Sprint(s.Revision), phase,
			fmt.Sprintf("%d/%d", s.Ready, s.Desired), fmt.Sprint(s.Updated),
			metric(s.Metrics, domain.MetricRequestRate, "%.1f"), metric(s.Metrics, domain.MetricErrorRatio, "%.2f%%"),
			metric(s.Metrics, domain.MetricLatencyP99, "%.0fms"), metric(s.Metrics, domain.MetricCPU, "%.2f"),
			metric(s.Metrics, domain.MetricMemory, "%.0fMi"), s.Guard}
		if multi {
			row = append([]string{s.Namespace}, row...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(doc.Services) == 0 {
		fmt.Fprintf(out, "no services (Deployments) in %s\n", nsList(doc.Namespaces))
	}
	if doc.MetricsErr != "" {
		fmt.Fprintf(out, "metrics: %s\n", doc.MetricsErr)
	}
	return nil
}

func metric(vals map[string]float64, m domain.Metric, format string) string {
	v, ok := vals[string(m)]
	if !ok {
		return "-"
	}
	return fmt.Sprintf(format, m.Display(v))
}

func nsList(ns []string) string {
	if len(ns) == 0 {
		return "any namespace"
	}
	return "namespace " + strings.Join(ns, ", ")
}

// syncedWatcher starts the cluster watches that opts names and waits, at most timeout, until
// they have synced, for the commands that read the cluster once (status, timeline). stop ends
// the watches. An unreachable cluster or one that does not answer in time is one line.
func syncedWatcher(ctx context.Context, conn *cluster.Conn, opts cluster.WatchOptions, timeout time.Duration) (w *cluster.Watcher, stop func(), err error) {
	w, err = cluster.NewWatcher(conn.Client, opts)
	if err != nil {
		return nil, nil, usageError{err}
	}
	if _, err := conn.Client.Discovery().ServerVersion(); err != nil {
		return nil, nil, fmt.Errorf("cannot reach cluster %s: %s", conn.Identity.Context, safe.OneLine(err.Error()))
	}
	wctx, cancel := context.WithCancel(ctx)
	w.Start(wctx)
	sctx, scancel := context.WithTimeout(wctx, timeout)
	synced := w.WaitForSync(sctx)
	scancel()
	if !synced {
		cancel()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		why := w.Build().API.Err
		if why == "" {
			why = "no answer"
		}
		return nil, nil, fmt.Errorf("cluster %s did not answer within %s: %s", conn.Identity.Context, timeout, why)
	}
	return w, cancel, nil
}

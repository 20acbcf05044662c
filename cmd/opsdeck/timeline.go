package main

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/timeline"
)

// timelineOptions is `opsdeck timeline`.
type timelineOptions struct {
	g           *globals
	since       time.Duration
	around      int64
	output      string
	syncTimeout time.Duration
}

func newTimelineCmd(g *globals) *cobra.Command {
	o := &timelineOptions{g: g}
	cmd := &cobra.Command{
		Use:   "timeline SERVICE",
		Short: "Print the incident timeline of a service for its postmortem (Markdown or JSON)",
		Long: `timeline merges, in UTC, the audit log, the Kubernetes Events of the service's objects
(warnings, AutoRollback, ThresholdBreached and ThresholdResolved), its rollout history and the
metrics around each deploy (Prometheus range queries), with the figures at the top: deploy to
first breach, breach duration, time to rollback, peak 5xx ratio and p99, and the requests that
failed, counted from the counters. Events expire (1 h by default); the audit log and the
revisions carry the older part. Without Prometheus it still renders, and says why.`,
		Example: `  opsdeck timeline order-service -n shop | less
  opsdeck timeline order-service -n shop --since 6h > incident.md
  opsdeck timeline order-service -n shop --around 7 -o json`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(cmd); err != nil {
				return err
			}
			return o.run(cmd.Context(), args[0])
		},
	}
	cmd.Flags().DurationVar(&o.since, "since", 2*time.Hour, "how far back the timeline goes")
	cmd.Flags().Int64Var(&o.around, "around", 0, "the timeline around the deploy of this revision (15 m before to 1 h after)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "md", "output format: md or json")
	cmd.Flags().DurationVar(&o.syncTimeout, "sync-timeout", 30*time.Second, "how long to wait for the watches to fill")
	return cmd
}

func (o *timelineOptions) validate(cmd *cobra.Command) error {
	if o.output != "md" && o.output != "json" {
		return usagef("--output must be md or json, not %q", o.output)
	}
	if cmd.Flags().Changed("since") && cmd.Flags().Changed("around") {
		return usagef("--since and --around are exclusive: give one")
	}
	if o.since <= 0 {
		return usagef("--since must be positive, not %s", o.since)
	}
	if cmd.Flags().Changed("around") && o.around <= 0 {
		return usagef("--around takes a revision number (1 or more), not %d", o.around)
	}
	return nil
}

func (o *timelineOptions) run(ctx context.Context, name string) error {
	cfg, err := o.g.loadConfig()
	if err != nil {
		return err
	}
	conn, err := o.g.connect()
	if err != nil {
		return err
	}
	w, stop, err := syncedWatcher(ctx, conn, cluster.WatchOptions{Namespaces: []string{conn.Namespace}}, o.syncTimeout)
	if err != nil {
		return err
	}
	defer stop()
	st := w.Build()
	svc, ok := findService(st.Services, conn.Namespace, name)
	if !ok {
		return fmt.Errorf("service %q not found in namespace %s (%s status -n %s lists them)", name, conn.Namespace, o.g.display, conn.Namespace)
	}
	src, err := o.g.timelineSources(ctx, cfg, conn, func(_ context.Context, s domain.Service) ([]domain.Revision, error) {
		return w.Revisions(s.Namespace, s.Name)
	})
	if err != nil {
		return err
	}
	in, err := timeline.Collect(ctx, src, svc, timeline.Span{Since: o.since, Around: o.around}, time.Now())
	if err != nil {
		return err
	}
	t := timeline.Build(ctx, in)
	if o.output == "json" {
		return timeline.WriteJSON(o.g.streams.Out, t)
	}
	return timeline.WriteMarkdown(o.g.streams.Out, t)
}

func findService(svcs []domain.Service, ns, name string) (domain.Service, bool) {
	for _, s := range svcs {
		if s.Namespace == ns && s.Name == name {
			return s, true
		}
	}
	return domain.Service{}, false
}

// timelineSources gathers where a timeline reads from. Prometheus is asked once whether it
// answers: when it does not, the timeline renders without metrics and says why.
func (g *globals) timelineSources(ctx context.Context, cfg config.Config, conn *cluster.Conn,
	revisions func(context.Context, domain.Service) ([]domain.Revision, error)) (timeline.Sources, error) {
	log, err := audit.Open(g.auditLog)
	if err != nil {
		return timeline.Sources{}, err
	}
	src := timeline.Sources{Client: conn.Client, Revisions: revisions, AuditPath: log.Path(),
		Thresholds: cfg.ThresholdSet(), Context: conn.Identity.Context}
	ms, err := metricsSource(cfg, conn)
	if err != nil {
		src.MetricsErr = safe.OneLine(err.Error())
		return src, nil
	}
	if err := ms.Ping(ctx); err != nil {
		src.MetricsErr = "Prometheus did not answer: " + safe.OneLine(err.Error())
		return src, nil
	}
	src.Metrics = ms
	return src, nil
}

// consoleTimeline is the console's t key: it writes the selected service's timeline of the last
// two hours as Markdown beside the audit log (timelines/NS_NAME_TIME.md) and returns its path.
func (g *globals) consoleTimeline(cfg config.Config, lb *clusterParts) func(ctx context.Context, svc domain.Service) (string, error) {
	return func(ctx context.Context, svc domain.Service) (string, error) {
		src, err := g.timelineSources(ctx, cfg, lb.conn, lb.backend.Revisions)
		if err != nil {
			return "", err
		}
		now := time.Now().UTC()
		in, err := timeline.Collect(ctx, src, svc, timeline.Span{Since: 2 * time.Hour}, now)
		if err != nil {
			return "", err
		}
		t := timeline.Build(ctx, in)
		dir := filepath.Join(filepath.Dir(src.AuditPath), "timelines")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("timeline: %w", err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.md", svc.Namespace, svc.Name, now.Format("20060102T150405Z")))
		var b strings.Builder
		if err := timeline.WriteMarkdown(&b, t); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			return "", fmt.Errorf("timeline: %w", err)
		}
		return path, nil
	}
}

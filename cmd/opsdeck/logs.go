package main

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/podlogs"
)

// logsOptions is `opsdeck logs`.
type logsOptions struct {
	g           *globals
	revision    string
	pod         string
	previous    bool
	follow      bool
	tail        int64
	since       time.Duration
	timestamps  bool
	syncTimeout time.Duration
}

func newLogsCmd(g *globals) *cobra.Command {
	o := &logsOptions{g: g}
	cmd := &cobra.Command{
		Use:   "logs SERVICE",
		Short: "Print the logs of a service's pods, the new revision's by default",
		Long: `logs prints the logs of the pods of a service's new revision (or, with --revision old, of
the previous revision still running during a rollout), each line prefixed with its pod, read
through the API server's pod log endpoint as kubectl logs does. --previous reads the previous
container of a pod that restarted (a crash loop's panic); -f follows, and goes on after a
container restarts.`,
		Example: `  opsdeck logs order-service -n shop --tail 20
  opsdeck logs order-service -n shop --previous
  opsdeck logs order-service -n shop --revision old -f`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.revision != string(podlogs.RevisionNew) && o.revision != string(podlogs.RevisionOld) {
				return usagef("--revision must be new or old, not %q", o.revision)
			}
			if o.previous && o.follow {
				return usagef("--previous reads a container that has exited: it cannot be followed (drop -f)")
			}
			return o.run(cmd.Context(), args[0])
		},
	}
	cmd.Flags().StringVar(&o.revision, "revision", "new", "whose pods: new (the current revision) or old (the previous one, during a rollout)")
	cmd.Flags().StringVar(&o.pod, "pod", "", "only this pod of the revision")
	cmd.Flags().BoolVarP(&o.previous, "previous", "p", false, "the previous container of each pod (one that restarted)")
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "follow the logs until interrupted")
	cmd.Flags().Int64Var(&o.tail, "tail", -1, "lines of the end of each log to show (-1: all)")
	cmd.Flags().DurationVar(&o.since, "since", 0, "only lines newer than this (e.g. 10m)")
	cmd.Flags().BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its time (RFC3339, UTC)")
	cmd.Flags().DurationVar(&o.syncTimeout, "sync-timeout", 30*time.Second, "how long to wait for the watches to fill")
	return cmd
}

func (o *logsOptions) run(ctx context.Context, name string) error {
	conn, err := o.g.connect()
	if err != nil {
		return err
	}
	// Ask first, in one round of access reviews, rather than wait for watches that are refused.
	missing, err := cluster.MissingPermissions(ctx, conn.Client, []string{conn.Namespace}, logsPermissions)
	if err != nil {
		return err
	}
	if ok, err := podlogs.MayReadLogs(ctx, conn.Client, conn.Namespace); err != nil {
		return err
	} else if !ok {
		missing = append(missing, "get pods/log in namespace "+conn.Namespace)
	}
	if len(missing) > 0 {
		return fmt.Errorf("cannot read the logs of %s: %s", name, cluster.FormatMissing(conn.Identity.User, missing))
	}
	svc, err := o.g.oneService(ctx, conn, name, o.syncTimeout)
	if err != nil {
		return err
	}
	targets, err := podlogs.Targets(svc, podlogs.Revision(o.revision))
	if err != nil {
		return err
	}
	if o.pod != "" {
		var only []podlogs.Target
		for _, t := range targets {
			if t.Pod == o.pod {
				only = append(only, t)
			}
		}
		if len(only) == 0 {
			return fmt.Errorf("pod %q is not one of the %s revision's pods of %s", o.pod, o.revision, name)
		}
		targets = only
	}
	r := podlogs.Reader{Client: conn.Client}
	opts := podlogs.Options{Follow: o.follow, Previous: o.previous, TailLines: o.tail, Since: o.since}
	out := &lineWriter{w: o.g.streams.Out, timestamps: o.timestamps}
	if !o.follow {
		// One pod after the other, new revision first: the order a reader expects.
		for _, t := range targets {
			if err := r.Stream(ctx, t, opts, out.write); err != nil {
				return err
			}
		}
		return nil
	}
	// Followed, every pod at once; the first failure ends them all.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(targets))
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			if err := r.Stream(ctx, t, opts, out.write); err != nil {
				errs <- err
				cancel()
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// logsPermissions are what finding a service's pods needs (pods/log is asked apart: it is a
// subresource).
var logsPermissions = []cluster.Permission{
	{Verb: "list", Group: "apps", Resource: "deployments"}, {Verb: "list", Group: "apps", Resource: "replicasets"},
	{Verb: "list", Resource: "pods"},
}

// lineWriter writes lines whole, prefixed with their pod, from several streams.
type lineWriter struct {
	mu         sync.Mutex
	w          io.Writer
	timestamps bool
}

func (l *lineWriter) write(line podlogs.Line) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timestamps && !line.Time.IsZero() {
		fmt.Fprintf(l.w, "[%s] %s %s\n", line.Pod, line.Time.UTC().Format(time.RFC3339Nano), line.Text)
		return
	}
	fmt.Fprintf(l.w, "[%s] %s\n", line.Pod, line.Text)
}

// oneService waits for the watches of conn's namespace and returns the service name.
func (g *globals) oneService(ctx context.Context, conn *cluster.Conn, name string, timeout time.Duration) (domain.Service, error) {
	w, err := cluster.NewWatcher(conn.Client, cluster.WatchOptions{Namespaces: []string{conn.Namespace}})
	if err != nil {
		return domain.Service{}, usageError{err}
	}
	if _, err := conn.Client.Discovery().ServerVersion(); err != nil {
		return domain.Service{}, fmt.Errorf("cannot reach cluster %s: %s", conn.Identity.Context, safe.OneLine(err.Error()))
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.Start(wctx)
	sctx, scancel := context.WithTimeout(wctx, timeout)
	synced := w.WaitForSync(sctx)
	scancel()
	if !synced {
		if ctx.Err() != nil {
			return domain.Service{}, ctx.Err()
		}
		why := w.Build().API.Err
		if why == "" {
			why = "no answer"
		}
		return domain.Service{}, fmt.Errorf("cluster %s did not answer within %s: %s", conn.Identity.Context, timeout, why)
	}
	svc, ok := findService(w.Build().Services, conn.Namespace, name)
	if !ok {
		return domain.Service{}, fmt.Errorf("service %q not found in namespace %s (%s status -n %s lists them)", name, conn.Namespace, g.display, conn.Namespace)
	}
	return svc, nil
}

// consoleLogs is the console's l key: the watched service's pods (new revision first), read
// through the API server; the current container followed from its last 500 lines.
type consoleLogs struct{ r podlogs.Reader }

func (c consoleLogs) Targets(svc domain.Service) ([]podlogs.Target, error) {
	out, err := podlogs.Targets(svc, podlogs.RevisionNew)
	if old, oerr := podlogs.Targets(svc, podlogs.RevisionOld); oerr == nil {
		out = append(out, old...)
	}
	if len(out) == 0 {
		return nil, err
	}
	return out, nil
}

func (c consoleLogs) Stream(ctx context.Context, t podlogs.Target, previous bool, out func(podlogs.Line)) error {
	return c.r.Stream(ctx, t, podlogs.Options{Follow: !previous, Previous: previous, TailLines: 500}, out)
}

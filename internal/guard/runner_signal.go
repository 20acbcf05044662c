package guard

import (
	"context"
	"errors"
	"log/slog"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/safe"
)

func (r *Runner) setRunning(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = on
}

// Signal acts on an outside signal (a firing Alertmanager alert that names a service) in the
// running guard: a firing alert on a service within its guard window rolls it back at once,
// through the same executor, holds and at-most-once rules as the guard's own rules, with
// trigger "alert" and the alert's name and summary as the reason. Anything else is logged and
// ignored, saying why. Only a running guard acts: a standby (whose Runner is not running)
// answers "not the leader". Safe to call from any goroutine; it waits for a round in progress.
func (r *Runner) Signal(ctx context.Context, s Signal) SignalResult {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res, o := r.signal(ctx, s)
	attrs := []any{"service", s.Namespace + "/" + s.Service, "alert", s.Name, "fingerprint", s.Fingerprint,
		"firing", s.Firing, "acted", res.Acted, "message", res.Message}
	switch {
	case o == nil:
		log.Info("signal", attrs...)
	case o.Err != nil:
		log.Error("signal", append(attrs, "error", o.Err.Error())...)
	default:
		log.Warn("signal", attrs...)
	}
	return res
}

func (r *Runner) signal(ctx context.Context, s Signal) (SignalResult, *Outcome) {
	r.mu.Lock()
	running, st := r.running, r.latest
	r.mu.Unlock()
	if !s.Firing {
		_, res := r.Engine.Signal(r.Clock.Now(), domain.Service{}, false, s) // says why, touches nothing
		return res, nil
	}
	if !running {
		return SignalResult{Message: "ignored: not the leader (this guard is not judging; the leader acts)"}, nil
	}
	if r.Enabled != nil && !r.Enabled() {
		return SignalResult{Message: "ignored: auto-guard is off"}, nil
	}
	if !st.Synced {
		return SignalResult{Message: "ignored: the guard has not read the cluster yet"}, nil
	}
	var svc domain.Service
	found := false
	for _, c := range st.Services {
		if c.Namespace == s.Namespace && c.Name == s.Service {
			svc, found = c, true
			break
		}
	}

	r.judging.Lock()
	defer r.judging.Unlock()
	now := r.Clock.Now()
	d, res := r.Engine.Signal(now, svc, found, s)
	if d == nil {
		return res, nil
	}
	o := Outcome{Decision: *d, DryRun: r.DryRun}
	if r.DryRun {
		r.Engine.Done(*d, nil, false)
		res.Acted = false
		res.Message = "dry run: would have " + res.Message
		return res, &o
	}
	o.Result, o.Err = r.execute(ctx, d.Action())
	r.Engine.Done(*d, o.Err, errors.Is(o.Err, domain.ErrConflict))
	if o.Err != nil {
		res.Acted = false
		res.Message = "not rolled back: " + safe.OneLine(o.Err.Error())
		if errors.Is(o.Err, domain.ErrConflict) {
			res.Message = "stood down: " + safe.OneLine(o.Err.Error())
		}
		return res, &o
	}
	if r.notifyQueue != nil {
		r.notifyQueue.Enqueue([]domain.Alert{rollbackAlert(now, *d)})
	}
	return res, &o
}

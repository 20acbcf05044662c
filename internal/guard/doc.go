// Package guard decides when a rollout is bad enough to revert without asking anyone.
//
// The Engine is pure: it is fed cluster states and metrics frames with the time they were
// taken, and returns each service's status and the rollbacks to perform. It never calls the
// API itself; the Runner executes its decisions through the one executor, so the guard's
// rollbacks are audited like every other mutation. Keeping the engine free of I/O is what lets
// its state machine be table-tested with an injected clock.
//
// Rules of the engine, in the order they apply to a service:
//   - Only a rollout in progress, or one that began within Window, may be rolled back. A service
//     stable for longer only alerts: rolling it back would not cure a database outage.
//   - A rollback rule counts when the NEW revision's pods breach it for the rule's For duration.
//     When old pods still serve and breach it too, the cause is not the rollout: alert only.
//   - Early verdict: a 5xx or p99 rule is breached at once, before its For, when the new
//     revision's counted requests prove (a sequential test valid at every look, sequential.go)
//     that its share of failures is above the rule's bound; the old revision's counts still
//     have their say. CPU and memory rules wait for For.
//   - A stalled rollout (ProgressDeadlineExceeded), a new pod in CrashLoopBackOff, or
//     CrashRestarts restarts of the new pods are bad without any metric; fewer restarts alert.
//   - No data is not a breach: missing or NaN samples make the verdict inconclusive, unless
//     the configuration says otherwise. Prometheus unavailable (a failed or partial answer) is
//     inconclusive for every service, whatever the configuration.
//   - A conflict (someone else acted, or the object changed) is judged again on the next round,
//     up to three times in a row; every read and action has a deadline.
//   - The target is the newest known-good revision (one that ran clean for StableAfter), else
//     the revision before the rollout, never one the guard itself rejected.
//   - Exactly once: after a rollback the service is held until a new deploy or a human clears it.
package guard

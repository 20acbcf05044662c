// Package demo is the embedded simulated backend behind `opsdeck --demo` and the deterministic
// UI tests. It simulates namespace shop with five Deployments whose rollouts progress like the
// Kubernetes deployment controller (RollingUpdate, maxSurge 1, maxUnavailable 0), with
// revisions, ReplicaSets and pods, and serves metrics that follow the behaviour table
// of the design (tags bad, slow, hog, leak, crash).
//
// The simulation is a function of an injected clock: every call advances it to clock.Now() in
// whole simulated seconds, so a test that moves a manual clock sees exactly the same states and
// values on every run.
package demo

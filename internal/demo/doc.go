// Package demo is `opsdeck --demo` and the console's deterministic tests: opsdeck's own
// backend (internal/backend with the cluster watcher, the one executor with a real audit log and
// snapshots, and the blue-green reconciler) on a simulated cluster instead of a real one.
//
// What is simulated is only what a cluster and Prometheus would do: client-go's fake
// clientset stands for the API server (apiserver.go adds resourceVersions, generations and
// conflicts), a small level-triggered controller and kubelet drive it (sim.go: ReplicaSets
// with pod-template-hash and revisions, the rolling update, pods Ready 1 to 3 s after
// creation, crash never Ready, Deployment status and conditions), and a metrics source
// computes what Prometheus would answer from the sandbox simulator's behaviour table
// (metrics.go, internal/simulator). Everything opsdeck decides or does is the product's code.
//
// The simulation follows an injected clock in whole seconds, so a test that moves a manual
// clock sees exactly the same states and values on every run.
package demo

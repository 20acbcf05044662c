// Package gameday holds opsdeck's game days: tests that break the real sandbox on purpose (the
// API server killed or frozen, Prometheus killed or slow, a guard leader killed with -9) and
// check what an SRE would check afterwards. They share one sandbox of their own, started by
// the first test and stopped at the end, never the shared one, and run one after another.
package gameday

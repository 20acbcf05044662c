// Package domain holds the plain types that every part of opsdeck shares: services and their
// revisions as the watches see them, metric series as Prometheus returns them, alerts, actions
// and guard decisions. It imports neither client-go nor Bubble Tea, so the UI, the guard and the
// demo backend can be written and tested without a cluster.
package domain

package domain

import "time"

// Health is the state of one connection (the API server, Prometheus).
type Health struct {
	OK          bool
	LastSuccess time.Time
	Err         string // the last error, in one line; empty when OK
	// Reconnecting is set while watches are re-established after a failure.
	Reconnecting bool
}

// Identity is who and where opsdeck is talking to, for the header and the audit log.
type Identity struct {
	Context    string
	Cluster    string
	User       string
	Namespaces []string // empty means all namespaces
	Demo       bool
}

// ClusterState is one consistent picture of the watched namespaces. A new one replaces the
// previous entirely (latest wins); consumers never mutate it.
type ClusterState struct {
	At       time.Time
	Services []Service // sorted by namespace, name
	Events   []Event   // newest first
	API      Health
	// Synced is false until the informers' caches have filled once.
	Synced bool
}

// Find returns the service with the given key.
func (s ClusterState) Find(key string) (Service, bool) {
	for _, svc := range s.Services {
		if svc.Key() == key {
			return svc, true
		}
	}
	return Service{}, false
}

// FindByName returns the service of that name in namespace ns (any namespace when ns is "").
func (s ClusterState) FindByName(ns, name string) (Service, bool) {
	for _, svc := range s.Services {
		if svc.Name == name && (ns == "" || svc.Namespace == ns) {
			return svc, true
		}
	}
	return Service{}, false
}

// EventSource tells where an entry of the events pane comes from.
type EventSource string

// Event sources.
const (
	SourceKube   EventSource = "kube"
	SourceAlert  EventSource = "alert"
	SourceAction EventSource = "action"
	SourceGuard  EventSource = "guard"
)

// Event is one line of the events pane.
type Event struct {
	Time    time.Time
	Source  EventSource
	Type    string // Normal or Warning
	Reason  string
	Object  string // kind/name
	Message string
	Count   int32
}

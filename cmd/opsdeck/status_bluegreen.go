package main

import (
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
)

// BlueGreenStatus is a blue-green service's colours in ServiceStatus.
type BlueGreenStatus struct {
	// Active is the colour the Service selects.
	Active domain.Color `json:"active"`
	// State is the PHASE column's words: "green", "→green 2/3", "green ↓4:32", "invalid".
	State string `json:"state"`
	// Pending is the colour traffic switches to once Ready, with its image.
	Pending      domain.Color `json:"pending,omitempty"`
	PendingImage string       `json:"pending_image,omitempty"`
	// ScaleDownAt is when the idle colour is scaled to zero.
	ScaleDownAt *time.Time    `json:"scale_down_at,omitempty"`
	Problem     string        `json:"problem,omitempty"`
	Colors      []ColorStatus `json:"colors"`
}

// ColorStatus is one colour of a blue-green service.
type ColorStatus struct {
	Color      domain.Color `json:"color"`
	Deployment string       `json:"deployment"`
	Image      string       `json:"image"`
	Desired    int32        `json:"desired"`
	Ready      int32        `json:"ready"`
	Revision   int64        `json:"revision"`
	ReplicaSet string       `json:"replicaset,omitempty"`
}

// blueGreenStatus describes s's colours, or nil for a Deployment.
func blueGreenStatus(s domain.Service, now time.Time) *BlueGreenStatus {
	bg := s.BlueGreen
	if bg == nil {
		return nil
	}
	state, _ := format.BlueGreenState(s, now)
	out := &BlueGreenStatus{Active: bg.Active, State: state, Pending: bg.Pending, PendingImage: bg.PendingImage, Problem: bg.Problem}
	if !bg.ScaleDownAt.IsZero() {
		t := bg.ScaleDownAt
		out.ScaleDownAt = &t
	}
	for _, c := range domain.Colors {
		cs := bg.Of(c)
		out.Colors = append(out.Colors, ColorStatus{Color: c, Deployment: cs.Deployment, Image: cs.Image, Desired: cs.Desired,
			Ready: cs.Ready, Revision: cs.Revision, ReplicaSet: cs.ReplicaSet})
	}
	return out
}

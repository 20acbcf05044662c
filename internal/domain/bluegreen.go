package domain

import "time"

// Color is one side of a blue-green service.
type Color string

// The two colours of a blue-green pair.
const (
	ColorBlue  Color = "blue"
	ColorGreen Color = "green"
)

// Colors lists both colours in display order.
var Colors = []Color{ColorBlue, ColorGreen}

// Other is the opposite colour; "" for a value that is not a colour.
func (c Color) Other() Color {
	switch c {
	case ColorBlue:
		return ColorGreen
	case ColorGreen:
		return ColorBlue
	}
	return ""
}

// Valid tells whether c is blue or green.
func (c Color) Valid() bool { return c == ColorBlue || c == ColorGreen }

// BlueGreen is the state of a blue-green service (Kind KindBlueGreen): a Service whose
// selector picks the active colour, and one Deployment per colour. The Service value around it
// carries the active colour's figures (Image, Desired, Ready, Phase) so that tables, metrics and
// the guard read a blue-green service like any other.
type BlueGreen struct {
	// Active is the colour the Service selects (receives the traffic).
	Active Color
	// Colors holds both colours, keyed blue and green, even when a Deployment is missing.
	Colors map[Color]ColorState
	// Selector is the Service's selector, as found.
	Selector map[string]string

	// Pending is the colour that traffic switches to as soon as all its pods are Ready (a
	// deploy or a rollback in progress); empty when no switch is pending.
	Pending Color
	// PendingImage is the image the pending colour was given; the switch happens only while
	// the colour still runs it.
	PendingImage string
	// PendingSince is when the switch was requested.
	PendingSince time.Time
	// Preview is how long the pending colour must stay Ready, passing the guard's rules,
	// before the switch.
	Preview time.Duration
	// ScaleDownDelay is how long the previous colour stays at full scale after the pending
	// switch.
	ScaleDownDelay time.Duration
	// Trigger is who started the pending step (switch or scale-down): key, cli or guard.
	Trigger Trigger

	// SwitchedAt is when the selector last changed colour through opsdeck; zero when unknown.
	SwitchedAt time.Time
	// ScaleDownAt is when the idle colour is scaled to zero; zero when nothing is due.
	ScaleDownAt time.Time

	// Problem says, in one line, why the pair does not follow the convention (a colour
	// missing, both selected, a selector without the colour); empty when it does. opsdeck
	// refuses every action on an inconsistent pair.
	Problem string
}

// Idle is the colour that does not receive traffic.
func (b *BlueGreen) Idle() Color { return b.Active.Other() }

// Of returns the state of colour c.
func (b *BlueGreen) Of(c Color) ColorState { return b.Colors[c] }

// ColorState is one colour's Deployment as a blue-green service shows it.
type ColorState struct {
	Color Color
	// Deployment is the name of the colour's Deployment (NAME-blue, NAME-green).
	Deployment string
	// Exists is false when the Deployment is missing.
	Exists     bool
	Image      string
	Containers []Container
	Desired    int32
	Current    int32
	Updated    int32
	Ready      int32
	Available  int32
	// Revision is the Deployment's own revision.
	Revision int64
	Phase    Phase
	// ReplicaSet is the name of the current revision's ReplicaSet, empty when not seen yet.
	ReplicaSet string
	// ReplicaSets names all of the Deployment's ReplicaSets, newest first.
	ReplicaSets []string
	// Created is when the Deployment's current ReplicaSet was created.
	Created time.Time
}

// AllReady tells whether the colour runs its desired number of pods (at least one), all
// updated to its template, Ready and available.
func (c ColorState) AllReady() bool {
	return c.Exists && c.Desired > 0 && c.Updated >= c.Desired && c.Ready >= c.Desired &&
		c.Available >= c.Desired && c.Current == c.Desired && c.Phase == PhaseComplete
}

// Up tells whether the colour runs pods at all.
func (c ColorState) Up() bool { return c.Exists && (c.Desired > 0 || c.Current > 0) }

// Snapshot is an object (or the objects of a blue-green service) as saved before a mutation,
// which a rollback may restore.
type Snapshot struct {
	// ID names the snapshot for `opsdeck rollback --to-snapshot ID`.
	ID        string
	Time      time.Time
	Namespace string
	Service   string
	// Action is the action the snapshot was taken before.
	Action string
	// Image is the main image the service ran (the active colour's for blue-green), Replicas
	// its replicas.
	Image    string
	Replicas int32
	// Color is the active colour of a blue-green service's snapshot.
	Color Color
	// Path is the file holding the objects.
	Path string
}

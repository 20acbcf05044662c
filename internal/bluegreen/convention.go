// Package bluegreen holds opsdeck's blue-green convention on native Kubernetes objects, shared
// by the watcher that reads it and the executor that acts on it, and the reconciler that
// finishes a blue-green deploy from any running opsdeck process.
//
// The convention: a Service labelled opsdeck.io/strategy=blue-green whose selector includes
// opsdeck.io/color=blue|green, and two Deployments NAME-blue and NAME-green whose pods carry
// their colour in that label. The Service's selector picks the active colour. Every step that
// must outlive the process that started it is written on the Service as an annotation: the
// pending switch (opsdeck.io/switch-to, with its image, preview and scale-down delay) and the
// scale-down deadline of the previous colour (opsdeck.io/scale-down-at). Any opsdeck process
// that watches the namespace (the console, opsdeck guard, opsdeck deploy --wait) performs the
// steps that are due, through the executor.
package bluegreen

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Labels of the convention.
const (
	// StrategyLabel on a Service, with StrategyValue, marks a blue-green service.
	StrategyLabel = "opsdeck.io/strategy"
	StrategyValue = "blue-green"
	// ColorLabel is in the Service's selector and on each colour's pods.
	ColorLabel = "opsdeck.io/color"
)

// Annotations opsdeck writes on the Service.
const (
	// AnnRevision counts the switches: the blue-green service's revision.
	AnnRevision = "opsdeck.io/revision"
	// AnnSwitchedAt is when opsdeck last switched the selector (RFC 3339).
	AnnSwitchedAt = "opsdeck.io/switched-at"
	// AnnScaleDownAt is when the idle colour is due to be scaled to zero (RFC 3339).
	AnnScaleDownAt = "opsdeck.io/scale-down-at"
	// AnnSwitchTo is the colour traffic switches to once all its pods are Ready.
	AnnSwitchTo = "opsdeck.io/switch-to"
	// AnnSwitchImage is the image the pending colour was given.
	AnnSwitchImage = "opsdeck.io/switch-image"
	// AnnSwitchRequestedAt is when the pending switch was requested (RFC 3339).
	AnnSwitchRequestedAt = "opsdeck.io/switch-requested-at"
	// AnnPreview is how long the pending colour is held Ready before the switch.
	AnnPreview = "opsdeck.io/preview"
	// AnnScaleDownDelay is how long the previous colour stays up after the pending switch.
	AnnScaleDownDelay = "opsdeck.io/scale-down-delay"
	// AnnTrigger is who started the pending step: key, cli or guard.
	AnnTrigger = "opsdeck.io/trigger"
)

// PendingAnnotations are the annotations of a pending switch, removed by the switch or its
// cancellation.
var PendingAnnotations = []string{AnnSwitchTo, AnnSwitchImage, AnnSwitchRequestedAt, AnnPreview, AnnScaleDownDelay}

// DefaultScaleDownDelay is how long the previous colour stays at full scale after a switch.
const DefaultScaleDownDelay = 5 * time.Minute

// IsBlueGreen tells whether a Service follows the convention's label.
func IsBlueGreen(svc *corev1.Service) bool {
	return svc != nil && svc.Labels[StrategyLabel] == StrategyValue
}

// DeploymentName is the name of a colour's Deployment.
func DeploymentName(service string, c domain.Color) string { return service + "-" + string(c) }

// Pair is a blue-green Service and its two Deployments, as read. A missing Deployment is nil.
type Pair struct {
	Service *corev1.Service
	Blue    *appsv1.Deployment
	Green   *appsv1.Deployment
}

// Of returns the Deployment of colour c.
func (p Pair) Of(c domain.Color) *appsv1.Deployment {
	if c == domain.ColorBlue {
		return p.Blue
	}
	if c == domain.ColorGreen {
		return p.Green
	}
	return nil
}

// Check says what is wrong with a pair, in one line naming the service, or returns the active
// colour. opsdeck refuses every action on a pair that fails it, changing nothing.
func (p Pair) Check() (domain.Color, error) {
	svc := p.Service
	name := svc.Name
	bad := func(format string, args ...any) (domain.Color, error) {
		return "", fmt.Errorf("blue-green service %s/%s is inconsistent: %s", svc.Namespace, name, fmt.Sprintf(format, args...))
	}
	v, ok := svc.Spec.Selector[ColorLabel]
	if !ok {
		return bad("its selector %s has no %s (want %s=blue or %s=green)", formatSelector(svc.Spec.Selector), ColorLabel, ColorLabel, ColorLabel)
	}
	active := domain.Color(v)
	if !active.Valid() {
		return bad("its selector has %s=%s, want blue or green", ColorLabel, v)
	}
	var missing []string
	for _, c := range domain.Colors {
		if p.Of(c) == nil {
			missing = append(missing, DeploymentName(name, c))
		}
	}
	if len(missing) > 0 {
		return bad("Deployment %s not found (a blue-green pair needs %s and %s)", strings.Join(missing, " and "),
			DeploymentName(name, domain.ColorBlue), DeploymentName(name, domain.ColorGreen))
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	if idle := p.Of(active.Other()); sel.Matches(labels.Set(idle.Spec.Template.Labels)) {
		return bad("both colours are selected: the pods of %s match the selector %s", idle.Name, formatSelector(svc.Spec.Selector))
	}
	for _, c := range domain.Colors {
		d := p.Of(c)
		podLabels := d.Spec.Template.Labels
		if got := podLabels[ColorLabel]; got != string(c) {
			if got == "" {
				return bad("the pods of %s carry no %s label (want %s)", d.Name, ColorLabel, c)
			}
			return bad("the pods of %s are labelled %s=%s, want %s", d.Name, ColorLabel, got, c)
		}
		// Apart from the colour, the selector must pick both colours' pods, or a switch
		// would leave the Service with no endpoints.
		rest := map[string]string{}
		for k, v := range svc.Spec.Selector {
			if k != ColorLabel {
				rest[k] = v
			}
		}
		if !labels.SelectorFromSet(rest).Matches(labels.Set(podLabels)) {
			return bad("the pods of %s do not match the selector %s apart from the colour", d.Name, formatSelector(rest))
		}
	}
	return active, nil
}

func formatSelector(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// State is what the annotations of a blue-green Service say.
type State struct {
	Revision       int64
	SwitchedAt     time.Time
	ScaleDownAt    time.Time
	Pending        domain.Color
	PendingImage   string
	PendingSince   time.Time
	Preview        time.Duration
	ScaleDownDelay time.Duration
	Trigger        domain.Trigger
}

// ReadState reads the annotations of svc; malformed values read as absent.
func ReadState(svc *corev1.Service) State {
	a := svc.Annotations
	st := State{Revision: 1}
	if n, err := strconv.ParseInt(a[AnnRevision], 10, 64); err == nil && n > 0 {
		st.Revision = n
	}
	st.SwitchedAt = parseTime(a[AnnSwitchedAt])
	st.ScaleDownAt = parseTime(a[AnnScaleDownAt])
	if c := domain.Color(a[AnnSwitchTo]); c.Valid() {
		st.Pending = c
		st.PendingImage = a[AnnSwitchImage]
		st.PendingSince = parseTime(a[AnnSwitchRequestedAt])
		st.Preview, _ = time.ParseDuration(a[AnnPreview])
		st.ScaleDownDelay, _ = time.ParseDuration(a[AnnScaleDownDelay])
	}
	if st.ScaleDownDelay <= 0 && !st.ScaleDownAt.IsZero() && st.ScaleDownAt.After(st.SwitchedAt) && !st.SwitchedAt.IsZero() {
		st.ScaleDownDelay = st.ScaleDownAt.Sub(st.SwitchedAt) // the delay of the last switch
	}
	if st.ScaleDownDelay <= 0 {
		st.ScaleDownDelay = DefaultScaleDownDelay
	}
	st.Trigger = domain.Trigger(a[AnnTrigger])
	return st
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// FormatTime writes a time as the annotations hold it.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

package bluegreen

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func colour(c domain.Color, podColor string) *appsv1.Deployment {
	l := map[string]string{"app": "checkout"}
	if podColor != "" {
		l[ColorLabel] = podColor
	}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "checkout-" + string(c), Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}}}}
}

func bgSvc(selector map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop",
		Labels: map[string]string{StrategyLabel: StrategyValue}}, Spec: corev1.ServiceSpec{Selector: selector}}
}

func TestCheck(t *testing.T) {
	sel := func(c string) map[string]string { return map[string]string{"app": "checkout", ColorLabel: c} }
	cases := []struct {
		name   string
		pair   Pair
		active domain.Color
		err    string
	}{
		{"consistent", Pair{bgSvc(sel("green")), colour("blue", "blue"), colour("green", "green")}, domain.ColorGreen, ""},
		{"no colour in the selector", Pair{bgSvc(map[string]string{"app": "checkout"}), colour("blue", "blue"), colour("green", "green")}, "",
			"its selector app=checkout has no opsdeck.io/color (want opsdeck.io/color=blue or opsdeck.io/color=green)"},
		{"a colour that is not one", Pair{bgSvc(sel("red")), colour("blue", "blue"), colour("green", "green")}, "",
			"its selector has opsdeck.io/color=red, want blue or green"},
		{"a colour missing", Pair{bgSvc(sel("blue")), colour("blue", "blue"), nil}, "",
			"Deployment checkout-green not found (a blue-green pair needs checkout-blue and checkout-green)"},
		{"both missing", Pair{bgSvc(sel("blue")), nil, nil}, "", "Deployment checkout-blue and checkout-green not found"},
		{"both selected", Pair{bgSvc(sel("blue")), colour("blue", "blue"), colour("green", "blue")}, "",
			"both colours are selected: the pods of checkout-green match the selector app=checkout,opsdeck.io/color=blue"},
		{"pods without the colour", Pair{bgSvc(sel("blue")), colour("blue", "blue"), colour("green", "")}, "",
			"the pods of checkout-green carry no opsdeck.io/color label (want green)"},
		{"the idle colour outside the selector", Pair{bgSvc(sel("blue")), colour("blue", "blue"), func() *appsv1.Deployment {
			d := colour("green", "green")
			d.Spec.Template.Labels["app"] = "shop"
			return d
		}()}, "", "the pods of checkout-green do not match the selector app=checkout apart from the colour"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.pair.Check()
			if tc.err == "" {
				if err != nil || got != tc.active {
					t.Fatalf("Check = %q, %v; want %q", got, err, tc.active)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Check error %v, want one line with %q", err, tc.err)
			}
			if !strings.HasPrefix(err.Error(), "blue-green service shop/checkout is inconsistent: ") {
				t.Errorf("error does not name the service: %v", err)
			}
		})
	}
}

func TestReadState(t *testing.T) {
	s := bgSvc(nil)
	s.Annotations = map[string]string{AnnRevision: "7", AnnSwitchTo: "green", AnnSwitchImage: "checkout:v2", AnnPreview: "30s",
		AnnScaleDownDelay: "2m", AnnTrigger: "key", AnnScaleDownAt: "2026-03-14T09:31:53Z"}
	st := ReadState(s)
	if st.Revision != 7 || st.Pending != domain.ColorGreen || st.PendingImage != "checkout:v2" || st.Preview.Seconds() != 30 ||
		st.ScaleDownDelay.Minutes() != 2 || st.Trigger != domain.TriggerKey || st.ScaleDownAt.IsZero() {
		t.Errorf("state %+v", st)
	}
	if st := ReadState(bgSvc(nil)); st.Revision != 1 || st.Pending != "" || st.ScaleDownDelay != DefaultScaleDownDelay {
		t.Errorf("empty state %+v", st)
	}
}

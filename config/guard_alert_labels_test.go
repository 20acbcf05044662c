package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestGuardAlertLabels(t *testing.T) {
	c, errs := Parse([]byte("guard:\n  window: 10m\n"))
	if errs != nil || !reflect.DeepEqual(c.Guard.AlertLabels, []string{"service", "deployment", "app"}) {
		t.Fatalf("default alert_labels %q, %v", c.Guard.AlertLabels, errs)
	}
	c, errs = Parse([]byte("guard:\n  alert_labels: [svc, app]\n"))
	if errs != nil || !reflect.DeepEqual(c.Guard.AlertLabels, []string{"svc", "app"}) {
		t.Fatalf("alert_labels [svc, app]: %q, %v", c.Guard.AlertLabels, errs)
	}
	for in, want := range map[string]string{
		"guard:\n  alert_labels: []\n":              "guard.alert_labels: must name at least one label",
		"guard:\n  alert_labels: [service, \"\"]\n": "guard.alert_labels[1]: must not be empty",
	} {
		_, errs := Parse([]byte(in))
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("%q: problems %q, want one saying %q", in, got, want)
		}
	}
}

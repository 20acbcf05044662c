package actions

import (
	"strings"
	"testing"
)

func TestValidateImage(t *testing.T) {
	good := []string{
		"order-service:v2",
		"order-service",
		"order-service:v2-bad",
		"registry.example.com:5000/team/order-service:1.2.3",
		"localhost/app:dev",
		"Registry.Example.COM/app:v1",
		"ghcr.io/org/app@sha256:" + strings.Repeat("a", 64),
		"app:v1@sha256:" + strings.Repeat("0", 64),
		"a__b/c.d-e:TAG_1.x",
	}
	for _, ref := range good {
		if err := ValidateImage(ref); err != nil {
			t.Errorf("ValidateImage(%q) = %v, want nil", ref, err)
		}
	}
	bad := []struct{ ref, says string }{
		{"", "empty"},
		{"order service:v2", "whitespace"},
		{"Order-Service:v2", "lowercase"},
		{"order-service:", "tag after ':' is empty"},
		{"order-service:v2!", `tag "v2!"`},
		{"order-service:-v2", `tag "-v2"`},
		{"order--service_:v2", `component "order--service_"`},
		{"team//app:v1", "empty component"},
		{"app@sha256:abc", "digest"},
		{"app@sha256:" + strings.Repeat("a", 65), "64 hex digits"},
		{":v1", "repository name is empty"},
		{"bad_host.io:port/app:v1", "registry"},
	}
	for _, tt := range bad {
		err := ValidateImage(tt.ref)
		if err == nil {
			t.Errorf("ValidateImage(%q) = nil, want an error saying %q", tt.ref, tt.says)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.says) || strings.Contains(msg, "\n") {
			t.Errorf("ValidateImage(%q) = %q, want one line saying %q", tt.ref, msg, tt.says)
		}
		if tt.ref != "" && !strings.Contains(msg, `"`+tt.ref+`"`) {
			t.Errorf("ValidateImage(%q) = %q does not name the reference", tt.ref, msg)
		}
	}
}

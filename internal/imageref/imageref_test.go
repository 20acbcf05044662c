package imageref

import (
	"strings"
	"testing"
)

// References that parse, and their parts.
func TestParse(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for in, want := range map[string]Ref{
		"order-service:v2":          {Path: "order-service", Tag: "v2"},
		"nginx":                     {Path: "nginx"},
		"order-service:v2-bad":      {Path: "order-service", Tag: "v2-bad"},
		"library/nginx:1.27-alpine": {Path: "library/nginx", Tag: "1.27-alpine"},
		"registry.example.com:5000/team/order-service:1.2.3":      {Domain: "registry.example.com:5000", Path: "team/order-service", Tag: "1.2.3"},
		"registry.example.com:5000/shop/order_service__x:V2.1_rc": {Domain: "registry.example.com:5000", Path: "shop/order_service__x", Tag: "V2.1_rc"},
		"localhost/app:dev":           {Domain: "localhost", Path: "app", Tag: "dev"},
		"Registry.Example.COM/app:v1": {Domain: "Registry.Example.COM", Path: "app", Tag: "v1"},
		"ghcr.io/o/app@sha256:" + hex: {Domain: "ghcr.io", Path: "o/app", Digest: "sha256:" + hex},
		"app:v1@sha256:" + hex:        {Path: "app", Tag: "v1", Digest: "sha256:" + hex},
		"a--b.c:1":                    {Path: "a--b.c", Tag: "1"},
		"a__b/c.d-e:TAG_1.x":          {Path: "a__b/c.d-e", Tag: "TAG_1.x"},
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if r, _ := Parse("registry.example/shop/app:v2"); r.Repository() != "registry.example/shop/app" {
		t.Errorf("repository %q", r.Repository())
	}
}

// References that do not parse: one line, naming the reference and what is wrong.
func TestParseRefuses(t *testing.T) {
	for _, tt := range []struct{ ref, says string }{
		{"", "empty"},
		{"order service:v2", "whitespace"},
		{"Order-Service:v2", "lowercase"},
		{"order-service:", "tag after ':' is empty"},
		{"order-service:v2!", `tag "v2!"`},
		{"order-service:-v2", `tag "-v2"`},
		{"order-service:" + strings.Repeat("x", 129), "tag"},
		{"order--service_:v2", `component "order--service_"`},
		{"app_:v1", `component "app_"`},
		{"team//app:v1", "empty component"},
		{"shop/app/", "empty component"},
		{"a...b", `component "a...b"`},
		{"app@sha256:abc", "digest"},
		{"app@sha256:" + strings.Repeat("a", 65), "64 hex digits"},
		{":v1", "repository name is empty"},
		{"bad_host.io:port/app:v1", "registry"},
		{"reg.io:50x0/app", "registry"},
		{"-bad-.io/app", "registry"},
	} {
		err := Validate(tt.ref)
		if err == nil {
			t.Errorf("Validate(%q) = nil, want an error saying %q", tt.ref, tt.says)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.says) || strings.Contains(msg, "\n") {
			t.Errorf("Validate(%q) = %q, want one line saying %q", tt.ref, msg, tt.says)
		}
		if tt.ref != "" && !strings.Contains(msg, `"`+tt.ref+`"`) {
			t.Errorf("Validate(%q) = %q does not name the reference", tt.ref, msg)
		}
	}
}

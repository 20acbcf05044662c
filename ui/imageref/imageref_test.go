package imageref

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		want    Ref
		wantErr string
	}{
		{in: "order-service:v2", want: Ref{Path: "order-service", Tag: "v2"}},
		{in: "nginx", want: Ref{Path: "nginx"}},
		{in: "library/nginx:1.27-alpine", want: Ref{Path: "library/nginx", Tag: "1.27-alpine"}},
		{in: "registry.example.com:5000/shop/order_service__x:V2.1_rc", want: Ref{Domain: "registry.example.com:5000", Path: "shop/order_service__x", Tag: "V2.1_rc"}},
		{in: "localhost/app:1", want: Ref{Domain: "localhost", Path: "app", Tag: "1"}},
		{in: "ghcr.io/o/app@sha256:" + hex, want: Ref{Domain: "ghcr.io", Path: "o/app", Digest: "sha256:" + hex}},
		{in: "app:v1@sha256:" + hex, want: Ref{Path: "app", Tag: "v1", Digest: "sha256:" + hex}},
		{in: "a--b.c:1", want: Ref{Path: "a--b.c", Tag: "1"}},
		{in: "", wantErr: "empty"},
		{in: "order service:v2", wantErr: "whitespace"},
		{in: "Order-Service:v2", wantErr: "uppercase"},
		{in: "order-service:", wantErr: "tag is empty"},
		{in: "order-service:-v2", wantErr: `tag "-v2"`},
		{in: "order-service:" + strings.Repeat("x", 129), wantErr: "tag"},
		{in: "app@sha256:abc", wantErr: "digest"},
		{in: "app@md5:" + hex, wantErr: "digest"},
		{in: "shop//app", wantErr: "empty path component"},
		{in: "shop/app/", wantErr: "empty path component"},
		{in: "app_:v1", wantErr: `"app_" is invalid`},
		{in: "a...b", wantErr: "invalid"},
		{in: "reg.io:50x0/app", wantErr: `port "50x0"`},
		{in: "-bad-.io/app", wantErr: "registry host"},
		{in: ":v1", wantErr: "missing"},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

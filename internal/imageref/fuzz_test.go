package imageref

import (
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/internal/safe"
)

// FuzzValidateImage: the parser never panics, its error is one line naming
// the reference, and what it accepts is printable, has no whitespace and a lowercase
// repository.
func FuzzValidateImage(f *testing.F) {
	for _, s := range []string{"order-service:v2", "registry.example:5000/team/app:1.2.3", "app@sha256:" + strings.Repeat("a", 64),
		"Web:V2", "app:", ":v1", "a//b", "[::1]:5000/app:v1", "app:v1\x1b[2J", "app:\u202ev1", "x/y/z:" + strings.Repeat("t", 130)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		err := Validate(ref)
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "invalid image reference") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if safe.Text(ref) != ref || strings.ContainsAny(ref, " \t\r\n") {
			t.Fatalf("accepted %q, which is not printable text", ref)
		}
		name := ref
		if i := strings.Index(name, "@"); i >= 0 {
			name = name[:i]
		}
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			name = name[:i]
		}
		// The first component is a registry when it has '.' or ':', is localhost, or has an
		// uppercase letter (containerd's splitDockerDomain); the rest must be lowercase.
		repo := name
		if i := strings.Index(name, "/"); i >= 0 && (strings.ContainsAny(name[:i], ".:[") || name[:i] == "localhost" || strings.ToLower(name[:i]) != name[:i]) {
			repo = name[i+1:]
		}
		if repo != strings.ToLower(repo) {
			t.Fatalf("accepted %q with an uppercase repository", ref)
		}
	})
}

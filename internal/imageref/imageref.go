// Package imageref parses container image references with the grammar of the distribution
// project's reference package: [host[:port]/]path[:tag][@algorithm:hex], where path components
// are lowercase letters and digits separated by ".", "_", "__" or dashes. It is the one
// validator: the executor refuses with its error, the console's deploy prompt shows the same
// error before anything is confirmed, and the triggers read tags with it. Errors are one line
// and name the reference and the part that is wrong.
package imageref

import (
	"fmt"
	"regexp"
	"strings"
)

// Ref is a parsed image reference.
type Ref struct {
	Domain string // registry host[:port], empty for the default registry
	Path   string // repository path, e.g. "library/nginx" or "order-service"
	Tag    string
	Digest string // "sha256:..." when given
}

// Repository is the reference without its tag and digest: "registry.example/shop/app".
func (r Ref) Repository() string {
	if r.Domain == "" {
		return r.Path
	}
	return r.Domain + "/" + r.Path
}

var (
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	domainRE        = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$`)
	tagRE           = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRE        = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$`)
)

// Parse checks ref and splits it into its parts.
func Parse(ref string) (Ref, error) {
	var r Ref
	bad := func(format string, args ...any) (Ref, error) {
		return Ref{}, fmt.Errorf("invalid image reference %q: %s", ref, fmt.Sprintf(format, args...))
	}
	if ref == "" {
		return Ref{}, fmt.Errorf("invalid image reference: it is empty")
	}
	if strings.ContainsAny(ref, " \t\r\n") {
		return bad("contains whitespace")
	}
	name := ref
	if i := strings.Index(name, "@"); i >= 0 {
		r.Digest = name[i+1:]
		name = name[:i]
		if !digestRE.MatchString(r.Digest) {
			return bad("digest %q is not algorithm:hex (for example sha256: and 64 hex digits)", r.Digest)
		}
		if strings.HasPrefix(r.Digest, "sha256:") && len(r.Digest) != len("sha256:")+64 {
			return bad("a sha256 digest has 64 hex digits, %q has %d", r.Digest, len(r.Digest)-len("sha256:"))
		}
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		r.Tag = name[i+1:]
		name = name[:i]
		if r.Tag == "" {
			return bad("the tag after ':' is empty")
		}
		if !tagRE.MatchString(r.Tag) {
			return bad("tag %q may only hold letters, digits, '_', '.' and '-' (not first), at most 128", r.Tag)
		}
	}
	if name == "" {
		return bad("repository name is empty")
	}
	if len(name) > 255 {
		return bad("repository name is longer than 255 characters")
	}
	parts := strings.Split(name, "/")
	// The first component is a registry when it looks like a host: a dot, a port, localhost,
	// or capitals (a path component may not have them; a host name may).
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost" || strings.ToLower(parts[0]) != parts[0]) {
		if !domainRE.MatchString(parts[0]) {
			return bad("registry %q is not a host name with an optional port", parts[0])
		}
		r.Domain = parts[0]
		parts = parts[1:]
	}
	for _, p := range parts {
		if p == "" {
			return bad("repository path has an empty component (check the slashes)")
		}
		if strings.ToLower(p) != p {
			return bad("repository name must be lowercase")
		}
		if !pathComponentRE.MatchString(p) {
			return bad("repository component %q may only hold lowercase letters and digits separated by '.', '_', '__' or '-'", p)
		}
	}
	r.Path = strings.Join(parts, "/")
	return r, nil
}

// Validate says in one line what is wrong with an image reference, or returns nil.
func Validate(ref string) error {
	_, err := Parse(ref)
	return err
}

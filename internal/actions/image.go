package actions

import (
	"fmt"
	"regexp"
	"strings"
)

// The grammar of an image reference, after the distribution project's reference package:
// [domain[:port]/]path-component(/path-component)*[:tag][@algorithm:hex].
var (
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	domainRE        = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$`)
	tagRE           = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRE        = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$`)
)

// ValidateImage checks an image reference and says in one line what is wrong with it, naming
// the reference: `invalid image reference "Order:v2": repository name must be lowercase`.
func ValidateImage(ref string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("invalid image reference %q: %s", ref, fmt.Sprintf(format, args...))
	}
	if ref == "" {
		return fmt.Errorf("invalid image reference: it is empty")
	}
	if strings.ContainsAny(ref, " \t\r\n") {
		return bad("contains whitespace")
	}
	name := ref
	if i := strings.Index(name, "@"); i >= 0 {
		digest := name[i+1:]
		name = name[:i]
		if !digestRE.MatchString(digest) {
			return bad("digest %q is not algorithm:hex (for example sha256: and 64 hex digits)", digest)
		}
		if strings.HasPrefix(digest, "sha256:") && len(digest) != len("sha256:")+64 {
			return bad("a sha256 digest has 64 hex digits, %q has %d", digest, len(digest)-len("sha256:"))
		}
	}
	if slash := strings.LastIndex(name, "/"); strings.LastIndex(name, ":") > slash {
		i := strings.LastIndex(name, ":")
		tag := name[i+1:]
		name = name[:i]
		if tag == "" {
			return bad("the tag after ':' is empty")
		}
		if !tagRE.MatchString(tag) {
			return bad("tag %q may only hold letters, digits, '_', '.' and '-' (not first), at most 128", tag)
		}
	}
	if name == "" {
		return bad("repository name is empty")
	}
	if len(name) > 255 {
		return bad("repository name is longer than 255 characters")
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost" || strings.ToLower(parts[0]) != parts[0]) {
		if !domainRE.MatchString(parts[0]) {
			return bad("registry %q is not a host name with an optional port", parts[0])
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if p == "" {
			return bad("repository path has an empty component")
		}
		if strings.ToLower(p) != p {
			return bad("repository name must be lowercase")
		}
		if !pathComponentRE.MatchString(p) {
			return bad("repository component %q may only hold lowercase letters and digits separated by '.', '_', '__' or '-'", p)
		}
	}
	return nil
}

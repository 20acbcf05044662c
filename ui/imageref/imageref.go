// Package imageref validates container image references with the grammar of the
// distribution project's reference package: [host[:port]/]path[:tag][@sha256:hex], where path
// components are lowercase letters and digits separated by ".", "_", "__" or dashes. Errors
// name the part that is wrong, in one line, for the deploy prompt.
package imageref

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Ref is a parsed image reference.
type Ref struct {
	Domain string // registry host[:port], empty for the default registry
	Path   string // repository path, e.g. "library/nginx" or "order-service"
	Tag    string
	Digest string // "sha256:..." when given
}

var (
	pathComponent   = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	domainComponent = regexp.MustCompile(`^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$`)
	tagRE           = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRE        = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	portRE          = regexp.MustCompile(`^[0-9]+$`)
)

// Parse checks s and splits it into its parts.
func Parse(s string) (Ref, error) {
	var r Ref
	if s == "" {
		return r, fmt.Errorf("image is empty")
	}
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return r, fmt.Errorf("image contains whitespace at position %d", i+1)
	}
	name := s
	if i := strings.Index(name, "@"); i >= 0 {
		r.Digest = name[i+1:]
		name = name[:i]
		if !digestRE.MatchString(r.Digest) {
			return r, fmt.Errorf("digest %q is invalid: want sha256: and 64 lowercase hex digits", r.Digest)
		}
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		r.Tag = name[i+1:]
		name = name[:i]
		if r.Tag == "" {
			return r, fmt.Errorf("tag is empty after ':'")
		}
		if !tagRE.MatchString(r.Tag) {
			return r, fmt.Errorf("tag %q is invalid: want up to 128 of A-Z a-z 0-9 _ . -, not starting with . or -", r.Tag)
		}
	}
	if name == "" {
		return r, fmt.Errorf("repository name is missing")
	}
	if len(name) > 255 {
		return r, fmt.Errorf("repository name is %d characters long, at most 255", len(name))
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		r.Domain = parts[0]
		parts = parts[1:]
		if err := checkDomain(r.Domain); err != nil {
			return r, err
		}
	}
	for _, p := range parts {
		if p == "" {
			return r, fmt.Errorf("repository name %q has an empty path component (check the slashes)", name)
		}
		if !pathComponent.MatchString(p) {
			if strings.ToLower(p) != p {
				return r, fmt.Errorf("repository name component %q has uppercase letters: it must be lowercase", p)
			}
			return r, fmt.Errorf("repository name component %q is invalid: want lowercase letters and digits separated by . _ __ or -", p)
		}
	}
	r.Path = strings.Join(parts, "/")
	return r, nil
}

func checkDomain(d string) error {
	host, port := d, ""
	if i := strings.LastIndex(d, ":"); i >= 0 && !strings.HasSuffix(d, "]") {
		host, port = d[:i], d[i+1:]
		if !portRE.MatchString(port) {
			return fmt.Errorf("registry port %q is not a number", port)
		}
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		return nil // IPv6 literal
	}
	for _, c := range strings.Split(host, ".") {
		if !domainComponent.MatchString(c) {
			return fmt.Errorf("registry host %q is invalid", host)
		}
	}
	return nil
}

// Validate reports what is wrong with an image reference, or nil.
func Validate(s string) error {
	_, err := Parse(s)
	return err
}

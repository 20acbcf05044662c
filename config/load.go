package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"sigs.k8s.io/yaml"
)

// Error is a configuration file that cannot be used, with every problem found in it.
type Error struct {
	Path     string
	Problems []error
}

// Error joins the problems on one line, after the file's path.
func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "config " + e.Path + ": " + strings.Join(msgs, "; ")
}

// Unwrap returns the problems.
func (e *Error) Unwrap() []error { return e.Problems }

// DefaultPaths are the files Load("") reads, the first that exists:
// $XDG_CONFIG_HOME/opsdeck/config.yaml when XDG_CONFIG_HOME is set, then
// ~/.config/opsdeck/config.yaml.
func DefaultPaths() []string {
	var out []string
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		out = append(out, filepath.Join(x, "opsdeck", "config.yaml"))
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		p := filepath.Join(home, ".config", "opsdeck", "config.yaml")
		if len(out) == 0 || out[0] != p {
			out = append(out, p)
		}
	}
	return out
}

// resolve picks the file to read: path itself, or the first default path that exists ("" when
// none does).
func resolve(path string) string {
	if path != "" {
		return path
	}
	for _, p := range DefaultPaths() {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Load reads the configuration file at path over the defaults and validates it. With path "",
// it reads the first of DefaultPaths that exists, or returns the defaults. Every problem is in
// the returned *Error.
func Load(path string) (Config, error) {
	file := resolve(path)
	if file == "" {
		return Default(), nil
	}
	c, problems := load(file)
	if len(problems) > 0 {
		return Config{}, &Error{Path: file, Problems: problems}
	}
	return c, nil
}

// Check returns every problem of the configuration file at path (resolved as by Load), one
// error each, each naming its YAML field ("thresholds.errors.above: must be ..."); nil when the
// file is good.
func Check(path string) []error {
	file := resolve(path)
	if file == "" {
		return nil
	}
	_, problems := load(file)
	return problems
}

func load(file string) (Config, []error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Config{}, []error{errors.New("no such file")}
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return Config{}, []error{err}
	}
	return Parse(data)
}

// Parse lays the YAML document data over the defaults and validates the result. It returns
// every problem, unknown fields and wrong types first, then invalid values.
func Parse(data []byte) (Config, []error) {
	c := Default()
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		return c, yamlProblems(msg)
	}
	var root any
	if err := json.Unmarshal(j, &root); err != nil {
		return c, []error{fmt.Errorf("not a YAML document: %v", err)}
	}
	if root == nil {
		return c, c.Validate()
	}
	m, ok := root.(map[string]any)
	if !ok {
		return c, []error{fmt.Errorf("the file must be a mapping of fields, not %s", describe(root))}
	}

	var errs []error
	check(m, reflect.TypeFor[Config](), "", &errs)

	if p, ok := m["prometheus"].(map[string]any); ok {
		u, _ := p["url"].(string)
		s, _ := p["service"].(string)
		if u != "" && s != "" {
			errs = append(errs, problem("prometheus.service", "set url or service, not both"))
		}
	}

	// Thresholds merge rule by rule; everything else is decoded over the defaults field by field.
	thresholds, _ := m["thresholds"].(map[string]any)
	services, _ := m["services"].(map[string]any)
	delete(m, "thresholds")
	delete(m, "services")
	rest, _ := json.Marshal(m)
	if err := json.Unmarshal(rest, &c); err != nil {
		errs = append(errs, err)
	}
	if c.Thresholds == nil {
		c.Thresholds = map[string]Rule{}
	}
	mergeRules(c.Thresholds, thresholds, func(k string) (Rule, bool) {
		r, ok := c.Thresholds[k]
		return r, ok
	})
	if c.Services == nil {
		c.Services = map[string]ServiceConfig{}
	}
	for name, v := range services {
		sc := ServiceConfig{Thresholds: map[string]Rule{}}
		if sm, ok := v.(map[string]any); ok {
			t, _ := sm["thresholds"].(map[string]any)
			mergeRules(sc.Thresholds, t, func(k string) (Rule, bool) {
				r, ok := c.Thresholds[k]
				return r, ok
			})
		}
		c.Services[name] = sc
	}
	return c, append(errs, c.Validate()...)
}

// mergeRules lays the user's rules src over dst. A rule starts from base (the default or the
// global rule of that metric) and keeps the fields src leaves out; giving above or below
// replaces the bound; a rule without an action alerts; null removes the rule.
func mergeRules(dst map[string]Rule, src map[string]any, base func(string) (Rule, bool)) {
	for k, v := range src {
		raw, ok := v.(map[string]any)
		if !ok {
			delete(dst, k)
			continue
		}
		r, _ := base(k)
		r.Above, r.Below = clone(r.Above), clone(r.Below)
		_, above := raw["above"]
		_, below := raw["below"]
		if above || below {
			// A new bound comes with its unit: cores unless of_request is given again.
			r.Above, r.Below, r.OfRequest = nil, nil, false
		}
		b, _ := json.Marshal(raw)
		_ = json.Unmarshal(b, &r) // types were checked
		if _, set := raw["action"]; !set && r.Action == "" {
			r.Action = ActionAlert
		}
		dst[k] = r
	}
}

func clone(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// yamlProblems splits a YAML error into one problem per line: the decoder lists several
// ("yaml: unmarshal errors:\n  line 3: key \"a\" already set in map\n  ..."), and each
// problem is printed on a line of its own.
func yamlProblems(msg string) []error {
	var out []error
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "yaml: unmarshal errors:" {
			continue
		}
		if !strings.HasPrefix(line, "yaml: ") {
			line = "yaml: " + line
		}
		out = append(out, errors.New(line))
	}
	if len(out) == 0 {
		out = append(out, errors.New(strings.TrimSpace(msg)))
	}
	return out
}

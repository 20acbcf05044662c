package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// fieldError is one problem, named by its YAML field path.
type fieldError struct {
	Path string
	Msg  string
}

func (e *fieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func problem(path, format string, args ...any) error {
	return &fieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// child is the path of key under path: "a.b", or a["x.y"] when the key needs quoting.
func child(path, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\" ") {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// check compares the generic JSON value v (as encoding/json decodes into any) with the Go type
// t that it will be decoded into, and reports every unknown field and wrong type. It deletes
// what it reports from v's maps, so that the rest can still be decoded and validated. It
// returns false when v itself is wrong and its parent should drop it.
func check(v any, t reflect.Type, path string, errs *[]error) bool {
	if v == nil {
		// null leaves the default in place (or removes a map entry; see mergeRules).
		return true
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		b, _ := json.Marshal(v)
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
			*errs = append(*errs, problem(path, "%s", err.Error()))
			return false
		}
		return true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return check(v, t.Elem(), path, errs)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			*errs = append(*errs, problem(path, "must be a mapping, not %s", describe(v)))
			return false
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(m) {
			f, ok := fields[k]
			if !ok {
				*errs = append(*errs, problem(child(path, k), "unknown field%s", suggest(k, fields)))
				delete(m, k)
				continue
			}
			if !check(m[k], f.Type, child(path, k), errs) {
				delete(m, k)
			}
		}
		return true
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			*errs = append(*errs, problem(path, "must be a mapping, not %s", describe(v)))
			return false
		}
		for _, k := range sortedKeys(m) {
			if !check(m[k], t.Elem(), child(path, k), errs) {
				delete(m, k)
			}
		}
		return true
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			*errs = append(*errs, problem(path, "must be a list, not %s", describe(v)))
			return false
		}
		good := true
		for i, e := range l {
			if e == nil || !check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs) {
				if e == nil {
					*errs = append(*errs, problem(fmt.Sprintf("%s[%d]", path, i), "must not be empty"))
				}
				good = false
			}
		}
		return good
	case reflect.String:
		if _, ok := v.(string); !ok {
			*errs = append(*errs, problem(path, "must be a string, not %s", describe(v)))
			return false
		}
		return true
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			*errs = append(*errs, problem(path, "must be true or false, not %s", describe(v)))
			return false
		}
		return true
	case reflect.Float64, reflect.Float32:
		if _, ok := v.(float64); !ok {
			*errs = append(*errs, problem(path, "must be a number, not %s", describe(v)))
			return false
		}
		return true
	case reflect.Int, reflect.Int32, reflect.Int64:
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			*errs = append(*errs, problem(path, "must be a whole number, not %s", describe(v)))
			return false
		}
		return true
	}
	*errs = append(*errs, problem(path, "cannot be set in a file"))
	return false
}

// jsonFields maps the JSON names of t's exported fields to the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

// suggest names a known field close to an unknown one ("did you mean ...?"), or lists them.
func suggest(k string, fields map[string]reflect.StructField) string {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	var names []string
	best, bestDist := "", 3
	for name := range fields {
		names = append(names, name)
		if d := distance(norm(name), norm(k)); d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	if best != "" && (bestDist <= 1 || len(k) >= 5) {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	slices.Sort(names)
	return " (known: " + strings.Join(names, ", ") + ")"
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describe names a generic JSON value's kind for error messages: `a string ("high")`.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("a string (%q)", x)
	case float64:
		return fmt.Sprintf("a number (%s)", strconv.FormatFloat(x, 'g', -1, 64))
	case bool:
		return fmt.Sprintf("%t", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package document

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParameterValues checks the values given for a run against the document's
// parameters and returns the value of every parameter: given values converted to
// the parameter's type, defaults for the rest. Defaults may still hold templates
// ({{ global:DATE_TIME }}, {{ ssm:/name }}); the engine resolves them.
//
// StringList, StringMap and MapList values are given as JSON text; a StringList
// may also be comma-separated.
func ParameterValues(d *Document, given map[string]string) (map[string]any, []Problem) {
	values := map[string]any{}
	var problems []Problem
	add := func(name, format string, args ...any) {
		problems = append(problems, Problem{StepIndex: -1, Path: []string{"parameters", name}, Message: fmt.Sprintf(format, args...)})
	}
	declared := map[string]bool{}
	var names []string
	for _, p := range d.Parameters {
		declared[p.Name] = true
		names = append(names, p.Name)
	}
	for _, name := range sortedKeys(given) {
		if !declared[name] {
			add(name, "unknown parameter %q%s; the document's parameters are %s", name, didYouMean(name, names), strings.Join(names, ", "))
		}
	}
	for _, p := range d.Parameters {
		text, ok := given[p.Name]
		if !ok {
			if p.HasDefault {
				values[p.Name] = normalizeValue(p.Default)
			} else {
				add(p.Name, "parameter %q is required: it has no default and no value was given", p.Name)
			}
			continue
		}
		v, err := parseParameterText(p.Type, text)
		if err != nil {
			add(p.Name, "parameter %q: %s", p.Name, err)
			continue
		}
		for _, msg := range checkParameterValue(p, v) {
			add(p.Name, "parameter %q: value %s", p.Name, msg)
		}
		values[p.Name] = v
	}
	return values, problems
}

// parseParameterText converts the text given for a parameter to its type.
func parseParameterText(typ, text string) (any, error) {
	switch typ {
	case "Integer":
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", text)
		}
		return i, nil
	case "Boolean":
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false", text)
	case "StringList":
		t := strings.TrimSpace(text)
		if strings.HasPrefix(t, "[") {
			var l []any
			if err := json.Unmarshal([]byte(t), &l); err != nil {
				return nil, fmt.Errorf("%q is not a JSON list of strings: %v", clip(text, 60), err)
			}
			return coerceStringList(normalizeValue(l))
		}
		if t == "" {
			return []any{}, nil
		}
		parts := strings.Split(text, ",")
		out := make([]any, len(parts))
		for i, s := range parts {
			out[i] = strings.TrimSpace(s)
		}
		return out, nil
	case "StringMap":
		var m map[string]any
		if err := json.Unmarshal([]byte(text), &m); err != nil || m == nil {
			return nil, fmt.Errorf("%q is not a JSON object", clip(text, 60))
		}
		return normalizeValue(m), nil
	case "MapList":
		var l []map[string]any
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			return nil, fmt.Errorf("%q is not a JSON list of objects", clip(text, 60))
		}
		return normalizeValue(l), nil
	}
	return text, nil
}

// checkParameterValue checks a literal value (a default or a given value)
// against a parameter's type and constraints. Each message completes "value ...".
func checkParameterValue(p Parameter, v any) []string {
	var msgs []string
	var texts []string // the strings allowedValues, allowedPattern and chars apply to
	switch p.Type {
	case "String":
		s, ok := scalarText(v)
		if !ok || v == nil {
			return []string{"must be a string, but it is " + kindOf(v)}
		}
		texts = []string{s}
	case "Integer":
		i, err := coerceInteger(v)
		if err != nil {
			return []string{"must be a whole number, but it is " + kindOf(v)}
		}
		texts = []string{strconv.FormatInt(i.(int64), 10)}
	case "Boolean":
		b, err := coerceBoolean(v)
		if err != nil {
			return []string{"must be true or false, but it is " + kindOf(v)}
		}
		texts = []string{strconv.FormatBool(b.(bool))}
	case "StringList":
		l, ok := v.([]any)
		if !ok {
			return []string{`must be a list of strings, e.g. ["a", "b"], but it is ` + kindOf(v)}
		}
		for i, e := range l {
			s, ok := scalarText(e)
			if !ok || e == nil {
				return []string{fmt.Sprintf("must be a list of strings, but element %d is %s", i+1, kindOf(e))}
			}
			texts = append(texts, s)
		}
		msgs = append(msgs, checkItems(p, len(l))...)
	case "StringMap":
		if _, ok := v.(map[string]any); !ok {
			return []string{"must be an object, but it is " + kindOf(v)}
		}
	case "MapList":
		l, ok := v.([]any)
		if !ok {
			return []string{"must be a list of objects, but it is " + kindOf(v)}
		}
		for i, e := range l {
			if _, ok := e.(map[string]any); !ok {
				return []string{fmt.Sprintf("must be a list of objects, but element %d is %s", i+1, kindOf(e))}
			}
		}
		msgs = append(msgs, checkItems(p, len(l))...)
	}
	var re *regexp.Regexp
	if p.AllowedPattern != "" {
		re, _ = regexp.Compile(p.AllowedPattern) // a bad pattern is reported on its own
	}
	for _, s := range texts {
		if len(p.AllowedValues) > 0 && !contains(p.AllowedValues, s) {
			msgs = append(msgs, fmt.Sprintf("%q is not one of the allowed values %s%s", s, quoteList(p.AllowedValues), didYouMean(s, p.AllowedValues)))
		}
		if re != nil && !re.MatchString(s) {
			msgs = append(msgs, fmt.Sprintf("%q does not match allowedPattern %s", s, p.AllowedPattern))
		}
		n := int64(utf8.RuneCountInString(s))
		if p.MinChars != nil && n < *p.MinChars {
			msgs = append(msgs, fmt.Sprintf("%q is shorter than minChars %d", s, *p.MinChars))
		}
		if p.MaxChars != nil && n > *p.MaxChars {
			msgs = append(msgs, fmt.Sprintf("%q is longer than maxChars %d", clip(s, 40), *p.MaxChars))
		}
	}
	return msgs
}

func checkItems(p Parameter, n int) []string {
	var msgs []string
	if p.MinItems != nil && int64(n) < *p.MinItems {
		msgs = append(msgs, fmt.Sprintf("has %d items, fewer than minItems %d", n, *p.MinItems))
	}
	if p.MaxItems != nil && int64(n) > *p.MaxItems {
		msgs = append(msgs, fmt.Sprintf("has %d items, more than maxItems %d", n, *p.MaxItems))
	}
	return msgs
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

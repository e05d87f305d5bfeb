package document

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValuesOption changes how ParameterValues reports problems.
type ValuesOption func(*valuesOptions)

type valuesOptions struct {
	sensitive map[string]bool
}

// SensitiveParameters names the parameters whose given values are secrets: a
// problem with one names the rule it breaks, never the value (nor a "did you
// mean" that would hint at it).
func SensitiveParameters(names ...string) ValuesOption {
	return func(o *valuesOptions) {
		for _, n := range names {
			o.sensitive[n] = true
		}
	}
}

// ParameterValues checks the values given for a run against the document's
// parameters and returns the value of every parameter: given values converted to
// the parameter's type, defaults for the rest. Defaults may still hold templates
// ({{ global:DATE_TIME }}, {{ ssm:/name }}); the engine resolves them.
//
// StringList, StringMap and MapList values are given as JSON text; a StringList
// may also be comma-separated. Problems quote a given value clipped to a few
// dozen characters, and never quote a sensitive one (see SensitiveParameters).
func ParameterValues(d *Document, given map[string]string, opts ...ValuesOption) (map[string]any, []Problem) {
	o := valuesOptions{sensitive: map[string]bool{}}
	for _, opt := range opts {
		opt(&o)
	}
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
				values[p.Name] = NormalizeValue(p.Default)
			} else {
				add(p.Name, "parameter %q is required: it has no default and no value was given", p.Name)
			}
			continue
		}
		secret := o.sensitive[p.Name]
		note := ""
		if secret {
			note = " (the value is sensitive and not shown)"
		}
		v, err := parseParameterText(BaseType(p.Type), text, secret)
		if err != nil {
			add(p.Name, "parameter %q: value %s%s", p.Name, err, note)
			continue
		}
		errs, warns := checkValue(p, v, secret)
		for _, msg := range errs {
			add(p.Name, "parameter %q: value %s%s", p.Name, msg, note)
		}
		for _, msg := range warns {
			problems = append(problems, Problem{Severity: SeverityWarning, StepIndex: -1, Path: []string{"parameters", p.Name},
				Message: fmt.Sprintf("parameter %q: value %s%s", p.Name, msg, note)})
		}
		values[p.Name] = v
	}
	return values, problems
}

// shownValue is how a problem quotes a value: clipped and quoted, followed by a
// space; nothing at all for a secret.
func shownValue(s string, secret bool) string {
	if secret {
		return ""
	}
	return strconv.Quote(clip(s, maxShownValue)) + " "
}

// maxShownValue is how many characters of a value a problem quotes.
const maxShownValue = 60

// parseParameterText converts the text given for a parameter to its type. The
// error completes "value ...".
func parseParameterText(typ, text string, secret bool) (any, error) {
	q := shownValue(text, secret)
	switch typ {
	case "Integer":
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%sis not a whole number", q)
		}
		return i, nil
	case "Boolean":
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%sis not true or false", q)
	case "StringList":
		t := strings.TrimSpace(text)
		if strings.HasPrefix(t, "[") {
			var l []any
			if err := json.Unmarshal([]byte(t), &l); err != nil {
				if secret {
					return nil, errors.New("is not a JSON list of strings")
				}
				return nil, fmt.Errorf("%sis not a JSON list of strings: %v", q, err)
			}
			v, err := coerceStringList(NormalizeValue(l))
			if err != nil && secret {
				return nil, errors.New("is not a JSON list of strings")
			}
			return v, err
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
			return nil, fmt.Errorf("%sis not a JSON object", q)
		}
		return NormalizeValue(m), nil
	case "MapList":
		var l []map[string]any
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			return nil, fmt.Errorf("%sis not a JSON list of objects", q)
		}
		return NormalizeValue(l), nil
	}
	return text, nil
}

// checkParameterValue checks a literal value (a default or a given value)
// against a parameter's type and constraints. Each message completes "value
// ...": errors, then warnings (a value SSM converts, such as the text "5" for
// an Integer, or one the local check could not decide).
func checkParameterValue(p Parameter, v any) (errs, warns []string) { return checkValue(p, v, false) }

// checkValue is checkParameterValue; for a secret, messages name the rule
// broken and never the value.
func checkValue(p Parameter, v any, secret bool) (msgs, warns []string) {
	var texts []string // the strings allowedValues, allowedPattern and chars apply to
	kind := kindOf
	if secret {
		kind = kindName
	}
	one := func(msg string) ([]string, []string) { return []string{msg}, nil }
	switch BaseType(p.Type) {
	case "String":
		s, ok := scalarText(v)
		if !ok || v == nil {
			return one("must be a string, but it is " + kind(v))
		}
		texts = []string{s}
	case "Integer":
		i, err := coerceInteger(v)
		if err != nil {
			return one("must be a whole number, but it is " + kind(v))
		}
		if _, text := v.(string); text {
			warns = append(warns, fmt.Sprintf("is %s, text where a number belongs; SSM reads it as the number %d", kind(v), i))
		}
		texts = []string{strconv.FormatInt(i.(int64), 10)}
	case "Boolean":
		b, err := coerceBoolean(v)
		if err != nil {
			return one("must be true or false, but it is " + kind(v))
		}
		if _, text := v.(string); text {
			warns = append(warns, fmt.Sprintf("is %s, text where a boolean belongs; SSM reads it as %t", kind(v), b))
		}
		texts = []string{strconv.FormatBool(b.(bool))}
	case "StringList":
		l, ok := v.([]any)
		if !ok {
			return one(`must be a list of strings, e.g. ["a", "b"], but it is ` + kind(v))
		}
		for i, e := range l {
			s, ok := scalarText(e)
			if !ok || e == nil {
				return one(fmt.Sprintf("must be a list of strings, but element %d is %s", i+1, kind(e)))
			}
			texts = append(texts, s)
		}
		msgs = append(msgs, checkItems(p, len(l))...)
	case "StringMap":
		if _, ok := v.(map[string]any); !ok {
			return one("must be an object, but it is " + kind(v))
		}
	case "MapList":
		l, ok := v.([]any)
		if !ok {
			return one("must be a list of objects, but it is " + kind(v))
		}
		for i, e := range l {
			if _, ok := e.(map[string]any); !ok {
				return one(fmt.Sprintf("must be a list of objects, but element %d is %s", i+1, kind(e)))
			}
		}
		msgs = append(msgs, checkItems(p, len(l))...)
	}
	var re *compiledPattern
	if p.AllowedPattern != "" {
		if c := compileAllowedPattern(p.AllowedPattern); c.re != nil {
			re = c // a bad or unreadable pattern is reported on its own
		}
	}
	boolean := BaseType(p.Type) == "Boolean"
	for i, s := range texts {
		q := shownValue(s, secret)
		if secret && len(texts) > 1 {
			q = fmt.Sprintf("element %d ", i+1)
		}
		if len(p.AllowedValues) > 0 && !allowed(p.AllowedValues, s, boolean) {
			hint := ""
			if !secret {
				hint = didYouMean(s, p.AllowedValues)
			}
			msgs = append(msgs, fmt.Sprintf("%sis not one of the allowed values %s%s", q, quoteList(p.AllowedValues), hint))
		}
		if re != nil {
			switch matched, decided := re.match(s); {
			case !decided:
				warns = append(warns, fmt.Sprintf("%swas not checked against allowedPattern %s: the match took longer than %s",
					q, quoteIfLong(p.AllowedPattern), PatternMatchTimeout))
			case !matched:
				msgs = append(msgs, fmt.Sprintf("%sdoes not match allowedPattern %s", q, p.AllowedPattern))
			}
		}
		n := int64(utf8.RuneCountInString(s))
		if p.MinChars != nil && n < *p.MinChars {
			msgs = append(msgs, fmt.Sprintf("%sis shorter than minChars %d", q, *p.MinChars))
		}
		if p.MaxChars != nil && n > *p.MaxChars {
			msgs = append(msgs, fmt.Sprintf("%sis longer than maxChars %d", q, *p.MaxChars))
		}
	}
	return msgs, warns
}

// allowed reports whether s is one of the allowed values. For a Boolean
// parameter case does not count: YAML's True and JSON's true are the same
// boolean to SSM.
func allowed(values []string, s string, boolean bool) bool {
	for _, a := range values {
		if a == s || (boolean && strings.EqualFold(a, s)) {
			return true
		}
	}
	return false
}

// kindName names the kind of a model value without showing it.
func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a value of Go type %T", v)
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

package document

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Coerce converts a resolved value to the type an action input wants, the way
// SSM does: a one-element list becomes its element for a scalar input, an
// object becomes its JSON text for a String input, "5"
// becomes 5 for an Integer, "true" becomes true for a Boolean, a string becomes a
// one-element list for a StringList, and map values become lists for a
// StringListMap.
func Coerce(v any, t InputType) (any, error) {
	v = NormalizeValue(v)
	switch t {
	case TypeString:
		return coerceString(v)
	case TypeInteger:
		return coerceInteger(v)
	case TypeBoolean:
		return coerceBoolean(v)
	case TypeStringList:
		return coerceStringList(v)
	case TypeStringMap:
		return coerceMap(v, "StringMap")
	case TypeMapList:
		return coerceMapList(v)
	case TypeStringListMap:
		m, err := coerceMap(v, "StringListMap")
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			l, err := coerceStringList(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = l
		}
		return out, nil
	case TypeJSON, "":
		return v, nil
	}
	return nil, fmt.Errorf("unknown input type %q", t)
}

func single(v any) (any, bool, error) {
	l, ok := v.([]any)
	if !ok {
		return v, false, nil
	}
	if len(l) != 1 {
		return nil, true, fmt.Errorf("expected a single value, got a list of %d values", len(l))
	}
	return l[0], true, nil
}

func coerceString(v any) (any, error) {
	v, _, err := single(v)
	if err != nil {
		return nil, err
	}
	if s, ok := scalarText(v); ok && v != nil {
		return s, nil
	}
	if m, ok := v.(map[string]any); ok {
		// SSM passes an object given for a String input as its JSON text
		// (validation warns about it).
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("expected a string, got an object that cannot be written as JSON: %w", err)
		}
		return string(b), nil
	}
	return nil, fmt.Errorf("expected a string, got %s", kindOf(v))
}

func coerceInteger(v any) (any, error) {
	v, _, err := single(v)
	if err != nil {
		return nil, err
	}
	switch t := v.(type) {
	case int64:
		return t, nil
	case float64:
		return nil, fmt.Errorf("expected a whole number, got %s", formatNumber(t))
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			return i, nil
		}
	}
	return nil, fmt.Errorf("expected an integer, got %s", kindOf(v))
}

func coerceBoolean(v any) (any, error) {
	v, _, err := single(v)
	if err != nil {
		return nil, err
	}
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return nil, fmt.Errorf("expected true or false, got %s", kindOf(v))
}

func coerceStringList(v any) (any, error) {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			s, ok := scalarText(e)
			if !ok || e == nil {
				return nil, fmt.Errorf("expected a list of strings, but element %d is %s", i+1, kindOf(e))
			}
			out[i] = s
		}
		return out, nil
	case string, bool, int64, float64:
		s, _ := scalarText(t)
		return []any{s}, nil
	}
	return nil, fmt.Errorf("expected a list of strings, got %s", kindOf(v))
}

func coerceMap(v any, what string) (map[string]any, error) {
	v, _, err := single(v)
	if err != nil {
		return nil, err
	}
	switch t := v.(type) {
	case map[string]any:
		return t, nil
	case string:
		var m map[string]any
		if json.Unmarshal([]byte(t), &m) == nil && m != nil {
			return NormalizeValue(m).(map[string]any), nil
		}
	}
	return nil, fmt.Errorf("expected a %s (an object), got %s", what, kindOf(v))
}

func coerceMapList(v any) (any, error) {
	switch t := v.(type) {
	case []any:
		for i, e := range t {
			if _, ok := e.(map[string]any); !ok {
				return nil, fmt.Errorf("expected a list of objects, but element %d is %s", i+1, kindOf(e))
			}
		}
		return t, nil
	case map[string]any:
		return []any{t}, nil
	case string:
		var l []any
		if json.Unmarshal([]byte(t), &l) == nil {
			return coerceMapList(NormalizeValue(l))
		}
	}
	return nil, fmt.Errorf("expected a list of objects, got %s", kindOf(v))
}

// LiteralValue is the number or boolean that the text of an Integer or
// Boolean input stands for ("5", "true"), as SSM reads it; a template, or
// text that is no such literal, stays text (validation reports the latter).
func LiteralValue(text string, t InputType) any {
	if HasTemplate(text) {
		return text
	}
	var v any
	var err error
	switch t {
	case TypeInteger:
		v, err = coerceInteger(text)
	case TypeBoolean:
		v, err = coerceBoolean(text)
	default:
		return text
	}
	if err != nil {
		return text
	}
	return v
}

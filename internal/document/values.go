package document

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
)

// NormalizeValue returns a deep copy of v in the model's value set: string,
// bool, int64, float64, []any, map[string]any and nil. It is the one way to
// turn what JSON or YAML decoding, an SDK response or a caller hands in (int,
// []string, map[string]string, json.Number, pointers, ...) into values that
// templates, coercion and rendering work with; a whole float64 becomes int64.
// Unknown kinds become nil.
func NormalizeValue(v any) any {
	switch t := v.(type) {
	case nil, string, bool, int64:
		return t
	case float64:
		return normalNumber(t)
	case float32:
		return normalNumber(float64(t))
	case int:
		return int64(t)
	case int8:
		return int64(t)
	case int16:
		return int64(t)
	case int32:
		return int64(t)
	case uint:
		return normalNumber(float64(t))
	case uint8:
		return int64(t)
	case uint16:
		return int64(t)
	case uint32:
		return int64(t)
	case uint64:
		if t <= math.MaxInt64 {
			return int64(t)
		}
		return float64(t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return normalNumber(f)
		}
		return t.String()
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = NormalizeValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = NormalizeValue(e)
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = e
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = NormalizeValue(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil
		}
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[iter.Key().String()] = NormalizeValue(iter.Value().Interface())
		}
		return out
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return NormalizeValue(rv.Elem().Interface())
	case reflect.String:
		return rv.String()
	}
	return nil
}

// formatNumber spells a number the way encoding/json does.
func formatNumber(v any) string {
	switch t := v.(type) {
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		b, err := json.Marshal(t)
		if err != nil {
			return strconv.FormatFloat(t, 'g', -1, 64)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, bool, int64, float64:
		return true
	}
	return false
}

// scalarText is the text of a scalar as it appears when interpolated into a string.
func scalarText(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case int64, float64:
		return formatNumber(t), true
	case nil:
		return "", true
	}
	return "", false
}

// kindOf names the kind of a model value for messages.
func kindOf(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return "the string " + QuoteValue(t)
	case bool:
		return fmt.Sprintf("the boolean %t", t)
	case int64, float64:
		return "the number " + formatNumber(t)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a value of Go type %T", v)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Given reports whether an input holds a value: not nil, not an empty string,
// list or map.
func Given(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

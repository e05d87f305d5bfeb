package actions

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Binding turns the JSON-like values of inputs (document.NormalizeValue's:
// string, bool, int64, float64, []any, map[string]any) into the SDK's request
// structs: the nested inputs an action passes through to an API (JSON
// inputs), and the API parameters of the generic API actions, which the
// catalogue does not type.

// bind fills dst (a pointer to an SDK struct, slice or map) from a JSON-like
// value. Field names match case-insensitively, as in JSON, but scalars are
// converted leniently ("8" fills an *int32), which plain encoding/json would
// refuse, and unknown fields are errors that list the known ones.
func bind(dst any, v any, path string) error {
	return bindValue(reflect.ValueOf(dst).Elem(), v, path)
}

var timeType = reflect.TypeOf(time.Time{})

func bindValue(dst reflect.Value, v any, path string) error {
	if v == nil {
		return nil
	}
	if dst.Kind() == reflect.Pointer {
		if dst.IsNil() {
			dst.Set(reflect.New(dst.Type().Elem()))
		}
		return bindValue(dst.Elem(), v, path)
	}
	if dst.Type() == timeType {
		s, _ := scalarString(v)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("%s: want an RFC 3339 time, got %q", path, s)
		}
		dst.Set(reflect.ValueOf(t))
		return nil
	}
	switch dst.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %s", path, describe(v))
		}
		return bindStruct(dst, m, path)
	case reflect.Slice:
		if dst.Type().Elem().Kind() == reflect.Uint8 {
			s, _ := scalarString(v)
			dst.SetBytes([]byte(s))
			return nil
		}
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		out := reflect.MakeSlice(dst.Type(), len(items), len(items))
		for i, it := range items {
			if err := bindValue(out.Index(i), it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(out)
		return nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a map, got %s", path, describe(v))
		}
		if dst.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("%s: unsupported map key type %s", path, dst.Type().Key())
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for k, e := range m {
			ev := reflect.New(dst.Type().Elem()).Elem()
			if err := bindValue(ev, e, path+"."+k); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), ev)
		}
		dst.Set(out)
		return nil
	case reflect.String:
		s, ok := scalarString(v)
		if !ok {
			return fmt.Errorf("%s: want a string, got %s", path, describe(v))
		}
		dst.SetString(s)
		return nil
	case reflect.Bool:
		switch x := v.(type) {
		case bool:
			dst.SetBool(x)
			return nil
		default:
			s, _ := scalarString(x)
			b, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("%s: want true or false, got %q", path, s)
			}
			dst.SetBool(b)
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := toInt(v)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if dst.OverflowInt(n) {
			return fmt.Errorf("%s: %d is out of range", path, n)
		}
		dst.SetInt(n)
		return nil
	case reflect.Float32, reflect.Float64:
		f, err := toFloat(v)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		dst.SetFloat(f)
		return nil
	case reflect.Interface:
		rv := reflect.ValueOf(v)
		if rv.Type().AssignableTo(dst.Type()) {
			dst.Set(rv)
			return nil
		}
		return fmt.Errorf("%s: values of type %s cannot be given here", path, dst.Type())
	}
	return fmt.Errorf("%s: unsupported field type %s", path, dst.Type())
}

func bindStruct(dst reflect.Value, m map[string]any, path string) error {
	t := dst.Type()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := fieldByName(t, k)
		if !ok {
			return fmt.Errorf("%s: unknown field %q (known: %s)", pathOr(path, t.Name()), k, strings.Join(fieldNames(t), ", "))
		}
		if err := bindValue(dst.FieldByIndex(f.Index), m[k], joinPath(path, f.Name)); err != nil {
			return err
		}
	}
	return nil
}

func fieldByName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && !f.Anonymous && strings.EqualFold(f.Name, name) && f.Name != "ResultMetadata" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && !f.Anonymous && f.Name != "ResultMetadata" {
			out = append(out, f.Name)
		}
	}
	return out
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func pathOr(path, alt string) string {
	if path == "" {
		return alt
	}
	return path
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", v)
	}
	return fmt.Sprintf("%v", v)
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if x != float64(int64(x)) {
			return 0, fmt.Errorf("want a whole number, got %v", x)
		}
		return int64(x), nil
	}
	s, _ := scalarString(v)
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a whole number, got %q", s)
	}
	return n, nil
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	}
	s, _ := scalarString(v)
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return f, nil
}

// scalarString renders a scalar as text: a one-element list stands for its
// element (templates resolve to whatever the referenced output was), and
// anything else is written as JSON.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case []any:
		if len(x) == 1 {
			return scalarString(x[0])
		}
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b), true
	}
	return fmt.Sprint(v), true
}

package actions

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// The engine hands inputs over already coerced to their declared types; these
// helpers still accept the neighbouring shapes (a one-element list for a
// string, a numeric string for an integer) because templates resolve to
// whatever the referenced output was.

// str returns input k as a string ("" when absent).
func str(in map[string]any, k string) string {
	s, _ := scalarString(in[k])
	return s
}

// strPtr is str as an SDK pointer, nil when empty.
func strPtr(in map[string]any, k string) *string {
	if s := str(in, k); s != "" {
		return aws.String(s)
	}
	return nil
}

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
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case []any:
		if len(x) == 1 {
			return scalarString(x[0])
		}
	case []string:
		if len(x) == 1 {
			return x[0], true
		}
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b), true
	}
	return fmt.Sprint(v), true
}

// required returns input k or an error naming it.
func required(in map[string]any, k string) (string, error) {
	s := str(in, k)
	if s == "" {
		return "", fmt.Errorf("input %s is required", k)
	}
	return s, nil
}

// strList returns input k as a list of strings.
func strList(in map[string]any, k string) []string {
	switch x := in[k].(type) {
	case nil:
		return nil
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := scalarString(e); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case string:
		if x == "" {
			return nil
		}
		// A StringList that arrived as JSON text.
		var l []string
		if strings.HasPrefix(strings.TrimSpace(x), "[") && json.Unmarshal([]byte(x), &l) == nil {
			return l
		}
		return []string{x}
	default:
		s, _ := scalarString(x)
		return []string{s}
	}
}

// boolean returns input k as a bool and whether it was given.
func boolean(in map[string]any, k string) (bool, bool, error) {
	v, ok := in[k]
	if !ok || v == nil {
		return false, false, nil
	}
	var b bool
	if err := bindValue(reflect.ValueOf(&b).Elem(), v, k); err != nil {
		return false, true, err
	}
	return b, true, nil
}

// integer returns input k as an int64 and whether it was given.
func integer(in map[string]any, k string) (int64, bool, error) {
	v, ok := in[k]
	if !ok || v == nil {
		return 0, false, nil
	}
	var n int64
	if err := bindValue(reflect.ValueOf(&n).Elem(), v, k); err != nil {
		return 0, true, err
	}
	return n, true, nil
}

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
			if ss, isStrings := v.([]string); isStrings {
				for _, s := range ss {
					items = append(items, s)
				}
			} else {
				items = []any{v}
			}
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
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float64:
		if x != float64(int64(x)) {
			return 0, fmt.Errorf("want a whole number, got %v", x)
		}
		return int64(x), nil
	case json.Number:
		return x.Int64()
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
	case int:
		return float64(x), nil
	case json.Number:
		return x.Float64()
	}
	s, _ := scalarString(v)
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return f, nil
}

// strAnyList converts strings to the []any the engine stores outputs as.
func strAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// systemTagPrefix marks the tags cleanup and crash recovery rely on; a user's
// tag may not replace them.
const systemTagPrefix = "amibake:"

// mergeTags adds the run's tags to given ones: a user's own value wins over a
// default tag, except for the run's system tags.
func mergeTags(given []ec2types.Tag, run map[string]string) []ec2types.Tag {
	out := slices.Clone(given)
	idx := map[string]int{}
	for i, t := range out {
		idx[aws.ToString(t.Key)] = i
	}
	for _, t := range awsx.EC2Tags(run) {
		k := aws.ToString(t.Key)
		if i, ok := idx[k]; ok {
			if strings.HasPrefix(k, systemTagPrefix) {
				out[i] = t
			}
			continue
		}
		out = append(out, t)
	}
	return out
}

// withRunTags returns specs with the run's tags merged into the spec of each
// resource type in types, adding a spec for a type that has none.
func withRunTags(specs []ec2types.TagSpecification, run map[string]string, types ...ec2types.ResourceType) []ec2types.TagSpecification {
	out := slices.Clone(specs)
	for _, rt := range types {
		found := false
		for i := range out {
			if out[i].ResourceType == rt {
				out[i].Tags = mergeTags(out[i].Tags, run)
				found = true
			}
		}
		if !found && len(run) > 0 {
			out = append(out, ec2types.TagSpecification{ResourceType: rt, Tags: awsx.EC2Tags(run)})
		}
	}
	return out
}

// tail returns the last lines of s, at most maxLines lines and maxBytes bytes,
// marking what was cut.
func tail(s string, maxLines, maxBytes int) string {
	s = strings.TrimRight(s, "\n")
	cut := false
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
		if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
			s = s[i+1:]
		}
		cut = true
	}
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
		cut = true
	}
	out := strings.Join(lines, "\n")
	if cut {
		out = "...\n" + out
	}
	return out
}

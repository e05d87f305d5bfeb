package actions

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// The JSON inputs of an action (block_device_mappings, metadata_options, ...)
// go to an AWS API unchanged, so their shape is the API's: the SDK's request
// struct says which are lists and which objects, and which field names exist.
// Checking them at plan time turns an apply that fails after launching a
// builder into an error that shows the shape to write.

// requestTypes are the SDK request structs of the actions whose JSON inputs
// are fields of them, by action name.
var requestTypes = map[string]reflect.Type{}

// requestShape declares that the JSON inputs of an action are the fields of
// the same name of request, an SDK input struct; called from the action's
// init, next to register.
func requestShape(name string, request any) {
	requestTypes[name] = reflect.TypeOf(request)
}

// JSONInputProblems checks every JSON input of the document's steps whose
// action declares its request struct: lists where the API takes a list,
// objects where it takes an object, and only field names it knows. Templates,
// whole or inside, stand for values known at run time and pass.
func JSONInputProblems(doc *document.Document) []document.Problem {
	var out []document.Problem
	for i, s := range doc.MainSteps {
		rt, ok := requestTypes[s.Action]
		if !ok {
			continue
		}
		spec, ok := document.LookupAction(s.Action)
		if !ok {
			continue
		}
		for _, in := range spec.Inputs {
			v, set := s.Inputs[in.Name]
			if !set || v == nil || in.Type != document.TypeJSON {
				continue
			}
			f, ok := rt.FieldByName(in.Name)
			if !ok {
				continue
			}
			if msg := shapeProblem(f.Type, document.NormalizeValue(v), in.Name); msg != "" {
				out = append(out, document.Problem{
					Step: s.Name, StepIndex: i, Path: []string{"inputs", in.Name},
					Message: fmt.Sprintf("%s. Write %s with jsonencode(...) in the shape AWS takes: jsonencode(%s)",
						msg, in.Name, ShapeOf(f.Type, 2)),
				})
			}
		}
	}
	return out
}

// shapeProblem says where v does not have the shape of t; "" when it has.
func shapeProblem(t reflect.Type, v any, path string) string {
	if s, ok := v.(string); ok && document.HasTemplate(s) {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || t == timeType {
		return ""
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s must be an object, but it is %s", path, describe(v))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fieldByName(t, k)
			if !ok {
				return fmt.Sprintf("%s has no field %q (its fields: %s)", path, k, strings.Join(fieldNames(t), ", "))
			}
			if msg := shapeProblem(f.Type, m[k], path+"."+f.Name); msg != "" {
				return msg
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return ""
		}
		l, ok := v.([]any)
		if !ok {
			return fmt.Sprintf("%s must be a list, but it is %s", path, describe(v))
		}
		for i, e := range l {
			if msg := shapeProblem(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i)); msg != "" {
				return msg
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s must be an object, but it is %s", path, describe(v))
		}
		for _, k := range sortedKeys(m) {
			if msg := shapeProblem(t.Elem(), m[k], path+"."+k); msg != "" {
				return msg
			}
		}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Float32, reflect.Float64:
		switch v.(type) {
		case map[string]any, []any:
			return fmt.Sprintf("%s must be a single value, but it is %s", path, describe(v))
		}
	}
	return ""
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ShapeOf spells the shape of an SDK type as HCL for jsonencode, depth levels
// of objects deep: [{ DeviceName = string, Ebs = { ... }, ... }].
func ShapeOf(t reflect.Type, depth int) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "string"
	case t.Kind() == reflect.Struct:
		if depth <= 0 {
			return "{ ... }"
		}
		names := fieldNames(t)
		parts := make([]string, len(names))
		for i, n := range names {
			f, _ := t.FieldByName(n)
			parts[i] = n + " = " + ShapeOf(f.Type, depth-1)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		return "[" + ShapeOf(t.Elem(), depth) + "]"
	case t.Kind() == reflect.Map:
		return "{ name = " + ShapeOf(t.Elem(), depth-1) + " }"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return "number"
	}
	return "string"
}

// InputShape spells the shape of an action's JSON input as the API takes it,
// one level of objects deep, for documentation; false when the action
// declares no request struct with that field.
func InputShape(action, input string) (string, bool) {
	rt, ok := requestTypes[action]
	if !ok {
		return "", false
	}
	f, ok := rt.FieldByName(input)
	if !ok {
		return "", false
	}
	return ShapeOf(f.Type, 1), true
}

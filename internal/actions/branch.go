package actions

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// branch is aws:branch: the first choice that holds names the next step, else
// Default.
type branch struct{}

func init() { register("aws:branch", branch{}) }

func (branch) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	choices, ok := in["Choices"].([]any)
	if !ok || len(choices) == 0 {
		return Result{}, fmt.Errorf("input Choices is required (a list of choices)")
	}
	for i, c := range choices {
		m, ok := c.(map[string]any)
		if !ok {
			return Result{}, fmt.Errorf("input Choices[%d]: want an object", i)
		}
		next := str(m, "NextStep")
		if next == "" {
			return Result{}, fmt.Errorf("input Choices[%d]: NextStep is required", i)
		}
		hit, err := evalChoice(m, fmt.Sprintf("Choices[%d]", i))
		if err != nil {
			return Result{}, fmt.Errorf("input %w", err)
		}
		if hit {
			return Result{Outputs: map[string]any{}, NextStep: next}, nil
		}
	}
	if d := str(in, "Default"); d != "" {
		return Result{Outputs: map[string]any{}, NextStep: d}, nil
	}
	return Result{}, fmt.Errorf("no choice matched and there is no Default")
}

var operators = []string{
	"StringEquals", "EqualsIgnoreCase", "StartsWith", "EndsWith", "Contains",
	"NumericEquals", "NumericGreater", "NumericLesser", "NumericGreaterOrEquals", "NumericLesserOrEquals",
	"BooleanEquals",
}

// evalChoice evaluates one choice (or a nested And/Or/Not operand).
func evalChoice(m map[string]any, path string) (bool, error) {
	if v, ok := m["And"]; ok {
		return evalAll(v, path+".And", true)
	}
	if v, ok := m["Or"]; ok {
		return evalAll(v, path+".Or", false)
	}
	if v, ok := m["Not"]; ok {
		sub, ok := v.(map[string]any)
		if !ok {
			if l, isList := v.([]any); isList && len(l) == 1 {
				sub, ok = l[0].(map[string]any)
			}
		}
		if !ok {
			return false, fmt.Errorf("%s.Not: want one choice object", path)
		}
		hit, err := evalChoice(sub, path+".Not")
		return !hit, err
	}
	variable, ok := m["Variable"]
	if !ok {
		return false, fmt.Errorf("%s: Variable is required", path)
	}
	for _, op := range operators {
		want, ok := m[op]
		if !ok {
			continue
		}
		hit, err := compare(op, variable, want)
		if err != nil {
			return false, fmt.Errorf("%s.%s: %w", path, op, err)
		}
		return hit, nil
	}
	return false, fmt.Errorf("%s: no operator (one of And, Or, Not, %s)", path, strings.Join(sortedOps(), ", "))
}

func evalAll(v any, path string, and bool) (bool, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return false, fmt.Errorf("%s: want a list of choices", path)
	}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return false, fmt.Errorf("%s[%d]: want a choice object", path, i)
		}
		hit, err := evalChoice(m, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return false, err
		}
		if hit != and {
			return hit, nil // And: first false decides; Or: first true
		}
	}
	return and, nil
}

func sortedOps() []string {
	out := append([]string(nil), operators...)
	sort.Strings(out)
	return out
}

func compare(op string, variable, want any) (bool, error) {
	// A list-valued variable (a step's StringList output) with one element is
	// that element; Contains also looks inside longer lists.
	if l, ok := variable.([]any); ok {
		if op == "Contains" && len(l) != 1 {
			w, _ := scalarString(want)
			for _, e := range l {
				if s, _ := scalarString(e); s == w {
					return true, nil
				}
			}
			return false, nil
		}
		if len(l) == 1 {
			variable = l[0]
		}
	}
	vs, _ := scalarString(variable)
	ws, _ := scalarString(want)
	switch op {
	case "StringEquals":
		return vs == ws, nil
	case "EqualsIgnoreCase":
		return strings.EqualFold(vs, ws), nil
	case "StartsWith":
		return strings.HasPrefix(vs, ws), nil
	case "EndsWith":
		return strings.HasSuffix(vs, ws), nil
	case "Contains":
		return strings.Contains(vs, ws), nil
	case "BooleanEquals":
		vb, err := strconv.ParseBool(strings.TrimSpace(vs))
		if err != nil {
			return false, fmt.Errorf("variable %q is not a boolean", vs)
		}
		wb, err := strconv.ParseBool(strings.TrimSpace(ws))
		if err != nil {
			return false, fmt.Errorf("%q is not a boolean", ws)
		}
		return vb == wb, nil
	}
	vf, err := toFloat(variable)
	if err != nil {
		return false, fmt.Errorf("variable: %w", err)
	}
	wf, err := toFloat(want)
	if err != nil {
		return false, err
	}
	switch op {
	case "NumericEquals":
		return vf == wf, nil
	case "NumericGreater":
		return vf > wf, nil
	case "NumericLesser":
		return vf < wf, nil
	case "NumericGreaterOrEquals":
		return vf >= wf, nil
	case "NumericLesserOrEquals":
		return vf <= wf, nil
	}
	return false, fmt.Errorf("unknown operator %s", op)
}

package document

import (
	"fmt"
	"strconv"
	"strings"
)

// step checks one step: name, action, flow fields, inputs, outputs and the
// templates in its inputs.
func (v *validator) step(c *stepCtx) {
	s := c.step
	switch {
	case s.Name == "":
		c.problem([]string{"name"}, "the step has no name")
	case !stepNameRE.MatchString(s.Name):
		c.problem([]string{"name"}, "step name %s may contain only letters, digits and underscores ([A-Za-z0-9_]+)", QuoteValue(s.Name))
	}
	if s.Name != "" {
		if first, dup := v.seen[s.Name]; dup {
			c.problem([]string{"name"}, "duplicate step name %s: %s already has it", QuoteValue(s.Name), first)
		} else {
			v.seen[s.Name] = c.label()
		}
	}
	spec, known := v.action(c)
	v.flow(c)
	if known {
		v.inputs(c, spec)
	}
	v.stepOutputs(c)
	// Steps nested in a loop are checked by the loop, not as its inputs.
	inputs := s.Inputs
	if s.Action == "aws:loop" {
		inputs = withoutKey(inputs, "Steps")
	}
	v.templates(inputs, []string{"inputs"}, refContext{where: "step inputs", step: c}, c.report)
	if s.Action == "aws:loop" {
		v.loop(c)
	}
}

func withoutKey(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, e := range m {
		if k != key {
			out[k] = e
		}
	}
	return out
}

func (v *validator) action(c *stepCtx) (ActionSpec, bool) {
	s := c.step
	if s.Action == "" {
		c.problem([]string{"action"}, "the step has no action; e.g. \"action\": \"aws:runInstances\"")
		return ActionSpec{}, false
	}
	spec, ok := LookupAction(s.Action)
	if ok {
		return spec, true
	}
	cand := s.Action
	if !strings.Contains(cand, ":") {
		cand = "aws:" + cand
	}
	hint := didYouMean(cand, actionNames())
	if hint == "" && cand != s.Action {
		if _, ok := LookupAction(cand); ok {
			hint = fmt.Sprintf("; did you mean %s?", QuoteValue(cand))
		}
	}
	c.problem([]string{"action"}, "unknown action %s%s", QuoteValue(s.Action), hint)
	return ActionSpec{}, false
}

// flow checks the fields that decide where the run goes next.
func (v *validator) flow(c *stepCtx) {
	s := c.step
	if s.MaxAttempts != nil && *s.MaxAttempts < 1 {
		c.problem([]string{"maxAttempts"}, "maxAttempts must be at least 1, not %d", *s.MaxAttempts)
	}
	if s.MaxAttempts != nil && *s.MaxAttempts > MaxAttempts {
		c.problem([]string{"maxAttempts"}, "maxAttempts is %d, more than %d, the most attempts a step may make; "+
			"retry fewer times, or give the step a longer timeoutSeconds", *s.MaxAttempts, MaxAttempts)
	}
	if s.TimeoutSeconds != nil && *s.TimeoutSeconds < 1 {
		c.problem([]string{"timeoutSeconds"}, "timeoutSeconds must be at least 1, not %d", *s.TimeoutSeconds)
	}
	switch f := s.OnFailure; {
	case f == "" || f == "Abort" || f == "Continue":
	case strings.HasPrefix(f, "step:"):
		v.jump(c, []string{"onFailure"}, "onFailure", strings.TrimSpace(strings.TrimPrefix(f, "step:")))
	default:
		c.problem([]string{"onFailure"}, "onFailure must be Abort, Continue or step:NAME, not %s%s", QuoteValue(f), v.jumpHint(f, "Abort", "Continue"))
	}
	switch f := s.OnCancel; {
	case f == "" || f == "Abort":
	case strings.HasPrefix(f, "step:"):
		target := strings.TrimSpace(strings.TrimPrefix(f, "step:"))
		v.jump(c, []string{"onCancel"}, "onCancel", target)
		if info, ok := v.steps[target]; ok && contains(noCancelTargets, info.action) {
			c.problem([]string{"onCancel"}, "onCancel jumps to step %s, a %s step; a cancelled run cannot go on to %s (the Automation actions reference excludes it); jump to another step",
				QuoteValue(target), info.action, strings.Join(noCancelTargets, ", "))
		}
	case f == "Continue":
		c.problem([]string{"onCancel"}, "onCancel cannot be Continue: a cancelled run stops; use Abort or step:NAME")
	default:
		c.problem([]string{"onCancel"}, "onCancel must be Abort or step:NAME, not %s%s", QuoteValue(f), v.jumpHint(f, "Abort"))
	}
	if s.NextStep != "" {
		v.jump(c, []string{"nextStep"}, "nextStep", s.NextStep)
		if s.IsEnd != nil && *s.IsEnd {
			c.problem([]string{"nextStep"}, "isEnd is true and nextStep is %s: a step that ends the run cannot go on to another; remove one of them", QuoteValue(s.NextStep))
		}
	}
}

// noCancelTargets are the actions onCancel may not move to: "The onCancel
// property doesn't support moving to the following actions" (AWS Systems
// Manager User Guide, "Systems Manager Automation actions reference",
// properties shared by all actions).
var noCancelTargets = []string{
	"aws:approve", "aws:copyImage", "aws:createImage", "aws:createStack",
	"aws:createTags", "aws:pause", "aws:runInstances", "aws:sleep",
}

// jump checks that a jump target names a step.
// jumpHint suggests the fix for an onFailure/onCancel value: step:NAME when
// it names a step (the usual slip), else the closest keyword.
func (v *validator) jumpHint(f string, keywords ...string) string {
	if _, ok := v.steps[f]; ok {
		return fmt.Sprintf("; to jump to step %s, write %s", QuoteValue(f), QuoteValue("step:"+f))
	}
	return didYouMean(f, keywords)
}

func (v *validator) jump(c *stepCtx, path []string, what, target string) {
	if target == "" {
		c.problem(path, "%s names no step; write step:NAME", what)
		return
	}
	if HasTemplate(target) {
		return
	}
	if _, ok := v.steps[target]; !ok {
		c.problem(path, "%s jumps to step %s, which does not exist%s", what, QuoteValue(target), didYouMean(target, v.names))
	}
}

func (v *validator) inputs(c *stepCtx, spec ActionSpec) {
	s := c.step
	present := func(name string) bool {
		val, ok := s.Inputs[name]
		return ok && val != nil
	}
	for _, in := range spec.Inputs {
		if in.Required && !present(in.Name) {
			c.problem([]string{"inputs", in.Name}, "missing required input %q for %s", in.Name, spec.Name)
		}
	}
	known := make([]string, len(spec.Inputs))
	for i, in := range spec.Inputs {
		known[i] = in.Name
	}
	for _, name := range sortedKeys(s.Inputs) {
		val := NormalizeValue(s.Inputs[name])
		in, ok := spec.Input(name)
		if !ok {
			if !spec.OpenInputs {
				msg := fmt.Sprintf("unknown input %s for %s", QuoteValue(name), spec.Name)
				if hint := didYouMean(name, known); hint != "" {
					msg += hint
				} else if len(known) == 0 {
					msg += "; it takes no inputs"
				} else if len(known) <= 8 {
					msg += "; its inputs are " + strings.Join(known, ", ")
				}
				c.problem([]string{"inputs", name}, "%s", msg)
			}
			continue
		}
		if val == nil {
			continue
		}
		msg, warn := typeProblem(val, in.Type)
		if msg != "" {
			c.problem([]string{"inputs", name}, "%s %s", quoteIfLong(name), msg)
			continue
		}
		if warn != "" {
			c.warning([]string{"inputs", name}, "%s %s", quoteIfLong(name), warn)
		}
		v.enum(c, in, val)
	}
	for _, group := range spec.RequireOneOf {
		found := false
		for _, n := range group {
			found = found || present(n)
		}
		if !found {
			c.problem([]string{"inputs"}, "one of the inputs %s is required for %s", strings.Join(group, ", "), spec.Name)
		}
	}
	for _, group := range spec.Exclusive {
		var set []string
		for _, n := range group {
			if present(n) {
				set = append(set, n)
			}
		}
		if len(set) > 1 {
			c.problem([]string{"inputs", set[1]}, "inputs %s cannot be used together; keep one", strings.Join(set, " and "))
		}
	}
	switch spec.Name {
	case "aws:createImage", "aws:copyImage":
		imageName(c)
	case "aws:branch":
		v.branch(c)
	case "aws:sleep":
		sleepFormats(c)
	case "aws:updateVariable":
		v.updateVariable(c)
	}
}

func (v *validator) enum(c *stepCtx, in InputSpec, val any) {
	if len(in.Enum) == 0 {
		return
	}
	check := func(path []string, e any) {
		s, ok := e.(string)
		if !ok || HasTemplate(s) {
			return
		}
		for _, allowed := range in.Enum {
			if s == allowed {
				return
			}
		}
		c.problem(path, "bad value %s for %s%s", QuoteValue(s), in.Name, hintList(s, in.Enum, "allowed values"))
	}
	if l, ok := val.([]any); ok {
		for i, e := range l {
			check([]string{"inputs", in.Name, strconv.Itoa(i)}, e)
		}
		return
	}
	check([]string{"inputs", in.Name}, val)
}

// typeProblem explains why a literal does not fit an input type (msg), or,
// when SSM converts it to the type, says so (warn). A string holding a
// template fits anywhere: its value is known at run time.
func typeProblem(v any, t InputType) (msg, warn string) {
	if s, ok := v.(string); ok && HasTemplate(s) {
		return "", ""
	}
	switch t {
	case TypeString:
		if isScalar(v) {
			return "", ""
		}
		if l, ok := v.([]any); ok && len(l) == 1 {
			return "must be a single value, not a list; write the value without brackets", ""
		}
		if _, ok := v.(map[string]any); ok {
			// SSM takes an object for a String input and passes its JSON text
			// (AWS's own ASGChangeStandbyState runbook gives aws:invokeLambdaFunction
			// "Payload": {}).
			return "", "is an object where a string belongs; SSM passes it as its JSON text"
		}
		return "must be a single value (a string), but it is " + kindOf(v), ""
	case TypeInteger:
		switch t := v.(type) {
		case int64:
			return "", ""
		case string:
			if i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
				return "", fmt.Sprintf("is %s, text where a number belongs; SSM reads it as the number %d", kindOf(v), i)
			}
		}
		return "must be a whole number, but it is " + kindOf(v), ""
	case TypeBoolean:
		switch t := v.(type) {
		case bool:
			return "", ""
		case string:
			if l := strings.ToLower(strings.TrimSpace(t)); l == "true" || l == "false" {
				return "", fmt.Sprintf("is %s, text where a boolean belongs; SSM reads it as %s", kindOf(v), l)
			}
		}
		return "must be true or false, but it is " + kindOf(v), ""
	case TypeStringList:
		l, ok := v.([]any)
		if !ok {
			return fmt.Sprintf(`must be a list of strings, e.g. ["a", "b"], but it is %s`, kindOf(v)), ""
		}
		for i, e := range l {
			if !isScalar(e) {
				return fmt.Sprintf("must be a list of strings, but element %d is %s", i+1, kindOf(e)), ""
			}
		}
	case TypeStringMap:
		if _, ok := v.(map[string]any); !ok {
			return "must be an object of strings, but it is " + kindOf(v), ""
		}
	case TypeMapList:
		l, ok := v.([]any)
		if !ok {
			return `must be a list of objects, e.g. [{"Key": "k", "Value": "v"}], but it is ` + kindOf(v), ""
		}
		for i, e := range l {
			if _, ok := e.(map[string]any); !ok {
				if s, ok := e.(string); ok && HasTemplate(s) {
					continue
				}
				return fmt.Sprintf("must be a list of objects, but element %d is %s", i+1, kindOf(e)), ""
			}
		}
	case TypeStringListMap:
		m, ok := v.(map[string]any)
		if !ok {
			return `must be an object whose values are lists of strings, e.g. {"commands": ["echo hi"]}, but it is ` + kindOf(v), ""
		}
		for _, k := range sortedKeys(m) {
			e := m[k]
			if isScalar(e) {
				continue
			}
			l, ok := e.([]any)
			if !ok {
				return fmt.Sprintf("entry %s must be a list of strings, but it is %s", QuoteValue(k), kindOf(e)), ""
			}
			for i, x := range l {
				if !isScalar(x) {
					return fmt.Sprintf("entry %s must be a list of strings, but element %d is %s", QuoteValue(k), i+1, kindOf(x)), ""
				}
			}
		}
	}
	return "", ""
}

func containsTemplate(v any) bool {
	found := false
	_ = walkStrings(v, nil, func(s string, _ []string) error {
		found = found || HasTemplate(s)
		return nil
	})
	return found
}

// stepOutputs checks the outputs a step declares.
func (v *validator) stepOutputs(c *stepCtx) {
	seen := map[string]bool{}
	types := []string{"String", "Integer", "Boolean", "StringList", "StringMap", "MapList"}
	for i, o := range c.step.Outputs {
		path := []string{"outputs", strconv.Itoa(i)}
		switch {
		case o.Name == "":
			c.problem(path, "output %d has no Name", i+1)
		case seen[o.Name]:
			c.problem(path, "output %s is declared twice", QuoteValue(o.Name))
		}
		seen[o.Name] = true
		if !strings.HasPrefix(o.Selector, "$") {
			c.problem(append(path, "Selector"), "Selector %s of output %s must be a JSONPath starting with $, e.g. $.Images[0].ImageId", QuoteValue(o.Selector), QuoteValue(o.Name))
		}
		ok := false
		for _, t := range types {
			ok = ok || o.Type == t
		}
		switch {
		case o.Type == "":
			// The actions reference marks Type required, yet SSM accepts an
			// output without one and reads it as a String: Amazon-owned runbooks
			// (AWSSupport-SetupIPMonitoringFromVPC) declare outputs with Name
			// and Selector only.
			c.warning(append(path, "Type"), "output %s has no Type; SSM reads it as a String: write \"Type\": \"String\"", QuoteValue(o.Name))
		case !ok:
			c.problem(append(path, "Type"), "Type %s of output %s is not a type%s", QuoteValue(o.Type), QuoteValue(o.Name), hintList(o.Type, types, "types"))
		}
	}
}

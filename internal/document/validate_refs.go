package document

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// refContext says which templates are allowed where.
type refContext struct {
	where string   // for messages: "step inputs", "a parameter default", "assumeRole"
	step  *stepCtx // set for step inputs: step outputs are allowed
	ssm   bool     // {{ ssm:/name }} is allowed (parameter defaults only)
	self  string   // the parameter or variable whose default this is
}

// templates checks every template in val.
func (v *validator) templates(val any, path []string, rc refContext, report func([]string, string, Severity)) {
	_ = walkStrings(val, path, func(s string, p []string) error {
		if !HasTemplate(s) {
			return nil
		}
		spans, err := scanTemplates(s)
		if err != nil {
			report(append([]string(nil), p...), err.Error(), SeverityError)
			return nil
		}
		for _, sp := range spans {
			if msg := v.refProblem(sp.ref, rc); msg != "" {
				report(append([]string(nil), p...), msg, SeverityError)
			} else if msg := v.refWarning(sp.ref); msg != "" {
				report(append([]string(nil), p...), msg, SeverityWarning)
			}
		}
		return nil
	})
}

func (v *validator) paramAndVarNames() []string {
	var names []string
	for _, p := range v.d.Parameters {
		names = append(names, p.Name)
	}
	for _, p := range v.d.Variables {
		names = append(names, p.Name)
	}
	return names
}

// refProblem explains why ref cannot be used in rc, or returns "".
func (v *validator) refProblem(ref Ref, rc refContext) string {
	raw := quoteIfLong(ref.Raw)
	switch ref.Kind {
	case RefParameter:
		if ref.IsVariable() {
			if v.vars[ref.Name] {
				return ""
			}
			var names []string
			for _, va := range v.d.Variables {
				names = append(names, va.Name)
			}
			return fmt.Sprintf("%s names no variable declared in variables%s", raw, didYouMean(ref.Name, names))
		}
		if ref.Name == rc.self {
			return fmt.Sprintf("%s: a default cannot refer to its own parameter", raw)
		}
		if v.params[ref.Name] || v.vars[ref.Name] || contains(PseudoParameters, ref.Name) {
			return ""
		}
		if _, isStep := v.steps[ref.Name]; isStep {
			return fmt.Sprintf("%s names step %s but no output; write {{ %s.OutputName }}", raw, QuoteValue(ref.Name), quoteIfLong(ref.Name))
		}
		return fmt.Sprintf("%s names no parameter%s", raw, didYouMean(ref.Name, v.paramAndVarNames()))
	case RefStepOutput:
		if rc.step == nil {
			return fmt.Sprintf("%s: step outputs cannot be used in %s", raw, rc.where)
		}
		info, ok := v.steps[ref.Step]
		if !ok {
			return fmt.Sprintf("%s names step %s, which does not exist%s", raw, QuoteValue(ref.Step), didYouMean(ref.Step, v.names))
		}
		c := rc.step
		if info.index > c.index {
			return fmt.Sprintf("%s refers to step %s, which comes later (step %d); a step can only use outputs of earlier steps", raw, QuoteValue(ref.Step), info.index+1)
		}
		if info.index == c.index && !c.loop {
			return fmt.Sprintf("%s refers to an output of this same step; a step can only use outputs of earlier steps", raw)
		}
		if msg := outputProblem(ref.Step, ref.Output, info); msg != "" {
			return raw + ": " + msg
		}
	case RefGlobal:
		for _, g := range Globals {
			if ref.Name == g {
				return ""
			}
		}
		names := make([]string, len(Globals))
		for i, g := range Globals {
			names[i] = "global:" + g
		}
		return fmt.Sprintf("%s names an unknown global%s", raw, hintList("global:"+ref.Name, names, "the globals"))
	case RefAutomation:
		if !contains(AutomationVariables, ref.Name) {
			return fmt.Sprintf("%s names an unknown automation variable; the only one is automation:EXECUTION_ID", raw)
		}
	case RefSSM:
		if !rc.ssm {
			return fmt.Sprintf("%s: {{ssm:...}} is only allowed in parameter defaults; declare a parameter with \"default\": \"{{ssm:%s}}\" and use {{ thatParameter }} in %s",
				raw, quoteIfLong(ref.Name), rc.where)
		}
	}
	return ""
}

// PseudoParameters are the names Maintenance Windows replaces in the values a
// task passes ({{ TARGET_ID }}, {{ RESOURCE_ID }}, ...), from the AWS Systems
// Manager User Guide, "About pseudo parameters"
// (https://docs.aws.amazon.com/systems-manager/latest/userguide/mw-cli-register-tasks-parameters.html).
// SSM accepts a document that names one, as a parameter default or where the
// aws:runCommand reference allows {{RESOURCE_ID}} for InstanceIds; AWS's own
// PatchWindowsInASG runbook defaults InstanceId to "{{TARGET_ID}}".
var PseudoParameters = []string{
	"INVOCATION_ID", "RESOURCE_ID", "TARGET_ID", "TARGET_TYPE", "TASK_EXECUTION_ID",
	"WINDOW_EXECUTION_ID", "WINDOW_ID", "WINDOW_TARGET_ID", "WINDOW_TASK_ID",
}

// refWarning says what the author should know about a reference that is
// allowed: one to a Maintenance Windows pseudo parameter.
func (v *validator) refWarning(ref Ref) string {
	if ref.Kind != RefParameter || ref.IsVariable() || v.params[ref.Name] || v.vars[ref.Name] || !contains(PseudoParameters, ref.Name) {
		return ""
	}
	return fmt.Sprintf("%s is a Maintenance Windows pseudo parameter, not a parameter of this document: "+
		"only a maintenance window task replaces it, in the values it passes; a run started otherwise cannot resolve it, "+
		"so give the value that holds it as a parameter", quoteIfLong(ref.Raw))
}

var branchOperators = []string{
	"StringEquals", "EqualsIgnoreCase", "StartsWith", "EndsWith", "Contains",
	"NumericEquals", "NumericGreater", "NumericLesser", "NumericGreaterOrEquals", "NumericLesserOrEquals",
	"BooleanEquals",
}

func (v *validator) branch(c *stepCtx) {
	in := c.step.Inputs
	if raw, ok := in["Choices"]; ok && raw != nil {
		switch t := NormalizeValue(raw).(type) {
		case []any:
			if len(t) == 0 {
				c.problem([]string{"inputs", "Choices"}, "Choices is empty: give at least one choice")
			}
			for j, e := range t {
				path := []string{"inputs", "Choices", strconv.Itoa(j)}
				m, ok := e.(map[string]any)
				if !ok {
					c.problem(path, "choice %d must be an object with NextStep, Variable and an operator, but it is %s", j+1, kindOf(e))
					continue
				}
				switch ns := m["NextStep"].(type) {
				case nil:
					c.problem(path, "choice %d has no NextStep", j+1)
				case string:
					v.jump(c, append(path, "NextStep"), fmt.Sprintf("choice %d", j+1), ns)
				default:
					c.problem(append(path, "NextStep"), "NextStep of choice %d must be a step name, but it is %s", j+1, kindOf(ns))
				}
				v.condition(c, m, path, true)
			}
		case string:
			if !HasTemplate(t) {
				c.problem([]string{"inputs", "Choices"}, "Choices must be a list of choices, but it is %s", kindOf(t))
			}
		default:
			c.problem([]string{"inputs", "Choices"}, "Choices must be a list of choices, but it is %s", kindOf(t))
		}
	}
	if d, ok := in["Default"].(string); ok {
		v.jump(c, []string{"inputs", "Default"}, "Default", d)
	}
}

// condition checks one branch condition: Variable plus an operator, or And, Or, Not.
func (v *validator) condition(c *stepCtx, m map[string]any, path []string, choice bool) {
	ops, unknown, hasVar, cmp := 0, 0, false, false
	sub := func(k ...string) []string { return append(append([]string(nil), path...), k...) }
	for _, k := range sortedKeys(m) {
		val := m[k]
		switch k {
		case "NextStep":
			if !choice {
				c.problem(sub(k), "NextStep belongs on a choice, not inside a condition")
			}
		case "Variable":
			hasVar = true
		case "And", "Or":
			ops++
			l, ok := val.([]any)
			if !ok || len(l) == 0 {
				c.problem(sub(k), "%s must be a list of conditions", quoteIfLong(k))
				continue
			}
			for i, e := range l {
				if cm, ok := e.(map[string]any); ok {
					v.condition(c, cm, sub(k, strconv.Itoa(i)), false)
				} else {
					c.problem(sub(k, strconv.Itoa(i)), "a condition must be an object with Variable and an operator, but it is %s", kindOf(e))
				}
			}
		case "Not":
			ops++
			if cm, ok := val.(map[string]any); ok {
				v.condition(c, cm, sub(k), false)
			} else {
				c.problem(sub(k), "Not must hold one condition (an object), but it is %s", kindOf(val))
			}
		default:
			known := false
			for _, op := range branchOperators {
				known = known || k == op
			}
			if known {
				ops++
				cmp = true
				continue
			}
			all := append(append([]string(nil), branchOperators...), "And", "Or", "Not")
			unknown++
			c.problem(sub(k), "unknown operator %s%s", QuoteValue(k), hintList(k, all, "operators"))
		}
	}
	switch {
	case ops == 0 && unknown == 0:
		c.problem(path, "the condition needs an operator such as StringEquals (or And, Or, Not)")
	case ops > 1:
		c.problem(path, "the condition has %d operators; use one, and combine conditions with And or Or", ops)
	case cmp && !hasVar:
		c.problem(path, `the comparison needs a Variable, e.g. "Variable": "{{ step.Output }}"`)
	}
}

var isoDurationRE = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// ParseISODuration parses an ISO 8601 duration such as PT10M or P1DT2H, as
// aws:sleep takes it. Years count 365 days and months 30.
func ParseISODuration(s string) (time.Duration, error) {
	m := isoDurationRE.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, fmt.Errorf("%s is not an ISO 8601 duration such as PT10M or PT1H30M", QuoteValue(s))
	}
	units := []time.Duration{365 * 24 * time.Hour, 30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute}
	var total time.Duration
	for i, u := range units {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil || n > int64(1<<62)/int64(u) {
			return 0, fmt.Errorf("duration %s is too long", QuoteValue(s))
		}
		total += time.Duration(n) * u
	}
	if m[7] != "" {
		f, err := strconv.ParseFloat(m[7], 64)
		if err != nil || f > 1e9 {
			return 0, fmt.Errorf("duration %s is too long", QuoteValue(s))
		}
		total += time.Duration(f * float64(time.Second))
	}
	return total, nil
}

// ParseISOTimestamp parses an ISO 8601 timestamp as aws:sleep takes it; a time
// without a zone is UTC.
func ParseISOTimestamp(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s is not an ISO 8601 timestamp such as 2024-05-01T12:00:00Z", QuoteValue(s))
}

func sleepFormats(c *stepCtx) {
	in := c.step.Inputs
	if d, ok := in["Duration"].(string); ok && !HasTemplate(d) {
		if _, err := ParseISODuration(d); err != nil {
			c.problem([]string{"inputs", "Duration"}, "Duration %s", err)
		}
	}
	if t, ok := in["Timestamp"].(string); ok && !HasTemplate(t) {
		if _, err := ParseISOTimestamp(t); err != nil {
			c.problem([]string{"inputs", "Timestamp"}, "Timestamp %s", err)
		}
	}
}

func (v *validator) updateVariable(c *stepCtx) {
	name, ok := c.step.Inputs["Name"].(string)
	if !ok || HasTemplate(name) {
		return
	}
	vn, found := strings.CutPrefix(name, "variable:")
	if !found || vn == "" {
		c.problem([]string{"inputs", "Name"}, "Name must be written variable:NAME, not %s", QuoteValue(name))
		return
	}
	if !v.vars[vn] {
		var names []string
		for _, va := range v.d.Variables {
			names = append(names, va.Name)
		}
		c.problem([]string{"inputs", "Name"}, "Name names variable %s, which is not declared in variables%s", QuoteValue(vn), didYouMean(vn, names))
	}
}

// loop checks the steps nested in an aws:loop as steps of their own; they run at
// the loop's place, so they may use each other's outputs and the loop's.
func (v *validator) loop(c *stepCtx) {
	in := c.step.Inputs
	switch t := NormalizeValue(in["Steps"]).(type) {
	case nil:
	case []any:
		if len(t) == 0 {
			c.problem([]string{"inputs", "Steps"}, "Steps is empty: a loop needs at least one step")
		}
	case string:
		if !HasTemplate(t) {
			c.problem([]string{"inputs", "Steps"}, "Steps must be a list of steps, but it is %s", kindOf(t))
		}
	default:
		c.problem([]string{"inputs", "Steps"}, "Steps must be a list of steps, but it is %s", kindOf(t))
	}
	for _, is := range v.loopSteps(c.step, c) {
		s := is.step
		prefix := []string{"inputs", "Steps", strconv.Itoa(is.index)}
		ic := &stepCtx{index: c.index, step: &s, loop: true, parent: c.step.Name, report: func(path []string, msg string, sev Severity) {
			c.report(append(append([]string(nil), prefix...), path...), fmt.Sprintf("nested step %s: %s", QuoteValue(s.Name), msg), sev)
		}}
		v.step(ic)
	}
	if m, ok := in["LoopCondition"].(map[string]any); ok {
		v.condition(c, m, []string{"inputs", "LoopCondition"}, false)
	}
}

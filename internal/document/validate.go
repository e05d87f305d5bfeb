package document

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var stepNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// ParameterTypes are the basic types a document parameter (or variable) may
// have. A parameter may also have one of AWSResourceParameterTypes.
var ParameterTypes = []string{"String", "StringList", "Integer", "Boolean", "StringMap", "MapList"}

// AWSResourceParameterTypes are the AWS resource types that Automation accepts
// as parameter types, from the AWS Systems Manager User Guide, "Creating input
// parameters that populate AWS resources"
// (https://docs.aws.amazon.com/systems-manager/latest/userguide/populating-input-parameters.html).
// The console lists matching resources for them; a value is a String, and the
// List<...> forms are StringLists, checked as such (the guide's regular
// expressions find resources for the console's list; SSM does not document
// them as a check on values, so none is made here).
var AWSResourceParameterTypes = []string{
	"AWS::EC2::Instance::Id", "List<AWS::EC2::Instance::Id>",
	"AWS::IAM::Role::Arn", "List<AWS::IAM::Role::Arn>",
	"AWS::S3::Bucket::Name", "List<AWS::S3::Bucket::Name>",
}

// BaseType is the basic type a parameter type is checked and converted as:
// String for an AWS resource type, StringList for a List<...> of one, the type
// itself otherwise.
func BaseType(t string) string {
	for _, a := range AWSResourceParameterTypes {
		if t == a {
			if strings.HasPrefix(t, "List<") {
				return "StringList"
			}
			return "String"
		}
	}
	return t
}

// Validate runs every static check on d. Each problem names the step (when it is
// about one) and the attribute path. A nil result means the document is valid.
func Validate(d *Document) []Problem {
	if d == nil {
		return []Problem{{StepIndex: -1, Message: "no document"}}
	}
	v := &validator{d: d, steps: map[string]stepInfo{}, params: map[string]bool{}, vars: map[string]bool{}, seen: map[string]string{}}
	v.collect()
	for _, w := range d.warnings {
		w.Path = append([]string(nil), w.Path...)
		v.add(w)
	}
	v.header()
	v.parameters()
	v.variables()
	for i := range d.MainSteps {
		s := &d.MainSteps[i]
		v.step(v.outerStep(i, s))
	}
	v.outputs()
	v.expansion(nil)
	return v.problems
}

type validator struct {
	d        *Document
	problems []Problem
	steps    map[string]stepInfo // every step name, loop steps included
	names    []string            // step names, for suggestions
	params   map[string]bool
	vars     map[string]bool
	seen     map[string]string // step names checked so far -> which step has it
}

type stepInfo struct {
	index  int // index of the main step (the loop for nested steps)
	action string
	outs   []string // user-declared outputs
}

// stepCtx is the step being checked and where its problems go.
type stepCtx struct {
	index  int
	step   *Step
	loop   bool   // references to steps of the same index are allowed (aws:loop)
	parent string // name of the enclosing aws:loop step, for nested steps
	report func(path []string, msg string, sev Severity)
}

func (c *stepCtx) label() string {
	if c.parent != "" {
		return fmt.Sprintf("step %s in loop %s", QuoteValue(c.step.Name), QuoteValue(c.parent))
	}
	return fmt.Sprintf("step %d", c.index+1)
}

func (v *validator) add(p Problem) { v.problems = append(v.problems, p) }

func (v *validator) docProblem(path []string, msg string, args ...any) {
	v.add(Problem{StepIndex: -1, Path: path, Message: fmt.Sprintf(msg, args...), Pos: v.docPos(path)})
}

func (v *validator) docWarning(path []string, msg string, args ...any) {
	v.add(Problem{Severity: SeverityWarning, StepIndex: -1, Path: path, Message: fmt.Sprintf(msg, args...), Pos: v.docPos(path)})
}

func (v *validator) docPos(path []string) Pos {
	for n := len(path); n > 0; n-- {
		if p, ok := v.d.fieldPos[strings.Join(path[:n], ".")]; ok {
			return p
		}
	}
	if len(path) >= 2 && path[0] == "parameters" {
		for _, p := range v.d.Parameters {
			if p.Name == path[1] {
				return p.Pos
			}
		}
	}
	if len(path) >= 2 && path[0] == "variables" {
		for _, p := range v.d.Variables {
			if p.Name == path[1] {
				return p.Pos
			}
		}
	}
	return v.d.fieldPos[""]
}

func stepPos(s *Step, path []string) Pos {
	if len(path) >= 2 && path[0] == "inputs" {
		if p, ok := s.fieldPos["inputs."+path[1]]; ok {
			return p
		}
	}
	if len(path) >= 2 && path[0] == "outputs" {
		if p, ok := s.fieldPos["outputs."+path[1]]; ok {
			return p
		}
	}
	if len(path) >= 1 {
		if p, ok := s.fieldPos[path[0]]; ok {
			return p
		}
	}
	return s.Pos
}

func (v *validator) outerStep(i int, s *Step) *stepCtx {
	return &stepCtx{index: i, step: s, loop: s.Action == "aws:loop", report: func(path []string, msg string, sev Severity) {
		v.add(Problem{Severity: sev, Step: s.Name, StepIndex: i, Path: path, Message: msg, Pos: stepPos(s, path)})
	}}
}

func (c *stepCtx) problem(path []string, format string, args ...any) {
	c.report(append([]string(nil), path...), fmt.Sprintf(format, args...), SeverityError)
}

func (c *stepCtx) warning(path []string, format string, args ...any) {
	c.report(append([]string(nil), path...), fmt.Sprintf(format, args...), SeverityWarning)
}

// collect registers step names, parameters and variables before any check, so
// that forward references can be told from unknown ones.
func (v *validator) collect() {
	for _, p := range v.d.Parameters {
		v.params[p.Name] = true
	}
	for _, p := range v.d.Variables {
		v.vars[p.Name] = true
	}
	for i := range v.d.MainSteps {
		v.register(i, &v.d.MainSteps[i], 0)
	}
}

func (v *validator) register(i int, s *Step, depth int) {
	if _, dup := v.steps[s.Name]; s.Name != "" && !dup { // duplicates are reported by the step check
		info := stepInfo{index: i, action: s.Action}
		for _, o := range s.Outputs {
			info.outs = append(info.outs, o.Name)
		}
		v.steps[s.Name] = info
		v.names = append(v.names, s.Name)
	}
	if s.Action == "aws:loop" && depth < maxDepth {
		for _, inner := range v.loopSteps(s, nil) {
			v.register(i, &inner.step, depth+1)
		}
	}
}

type indexedStep struct {
	index int
	step  Step
}

// loopSteps decodes the steps nested in an aws:loop. Shape errors go to c when
// it is not nil.
func (v *validator) loopSteps(s *Step, c *stepCtx) []indexedStep {
	list, ok := NormalizeValue(s.Inputs["Steps"]).([]any)
	if !ok {
		return nil
	}
	var out []indexedStep
	dc := &decoder{doc: &Document{fieldPos: map[string]Pos{}}}
	for j, e := range list {
		st, err := dc.step(valueToNode(e), []string{"Steps", fmt.Sprintf("[%d]", j)})
		if err != nil {
			if c != nil {
				msg := err.Error()
				var se *SyntaxError
				if errors.As(err, &se) {
					msg = se.Msg
				}
				c.problem([]string{"inputs", "Steps", strconv.Itoa(j)}, "%s", msg)
			}
			continue
		}
		if c != nil {
			for _, w := range dc.doc.warnings {
				c.warning(append([]string{"inputs", "Steps", strconv.Itoa(j)}, w.Path...), "%s", w.Message)
			}
		}
		dc.doc.warnings = nil
		st.Pos = Pos{}
		out = append(out, indexedStep{index: j, step: st})
	}
	return out
}

func (v *validator) header() {
	switch v.d.SchemaVersion {
	case "0.3":
	case "":
		v.docProblem([]string{"schemaVersion"}, `schemaVersion is missing; write "schemaVersion": "0.3"`)
	default:
		v.docProblem([]string{"schemaVersion"}, `schemaVersion %s is not supported: Automation documents use "0.3"`, QuoteValue(v.d.SchemaVersion))
	}
	if v.d.MainSteps == nil {
		v.docProblem([]string{"mainSteps"}, "mainSteps is missing: a document needs at least one step")
	} else if len(v.d.MainSteps) == 0 {
		v.docProblem([]string{"mainSteps"}, "mainSteps is empty: a document needs at least one step")
	}
	v.templates(v.d.AssumeRole, []string{"assumeRole"}, refContext{where: "assumeRole"}, v.docReporter())
}

func (v *validator) docReporter() func(path []string, msg string, sev Severity) {
	return func(path []string, msg string, sev Severity) {
		v.add(Problem{Severity: sev, StepIndex: -1, Path: path, Message: msg, Pos: v.docPos(path)})
	}
}

func (v *validator) parameters() {
	seen := map[string]bool{}
	for _, p := range v.d.Parameters {
		path := []string{"parameters", p.Name}
		sub := func(k string) []string { return []string{"parameters", p.Name, k} }
		if p.Name == "" {
			v.docProblem(path, "a parameter has no name")
			continue
		}
		if seen[p.Name] {
			v.docProblem(path, "parameter %s is declared twice", QuoteValue(p.Name))
			continue
		}
		seen[p.Name] = true
		typeOK := v.checkType(p.Type, sub("type"), "parameter "+strconv.Quote(p.Name), true)
		if p.AllowedPattern != "" {
			switch c := compileAllowedPattern(p.AllowedPattern); {
			case c.err != nil:
				v.docProblem(sub("allowedPattern"), "allowedPattern %s does not compile: %s", QuoteValue(p.AllowedPattern), patternReason(c.err))
			case c.unchecked != "":
				v.docWarning(sub("allowedPattern"), "values of parameter %s are not checked against allowedPattern %s before the run: %s; SSM checks them when it runs the document",
					QuoteValue(p.Name), QuoteValue(p.AllowedPattern), c.unchecked)
			}
		}
		if !p.HasDefault || p.Default == nil {
			continue
		}
		def := NormalizeValue(p.Default)
		v.templates(def, sub("default"), refContext{where: "a parameter default", ssm: true, self: p.Name}, v.docReporter())
		if !typeOK || containsTemplate(def) {
			continue // the value is only known at run time
		}
		errs, warns := checkParameterValue(p, def)
		for _, msg := range errs {
			v.docProblem(sub("default"), "default %s", msg)
		}
		for _, msg := range warns {
			v.docWarning(sub("default"), "default %s", msg)
		}
	}
}

func (v *validator) checkType(t string, path []string, what string, resources bool) bool {
	types := ParameterTypes
	if resources {
		types = append(append([]string(nil), ParameterTypes...), AWSResourceParameterTypes...)
	}
	if t == "" {
		v.docProblem(path, "%s has no type; use one of %s", what, strings.Join(types, ", "))
		return false
	}
	for _, pt := range types {
		if t == pt {
			return true
		}
	}
	v.docProblem(path, "unknown type %s%s", QuoteValue(t), hintList(t, types, "types"))
	return false
}

func (v *validator) variables() {
	seen := map[string]bool{}
	for _, va := range v.d.Variables {
		path := []string{"variables", va.Name}
		if va.Name == "" {
			v.docProblem(path, "a variable has no name")
			continue
		}
		if seen[va.Name] {
			v.docProblem(path, "variable %s is declared twice", QuoteValue(va.Name))
			continue
		}
		seen[va.Name] = true
		if v.params[va.Name] {
			v.docProblem(path, "variable %s has the name of a parameter; {{ %s }} would be ambiguous", QuoteValue(va.Name), quoteIfLong(va.Name))
		}
		typeOK := v.checkType(va.Type, append(path, "type"), "variable "+strconv.Quote(va.Name), false)
		if !va.HasDefault || va.Default == nil {
			continue
		}
		def := NormalizeValue(va.Default)
		v.templates(def, append(path, "default"), refContext{where: "a variable default", self: va.Name}, v.docReporter())
		if typeOK && !containsTemplate(def) {
			errs, warns := checkParameterValue(Parameter{Name: va.Name, Type: va.Type}, def)
			for _, msg := range errs {
				v.docProblem(append(path, "default"), "default %s", msg)
			}
			for _, msg := range warns {
				v.docWarning(append(path, "default"), "default %s", msg)
			}
		}
	}
}

// outputs checks the document's "step.Output" list.
func (v *validator) outputs() {
	for i, o := range v.d.Outputs {
		path := []string{"outputs", strconv.Itoa(i)}
		step, out, ok := strings.Cut(o, ".")
		if !ok || step == "" || out == "" {
			v.docProblem(path, "outputs entry %s must be written step.Output, e.g. createImage.ImageId", QuoteValue(o))
			continue
		}
		info, ok := v.steps[step]
		if !ok {
			v.docProblem(path, "outputs entry %s names step %s, which does not exist%s", QuoteValue(o), QuoteValue(step), didYouMean(step, v.names))
			continue
		}
		if msg := outputProblem(step, out, info); msg != "" {
			v.docProblem(path, "outputs entry %s: %s", QuoteValue(o), msg)
		}
	}
}

// outputProblem explains why step.out is not an output the step produces.
func outputProblem(step, out string, info stepInfo) string {
	spec, known := LookupAction(info.action)
	if !known {
		return "" // the action is reported on its own
	}
	names := append([]string(nil), info.outs...)
	for _, o := range spec.Outputs {
		names = append(names, o.Name)
	}
	for _, n := range names {
		if n == out {
			return ""
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("step %s (%s) has no outputs", QuoteValue(step), quoteIfLong(info.action))
	}
	return fmt.Sprintf("step %s (%s) has no output %s%s", QuoteValue(step), quoteIfLong(info.action), QuoteValue(out), hintList(out, names, "its outputs"))
}

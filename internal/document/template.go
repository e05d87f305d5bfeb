package document

import (
	"encoding/json"
	"fmt"
	"strings"
)

// RefKind tells what a {{ }} template names.
type RefKind int

const (
	RefParameter  RefKind = iota + 1 // {{ Name }} or {{ variable:Name }}
	RefStepOutput                    // {{ step.Output }}
	RefGlobal                        // {{ global:DATE_TIME }}
	RefAutomation                    // {{ automation:EXECUTION_ID }}
	RefSSM                           // {{ ssm:/path }}
)

func (k RefKind) String() string {
	switch k {
	case RefParameter:
		return "parameter"
	case RefStepOutput:
		return "step output"
	case RefGlobal:
		return "global"
	case RefAutomation:
		return "automation variable"
	case RefSSM:
		return "SSM parameter"
	}
	return fmt.Sprintf("RefKind(%d)", int(k))
}

// Ref is one {{ }} template.
type Ref struct {
	Kind   RefKind
	Name   string // parameter or variable name, global name ("DATE_TIME"), "EXECUTION_ID", or the SSM parameter name ("/path")
	Step   string // RefStepOutput: the step
	Output string // RefStepOutput: the output
	Raw    string // the template as written, e.g. "{{ startInstances.InstanceIds }}"
}

// IsVariable tells whether a RefParameter was written {{ variable:Name }}, the
// runbook-variable form.
func (r Ref) IsVariable() bool {
	return r.Kind == RefParameter && strings.Contains(r.Raw, "variable:")
}

// Scope supplies the values of templates.
type Scope interface {
	Lookup(ref Ref) (any, error)
}

// TemplateError is a malformed template.
type TemplateError struct {
	Text string // the offending text
	Msg  string
}

func (e *TemplateError) Error() string { return e.Msg }

// span is one template inside a string: s[start:end] is the template text.
type span struct {
	start, end int
	ref        Ref
}

// scanTemplates finds the templates in s.
func scanTemplates(s string) ([]span, error) {
	var spans []span
	for i := 0; ; {
		j := strings.Index(s[i:], "{{")
		if j < 0 {
			return spans, nil
		}
		start := i + j
		k := strings.Index(s[start+2:], "}}")
		if k < 0 {
			return nil, &TemplateError{Text: s[start:], Msg: fmt.Sprintf("unclosed template: %s has no closing }}", QuoteValue(s[start:]))}
		}
		end := start + 2 + k + 2
		ref, err := parseRef(s[start:end])
		if err != nil {
			return nil, err
		}
		spans = append(spans, span{start: start, end: end, ref: ref})
		i = end
	}
}

func parseRef(raw string) (Ref, error) {
	body := strings.TrimSpace(raw[2 : len(raw)-2])
	bad := func(why string) (Ref, error) {
		return Ref{}, &TemplateError{Text: raw, Msg: fmt.Sprintf("malformed template %s: %s", QuoteValue(raw), why)}
	}
	if body == "" {
		return bad("it names nothing")
	}
	for _, r := range body {
		if !templateNameRune(r) {
			if r == '{' || r == '}' {
				return bad("braces do not nest; write {{ name }}")
			}
			return bad(fmt.Sprintf("%q cannot appear in a name; a template is {{ Parameter }}, {{ step.Output }}, {{ global:NAME }}, {{ automation:EXECUTION_ID }} or {{ ssm:/name }}", r))
		}
	}
	ref := Ref{Raw: raw}
	if ns, name, ok := strings.Cut(body, ":"); ok {
		if name == "" {
			return bad(fmt.Sprintf("%s is followed by no name", QuoteValue(ns+":")))
		}
		switch ns {
		case "global":
			ref.Kind, ref.Name = RefGlobal, name
		case "automation":
			ref.Kind, ref.Name = RefAutomation, name
		case "ssm":
			ref.Kind, ref.Name = RefSSM, name
		case "variable":
			ref.Kind, ref.Name = RefParameter, name
		default:
			return bad(fmt.Sprintf("unknown prefix %s; use global:, automation:, variable: or ssm:", QuoteValue(ns+":")))
		}
		if ref.Kind != RefSSM && strings.ContainsAny(name, ":/") {
			return bad("the name after the prefix may not contain : or /")
		}
		return ref, nil
	}
	if strings.Contains(body, "/") {
		return bad("/ belongs only in {{ ssm:/name }}")
	}
	if step, output, ok := strings.Cut(body, "."); ok {
		if step == "" || output == "" {
			return bad("a step output is written {{ stepName.OutputName }}")
		}
		ref.Kind, ref.Step, ref.Output = RefStepOutput, step, output
		return ref, nil
	}
	ref.Kind, ref.Name = RefParameter, body
	return ref, nil
}

// templateNameRune reports whether r may appear in what a template names.
func templateNameRune(r rune) bool {
	return r == '_' || r == '-' || r == '.' || r == ':' || r == '/' ||
		(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
}

// RefsIn returns the templates in v, walking strings inside lists and maps (map
// keys are not templates). Map entries are visited in key order.
func RefsIn(v any) ([]Ref, error) {
	var refs []Ref
	err := walkStrings(v, nil, func(s string, _ []string) error {
		spans, err := scanTemplates(s)
		for _, sp := range spans {
			refs = append(refs, sp.ref)
		}
		return err
	})
	return refs, err
}

// walkStrings calls fn for every string in v with its path.
func walkStrings(v any, path []string, fn func(s string, path []string) error) error {
	switch t := v.(type) {
	case string:
		return fn(t, path)
	case []any:
		for i, e := range t {
			if err := walkStrings(e, append(path[:len(path):len(path)], fmt.Sprint(i)), fn); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			if err := walkStrings(t[k], append(path[:len(path):len(path)], k), fn); err != nil {
				return err
			}
		}
	case []string, map[string]string:
		return walkStrings(NormalizeValue(t), path, fn)
	}
	return nil
}

// wholeTemplate reports whether s is exactly one template and nothing else.
func wholeTemplate(s string) (Ref, bool, error) {
	if !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") {
		if _, err := scanTemplates(s); err != nil {
			return Ref{}, false, err
		}
		return Ref{}, false, nil
	}
	spans, err := scanTemplates(s)
	if err != nil {
		return Ref{}, false, err
	}
	if len(spans) == 1 && spans[0].start == 0 && spans[0].end == len(s) {
		return spans[0].ref, true, nil
	}
	return Ref{}, false, nil
}

// HasTemplate reports whether s contains a template (well-formed or not).
func HasTemplate(s string) bool { return strings.Contains(s, "{{") }

// Resolve replaces templates in v with values from scope. A string that is
// exactly one template becomes the raw value (which may be a list); templates
// inside text are interpolated (a list there must have exactly one element); in a
// list, an element that is exactly one template resolving to a list is spliced in.
//
// The result may be at most MaxValueBytes (as ValueSize measures it): sizes
// are checked before anything is built, and a value that would be larger is
// a *LimitError.
func Resolve(v any, scope Scope) (any, error) {
	r := &resolver{scope: scope, limit: MaxValueBytes}
	return r.value(v)
}

// Budget bounds the values of one input set (a run's parameter values, or one
// step's inputs) together, on top of MaxValueBytes for each.
type Budget struct {
	left int64
}

// NewBudget returns a budget of total bytes; MaxInputSetBytes is the usual one.
func NewBudget(total int64) *Budget { return &Budget{left: total} }

// Resolve is the package's Resolve, charged to the budget.
func (b *Budget) Resolve(v any, scope Scope) (any, error) {
	r := &resolver{scope: scope, limit: MaxValueBytes}
	if b.left < r.limit {
		r.limit, r.set = b.left, true
	}
	out, err := r.value(v)
	if err != nil {
		return nil, err
	}
	b.left -= r.used
	return out, nil
}

// Add charges a value that needs no resolution (a value given for a
// parameter) to the budget, with the same bounds as Resolve.
func (b *Budget) Add(v any) error {
	r := &resolver{limit: MaxValueBytes}
	if b.left < r.limit {
		r.limit, r.set = b.left, true
	}
	if err := r.charge(sizeWithin(v, r.limit), Ref{}); err != nil {
		return err
	}
	b.left -= r.used
	return nil
}

// resolver resolves one value, counting the size of what it produces (as
// ValueSize measures the result; a map placed in text counts as its JSON) and
// refusing to go over limit before it builds anything.
type resolver struct {
	scope Scope
	used  int64
	limit int64
	set   bool // limit is what is left of a Budget, not MaxValueBytes
}

// charge counts n more bytes of output; ref is the template being resolved,
// if any.
func (r *resolver) charge(n int64, ref Ref) error {
	if n <= r.limit-r.used {
		r.used += n
		return nil
	}
	what := "the value"
	if ref.Raw != "" {
		what = "with " + quoteIfLong(ref.Raw) + ", the value"
	}
	e := &LimitError{What: what, AtLeast: true, Size: satAdd(r.used, n), Limit: MaxValueBytes,
		Of:  "the limit for one value once its {{ }} templates are resolved",
		Fix: "use fewer or shorter references (a parameter whose default repeats another parameter many times grows with each level)"}
	if r.set {
		e.What += " and the others of its set"
		e.Limit = MaxInputSetBytes
		e.Of = "the limit for a run's parameter values together, or for one step's inputs together"
	}
	return e
}

func (r *resolver) value(v any) (any, error) {
	switch t := v.(type) {
	case string:
		return r.str(t)
	case []any:
		if err := r.charge(2+int64(len(t)), Ref{}); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				ref, whole, err := wholeTemplate(s)
				if err != nil {
					return nil, err
				}
				if whole {
					val, err := r.lookupSized(ref)
					if err != nil {
						return nil, err
					}
					if list, ok := val.([]any); ok {
						out = append(out, list...)
					} else {
						out = append(out, val)
					}
					continue
				}
			}
			e2, err := r.value(e)
			if err != nil {
				return nil, err
			}
			out = append(out, e2)
		}
		return out, nil
	case map[string]any:
		if err := r.charge(2+int64(len(t)), Ref{}); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			if err := r.charge(int64(len(k)), Ref{}); err != nil {
				return nil, err
			}
			e, err := r.value(t[k])
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case []string, map[string]string:
		return r.value(NormalizeValue(t))
	}
	if err := r.charge(sizeWithin(v, r.limit-r.used), Ref{}); err != nil {
		return nil, err
	}
	return v, nil
}

func (r *resolver) lookup(ref Ref) (any, error) {
	if r.scope == nil {
		return nil, fmt.Errorf("%s: no values to resolve templates with", quoteIfLong(ref.Raw))
	}
	val, err := r.scope.Lookup(ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", quoteIfLong(ref.Raw), err)
	}
	return NormalizeValue(val), nil
}

// lookupSized looks ref up and charges the size of its value, which becomes
// part of the result as it is.
func (r *resolver) lookupSized(ref Ref) (any, error) {
	val, err := r.lookup(ref)
	if err != nil {
		return nil, err
	}
	if err := r.charge(sizeWithin(val, r.limit-r.used), ref); err != nil {
		return nil, err
	}
	return val, nil
}

func (r *resolver) str(s string) (any, error) {
	spans, err := scanTemplates(s)
	if err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		if err := r.charge(int64(len(s)), Ref{}); err != nil {
			return nil, err
		}
		return s, nil
	}
	if len(spans) == 1 && spans[0].start == 0 && spans[0].end == len(s) {
		return r.lookupSized(spans[0].ref)
	}
	// The text around the templates.
	literal := int64(len(s))
	for _, sp := range spans {
		literal -= int64(sp.end - sp.start)
	}
	if err := r.charge(literal, Ref{}); err != nil {
		return nil, err
	}
	// Every piece is measured and charged before the string is built.
	texts := make([]string, len(spans))
	for i, sp := range spans {
		val, err := r.lookup(sp.ref)
		if err != nil {
			return nil, err
		}
		if _, scalar := scalarText(val); !scalar {
			// A list or map is rendered as JSON text: measure it before
			// rendering it.
			if n := sizeWithin(val, r.limit-r.used); n > r.limit-r.used {
				return nil, r.charge(n, sp.ref)
			}
		}
		text, err := interpolationText(sp.ref, val)
		if err != nil {
			return nil, err
		}
		if err := r.charge(int64(len(text)), sp.ref); err != nil {
			return nil, err
		}
		texts[i] = text
	}
	n := len(s)
	for i, sp := range spans {
		n += len(texts[i]) - (sp.end - sp.start)
	}
	var b strings.Builder
	b.Grow(n)
	last := 0
	for i, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(texts[i])
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

func interpolationText(ref Ref, v any) (string, error) {
	if t, ok := scalarText(v); ok {
		return t, nil
	}
	switch t := v.(type) {
	case []any:
		if len(t) != 1 {
			return "", fmt.Errorf("%s is a list of %d values and cannot be placed inside text: it must have exactly one value", quoteIfLong(ref.Raw), len(t))
		}
		if s, ok := scalarText(t[0]); ok {
			return s, nil
		}
		return interpolationText(ref, t[0])
	case map[string]any:
		b, err := json.Marshal(t)
		if err != nil {
			return "", fmt.Errorf("%s: %w", quoteIfLong(ref.Raw), err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("%s has a value of type %T that cannot be placed inside text", quoteIfLong(ref.Raw), v)
}

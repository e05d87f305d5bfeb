package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// scope answers the {{ }} references of one resolution.
type scope struct {
	ctx    context.Context
	r      *runner
	params map[string]any
	// inDefaults is set while parameter defaults are resolved: step outputs do
	// not exist yet.
	inDefaults bool
}

func (s *scope) Lookup(ref document.Ref) (any, error) {
	switch ref.Kind {
	case document.RefParameter:
		if !ref.IsVariable() {
			if v, ok := s.params[ref.Name]; ok {
				return v, nil
			}
		}
		if v, ok := s.r.variable(ref.Name); ok {
			return v, nil
		}
		if ref.IsVariable() {
			return nil, fmt.Errorf("no variable named %s", document.QuoteValue(ref.Name))
		}
		return nil, fmt.Errorf("no parameter or variable named %s", document.QuoteValue(ref.Name))
	case document.RefStepOutput:
		if s.inDefaults {
			return nil, fmt.Errorf("parameter defaults cannot refer to step outputs")
		}
		if v, ok := s.r.outputs[ref.Step+"."+ref.Output]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("step %s has no output %s (the step has not run successfully)", document.QuoteValue(ref.Step), document.QuoteValue(ref.Output))
	case document.RefGlobal:
		if v, ok := document.GlobalValue(ref.Name, s.r.globals()); ok {
			return v, nil
		}
		return nil, fmt.Errorf("unknown global variable %s", document.QuoteValue(ref.Name))
	case document.RefAutomation:
		if ref.Name == "EXECUTION_ID" {
			return s.r.executionID, nil
		}
		return nil, fmt.Errorf("unknown automation variable %s", document.QuoteValue(ref.Name))
	case document.RefSSM:
		return s.r.ssmParameter(s.ctx, ref.Name)
	}
	return nil, fmt.Errorf("unsupported reference")
}

func (r *runner) ssmParameter(ctx context.Context, name string) (any, error) {
	if v, ok := r.ssmCache[name]; ok {
		return v, nil
	}
	if r.o.Clients == nil || r.o.Clients.SSM == nil {
		return nil, fmt.Errorf("no SSM client to read parameter %s with", name)
	}
	out, err := r.o.Clients.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("reading SSM parameter %s: %s", name, errorText(err))
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return nil, fmt.Errorf("SSM parameter %s has no value", name)
	}
	v := aws.ToString(out.Parameter.Value)
	if out.Parameter.Type == ssmtypes.ParameterTypeSecureString {
		r.addSecret(v)
	}
	r.ssmCache[name] = v
	return v, nil
}

// resolveParameters checks the given values and resolves the defaults that hold
// templates, each once, in dependency order: a default may use other parameters.
func (r *runner) resolveParameters(ctx context.Context, given map[string]string) (map[string]any, error) {
	values, problems := document.ParameterValues(r.doc, given, document.SensitiveParameters(r.o.SensitiveParameters...))
	if errs := document.Errors(problems); len(errs) > 0 {
		return nil, &ParameterError{Problems: errs}
	}
	if values == nil {
		values = map[string]any{}
	}
	pending := map[string][]document.Ref{}
	for _, p := range r.doc.Parameters {
		if _, ok := given[p.Name]; ok {
			continue
		}
		v, ok := values[p.Name]
		if !ok {
			continue
		}
		refs, err := document.RefsIn(v)
		if err != nil {
			return nil, fmt.Errorf("default of parameter %s: %w", document.QuoteValue(p.Name), err)
		}
		if len(refs) > 0 {
			pending[p.Name] = refs
		}
	}
	// All parameter values together are one input set: the values given and
	// the literal defaults count first, then each default as it is resolved.
	budget := document.NewBudget(document.MaxInputSetBytes)
	for _, p := range r.doc.Parameters {
		v, ok := values[p.Name]
		if _, waiting := pending[p.Name]; !ok || waiting {
			continue
		}
		if err := budget.Add(v); err != nil {
			return nil, fmt.Errorf("parameter %s: %w", document.QuoteValue(p.Name), err)
		}
	}
	sc := &scope{ctx: ctx, r: r, params: values, inDefaults: true}
	for len(pending) > 0 {
		progressed := false
		for _, p := range r.doc.Parameters {
			refs, ok := pending[p.Name]
			if !ok || !ready(refs, pending) {
				continue
			}
			v, err := budget.Resolve(values[p.Name], sc)
			if err == nil && p.Type != "" {
				v, err = document.Coerce(v, document.InputType(document.BaseType(p.Type)))
			}
			if err != nil {
				return nil, fmt.Errorf("default of parameter %s: %w", document.QuoteValue(p.Name), err)
			}
			values[p.Name] = v
			delete(pending, p.Name)
			progressed = true
		}
		if !progressed {
			names := make([]string, 0, len(pending))
			for n := range pending {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, fmt.Errorf("the defaults of parameters %s refer to each other in a cycle", strings.Join(names, ", "))
		}
	}
	return values, nil
}

// ready reports whether none of refs names a parameter that is still unresolved.
func ready(refs []document.Ref, pending map[string][]document.Ref) bool {
	for _, ref := range refs {
		if ref.Kind != document.RefParameter {
			continue
		}
		if _, waiting := pending[ref.Name]; waiting {
			return false
		}
	}
	return true
}

// stepInputs resolves a step's inputs against everything known so far and coerces
// each to the type its action declares.
func (r *runner) stepInputs(ctx context.Context, step *document.Step) (map[string]any, error) {
	sc := &scope{ctx: ctx, r: r, params: r.params}
	in := make(map[string]any, len(step.Inputs))
	spec, known := document.LookupAction(step.Action)
	budget := document.NewBudget(document.MaxInputSetBytes)
	names := make([]string, 0, len(step.Inputs))
	for name := range step.Inputs {
		names = append(names, name)
	}
	slices.Sort(names)
	late := actions.LateInputs[step.Action]
	for _, name := range names {
		raw := step.Inputs[name]
		if slices.Contains(late, name) {
			in[name] = raw // the action resolves it when its time comes
			continue
		}
		v, err := budget.Resolve(raw, sc)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", name, err)
		}
		if known {
			if is, ok := spec.Input(name); ok {
				if v, err = document.Coerce(v, is.Type); err != nil {
					return nil, fmt.Errorf("input %s: %w", name, err)
				}
			}
		}
		in[name] = v
	}
	return in, nil
}

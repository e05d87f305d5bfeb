package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// recipeHCL holds the HCL recipe attributes as they appear in a resource model.
type recipeHCL struct {
	Description types.String
	AssumeRole  types.String
	Outputs     types.List
	Parameter   types.List
	Step        types.List
}

// isSet reports whether any part of the HCL recipe is configured.
func (r recipeHCL) isSet() bool {
	return !r.Description.IsNull() || !r.AssumeRole.IsNull() || !r.Outputs.IsNull() ||
		len(r.Parameter.Elements()) > 0 || len(r.Step.Elements()) > 0
}

// errUnknown marks a recipe that cannot be built yet because a value is unknown at plan time.
type errUnknown struct{ at path.Path }

func (e errUnknown) Error() string { return "unknown value at " + e.at.String() }

// toDocument builds the document model from the HCL recipe. It reports unknown=true,
// with no diagnostics, when a value is not known yet (plan of a dependent value).
func (r recipeHCL) toDocument() (doc *document.Document, unknown bool, diags diag.Diagnostics) {
	doc = &document.Document{SchemaVersion: "0.3"}
	c := converter{}
	doc.Description = c.str(r.Description, path.Root("description"))
	doc.AssumeRole = c.str(r.AssumeRole, path.Root("assume_role"))
	if v := c.value(r.Outputs, path.Root("outputs")); v != nil {
		for _, o := range v.([]any) {
			doc.Outputs = append(doc.Outputs, o.(string))
		}
	}
	for i, e := range r.Parameter.Elements() {
		p := path.Root("parameter").AtListIndex(i)
		doc.Parameters = append(doc.Parameters, c.parameter(e, p))
	}
	for i, e := range r.Step.Elements() {
		p := path.Root("step").AtListIndex(i)
		doc.MainSteps = append(doc.MainSteps, c.step(e, p))
	}
	if c.unknown != nil {
		return nil, true, nil
	}
	return doc, false, c.diags
}

type converter struct {
	diags   diag.Diagnostics
	unknown *errUnknown
}

func (c *converter) markUnknown(p path.Path) {
	if c.unknown == nil {
		c.unknown = &errUnknown{at: p}
	}
}

func (c *converter) str(v attr.Value, p path.Path) string {
	s, _ := c.value(v, p).(string)
	return s
}

func (c *converter) int(v attr.Value, p path.Path) *int64 {
	if n, ok := c.value(v, p).(int64); ok {
		return &n
	}
	return nil
}

func (c *converter) bool(v attr.Value, p path.Path) *bool {
	if b, ok := c.value(v, p).(bool); ok {
		return &b
	}
	return nil
}

// value converts a Terraform value into the document's JSON-like Go values; nil for null.
func (c *converter) value(v attr.Value, p path.Path) any {
	if v == nil || v.IsNull() {
		return nil
	}
	if v.IsUnknown() {
		c.markUnknown(p)
		return nil
	}
	switch t := v.(type) {
	case basetypes.StringValue:
		return t.ValueString()
	case basetypes.Int64Value:
		return t.ValueInt64()
	case basetypes.BoolValue:
		return t.ValueBool()
	case basetypes.NumberValue:
		return numberValue(t.ValueBigFloat())
	case basetypes.Float64Value:
		return t.ValueFloat64()
	case basetypes.ListValue:
		out := []any{}
		for i, e := range t.Elements() {
			out = append(out, c.value(e, p.AtListIndex(i)))
		}
		return out
	case basetypes.MapValue:
		out := map[string]any{}
		for k, e := range t.Elements() {
			out[k] = c.value(e, p.AtMapKey(k))
		}
		return out
	case basetypes.ObjectValue:
		out := map[string]any{}
		for k, e := range t.Attributes() {
			if x := c.value(e, p.AtName(k)); x != nil {
				out[k] = x
			}
		}
		return out
	default:
		c.diags.AddAttributeError(p, "Unsupported Value", fmt.Sprintf("Values of type %T are not supported here. Please report this issue.", v))
		return nil
	}
}

func numberValue(f *big.Float) any {
	if f == nil {
		return nil
	}
	if i, acc := f.Int64(); acc == big.Exact {
		return i
	}
	x, _ := f.Float64()
	return x
}

func (c *converter) parameter(e attr.Value, p path.Path) document.Parameter {
	a := e.(basetypes.ObjectValue).Attributes()
	prm := document.Parameter{
		Name:           c.str(a["name"], p.AtName("name")),
		Type:           c.str(a["type"], p.AtName("type")),
		Description:    c.str(a["description"], p.AtName("description")),
		AllowedPattern: c.str(a["allowed_pattern"], p.AtName("allowed_pattern")),
		DisplayType:    c.str(a["display_type"], p.AtName("display_type")),
		MinItems:       c.int(a["min_items"], p.AtName("min_items")),
		MaxItems:       c.int(a["max_items"], p.AtName("max_items")),
		MinChars:       c.int(a["min_chars"], p.AtName("min_chars")),
		MaxChars:       c.int(a["max_chars"], p.AtName("max_chars")),
	}
	if v, ok := c.value(a["allowed_values"], p.AtName("allowed_values")).([]any); ok {
		for _, x := range v {
			prm.AllowedValues = append(prm.AllowedValues, x.(string))
		}
	}
	if d := a["default"]; d != nil && !d.IsNull() {
		text := c.str(d, p.AtName("default"))
		prm.HasDefault = true
		prm.Default = c.typedDefault(prm.Type, text, p.AtName("default"))
	}
	return prm
}

// typedDefault turns the HCL default text into the value SSM JSON would carry.
func (c *converter) typedDefault(typ, text string, p path.Path) any {
	if strings.Contains(text, "{{") && typ != "StringList" && typ != "StringMap" && typ != "MapList" {
		return text
	}
	switch typ {
	case "Integer":
		if n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64); err == nil {
			return n
		}
	case "Boolean":
		if b, err := strconv.ParseBool(strings.TrimSpace(text)); err == nil {
			return b
		}
	case "StringList", "StringMap", "MapList":
		v, err := decodeJSON(text)
		if err != nil {
			c.diags.AddAttributeError(p, "Invalid Parameter Default",
				fmt.Sprintf("A %s default is written as JSON text, e.g. jsonencode(...): %s.", typ, err))
			return text
		}
		return v
	}
	return text
}

func (c *converter) step(e attr.Value, p path.Path) document.Step {
	a := e.(basetypes.ObjectValue).Attributes()
	s := document.Step{
		Name:           c.str(a["name"], p.AtName("name")),
		Description:    c.str(a["description"], p.AtName("description")),
		TimeoutSeconds: c.int(a["timeout_seconds"], p.AtName("timeout_seconds")),
		MaxAttempts:    c.int(a["max_attempts"], p.AtName("max_attempts")),
		OnFailure:      c.str(a["on_failure"], p.AtName("on_failure")),
		OnCancel:       c.str(a["on_cancel"], p.AtName("on_cancel")),
		IsCritical:     c.bool(a["is_critical"], p.AtName("is_critical")),
		IsEnd:          c.bool(a["is_end"], p.AtName("is_end")),
		NextStep:       c.str(a["next_step"], p.AtName("next_step")),
	}
	if outs, ok := a["output"].(basetypes.ListValue); ok {
		for i, o := range outs.Elements() {
			op := p.AtName("output").AtListIndex(i)
			oa := o.(basetypes.ObjectValue).Attributes()
			s.Outputs = append(s.Outputs, document.StepOutput{
				Name:     c.str(oa["name"], op.AtName("name")),
				Selector: c.str(oa["selector"], op.AtName("selector")),
				Type:     c.str(oa["type"], op.AtName("type")),
			})
		}
	}
	for _, spec := range blockActions() {
		blk, ok := a[spec.Block].(basetypes.ObjectValue)
		if !ok || blk.IsNull() {
			continue
		}
		if blk.IsUnknown() {
			c.markUnknown(p.AtName(spec.Block))
			continue
		}
		s.Action = spec.Name
		s.Inputs = c.actionInputs(spec, blk, p.AtName(spec.Block))
	}
	if act := c.str(a["action"], p.AtName("action")); act != "" {
		s.Action = act
		if text := c.str(a["inputs"], p.AtName("inputs")); text != "" {
			if v, err := decodeJSON(text); err == nil {
				s.Inputs, _ = v.(map[string]any)
			}
		}
	}
	return s
}

func (c *converter) actionInputs(spec document.ActionSpec, blk basetypes.ObjectValue, p path.Path) map[string]any {
	attrs := blk.Attributes()
	in := map[string]any{}
	for _, input := range spec.Inputs {
		name := document.SnakeCase(input.Name)
		v := c.value(attrs[name], p.AtName(name))
		if v == nil {
			continue
		}
		if input.Type == document.TypeJSON {
			text, _ := v.(string)
			decoded, err := decodeJSON(text)
			if err != nil {
				continue // reported by the attribute's jsonValidator
			}
			v = decoded
		}
		in[input.Name] = v
	}
	if spec.OpenInputs {
		if text := c.str(attrs[apiInputsAttribute], p.AtName(apiInputsAttribute)); text != "" {
			if extra, err := decodeJSON(text); err == nil {
				for k, v := range extra.(map[string]any) {
					in[k] = v
				}
			}
		}
	}
	return in
}

// decodeJSON decodes JSON text into the document's value shapes (int64 for integers).
func decodeJSON(text string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return document.NormalizeValue(v), nil
}

// problemPath maps a document problem to the HCL attribute path it is about.
func problemPath(doc *document.Document, pr document.Problem) path.Path {
	if pr.StepIndex < 0 || pr.StepIndex >= len(doc.MainSteps) {
		if len(pr.Path) >= 2 && pr.Path[0] == "parameters" {
			for i, prm := range doc.Parameters {
				if prm.Name == pr.Path[1] {
					p := path.Root("parameter").AtListIndex(i)
					if len(pr.Path) >= 3 {
						p = p.AtName(document.SnakeCase(pr.Path[2]))
					}
					return p
				}
			}
			return path.Root("parameter")
		}
		if len(pr.Path) >= 1 && pr.Path[0] == "outputs" {
			return path.Root("outputs")
		}
		return path.Empty()
	}
	step := doc.MainSteps[pr.StepIndex]
	p := path.Root("step").AtListIndex(pr.StepIndex)
	if len(pr.Path) == 0 {
		return p
	}
	if pr.Path[0] == "inputs" {
		spec, ok := document.LookupAction(step.Action)
		if !ok || spec.Block == "" {
			return p.AtName("inputs")
		}
		p = p.AtName(spec.Block)
		if len(pr.Path) >= 2 {
			p = p.AtName(document.SnakeCase(pr.Path[1]))
		}
		return p
	}
	if pr.Path[0] == "action" {
		return p.AtName("action")
	}
	return p.AtName(document.SnakeCase(pr.Path[0]))
}

// addProblems reports validation problems as attribute errors (HCL) or on `at`
// (text documents); problems that are only warnings become warnings.
func addProblems(diags *diag.Diagnostics, doc *document.Document, problems []document.Problem, textAt *path.Path) {
	for _, pr := range problems {
		summary := "Invalid Recipe"
		if pr.Step != "" {
			summary = "Invalid Step"
		}
		at := problemPath(doc, pr)
		if textAt != nil {
			at = *textAt
		}
		if pr.IsWarning() {
			summary = "Recipe Accepted with a Conversion"
			if pr.Step != "" {
				summary = "Step Accepted with a Conversion"
			}
			diags.AddAttributeWarning(at, summary, pr.Error())
			continue
		}
		diags.AddAttributeError(at, summary, pr.Error())
	}
}

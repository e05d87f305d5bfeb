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
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// converter turns HCL recipe values into the document's values. It collects
// diagnostics, and notes when a value is not known yet (a plan of a dependent
// value), in which case the document cannot be built.
type converter struct {
	diags   diag.Diagnostics
	unknown bool
}

// value converts a Terraform value into the document's JSON-like Go values; nil for null.
func (c *converter) value(v attr.Value, p path.Path) any {
	if v == nil || v.IsNull() {
		return nil
	}
	if v.IsUnknown() {
		c.unknown = true
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

func (c *converter) actionInputs(spec document.ActionSpec, blk basetypes.ObjectValue, p path.Path) map[string]any {
	attrs := blk.Attributes()
	in := map[string]any{}
	for _, input := range spec.Inputs {
		name := document.SnakeCase(input.Name)
		v := c.value(attrs[name], p.AtName(name))
		if v == nil {
			continue
		}
		if text, ok := v.(string); ok && (input.Type == document.TypeInteger || input.Type == document.TypeBoolean) {
			v = document.LiteralValue(text, input.Type)
		}
		if input.Type == document.TypeJSON {
			text, _ := v.(string)
			decoded, err := decodeJSON(text)
			switch {
			case err == nil:
				v = decoded
			case document.HasTemplate(text):
				// a template standing for the whole value, as in JSON
			default:
				continue // reported by the attribute's jsonValidator
			}
		}
		in[input.Name] = v
	}
	if spec.OpenInputs {
		if text, _ := c.value(attrs[apiInputsAttribute], p.AtName(apiInputsAttribute)).(string); text != "" {
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

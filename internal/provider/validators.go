package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// jsonValidator checks that a string holds JSON (an object when object is set).
type jsonValidator struct{ object bool }

func (v jsonValidator) Description(context.Context) string {
	if v.object {
		return "value must be a JSON object"
	}
	return "value must be JSON text"
}

func (v jsonValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v jsonValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var x any
	if err := json.Unmarshal([]byte(req.ConfigValue.ValueString()), &x); err != nil {
		if !v.object && document.HasTemplate(req.ConfigValue.ValueString()) {
			return // a template standing for the whole value
		}
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid JSON",
			fmt.Sprintf("The value is not valid JSON (%s). Build it with jsonencode(...).", err))
		return
	}
	if _, ok := x.(map[string]any); v.object && !ok {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid JSON",
			"The value must be a JSON object, e.g. jsonencode({ Name = \"value\" }).")
	}
}

// exactlyOneActionValidator requires one action block, or `action` with `inputs`, per step.
type exactlyOneActionValidator struct{}

func (exactlyOneActionValidator) Description(context.Context) string {
	return "exactly one action block, or action with inputs, must be set"
}

func (v exactlyOneActionValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (exactlyOneActionValidator) ValidateObject(ctx context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	step, blocks, diags := readStep(ctx, req.ConfigValue)
	if diags.HasError() || step == nil {
		resp.Diagnostics.Append(diags...)
		return
	}
	name := "this step"
	if !step.Name.IsNull() && !step.Name.IsUnknown() {
		name = "step " + document.QuoteValue(step.Name.ValueString())
	}
	var set []string
	for _, spec := range blockActions() {
		if !blocks[spec.Block].IsNull() {
			set = append(set, spec.Block)
		}
	}
	generic := !step.Action.IsNull()
	if generic {
		set = append(set, "action")
	}
	switch {
	case len(set) == 0:
		var names []string
		for _, spec := range blockActions() {
			names = append(names, spec.Block)
		}
		resp.Diagnostics.AddAttributeError(req.Path, "Missing Step Action",
			fmt.Sprintf("%s has no action. Add exactly one action block (%s), or set action and inputs for other SSM actions.",
				name, strings.Join(names, ", ")))
	case len(set) > 1:
		resp.Diagnostics.AddAttributeError(req.Path, "Conflicting Step Actions",
			fmt.Sprintf("%s sets %s; a step runs exactly one action. Split it into separate steps.", name, strings.Join(set, " and ")))
	}
	if !step.Inputs.IsNull() && !generic {
		resp.Diagnostics.AddAttributeError(req.Path.AtName("inputs"), "Inputs Without Action",
			fmt.Sprintf("%s sets inputs but not action; inputs is only for actions written with action = \"aws:...\". "+
				"Use the attributes of the action block instead.", name))
	}
}

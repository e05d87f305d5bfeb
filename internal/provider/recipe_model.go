package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// recipeModel is the HCL recipe: the attributes of recipeAttributes and the
// blocks of recipeBlocks. The models of amibake_document and amibake_image
// embed it.
//
// The blocks stay lists rather than slices of their models: a `dynamic` block
// whose for_each is not known yet makes the whole list unknown at plan time.
type recipeModel struct {
	Description types.String `tfsdk:"description"`
	AssumeRole  types.String `tfsdk:"assume_role"`
	Outputs     types.List   `tfsdk:"outputs"`
	Parameter   types.List   `tfsdk:"parameter"` // of parameterModel
	Step        types.List   `tfsdk:"step"`      // of stepModel and the step's action blocks
}

// parameterModel is one `parameter` block; toDocument makes it a
// document.Parameter.
type parameterModel struct {
	Name           types.String `tfsdk:"name"`
	Type           types.String `tfsdk:"type"`
	Description    types.String `tfsdk:"description"`
	Default        types.String `tfsdk:"default"`
	AllowedValues  types.List   `tfsdk:"allowed_values"`
	AllowedPattern types.String `tfsdk:"allowed_pattern"`
	DisplayType    types.String `tfsdk:"display_type"`
	MinItems       types.Int64  `tfsdk:"min_items"`
	MaxItems       types.Int64  `tfsdk:"max_items"`
	MinChars       types.Int64  `tfsdk:"min_chars"`
	MaxChars       types.Int64  `tfsdk:"max_chars"`
}

// stepModel is one `step` block without its action blocks. Those are named
// and shaped by the action catalogue (blockActions), not by fields here, so
// that an action's block comes from its catalogue entry alone; readStep
// separates the two.
type stepModel struct {
	Name           types.String `tfsdk:"name"`
	Description    types.String `tfsdk:"description"`
	TimeoutSeconds types.Int64  `tfsdk:"timeout_seconds"`
	MaxAttempts    types.Int64  `tfsdk:"max_attempts"`
	OnFailure      types.String `tfsdk:"on_failure"`
	OnCancel       types.String `tfsdk:"on_cancel"`
	IsCritical     types.Bool   `tfsdk:"is_critical"`
	IsEnd          types.Bool   `tfsdk:"is_end"`
	NextStep       types.String `tfsdk:"next_step"`
	Action         types.String `tfsdk:"action"`
	Inputs         types.String `tfsdk:"inputs"`
	Output         types.List   `tfsdk:"output"` // of stepOutputModel
}

// stepOutputModel is one `output` block of a step; it is a document.StepOutput.
type stepOutputModel struct {
	Name     types.String `tfsdk:"name"`
	Selector types.String `tfsdk:"selector"`
	Type     types.String `tfsdk:"type"`
}

// nullRecipe is the recipe of a resource whose recipe is given as text.
func nullRecipe() recipeModel {
	blocks := recipeBlocks()
	return recipeModel{
		Description: types.StringNull(),
		AssumeRole:  types.StringNull(),
		Outputs:     types.ListNull(types.StringType),
		Parameter:   types.ListNull(blocks["parameter"].Type().(types.ListType).ElemType),
		Step:        types.ListNull(blocks["step"].Type().(types.ListType).ElemType),
	}
}

// isSet reports whether any part of the HCL recipe is configured.
func (r recipeModel) isSet() bool {
	return !r.Description.IsNull() || !r.AssumeRole.IsNull() || !r.Outputs.IsNull() ||
		len(r.Parameter.Elements()) > 0 || len(r.Step.Elements()) > 0
}

// toDocument builds the document model from the HCL recipe. It reports unknown=true,
// with no diagnostics, when a value is not known yet (plan of a dependent value).
func (r recipeModel) toDocument(ctx context.Context) (doc *document.Document, unknown bool, diags diag.Diagnostics) {
	c := converter{}
	doc = &document.Document{
		SchemaVersion: "0.3",
		Description:   c.string(r.Description),
		AssumeRole:    c.string(r.AssumeRole),
		Outputs:       c.strings(r.Outputs, path.Root("outputs")),
	}
	var params []parameterModel
	if c.list(ctx, r.Parameter, &params) {
		for i, pm := range params {
			doc.Parameters = append(doc.Parameters, c.parameter(pm, path.Root("parameter").AtListIndex(i)))
		}
	}
	if known(r.Step) {
		for i, e := range r.Step.Elements() {
			doc.MainSteps = append(doc.MainSteps, c.step(ctx, e, path.Root("step").AtListIndex(i)))
		}
	} else if r.Step.IsUnknown() {
		c.unknown = true
	}
	if c.unknown {
		return nil, true, nil
	}
	return doc, false, c.diags
}

func (c *converter) parameter(pm parameterModel, p path.Path) document.Parameter {
	prm := document.Parameter{
		Name:           c.string(pm.Name),
		Type:           c.string(pm.Type),
		Description:    c.string(pm.Description),
		AllowedValues:  c.strings(pm.AllowedValues, p.AtName("allowed_values")),
		AllowedPattern: c.string(pm.AllowedPattern),
		DisplayType:    c.string(pm.DisplayType),
		MinItems:       c.int64(pm.MinItems),
		MaxItems:       c.int64(pm.MaxItems),
		MinChars:       c.int64(pm.MinChars),
		MaxChars:       c.int64(pm.MaxChars),
	}
	if !pm.Default.IsNull() {
		prm.HasDefault = true
		prm.Default = c.typedDefault(prm.Type, c.string(pm.Default), p.AtName("default"))
	}
	return prm
}

// step converts one element of the `step` list.
func (c *converter) step(ctx context.Context, e attr.Value, p path.Path) document.Step {
	sm, blocks, diags := readStep(ctx, e)
	c.diags.Append(diags...)
	if diags.HasError() {
		return document.Step{}
	}
	if sm == nil {
		c.unknown = true
		return document.Step{}
	}
	s := document.Step{
		Name:           c.string(sm.Name),
		Description:    c.string(sm.Description),
		TimeoutSeconds: c.int64(sm.TimeoutSeconds),
		MaxAttempts:    c.int64(sm.MaxAttempts),
		OnFailure:      c.string(sm.OnFailure),
		OnCancel:       c.string(sm.OnCancel),
		IsCritical:     c.bool(sm.IsCritical),
		IsEnd:          c.bool(sm.IsEnd),
		NextStep:       c.string(sm.NextStep),
	}
	var outputs []stepOutputModel
	if c.list(ctx, sm.Output, &outputs) {
		for _, o := range outputs {
			s.Outputs = append(s.Outputs, document.StepOutput{
				Name:     c.string(o.Name),
				Selector: c.string(o.Selector),
				Type:     c.string(o.Type),
			})
		}
	}
	for _, spec := range blockActions() {
		blk := blocks[spec.Block]
		if blk.IsNull() {
			continue
		}
		if blk.IsUnknown() {
			c.unknown = true
			continue
		}
		s.Action = spec.Name
		s.Inputs = c.actionInputs(spec, blk, p.AtName(spec.Block))
	}
	if act := c.string(sm.Action); act != "" {
		s.Action = act
		if text := c.string(sm.Inputs); text != "" {
			if v, err := decodeJSON(text); err == nil {
				s.Inputs, _ = v.(map[string]any)
			}
		}
	}
	return s
}

// readStep separates one element of the `step` list into the step's own
// attributes and its action blocks, keyed by block name (every block of
// blockActions is present, null when not written). A nil model means the
// element is unknown.
func readStep(ctx context.Context, e attr.Value) (*stepModel, map[string]types.Object, diag.Diagnostics) {
	var diags diag.Diagnostics
	obj, ok := e.(basetypes.ObjectValue)
	if !ok {
		diags.AddError("Unexpected Step Value", "A step is not an object. Please report this issue.")
		return nil, nil, diags
	}
	if obj.IsUnknown() {
		return nil, nil, diags
	}
	blocks := map[string]types.Object{}
	own, ownTypes := map[string]attr.Value{}, map[string]attr.Type{}
	attrTypes := obj.AttributeTypes(ctx)
	for name, v := range obj.Attributes() {
		if _, isAction := blockActionsByBlock()[name]; isAction {
			blocks[name], _ = v.(types.Object)
			continue
		}
		own[name], ownTypes[name] = v, attrTypes[name]
	}
	ownObj, d := types.ObjectValue(ownTypes, own)
	diags.Append(d...)
	var sm stepModel
	if !diags.HasError() {
		diags.Append(ownObj.As(ctx, &sm, basetypes.ObjectAsOptions{})...)
	}
	return &sm, blocks, diags
}

// known reports whether a list's elements can be read.
func known(l types.List) bool { return !l.IsNull() && !l.IsUnknown() }

// list reads a known list into target, a pointer to a slice of models; it
// returns false for a null or unknown list (noting the unknown).
func (c *converter) list(ctx context.Context, l types.List, target any) bool {
	if l.IsUnknown() {
		c.unknown = true
	}
	if !known(l) {
		return false
	}
	d := l.ElementsAs(ctx, target, false)
	c.diags.Append(d...)
	return !d.HasError()
}

func (c *converter) string(v types.String) string {
	if v.IsUnknown() {
		c.unknown = true
	}
	return v.ValueString()
}

func (c *converter) int64(v types.Int64) *int64 {
	if v.IsUnknown() {
		c.unknown = true
	}
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	n := v.ValueInt64()
	return &n
}

func (c *converter) bool(v types.Bool) *bool {
	if v.IsUnknown() {
		c.unknown = true
	}
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	b := v.ValueBool()
	return &b
}

// strings converts a list of strings; nil for null. A null element becomes
// "", which validation then reports.
func (c *converter) strings(l types.List, p path.Path) []string {
	v, _ := c.value(l, p).([]any)
	var out []string
	for _, e := range v {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

package provider

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// The HCL form of a recipe is shared by amibake_document and amibake_image: both
// call recipeAttributes and recipeBlocks, and read the result as a recipeModel.
// The action blocks of a step are made from the action catalogue
// (document.Actions): one block per action that has a block name, one
// attribute per input.

var stepNamePattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// recipeAttributes are the top-level recipe attributes besides the blocks.
func recipeAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"description": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Description of the recipe (the document's `description`).",
		},
		"assume_role": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "The document's `assumeRole`: the IAM role a bake runs as, as in SSM Automation (often " +
				"`{{ AutomationAssumeRole }}`; empty means none). `amibake_image` assumes it with the provider's credentials " +
				"unless the provider sets `use_document_assume_role = false`.",
		},
		"outputs": schema.ListAttribute{
			ElementType:         types.StringType,
			Optional:            true,
			MarkdownDescription: "Document outputs, each `\"step.Output\"`, e.g. `[\"createImage.ImageId\"]`.",
		},
	}
}

// recipeBlocks are the repeated `parameter` and ordered `step` blocks.
func recipeBlocks() map[string]schema.Block {
	return map[string]schema.Block{
		"parameter": withFixedTypes(schema.ListNestedBlock{
			MarkdownDescription: "A document parameter. Values are given by `amibake_image.parameters` and referenced as `{{ name }}`.",
			NestedObject: schema.NestedBlockObject{
				Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Parameter name, referenced as `{{ name }}`.",
						Validators:          []validator.String{stringvalidator.RegexMatches(stepNamePattern, "must contain only letters, digits and underscores")},
					},
					"type": schema.StringAttribute{
						Required: true,
						MarkdownDescription: "One of `" + strings.Join(document.ParameterTypes, "`, `") + "`, or one of the AWS resource types `" +
							strings.Join(document.AWSResourceParameterTypes, "`, `") + "`.",
						Validators: []validator.String{stringvalidator.OneOf(append(append([]string(nil), document.ParameterTypes...), document.AWSResourceParameterTypes...)...)},
					},
					"description": schema.StringAttribute{Optional: true, MarkdownDescription: "What the parameter is for."},
					"default": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Default value. Lists and maps as JSON text (`jsonencode([...])`). May use `{{global:DATE_TIME}}`, " +
							"other parameters and `{{ssm:/parameter/name}}`. A parameter without a default is required. " +
							"Once its references are resolved a default may be at most 256 KB: a default that repeats other parameters many times is refused at plan time.",
					},
					"allowed_values":  schema.ListAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: "The only values accepted."},
					"allowed_pattern": schema.StringAttribute{Optional: true, MarkdownDescription: "Regular expression a value must match."},
					"display_type":    schema.StringAttribute{Optional: true, MarkdownDescription: "SSM console hint (`textarea`); kept in the JSON."},
					"min_items":       schema.Int64Attribute{Optional: true, MarkdownDescription: "Minimum list length."},
					"max_items":       schema.Int64Attribute{Optional: true, MarkdownDescription: "Maximum list length."},
					"min_chars":       schema.Int64Attribute{Optional: true, MarkdownDescription: "Minimum string length."},
					"max_chars":       schema.Int64Attribute{Optional: true, MarkdownDescription: "Maximum string length."},
				},
			},
		}),
		"step": withFixedTypes(schema.ListNestedBlock{
			MarkdownDescription: "An ordered step of the recipe. Exactly one action block (`run_instances`, `run_command`, ...) " +
				"or, for actions without a block, `action` with JSON `inputs`.",
			NestedObject: stepObject(),
		}),
	}
}

// withFixedTypes gives a list block, and its element, their types once and for
// all (as CustomType: the very types the framework would derive).
// terraform-plugin-framework otherwise derives a block's type from its
// attributes each time it asks, and it asks for every null value whenever it
// converts a state, a plan or a config: with a dozen action blocks of up to
// 25 attributes in each step, every refresh of an image with inline steps
// spent milliseconds building the same types again.
func withFixedTypes(b schema.ListNestedBlock) schema.ListNestedBlock {
	elem := b.NestedObject.Type()
	b.NestedObject.CustomType = elem
	b.CustomType = types.ListType{ElemType: elem}
	return b
}

func stepObject() schema.NestedBlockObject {
	blocks := map[string]schema.Block{
		"output": withFixedTypes(schema.ListNestedBlock{
			MarkdownDescription: "A user-defined output selected from the action's response by JSONPath (executeAwsApi and similar).",
			NestedObject: schema.NestedBlockObject{
				Attributes: map[string]schema.Attribute{
					"name":     schema.StringAttribute{Required: true, MarkdownDescription: "Output name, referenced as `{{ step.name }}`."},
					"selector": schema.StringAttribute{Required: true, MarkdownDescription: "JSONPath selector, e.g. `$.Images[0].State`."},
					"type": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "One of `" + strings.Join(document.ParameterTypes, "`, `") + "`.",
						Validators:          []validator.String{stringvalidator.OneOf(document.ParameterTypes...)},
					},
				},
			},
		}),
	}
	for _, spec := range blockActions() {
		blocks[spec.Block] = actionBlock(spec)
	}
	return schema.NestedBlockObject{
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Step name (letters, digits, underscores); outputs are referenced as `{{ name.Output }}`.",
				Validators:          []validator.String{stringvalidator.RegexMatches(stepNamePattern, "must contain only letters, digits and underscores")},
			},
			"description":     schema.StringAttribute{Optional: true, MarkdownDescription: "What the step does."},
			"timeout_seconds": schema.Int64Attribute{Optional: true, MarkdownDescription: "Bound on one attempt of the step.", Validators: []validator.Int64{int64validator.AtLeast(1)}},
			"max_attempts": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Attempts before the step fails (default 1, at most " + strconv.Itoa(document.MaxAttempts) + "; " +
					"AWS documents no maximum, so the ceiling is the provider's own).",
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"on_failure": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "`Abort` (default), `Continue`, or `step:NAME` to jump.",
			},
			"on_cancel": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "`Abort` (default) or `step:NAME`.",
			},
			"is_critical": schema.BoolAttribute{Optional: true, MarkdownDescription: "Whether a failure of this step fails the bake (default true)."},
			"is_end":      schema.BoolAttribute{Optional: true, MarkdownDescription: "End the bake after this step."},
			"next_step":   schema.StringAttribute{Optional: true, MarkdownDescription: "Step to run next instead of the following one."},
			"action": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "SSM action name (`aws:executeScript`, ...) for actions that have no block here; " +
					"give its inputs as JSON in `inputs`.",
			},
			"inputs": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "JSON object of the action's inputs, with `action`. Use `jsonencode({...})`.",
				Validators:          []validator.String{jsonValidator{object: true}},
			},
		},
		Blocks: blocks,
		Validators: []validator.Object{
			exactlyOneActionValidator{},
		},
	}
}

// blockActions are the catalogue's actions that have an HCL block, sorted by block name.
var blockActions = sync.OnceValue(func() []document.ActionSpec {
	var out []document.ActionSpec
	for _, a := range document.Actions() {
		if a.Block != "" {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Block < out[j].Block })
	return out
})

// blockActionsByBlock are blockActions keyed by block name.
var blockActionsByBlock = sync.OnceValue(func() map[string]document.ActionSpec {
	m := map[string]document.ActionSpec{}
	for _, a := range blockActions() {
		m[a.Block] = a
	}
	return m
})

// makesImage reports whether an action makes the image a bake is for: its
// catalogue entry has an ImageId output (aws:createImage, aws:copyImage).
func makesImage(spec document.ActionSpec) bool {
	_, ok := spec.Output("ImageId")
	return ok
}

// imageActionBlocks are the blocks of the actions that make an image.
func imageActionBlocks() []string {
	var out []string
	for _, spec := range blockActions() {
		if makesImage(spec) {
			out = append(out, spec.Block)
		}
	}
	return out
}

// readableInputsText lists, for the schema's descriptions, the action
// attributes whose values others can read once the step has run
// (InputSpec.ReadableBy): "`image_name` and `image_description` of
// `copy_image`; ...".
func readableInputsText() string {
	var parts []string
	for _, spec := range blockActions() {
		var names []string
		for _, in := range spec.Inputs {
			if in.ReadableBy != "" {
				names = append(names, document.SnakeCase(in.Name))
			}
		}
		if len(names) > 0 {
			parts = append(parts, strings.Join(quoted(names), " and ")+" of `"+spec.Block+"`")
		}
	}
	return strings.Join(parts, "; ")
}

// quoted wraps each name in backticks.
func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "`" + n + "`"
	}
	return out
}

func actionBlock(spec document.ActionSpec) schema.SingleNestedBlock {
	attrs := map[string]schema.Attribute{}
	for _, in := range spec.Inputs {
		attrs[document.SnakeCase(in.Name)] = inputAttribute(spec.Name, in)
	}
	if spec.OpenInputs {
		attrs[apiInputsAttribute] = schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "The called API's own request fields as a JSON object, e.g. " +
				"`jsonencode({ ImageIds = [\"{{ image.ImageId }}\"] })`.",
			Validators: []validator.String{jsonValidator{object: true}},
		}
	}
	desc := fmt.Sprintf("`%s`: %s", spec.Name, spec.Description)
	if len(spec.Outputs) > 0 {
		var names []string
		for _, o := range spec.Outputs {
			names = append(names, "`"+o.Name+"`")
		}
		desc += " Outputs: " + strings.Join(names, ", ") + "."
	}
	b := schema.SingleNestedBlock{MarkdownDescription: desc, Attributes: attrs}
	b.CustomType = b.Type().(types.ObjectType) // see withFixedTypes
	return b
}

func inputAttribute(action string, in document.InputSpec) schema.Attribute {
	desc := fmt.Sprintf("SSM input `%s`.", in.Name)
	if in.Description != "" {
		desc = in.Description + " (SSM input `" + in.Name + "`.)"
	}
	if len(in.Enum) > 0 {
		desc += " One of `" + strings.Join(in.Enum, "`, `") + "`."
	}
	// A required input is Optional in the schema: the framework would demand it even
	// when the step uses another action block. The document validator reports a
	// missing input at plan time, naming the step.
	if in.Required {
		desc = "**Required** when the block is used. " + desc
	}
	// Integers and booleans are strings in the schema so that they, like any
	// SSM input, may hold a `{{ }}` template: Terraform converts 5 and true
	// to "5" and "true", and the converter turns literals back into numbers
	// and booleans.
	switch in.Type {
	case document.TypeInteger:
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc + " A whole number, or a `{{ }}` template."}
	case document.TypeBoolean:
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc + " `true` or `false`, or a `{{ }}` template."}
	case document.TypeStringList:
		return schema.ListAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: desc}
	case document.TypeStringMap:
		return schema.MapAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: desc}
	case document.TypeMapList:
		return schema.ListAttribute{ElementType: types.MapType{ElemType: types.StringType}, Optional: true, MarkdownDescription: desc}
	case document.TypeStringListMap:
		return schema.MapAttribute{ElementType: types.ListType{ElemType: types.StringType}, Optional: true, MarkdownDescription: desc}
	case document.TypeJSON:
		desc += " JSON text: use `jsonencode(...)`; or a `{{ }}` template standing for the whole value."
		if shape, ok := actions.InputShape(action, in.Name); ok {
			desc += " Checked at plan time against the shape the AWS API takes: `jsonencode(" + shape + ")`."
		}
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc, Validators: []validator.String{jsonValidator{}}}
	default:
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc}
	}
}

// apiInputsAttribute carries the request fields of the generic AWS API actions
// (executeAwsApi and friends), whose inputs are the called API's own.
const apiInputsAttribute = "api_inputs"

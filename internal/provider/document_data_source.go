package provider

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

var (
	_ datasource.DataSource                     = (*documentDataSource)(nil)
	_ datasource.DataSourceWithConfigure        = (*documentDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*documentDataSource)(nil)
	_ datasource.DataSourceWithValidateConfig   = (*documentDataSource)(nil)
)

// NewDocumentDataSource returns the amibake_document data source.
func NewDocumentDataSource() datasource.DataSource { return &documentDataSource{} }

type documentDataSource struct {
	data *providerData
}

type documentDataSourceModel struct {
	Content       types.String `tfsdk:"content"`
	Name          types.String `tfsdk:"name"`
	ID            types.String `tfsdk:"id"`
	Description   types.String `tfsdk:"description"`
	Parameters    types.List   `tfsdk:"parameters"`
	Steps         types.List   `tfsdk:"steps"`
	StepNames     types.List   `tfsdk:"step_names"`
	Outputs       types.List   `tfsdk:"outputs"`
	JSON          types.String `tfsdk:"json"`
	ContentSHA256 types.String `tfsdk:"content_sha256"`
}

var (
	dsParameterType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"name":            types.StringType,
		"type":            types.StringType,
		"description":     types.StringType,
		"default":         types.StringType,
		"required":        types.BoolType,
		"allowed_values":  types.ListType{ElemType: types.StringType},
		"allowed_pattern": types.StringType,
	}}
	dsStepType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"name":       types.StringType,
		"action":     types.StringType,
		"on_failure": types.StringType,
		"runnable":   types.BoolType,
	}}
)

func (d *documentDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_document"
}

func (d *documentDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an existing SSM Automation document — given as JSON/YAML text, or by name from SSM — " +
			"validates it and exposes its parameters, steps and canonical JSON.",
		Attributes: map[string]schema.Attribute{
			"content": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Document text (JSON or YAML), e.g. `file(\"update-ami.yaml\")`. Conflicts with `name`." +
					documentSizeNote,
			},
			"name": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Name of an Automation document in SSM (yours or AWS's, e.g. `AWS-UpdateLinuxAmi`). Conflicts with `content`.",
			},
			"id":          schema.StringAttribute{Computed: true, MarkdownDescription: "Same as `content_sha256`."},
			"description": schema.StringAttribute{Computed: true, MarkdownDescription: "The document's description."},
			"parameters": schema.ListAttribute{
				Computed:            true,
				ElementType:         dsParameterType,
				MarkdownDescription: "Parameters sorted by name: `name`, `type`, `description`, `default` (JSON text for lists and maps), `required`, `allowed_values`, `allowed_pattern`.",
			},
			"steps": schema.ListAttribute{
				Computed:            true,
				ElementType:         dsStepType,
				MarkdownDescription: "Steps in order: `name`, `action`, `on_failure`, and `runnable` (whether `amibake_image` can run the action).",
			},
			"step_names":     schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Step names in order."},
			"outputs":        schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Document outputs (`step.Output`)."},
			"json":           schema.StringAttribute{Computed: true, MarkdownDescription: "Canonical SSM Automation JSON."},
			"content_sha256": schema.StringAttribute{Computed: true, MarkdownDescription: "SHA-256 (hex) of `json`."},
		},
	}
}

func (d *documentDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("content"), path.MatchRoot("name")),
	}
}

// ValidateConfig checks literal content already at `terraform validate`.
func (d *documentDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var content types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("content"), &content)...)
	if resp.Diagnostics.HasError() || content.IsNull() || content.IsUnknown() {
		return
	}
	_, _, diags := buildRecipe(ctx, "content", content, recipeModel{}, true)
	resp.Diagnostics.Append(diags...)
}

func (d *documentDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	data, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	d.data = data
}

func (d *documentDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m documentDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	text := m.Content.ValueString()
	at := path.Root("content")
	if !m.Name.IsNull() {
		at = path.Root("name")
		ctx, cancel := withLimit(ctx, "data source read", readTimeout)
		defer cancel()
		clients, diags := d.data.Clients(ctx)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		var err error
		text, err = engine.FetchDocument(ctx, clients, m.Name.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(at, "Cannot Read SSM Document", err.Error())
			return
		}
	}
	doc, err := document.ParseText(text)
	if err != nil {
		addDocumentError(&resp.Diagnostics, at, err)
		return
	}
	addProblems(&resp.Diagnostics, doc, document.Validate(doc), &at)
	if resp.Diagnostics.HasError() {
		return
	}
	js, sum, err := canonical(doc)
	if err != nil {
		resp.Diagnostics.AddError("Cannot Render Document", err.Error())
		return
	}
	m.ID = types.StringValue(sum)
	m.JSON = types.StringValue(js)
	m.ContentSHA256 = types.StringValue(sum)
	m.Description = types.StringValue(doc.Description)

	var diags diag.Diagnostics
	m.StepNames, diags = types.ListValueFrom(ctx, types.StringType, stepNames(doc))
	resp.Diagnostics.Append(diags...)
	outputs := doc.Outputs
	if outputs == nil {
		outputs = []string{}
	}
	m.Outputs, diags = types.ListValueFrom(ctx, types.StringType, outputs)
	resp.Diagnostics.Append(diags...)

	params := []attr.Value{}
	for _, p := range sortedParameters(doc) {
		allowed, dd := types.ListValueFrom(ctx, types.StringType, nonNil(p.AllowedValues))
		resp.Diagnostics.Append(dd...)
		def := types.StringNull()
		if p.HasDefault {
			def = types.StringValue(defaultText(p.Default))
		}
		obj, dd := types.ObjectValue(dsParameterType.AttrTypes, map[string]attr.Value{
			"name":            types.StringValue(p.Name),
			"type":            types.StringValue(p.Type),
			"description":     types.StringValue(p.Description),
			"default":         def,
			"required":        types.BoolValue(!p.HasDefault),
			"allowed_values":  allowed,
			"allowed_pattern": types.StringValue(p.AllowedPattern),
		})
		resp.Diagnostics.Append(dd...)
		params = append(params, obj)
	}
	m.Parameters, diags = types.ListValue(dsParameterType, params)
	resp.Diagnostics.Append(diags...)

	steps := []attr.Value{}
	for _, s := range doc.MainSteps {
		onFailure := s.OnFailure
		if onFailure == "" {
			onFailure = "Abort"
		}
		obj, dd := types.ObjectValue(dsStepType.AttrTypes, map[string]attr.Value{
			"name":       types.StringValue(s.Name),
			"action":     types.StringValue(s.Action),
			"on_failure": types.StringValue(onFailure),
			"runnable":   types.BoolValue(engine.CanRun(s.Action)),
		})
		resp.Diagnostics.Append(dd...)
		steps = append(steps, obj)
	}
	m.Steps, diags = types.ListValue(dsStepType, steps)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func sortedParameters(doc *document.Document) []document.Parameter {
	ps := append([]document.Parameter(nil), doc.Parameters...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return ps
}

// defaultText renders a parameter default as Terraform sees it: strings as they are,
// anything else as JSON.
func defaultText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

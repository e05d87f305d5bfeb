package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

var (
	_ resource.Resource                   = (*documentResource)(nil)
	_ resource.ResourceWithConfigure      = (*documentResource)(nil)
	_ resource.ResourceWithValidateConfig = (*documentResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*documentResource)(nil)
	_ resource.ResourceWithImportState    = (*documentResource)(nil)
)

// NewDocumentResource returns the amibake_document resource.
func NewDocumentResource() resource.Resource { return &documentResource{} }

type documentResource struct {
	data *providerData
}

type documentResourceModel struct {
	recipeModel
	ID            types.String `tfsdk:"id"`
	Content       types.String `tfsdk:"content"`
	ContentSHA256 types.String `tfsdk:"content_sha256"`
	JSON          types.String `tfsdk:"json"`
	StepNames     types.List   `tfsdk:"step_names"`
}

func (r *documentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_document"
}

func (r *documentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := recipeAttributes()
	attrs["content"] = schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "An SSM Automation document as JSON or YAML text, e.g. `file(\"update-ami.json\")`. " +
			"Conflicts with the HCL recipe (`parameter`, `step`, `description`, `assume_role`, `outputs`)." + documentSizeNote,
	}
	for k, v := range documentComputedAttributes() {
		attrs[k] = v
	}
	attrs["id"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "The document's content id: the SHA-256 of its canonical JSON.",
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A bake recipe: an SSM Automation document (schema 0.3) written in HCL or given as JSON/YAML. " +
			"It is validated at plan time and rendered as canonical JSON; it creates nothing in AWS.",
		Attributes: attrs,
		Blocks:     recipeBlocks(),
	}
}

func documentComputedAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"content_sha256": schema.StringAttribute{
			Computed:            true,
			MarkdownDescription: "SHA-256 (hex) of `json`. Equal recipes have equal hashes, whether written in HCL, JSON or YAML.",
		},
		// Sensitive so that plans print the recipe once: as this resource's
		// `content` or blocks. The mark follows the value into
		// amibake_image.document and aws_ssm_document.content, which would
		// otherwise print the whole document again (twice in a replacement).
		"json": schema.StringAttribute{
			Computed:  true,
			Sensitive: true,
			MarkdownDescription: "The canonical SSM Automation JSON, usable as `aws_ssm_document.content` or `amibake_image.document`. " +
				"Marked sensitive (it holds no secret) so that a plan prints the recipe once, as this resource's `content` or blocks, " +
				"and not again here and in every resource that takes it: `amibake_image.document` then shows `(sensitive value)`, " +
				"with `# forces replacement` when the recipe changed. To print it, use `nonsensitive(amibake_document.x.json)` " +
				"(for example in an `output`), or read the text with the `amibake_document` data source, whose `json` is not sensitive.",
		},
		"step_names": schema.ListAttribute{
			ElementType:         types.StringType,
			Computed:            true,
			MarkdownDescription: "Step names in order.",
		},
	}
}

func (r *documentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	data, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	r.data = data
}

func (r *documentResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	defer recoverPanic(ctx, "amibake_document validation", &resp.Diagnostics)
	var m documentResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	_, _, diags := buildRecipe(ctx, "content", m.Content, m.recipeModel, true)
	resp.Diagnostics.Append(diags...)
}

func (r *documentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	defer recoverPanic(ctx, "amibake_document plan", &resp.Diagnostics)
	if req.Plan.Raw.IsNull() {
		return
	}
	var m documentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	doc, unknown, diags := buildRecipe(ctx, "content", m.Content, m.recipeModel, false)
	if diags.HasError() || unknown {
		return // errors were reported by ValidateConfig; unknown values stay unknown
	}
	resp.Diagnostics.Append(setDocumentComputed(ctx, doc, &m)...)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
}

func (r *documentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer recoverPanic(ctx, "amibake_document create", &resp.Diagnostics)
	resp.Diagnostics.Append(r.save(ctx, req.Plan, &resp.State)...)
}

// Read keeps the state as it is: a document lives only in state, so nothing in
// AWS can drift, and the response starts as a copy of the state.
func (r *documentResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (r *documentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer recoverPanic(ctx, "amibake_document update", &resp.Diagnostics)
	resp.Diagnostics.Append(r.save(ctx, req.Plan, &resp.State)...)
}

// save renders the planned recipe into state; Create and Update do nothing else.
func (r *documentResource) save(ctx context.Context, plan tfsdk.Plan, state *tfsdk.State) diag.Diagnostics {
	var m documentResourceModel
	diags := plan.Get(ctx, &m)
	if diags.HasError() {
		return diags
	}
	diags.Append(r.render(ctx, &m)...)
	if diags.HasError() {
		return diags
	}
	diags.Append(state.Set(ctx, &m)...)
	return diags
}

func (r *documentResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
	// Nothing exists outside state, and nothing here can panic.
}

// ImportState adopts a document from its JSON or YAML file: the import id is the
// file's path, optionally prefixed with `file:`.
func (r *documentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	defer recoverPanic(ctx, "amibake_document import", &resp.Diagnostics)
	text, err := importText(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Cannot Import Document", err.Error())
		return
	}
	m := documentResourceModel{recipeModel: nullRecipe(), Content: types.StringValue(text)}
	resp.Diagnostics.Append(r.render(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *documentResource) render(ctx context.Context, m *documentResourceModel) diag.Diagnostics {
	doc, unknown, diags := buildRecipe(ctx, "content", m.Content, m.recipeModel, true)
	if diags.HasError() {
		return diags
	}
	if unknown {
		diags.AddError("Recipe Not Known", "A recipe value is still unknown at apply time. Please report this issue.")
		return diags
	}
	diags.Append(setDocumentComputed(ctx, doc, m)...)
	return diags
}

func setDocumentComputed(ctx context.Context, doc *document.Document, m *documentResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	js, sum, err := canonical(doc)
	if err != nil {
		diags.AddError("Cannot Render Document", err.Error())
		return diags
	}
	m.JSON = types.StringValue(js)
	m.ContentSHA256 = types.StringValue(sum)
	m.ID = types.StringValue(sum)
	names, d := types.ListValueFrom(ctx, types.StringType, stepNames(doc))
	diags.Append(d...)
	m.StepNames = names
	return diags
}

// buildRecipe turns either the document text held by attribute textAttr
// (`content`, or `document` on amibake_image) or the HCL recipe into a validated
// document. With validate=false, only conversion errors are reported.
func buildRecipe(ctx context.Context, textAttr string, text types.String, hcl recipeModel, validate bool) (*document.Document, bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	if text.IsUnknown() {
		return nil, true, diags
	}
	at := path.Root(textAttr)
	if !text.IsNull() {
		if hcl.isSet() {
			diags.AddAttributeError(at, "Conflicting Recipe",
				"Give the recipe either as "+textAttr+" (JSON/YAML text) or as HCL (parameter, step, description, "+
					"assume_role, outputs), not both.")
			return nil, false, diags
		}
		doc, err := document.ParseText(text.ValueString())
		if err != nil {
			addDocumentError(&diags, at, err)
			return nil, false, diags
		}
		if validate {
			addProblems(&diags, doc, recipeProblems(doc), &at)
		}
		return doc, false, diags
	}
	if len(hcl.Step.Elements()) == 0 && !hcl.Step.IsUnknown() {
		diags.AddError("Missing Recipe",
			"Give the recipe as content (SSM Automation JSON or YAML) or as at least one step block.")
		return nil, false, diags
	}
	doc, unknown, d := hcl.toDocument(ctx)
	diags.Append(d...)
	if unknown || diags.HasError() {
		return doc, unknown, diags
	}
	if validate {
		addProblems(&diags, doc, recipeProblems(doc), nil)
	}
	return doc, false, diags
}

// recipeProblems are the document's static problems and those of its JSON
// inputs against the shape the AWS API takes.
func recipeProblems(doc *document.Document) []document.Problem {
	return append(document.Validate(doc), actions.JSONInputProblems(doc)...)
}

// documentSizeNote ends the description of every attribute that takes
// document text.
const documentSizeNote = " At most 64 KB (65,536 bytes), SSM's limit for document content; YAML aliases may expand it to at most 256 KB."

// addDocumentError reports why document text cannot be used.
func addDocumentError(diags *diag.Diagnostics, at path.Path, err error) {
	var le *document.LimitError
	if errors.As(err, &le) {
		msg := le.Error()
		diags.AddAttributeError(at, "Document Too Large", strings.ToUpper(msg[:1])+msg[1:]+".")
		return
	}
	diags.AddAttributeError(at, "Invalid Document", documentErrorDetail(err))
}

func documentErrorDetail(err error) string {
	var se *document.SyntaxError
	if errors.As(err, &se) {
		return "The document text cannot be read: " + se.Error()
	}
	return err.Error()
}

func canonical(doc *document.Document) (string, string, error) {
	js, err := doc.CanonicalJSON()
	if err != nil {
		return "", "", err
	}
	sum, err := doc.SHA256()
	if err != nil {
		return "", "", err
	}
	return string(js), sum, nil
}

func stepNames(doc *document.Document) []string {
	names := make([]string, 0, len(doc.MainSteps))
	for _, s := range doc.MainSteps {
		names = append(names, s.Name)
	}
	return names
}

// importText reads the document text named by an import id: `file:PATH` or a
// path. It reads no more than one byte past document.MaxDocumentBytes, so that
// a larger file is refused by the parser without being read whole.
func importText(id string) (string, error) {
	p := strings.TrimPrefix(id, "file:")
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("the import id must be the path of an SSM Automation JSON or YAML file (optionally prefixed with file:): %w", err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, document.MaxDocumentBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", document.QuoteValue(p), err)
	}
	if len(b) > document.MaxDocumentBytes {
		size := int64(len(b))
		if st, err := f.Stat(); err == nil && st.Size() > size {
			size = st.Size()
		}
		return "", fmt.Errorf("%s: %w", document.QuoteValue(p), document.CheckDocumentSize(int(size)))
	}
	return string(b), nil
}

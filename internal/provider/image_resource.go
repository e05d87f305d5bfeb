package provider

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

var (
	_ resource.Resource                   = (*imageResource)(nil)
	_ resource.ResourceWithConfigure      = (*imageResource)(nil)
	_ resource.ResourceWithValidateConfig = (*imageResource)(nil)
	_ resource.ResourceWithImportState    = (*imageResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*imageResource)(nil)
)

// Private state keys of amibake_image (besides importedKey).
const (
	// leftoversKey marks a resource recorded by a failed bake: what it holds
	// is what cleanup could not remove.
	leftoversKey = "leftovers"
	// imageGoneKey marks a resource whose image is gone while copies or
	// leftovers remain: the next plan replaces it, so that destroy removes them.
	imageGoneKey = "image_gone"
)

const (
	defaultCreateTimeout = 60 * time.Minute
	defaultUpdateTimeout = 60 * time.Minute
	defaultDeleteTimeout = 30 * time.Minute
)

// NewImageResource returns the amibake_image resource.
func NewImageResource() resource.Resource { return &imageResource{} }

type imageResource struct {
	data *providerData
}

type imageResourceModel struct {
	recipeModel
	ID                       types.String   `tfsdk:"id"`
	Document                 types.String   `tfsdk:"document"`
	Parameters               types.Map      `tfsdk:"parameters"`
	SensitiveParameters      types.Map      `tfsdk:"sensitive_parameters"`
	SensitiveParametersWO    types.Map      `tfsdk:"sensitive_parameters_wo"`
	SensitiveParametersWOVer types.Int64    `tfsdk:"sensitive_parameters_wo_version"`
	ImageOutput              types.String   `tfsdk:"image_output"`
	Tags                     types.Map      `tfsdk:"tags"`
	Triggers                 types.Map      `tfsdk:"triggers"`
	DeregisterOnDestroy      types.Bool     `tfsdk:"deregister_on_destroy"`
	DeleteSnapshotsOnDestroy types.Bool     `tfsdk:"delete_snapshots_on_destroy"`
	KeepBuilderInstances     types.Bool     `tfsdk:"keep_builder_instances"`
	Timeouts                 timeouts.Value `tfsdk:"timeouts"`
	ImageID                  types.String   `tfsdk:"image_id"`
	ExecutionID              types.String   `tfsdk:"execution_id"`
	BakeKey                  types.String   `tfsdk:"bake_key"`
	StepOutputs              types.Map      `tfsdk:"step_outputs"`
	SnapshotIDs              types.List     `tfsdk:"snapshot_ids"`
	Region                   types.String   `tfsdk:"region"`
	AccountID                types.String   `tfsdk:"account_id"`
	Steps                    types.List     `tfsdk:"steps"`
	Copies                   types.Map      `tfsdk:"copies"`
	KeptInstanceIDs          types.List     `tfsdk:"kept_instance_ids"`
	Distribution             types.Object   `tfsdk:"distribution"`
	RegionImageIDs           types.Map      `tfsdk:"region_image_ids"`
	Executor                 types.String   `tfsdk:"executor"`
	AutomationRoleARN        types.String   `tfsdk:"automation_role_arn"`
}

var stepResultType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name":        types.StringType,
	"action":      types.StringType,
	"status":      types.StringType,
	"attempts":    types.Int64Type,
	"started_at":  types.StringType,
	"finished_at": types.StringType,
	"message":     types.StringType,
}}

func (r *imageResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

// replaceUnlessImported forces a rebuild when a recipe value changes, except when
// the state has none: an imported image adopts the configured recipe in place.
var replaceUnlessImportedDesc = "A change rebuilds the image, unless the image was imported and has no recipe in state yet."

func replaceUnlessImportedString() planmodifier.String {
	return stringplanmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(req.Private)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

func replaceUnlessImportedList() planmodifier.List {
	return listplanmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.ListRequest, resp *listplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(req.Private)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

func replaceUnlessImportedMap() planmodifier.Map {
	return mapplanmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.MapRequest, resp *mapplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(req.Private)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

func (r *imageResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := recipeAttributes()
	for k, a := range attrs {
		switch a := a.(type) {
		case schema.StringAttribute:
			a.PlanModifiers = []planmodifier.String{replaceUnlessImportedString()}
			attrs[k] = a
		case schema.ListAttribute:
			a.PlanModifiers = []planmodifier.List{replaceUnlessImportedList()}
			attrs[k] = a
		}
	}
	blocks := recipeBlocks()
	for k, b := range blocks {
		lb := b.(schema.ListNestedBlock)
		lb.PlanModifiers = []planmodifier.List{replaceUnlessImportedList()}
		blocks[k] = lb
	}
	blocks["timeouts"] = timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true})
	blocks["distribution"] = distributionBlock()

	computedString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{
			Computed: true, MarkdownDescription: desc,
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		}
	}
	attrs["document"] = schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "The recipe as SSM Automation JSON or YAML text, typically `amibake_document.x.json` or `file(...)`. " +
			"Conflicts with the inline HCL recipe." + documentSizeNote,
		PlanModifiers: []planmodifier.String{replaceUnlessImportedString()},
	}
	attrs["parameters"] = schema.MapAttribute{
		ElementType: types.StringType, Optional: true,
		MarkdownDescription: "Values of the recipe's parameters. Lists and maps as JSON text (`jsonencode(...)`); " +
			"a `StringList` may also be comma-separated. Checked against the parameters' types, allowed values and patterns at plan time. " +
			"Each value may be at most 256 KB, and all parameter values of a bake together at most 1 MB, defaults included once their `{{ }}` references are resolved.",
		PlanModifiers: []planmodifier.Map{replaceUnlessImportedMap()},
	}
	attrs["sensitive_parameters"] = schema.MapAttribute{
		ElementType: types.StringType, Optional: true, Sensitive: true,
		MarkdownDescription: "Like `parameters`, for secrets: never logged, tagged or shown in plans. A value that breaks a parameter's " +
			"rules is reported by the rule alone. Wherever the bake reports what it did (errors, logs, `steps`, `step_outputs`) the values " +
			"are replaced by `(sensitive value)`, in every encoding they may take there (JSON, quoted, URL, base64, HTML). `bake_key` " +
			"depends on their names only. A value that would reach an input others can read (an AMI name or description, a tag, a command's " +
			"parameters or comment) is an error at plan time, whether directly or through a parameter default or a step output; those inputs are " +
			readableInputsText() + ". For a command, store the secret in SSM Parameter Store as a SecureString and have the command read it on the instance " +
			"(`aws ssm get-parameter --with-decryption`). Like every sensitive attribute, the values are kept in the state: with Terraform 1.11 " +
			"or later, or OpenTofu 1.11 or later, prefer `" + writeOnlyAttr + "`, which keeps them out of state and plan; use this argument with older CLIs.",
		PlanModifiers: []planmodifier.Map{replaceUnlessImportedMap()},
	}
	attrs["image_output"] = schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "Which output is the baked image, as `step.Output` (e.g. `createImage.ImageId`). Defaults to the document " +
			"output that ends in `.ImageId`, else the last " + strings.Join(quoted(imageActionBlocks()), " or ") + " step.",
		PlanModifiers: []planmodifier.String{replaceUnlessImportedString()},
	}
	attrs["tags"] = schema.MapAttribute{
		ElementType: types.StringType, Optional: true,
		MarkdownDescription: "Tags for the image and its snapshots. Changed in place, without a rebuild.",
	}
	attrs["triggers"] = schema.MapAttribute{
		ElementType: types.StringType, Optional: true,
		MarkdownDescription: "Arbitrary values; any change rebuilds the image (e.g. a monthly `formatdate` or an upstream AMI id).",
		PlanModifiers:       []planmodifier.Map{replaceUnlessImportedMap()},
	}
	attrs["deregister_on_destroy"] = schema.BoolAttribute{
		Optional: true, Computed: true, Default: booldefault.StaticBool(true),
		MarkdownDescription: "Deregister the image (and its copies) on destroy. Set to `false` to keep AMIs that launch templates still use. Default `true`.",
	}
	attrs["delete_snapshots_on_destroy"] = schema.BoolAttribute{
		Optional: true, Computed: true, Default: booldefault.StaticBool(true),
		MarkdownDescription: "Delete the image's snapshots after deregistering it. Default `true`.",
	}
	attrs["keep_builder_instances"] = schema.BoolAttribute{
		Optional: true, Computed: true, Default: booldefault.StaticBool(false),
		MarkdownDescription: "Leave builder instances running after the bake (for debugging). Default `false`: every instance the bake launched is terminated, whatever happens.",
	}
	attrs["id"] = computedString("Same as `image_id`.")
	attrs["image_id"] = computedString("The baked AMI id.")
	attrs["execution_id"] = computedString("The bake's execution id (`{{automation:EXECUTION_ID}}`); everything it created is tagged `amibake:execution-id`.")
	attrs["bake_key"] = computedString("Hash of the recipe, the values of `parameters`, the names (never the values) of `sensitive_parameters` and `" + writeOnlyAttr + "`, " +
		"and `triggers`. A bake with the same key removes what a bake of the same key that died left behind, once that bake's lease has expired " +
		"(see the provider's `lease_duration`). It is also the tag `amibake:bake-key`, which anyone who can describe the image may read, so it " +
		"reveals nothing about sensitive values: a change of a sensitive value alone keeps the key (and still rebuilds the image).")
	attrs["region"] = computedString("Region the image was baked in.")
	attrs["account_id"] = computedString("Account the image was baked in.")
	attrs["step_outputs"] = schema.MapAttribute{
		ElementType: types.StringType, Computed: true,
		MarkdownDescription: "Every step output, keyed `step.Output`; lists and maps as JSON text. The secrets of the run are " +
			"shown as `(sensitive value)`, here and in `steps`, logs and errors: the values of `sensitive_parameters`, SecureString " +
			"parameters read for `{{ssm:...}}` defaults, and the secret fields of the responses of `execute_aws_api` calls to APIs that " +
			"return secrets: ssm `GetParameter`, `GetParameters`, `GetParametersByPath` and `GetParameterHistory` with `WithDecryption`; " +
			"secretsmanager `GetSecretValue` and `BatchGetSecretValue`; iam `CreateAccessKey` and service-specific credentials; the " +
			"credentials of sts `AssumeRole` (and its SAML and web identity forms), `GetSessionToken` and `GetFederationToken`; the " +
			"plaintext of kms `Decrypt`, `GenerateDataKey`, `GenerateDataKeyPair` and `GenerateRandom`; ecr `GetAuthorizationToken`. " +
			"Later steps still receive the real values.",
		PlanModifiers: []planmodifier.Map{mapplanmodifier.UseStateForUnknown()},
	}
	attrs["snapshot_ids"] = schema.ListAttribute{
		ElementType: types.StringType, Computed: true,
		MarkdownDescription: "EBS snapshots behind the image (refreshed on read).",
		PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
	}
	attrs["steps"] = schema.ListNestedAttribute{
		Computed:            true,
		MarkdownDescription: "What each executed step did, in execution order (a step reached twice by a jump appears twice).",
		PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"name":        schema.StringAttribute{Computed: true, MarkdownDescription: "Step name."},
			"action":      schema.StringAttribute{Computed: true, MarkdownDescription: "SSM action, e.g. `aws:createImage`."},
			"status":      schema.StringAttribute{Computed: true, MarkdownDescription: "`Success`, `Failed`, `TimedOut` or `Cancelled`."},
			"attempts":    schema.Int64Attribute{Computed: true, MarkdownDescription: "Attempts made (see `max_attempts`)."},
			"started_at":  schema.StringAttribute{Computed: true, MarkdownDescription: "Start time, RFC 3339 UTC."},
			"finished_at": schema.StringAttribute{Computed: true, MarkdownDescription: "End time, RFC 3339 UTC."},
			"message":     schema.StringAttribute{Computed: true, MarkdownDescription: "Why the step failed; empty on success. Secrets are shown as `(sensitive value)`."},
		}},
	}
	attrs["kept_instance_ids"] = schema.ListAttribute{
		ElementType: types.StringType, Computed: true,
		MarkdownDescription: "Builder instances left in place because `keep_builder_instances` is true. They are marked kept (no later bake removes them) " +
			"and are terminated when this resource is destroyed.",
		PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()},
	}
	attrs["copies"] = schema.MapAttribute{
		ElementType: types.StringType, Computed: true,
		MarkdownDescription: "Images made by `copy_image` steps, keyed by region (`region/ami-id` when one region has several). Removed with the image on destroy.",
		PlanModifiers:       []planmodifier.Map{mapplanmodifier.UseStateForUnknown()},
	}
	attrs["region_image_ids"] = schema.MapAttribute{
		ElementType: types.StringType, Computed: true,
		MarkdownDescription: regionImageIDsDescription,
		PlanModifiers:       []planmodifier.Map{mapplanmodifier.UseStateForUnknown()},
	}
	addExecutorAttributes(attrs)
	addWriteOnlyAttributes(attrs)
	resp.Schema = schema.Schema{
		MarkdownDescription: "A baked AMI. `terraform apply` runs the recipe (launch → command → stop → image → tag → terminate), " +
			"records the AMI, and never leaves a builder instance behind; `terraform destroy` deregisters the AMI and deletes its snapshots.\n\n" +
			"Bounds, checked at plan time where the recipe allows and again during the bake: a bake runs at most " + strconv.Itoa(document.MaxStepExecutions) +
			" step executions (a step reached again by `next_step`, `on_failure` or a branch counts again, retries do not), so a recipe whose jumps loop stops there; " +
			"a step makes at most " + strconv.Itoa(document.MaxAttempts) + " attempts (`max_attempts`); " +
			"a parameter value or step input may be at most 256 KB once its `{{ }}` references are resolved, " +
			"and a bake's parameter values together, or one step's inputs together, at most 1 MB.",
		Attributes: attrs,
		Blocks:     blocks,
	}
}

func (r *imageResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	data, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	r.data = data
}

func (r *imageResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	defer recoverPanic(ctx, "amibake_image validation", &resp.Diagnostics)
	var m imageResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(validateDistribution(ctx, m.Distribution)...)
	doc, unknown, diags := buildImageRecipe(ctx, m)
	resp.Diagnostics.Append(diags...)
	if unknown || doc == nil || resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(validateExecutorConfig(doc, m)...)
	resp.Diagnostics.Append(writeOnlyAdvice(m, req.ClientCapabilities.WriteOnlyAttributesAllowed)...)
	for _, pr := range document.Advice(doc) {
		at := path.Root("document")
		if m.Document.IsNull() {
			at = problemPath(doc, pr)
		}
		resp.Diagnostics.AddAttributeWarning(at, "Builder Without Instance Profile", pr.Error())
	}
	resp.Diagnostics.Append(checkStepCount(doc, m.Document.IsNull())...)
	if _, err := imageOutputName(doc, m.ImageOutput.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("image_output"), "No Image Output", err.Error())
	}
	values, known := parameterValues(ctx, m, &resp.Diagnostics)
	if !known {
		return
	}
	sensitive := sensitiveNames(m)
	if _, problems := document.ParameterValues(doc, values, document.SensitiveParameters(sensitive...)); len(problems) > 0 {
		for _, p := range problems {
			at := path.Root("parameters")
			if len(p.Path) >= 2 {
				name := p.Path[1]
				if slices.Contains(sensitive, name) {
					at = sensitivePath(m, name)
				} else {
					at = at.AtMapKey(name)
				}
			}
			if p.IsWarning() {
				resp.Diagnostics.AddAttributeWarning(at, "Parameter Value Not Checked", p.Error())
				continue
			}
			resp.Diagnostics.AddAttributeError(at, "Invalid Parameter Value", p.Error())
		}
		if len(document.Errors(problems)) > 0 {
			// Where a secret would go does not depend on its value.
			resp.Diagnostics.Append(secretExposures(doc, m)...)
			return
		}
	}
	// With the values given, parameters and step inputs must stay within the
	// bounds on resolved values (the document's defaults alone were checked
	// with the recipe).
	for _, p := range document.ExpansionProblems(doc, values) {
		at := path.Root("document")
		switch {
		case len(p.Path) == 2 && p.Path[0] == "parameters" && hasKey(values, p.Path[1]):
			at = path.Root("parameters").AtMapKey(p.Path[1])
			if isSensitive(m, p.Path[1]) {
				at = sensitivePath(m, p.Path[1])
			}
		case m.Document.IsNull():
			at = problemPath(doc, p)
		}
		resp.Diagnostics.AddAttributeError(at, "Value Too Large", p.Error())
	}
	resp.Diagnostics.Append(secretExposures(doc, m)...)
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// checkStepCount refuses, at plan time, a recipe with more steps than a bake
// executes: it could never finish.
func checkStepCount(doc *document.Document, hcl bool) diag.Diagnostics {
	var diags diag.Diagnostics
	if len(doc.MainSteps) <= document.MaxStepExecutions {
		return diags
	}
	at := path.Root("document")
	if hcl {
		at = path.Root("step")
	}
	diags.AddAttributeError(at, "Too Many Steps",
		fmt.Sprintf("The recipe has %d steps, but a bake runs at most %d step executions (a step reached again by a jump counts again). "+
			"Split the recipe into several images, or merge steps (one run_command step can run many commands).",
			len(doc.MainSteps), document.MaxStepExecutions))
	return diags
}

// secretExposures reports, as errors, each step input through which a
// sensitive value would become readable by others (an AMI name or
// description, a tag, a command's parameters or comment). It says nothing
// while the names of the parameters are unknown; Create checks again.
func secretExposures(doc *document.Document, m imageResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	if sensitiveUnknown(m) || m.Parameters.IsUnknown() {
		return diags
	}
	given := make([]string, 0, len(m.Parameters.Elements()))
	for k := range m.Parameters.Elements() {
		given = append(given, k)
	}
	for _, pr := range document.SecretExposures(doc, sensitiveNames(m), given) {
		at := path.Root("document")
		if m.Document.IsNull() {
			at = problemPath(doc, pr)
		}
		diags.AddAttributeError(at, "Sensitive Value Where Others Can Read It", pr.Error())
	}
	return diags
}

// recoverPanic, deferred first thing in a resource method, turns a panic into an
// error diagnostic with the stack in the log: a bug met by one resource must not
// crash the plugin, which would end the whole Terraform run (and its other
// bakes' cleanup) with a bare "plugin exited" message.
func recoverPanic(ctx context.Context, method string, diags *diag.Diagnostics) {
	p := recover()
	if p == nil {
		return
	}
	tflog.Error(ctx, "recovered from a panic in "+method, map[string]any{"panic": fmt.Sprint(p), "stack": string(debug.Stack())})
	diags.AddError("Provider Internal Error",
		fmt.Sprintf("%s stopped on an internal error: %v\n\n"+
			"This is a bug in the amibake provider. Please report it at "+
			"https://github.com/amibake/terraform-provider-amibake/issues with the configuration that triggers it "+
			"and the provider log (TF_LOG=ERROR), which holds the stack trace.", method, p))
}

// ModifyPlan checks the distribution against the state, and replaces a
// resource whose image is gone but whose copies or leftovers remain (see
// Read).
func (r *imageResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	defer recoverPanic(ctx, "amibake_image plan", &resp.Diagnostics)
	resp.Diagnostics.Append(r.planExecutorChecks(ctx, req.Config, req.Plan)...)
	resp.Diagnostics.Append(r.planDistributionChecks(ctx, req, resp)...)
	if req.State.Raw.IsNull() && !req.Plan.Raw.IsNull() {
		resp.Diagnostics.Append(planKeptInstances(ctx, &resp.Plan)...)
	}
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	if b, _ := req.Private.GetKey(ctx, imageGoneKey); string(b) != "true" {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("image_id"), types.StringUnknown())...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), types.StringUnknown())...)
	resp.RequiresReplace = append(resp.RequiresReplace, path.Root("image_id"))
}

// planKeptInstances plans kept_instance_ids as empty for a bake that keeps no
// builders: both executors keep instances only with keep_builder_instances.
// Terraform plans a replacement as a create (no prior state), so this is also
// what keeps a replacement from listing `kept_instance_ids = [] -> (known
// after apply)`.
func planKeptInstances(ctx context.Context, plan *tfsdk.Plan) diag.Diagnostics {
	var keep types.Bool
	var kept types.List
	diags := plan.GetAttribute(ctx, path.Root("keep_builder_instances"), &keep)
	diags.Append(plan.GetAttribute(ctx, path.Root("kept_instance_ids"), &kept)...)
	if diags.HasError() || keep.IsUnknown() || keep.ValueBool() || !kept.IsUnknown() {
		return diags
	}
	diags.Append(plan.SetAttribute(ctx, path.Root("kept_instance_ids"), types.ListValueMust(types.StringType, []attr.Value{}))...)
	return diags
}

// buildImageRecipe reads the recipe from `document` or the inline HCL blocks.
func buildImageRecipe(ctx context.Context, m imageResourceModel) (*document.Document, bool, diag.Diagnostics) {
	return buildRecipe(ctx, "document", m.Document, m.recipeModel, true)
}

// checkRunnable refuses, at plan time, the steps the local engine cannot run,
// saying why and what to do (engine.LocalRefusals).
func checkRunnable(doc *document.Document, hcl bool) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, r := range engine.LocalRefusals(doc) {
		at := path.Root("document")
		if hcl {
			at = path.Root("step").AtListIndex(r.Index).AtName("action")
		}
		diags.AddAttributeError(at, "Action Not Supported by amibake_image",
			r.Error()+". The document itself is fine for amibake_document and for SSM.")
	}
	return diags
}

// imageOutputName picks the output that holds the baked image id.
func imageOutputName(doc *document.Document, configured string) (string, error) {
	if configured != "" {
		step, out, ok := strings.Cut(configured, ".")
		if !ok {
			return "", fmt.Errorf("image_output %s must be written step.Output, e.g. createImage.ImageId", document.QuoteValue(configured))
		}
		for _, s := range doc.MainSteps {
			if s.Name != step {
				continue
			}
			spec, _ := document.LookupAction(s.Action)
			for _, o := range spec.Outputs {
				if o.Name == out {
					return configured, nil
				}
			}
			for _, o := range s.Outputs {
				if o.Name == out {
					return configured, nil
				}
			}
			return "", fmt.Errorf("step %s (%s) has no output %s", document.QuoteValue(step), s.Action, document.QuoteValue(out))
		}
		return "", fmt.Errorf("image_output %s names no step of the recipe", document.QuoteValue(configured))
	}
	for _, o := range doc.Outputs {
		if strings.HasSuffix(o, ".ImageId") {
			return o, nil
		}
	}
	for i := len(doc.MainSteps) - 1; i >= 0; i-- {
		s := doc.MainSteps[i]
		if spec, ok := document.LookupAction(s.Action); ok && makesImage(spec) {
			return s.Name + ".ImageId", nil
		}
	}
	return "", fmt.Errorf("the recipe has no %s step and no output ending in .ImageId; "+
		"set image_output to the step output that holds the image id", strings.Join(imageActionBlocks(), " or "))
}

// parameterValues merges parameters, sensitive_parameters and
// sensitive_parameters_wo; known=false while any is unknown.
func parameterValues(ctx context.Context, m imageResourceModel, diags *diag.Diagnostics) (map[string]string, bool) {
	if m.Parameters.IsUnknown() || sensitiveUnknown(m) {
		return nil, false
	}
	values := map[string]string{}
	givenIn := map[string]string{}
	sources := append([]parameterSource{{"parameters", m.Parameters}}, sensitiveSources(m)...)
	for _, src := range sources {
		for k, v := range src.values.Elements() {
			s, ok := v.(types.String)
			if !ok || s.IsUnknown() {
				return nil, false
			}
			if first, dup := givenIn[k]; dup {
				diags.AddAttributeError(path.Root(src.attr).AtMapKey(k), "Duplicate Parameter",
					fmt.Sprintf("Parameter %s is given in both %s and %s; give it once.", document.QuoteValue(k), first, src.attr))
			}
			values[k] = s.ValueString()
			givenIn[k] = src.attr
		}
	}
	return values, true
}

// sensitiveNames lists the keys of sensitive_parameters and
// sensitive_parameters_wo, sorted.
func sensitiveNames(m imageResourceModel) []string {
	var out []string
	for _, src := range sensitiveSources(m) {
		for k := range src.values.Elements() {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func (r *imageResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	defer recoverPanic(ctx, "amibake_image import", &resp.Diagnostics)
	if req.ID == "" && req.Identity != nil {
		r.importByIdentity(ctx, req, resp)
		return
	}
	if !strings.HasPrefix(req.ID, "ami-") {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("Import an image by its AMI id (ami-...), got %s.", document.QuoteValue(req.ID)))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("image_id"), req.ID)...)
	resp.Diagnostics.Append(markImported(ctx, resp.Private)...)
}

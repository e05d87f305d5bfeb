package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"

	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
	"github.com/amibake/terraform-provider-amibake/internal/ssmexec"
)

// Executors: where a bake runs.
const (
	executorLocal = "local"
	executorSSM   = "ssm"
)

var executorValidator = stringvalidator.OneOf(executorLocal, executorSSM)

const executorDescription = "Where bakes run: `\"local\"` (the default) runs the recipe in the provider's own process; " +
	"`\"ssm\"` publishes it as an SSM Automation document and runs it on SSM Automation, AWS's own engine, " +
	"which keeps running when Terraform is interrupted or its runner dies: the next apply finds the execution again " +
	"and records its image. Both record the same state and leave nothing behind; see the guide " +
	"\"Running bakes on SSM Automation\"."

// addExecutorAttributes adds the executor arguments to amibake_image. A
// change of either never forces a replacement: it says how the next bake
// runs, not what the image is.
func addExecutorAttributes(attrs map[string]schema.Attribute) {
	attrs["executor"] = schema.StringAttribute{
		Optional: true,
		MarkdownDescription: executorDescription + " Overrides the provider's `executor`. " +
			"Under `\"ssm\"`, `sensitive_parameters` and `sensitive_parameters_wo` are refused (SSM shows parameter values in the execution's history): " +
			"give secrets as `{{ssm:/path}}` references to SecureString parameters. A change does not rebuild the image.",
		Validators: []validator.String{executorValidator},
	}
	attrs["automation_role_arn"] = schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "With `executor = \"ssm\"`: the IAM role SSM Automation runs the execution as (the published " +
			"document's `assumeRole`). Defaults to the recipe's own `assumeRole`; without either, the execution runs as the " +
			"provider's credentials and SSM stops it after 12 hours. The role must trust `ssm.amazonaws.com`, and the provider's " +
			"credentials need `iam:PassRole` on it. A change does not rebuild the image.",
	}
}

// executorOf is the executor of a resource: its own, else the provider's.
func (r *imageResource) executorOf(m imageResourceModel) string {
	if !m.Executor.IsNull() && !m.Executor.IsUnknown() && m.Executor.ValueString() != "" {
		return m.Executor.ValueString()
	}
	if r.data != nil && r.data.executor != "" {
		return r.data.executor
	}
	return executorLocal
}

// executorChecks are the plan-time checks that depend on the executor: the
// local engine refuses actions it cannot run, SSM refuses sensitive values.
func executorChecks(doc *document.Document, m imageResourceModel, executor string) diag.Diagnostics {
	if executor != executorSSM {
		return checkRunnable(doc, m.Document.IsNull())
	}
	var diags diag.Diagnostics
	if sensitiveUnknown(m) {
		return diags
	}
	for _, name := range sensitiveNames(m) {
		diags.AddAttributeError(sensitivePath(m, name), "Sensitive Parameter Under SSM Automation",
			fmt.Sprintf("With executor = \"ssm\", every parameter value is stored in the SSM Automation execution's history, "+
				"where anyone allowed ssm:GetAutomationExecution reads it, so %s cannot be passed as a sensitive value. "+
				"Store the secret as a SecureString parameter and pass a reference that SSM resolves server-side, e.g.\n\n"+
				"  parameters = {\n    %s = \"{{ssm:/path/to/secret}}\"\n  }\n\n"+
				"or bake this image with executor = \"local\".", document.QuoteValue(name), name))
	}
	return diags
}

// planExecutorChecks runs the executor checks at plan time for a resource
// that leaves the executor to the provider: ValidateConfig runs before the
// provider is configured, so only now is the provider's executor known.
func (r *imageResource) planExecutorChecks(ctx context.Context, config tfsdk.Config, plan tfsdk.Plan) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan.Raw.IsNull() || config.Raw.IsNull() {
		return diags
	}
	var m imageResourceModel
	if diags.Append(config.Get(ctx, &m)...); diags.HasError() {
		return diags
	}
	if !m.Executor.IsNull() {
		return diags // checked by ValidateConfig
	}
	doc, unknown, d := buildImageRecipe(ctx, m)
	if unknown || doc == nil || d.HasError() {
		return diags
	}
	return executorChecks(doc, m, r.executorOf(m))
}

// validateExecutorConfig is ValidateConfig's part: the checks for an
// executor the resource sets itself.
func validateExecutorConfig(doc *document.Document, m imageResourceModel) diag.Diagnostics {
	if m.Executor.IsUnknown() || m.Executor.IsNull() {
		return nil
	}
	return executorChecks(doc, m, m.Executor.ValueString())
}

// bake runs the recipe with the resource's executor.
func (r *imageResource) bake(ctx context.Context, m imageResourceModel, doc *document.Document, values map[string]string, o engine.Options) (*engine.Result, error) {
	if r.executorOf(m) != executorSSM {
		return engine.Run(ctx, doc, values, o)
	}
	return ssmexec.Run(ctx, doc, values, ssmexec.Options{
		Clients:              o.Clients,
		BakeKey:              o.BakeKey,
		Tags:                 o.Tags,
		RoleARN:              strings.TrimSpace(m.AutomationRoleARN.ValueString()),
		LeaseDuration:        o.LeaseDuration,
		KeepBuilderInstances: o.KeepBuilderInstances,
		ImageOutput:          o.ImageOutput,
		SensitiveParameters:  o.SensitiveParameters,
		OnEvent:              o.OnEvent,
	})
}

var _ resource.ResourceWithModifyPlan = (*imageResource)(nil)

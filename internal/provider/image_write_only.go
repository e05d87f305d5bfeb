package provider

import (
	"context"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Write-only secrets (Terraform and OpenTofu 1.11 and later): the values of
// sensitive_parameters_wo reach the provider in the configuration only, never
// in the plan or the state. Everything else treats them as it treats
// sensitive_parameters: same plan-time checks, same redaction, same refusal
// under executor "ssm", names (never values) in bake_key.
const (
	writeOnlyAttr        = "sensitive_parameters_wo"
	writeOnlyVersionAttr = "sensitive_parameters_wo_version"
)

func addWriteOnlyAttributes(attrs map[string]schema.Attribute) {
	attrs[writeOnlyAttr] = schema.MapAttribute{
		ElementType: types.StringType, Optional: true, Sensitive: true, WriteOnly: true,
		MarkdownDescription: "Like `sensitive_parameters`, but write-only: the values are read from the configuration when the image " +
			"is baked and are never stored in the state or in a plan (Terraform 1.11 or later, OpenTofu 1.11 or later; older CLIs " +
			"refuse a configuration that sets it, and keep using `sensitive_parameters`). They may come from ephemeral values " +
			"(`ephemeral = true` variables, ephemeral resources). The same checks, redaction and refusal under `executor = \"ssm\"` " +
			"apply as to `sensitive_parameters`; a parameter is given in one of `parameters`, `sensitive_parameters` and this map. " +
			"Since Terraform cannot compare values it does not keep, a change of the values alone plans nothing: bump `" +
			writeOnlyVersionAttr + "` to bake again with the new values.",
		Validators: []validator.Map{
			mapvalidator.AlsoRequires(path.MatchRoot(writeOnlyVersionAttr)),
		},
	}
	attrs[writeOnlyVersionAttr] = schema.Int64Attribute{
		Optional: true,
		MarkdownDescription: "Version of the values of `" + writeOnlyAttr + "`, required with it. A change rebuilds the image with " +
			"the values the configuration holds then, as a change of any other parameter does. It is kept in the state (the values are " +
			"not) and is not part of `bake_key`.",
		PlanModifiers: []planmodifier.Int64{replaceUnlessImportedInt64()},
	}
}

func replaceUnlessImportedInt64() planmodifier.Int64 {
	return int64planmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.Int64Request, resp *int64planmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(req.Private)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

// parameterSource is one argument that holds parameter values.
type parameterSource struct {
	attr   string
	values types.Map
}

// sensitiveSources are the arguments whose values are secrets, in the order
// in which they are merged after `parameters`.
func sensitiveSources(m imageResourceModel) []parameterSource {
	return []parameterSource{
		{"sensitive_parameters", m.SensitiveParameters},
		{writeOnlyAttr, m.SensitiveParametersWO},
	}
}

// sensitiveUnknown reports whether the names of the sensitive parameters are
// not known yet.
func sensitiveUnknown(m imageResourceModel) bool {
	return m.SensitiveParameters.IsUnknown() || m.SensitiveParametersWO.IsUnknown()
}

// sensitivePath is the attribute path of the sensitive parameter name: in
// sensitive_parameters_wo if given there, else in sensitive_parameters.
func sensitivePath(m imageResourceModel, name string) path.Path {
	if _, ok := m.SensitiveParametersWO.Elements()[name]; ok {
		return path.Root(writeOnlyAttr).AtMapKey(name)
	}
	return path.Root("sensitive_parameters").AtMapKey(name)
}

// isSensitive reports whether name is given in a sensitive argument.
func isSensitive(m imageResourceModel, name string) bool {
	return slices.Contains(sensitiveNames(m), name)
}

// withWriteOnly fills the write-only values of m, which the plan and the
// state never hold, from the configuration.
func withWriteOnly(ctx context.Context, config tfsdk.Config, m *imageResourceModel) diag.Diagnostics {
	return config.GetAttribute(ctx, path.Root(writeOnlyAttr), &m.SensitiveParametersWO)
}

// writeOnlyAdvice suggests sensitive_parameters_wo to a configuration that
// keeps secrets in the state although its CLI could keep them out.
func writeOnlyAdvice(m imageResourceModel, writeOnlyAllowed bool) diag.Diagnostics {
	var diags diag.Diagnostics
	if !writeOnlyAllowed || m.SensitiveParameters.IsNull() || m.SensitiveParameters.IsUnknown() || len(m.SensitiveParameters.Elements()) == 0 {
		return diags
	}
	// Not at the attribute: the CLI would print its source line, which may
	// hold a literal secret.
	diags.AddWarning("Secrets Stored in State",
		"The values of sensitive_parameters are stored in the state. This Terraform (or OpenTofu) supports write-only "+
			"arguments: give them in "+writeOnlyAttr+", with "+writeOnlyVersionAttr+" (bump it to bake again with new values), "+
			"and they stay out of the state and the plan.")
	return diags
}

// Package provider is the Terraform face of amibake: the provider configuration,
// resources and data sources. It converts between Terraform values and the document
// model and hands execution to the engine; it makes no AWS calls of its own.
package provider

import (
	"context"
	"time"

	"github.com/aws/smithy-go/middleware"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

var _ provider.Provider = (*amibakeProvider)(nil)

// Options are hooks for tests; the released provider uses the zero value.
type Options struct {
	// APIOptions are added to every AWS client (fault injection in tests).
	APIOptions []func(*middleware.Stack) error
}

// New returns the provider factory used by main and by tests.
func New(version string) func() provider.Provider {
	return NewWithOptions(version, Options{})
}

// NewWithOptions is New with test hooks.
func NewWithOptions(version string, opts Options) func() provider.Provider {
	return func() provider.Provider {
		return &amibakeProvider{version: version, opts: opts}
	}
}

type amibakeProvider struct {
	version string
	opts    Options
}

type providerModel struct {
	Region                    types.String      `tfsdk:"region"`
	Profile                   types.String      `tfsdk:"profile"`
	SharedConfigFiles         types.List        `tfsdk:"shared_config_files"`
	SharedCredentialsFiles    types.List        `tfsdk:"shared_credentials_files"`
	AccessKey                 types.String      `tfsdk:"access_key"`
	SecretKey                 types.String      `tfsdk:"secret_key"`
	Token                     types.String      `tfsdk:"token"`
	MaxRetries                types.Int64       `tfsdk:"max_retries"`
	SkipCredentialsValidation types.Bool        `tfsdk:"skip_credentials_validation"`
	SkipRequestingAccountID   types.Bool        `tfsdk:"skip_requesting_account_id"`
	UseDocumentAssumeRole     types.Bool        `tfsdk:"use_document_assume_role"`
	AssumeRole                *assumeRoleModel  `tfsdk:"assume_role"`
	Endpoints                 *endpointsModel   `tfsdk:"endpoints"`
	DefaultTags               *defaultTagsModel `tfsdk:"default_tags"`
	LeaseDuration             types.String      `tfsdk:"lease_duration"`
	Executor                  types.String      `tfsdk:"executor"`
}

type assumeRoleModel struct {
	RoleARN     types.String `tfsdk:"role_arn"`
	SessionName types.String `tfsdk:"session_name"`
	ExternalID  types.String `tfsdk:"external_id"`
	Duration    types.String `tfsdk:"duration"`
}

type endpointsModel struct {
	EC2            types.String `tfsdk:"ec2"`
	SSM            types.String `tfsdk:"ssm"`
	Lambda         types.String `tfsdk:"lambda"`
	STS            types.String `tfsdk:"sts"`
	IAM            types.String `tfsdk:"iam"`
	AutoScaling    types.String `tfsdk:"autoscaling"`
	CloudFormation types.String `tfsdk:"cloudformation"`
	ELBv2          types.String `tfsdk:"elbv2"`
	KMS            types.String `tfsdk:"kms"`
	S3             types.String `tfsdk:"s3"`
	SNS            types.String `tfsdk:"sns"`
	StepFunctions  types.String `tfsdk:"stepfunctions"`
}

type defaultTagsModel struct {
	Tags types.Map `tfsdk:"tags"`
}

func (p *amibakeProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "amibake"
	resp.Version = p.version
}

func (p *amibakeProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	// The environment variable is the SDK's, named after the service id.
	endpointEnv := map[string]string{"autoscaling": "AUTO_SCALING", "elbv2": "ELASTIC_LOAD_BALANCING_V2", "stepfunctions": "SFN"}
	endpoint := func(service string) schema.StringAttribute {
		env, ok := endpointEnv[service]
		if !ok {
			env = upperSnake(service)
		}
		return schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Custom endpoint URL for " + service + ". Overrides `AWS_ENDPOINT_URL_" + env + "`.",
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The amibake provider bakes AWS machine images (AMIs) from SSM Automation documents " +
			"during `terraform apply`. AWS access is configured like the `hashicorp/aws` provider: " +
			"arguments here, else the standard `AWS_*` environment variables, shared config files and instance roles.",
		Attributes: map[string]schema.Attribute{
			"region": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "AWS region to bake in. Defaults to `AWS_REGION` / `AWS_DEFAULT_REGION` or the shared config.",
			},
			"profile": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Named profile from the shared config files. Defaults to `AWS_PROFILE`.",
			},
			"shared_config_files": schema.ListAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Paths of shared config files. Defaults to `~/.aws/config`.",
			},
			"shared_credentials_files": schema.ListAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Paths of shared credentials files. Defaults to `~/.aws/credentials`.",
			},
			"access_key": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "AWS access key id. Prefer environment variables or profiles.",
			},
			"secret_key": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "AWS secret access key.",
			},
			"token": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "AWS session token, with temporary credentials.",
			},
			"max_retries": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Maximum attempts of one AWS API call (the SDK's standard retry mode). Throttling while waiting never fails a bake; it only slows polling.",
				Validators:          []validator.Int64{int64validator.Between(1, 100)},
			},
			"skip_credentials_validation": schema.BoolAttribute{
				Optional:            true,
				MarkdownDescription: "Do not validate credentials with STS. Implies `skip_requesting_account_id`.",
			},
			"skip_requesting_account_id": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Do not ask STS for the account id; `{{global:ACCOUNT_ID}}` is then empty, and " +
					"`amibake_image` cannot check that an image belongs to the account before it reads or destroys it.",
			},
			"use_document_assume_role": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Run each bake as the document's `assumeRole`, as SSM Automation does (default `true`). " +
					"The role (often `{{ AutomationAssumeRole }}`; empty means none) is assumed with the provider's credentials " +
					"before anything is created, for a session that covers `timeouts.create` and is renewed as needed, and every " +
					"call of the bake, `execute_aws_api` steps included, is made as that role. The role must be in the provider's " +
					"account; a role that cannot be assumed fails the bake with the AWS error code. Set `false` to bake with the " +
					"provider's own credentials whatever the document says.",
			},
			"lease_duration": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "How long a bake vouches for what it creates without renewing (a Go duration, default `10m`). " +
					"A running bake tags its builders, images and snapshots with `amibake:lease-expires` and renews it every third of this. " +
					"When a bake dies (the runner is killed), the next bake of the same recipe removes its leftovers once their lease has expired, " +
					"and only those it can prove a bake made (by the instance's client token and the image's source instance, which tags cannot forge). " +
					"Live bakes of the same recipe in other workspaces and builders kept with `keep_builder_instances` are never touched.",
				Validators: []validator.String{durationValidator{}},
			},
			"executor": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: executorDescription + " `amibake_image` can override it per image.",
				Validators:          []validator.String{executorValidator},
			},
		},
		Blocks: map[string]schema.Block{
			"assume_role": schema.SingleNestedBlock{
				MarkdownDescription: "Assume an IAM role before baking.",
				Attributes: map[string]schema.Attribute{
					"role_arn":     schema.StringAttribute{Optional: true, MarkdownDescription: "ARN of the role to assume."},
					"session_name": schema.StringAttribute{Optional: true, MarkdownDescription: "Session name. Defaults to `amibake`."},
					"external_id":  schema.StringAttribute{Optional: true, MarkdownDescription: "External id required by the role's trust policy."},
					"duration": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Session duration as a Go duration (`1h`, `45m`). Defaults to 1 hour; a bake that outlives it refreshes the credentials.",
						Validators:          []validator.String{durationValidator{}},
					},
				},
			},
			"endpoints": schema.SingleNestedBlock{
				MarkdownDescription: "Custom service endpoints, e.g. a local AWS emulator.",
				Attributes: map[string]schema.Attribute{
					"ec2":    endpoint("ec2"),
					"ssm":    endpoint("ssm"),
					"lambda": endpoint("lambda"),
					"sts":    endpoint("sts"),
					"iam":    endpoint("iam"),
					// Services that actions other than the bake's own reach.
					"autoscaling":    endpoint("autoscaling"),
					"cloudformation": endpoint("cloudformation"),
					"elbv2":          endpoint("elbv2"),
					"kms":            endpoint("kms"),
					"s3":             endpoint("s3"),
					"sns":            endpoint("sns"),
					"stepfunctions":  endpoint("stepfunctions"),
				},
			},
			"default_tags": schema.SingleNestedBlock{
				MarkdownDescription: "Tags put on everything a bake creates (builder instances, volumes, images, snapshots).",
				Attributes: map[string]schema.Attribute{
					"tags": schema.MapAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: "Tag map."},
				},
			},
		},
	}
}

func (p *amibakeProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !req.ClientCapabilities.DeferralAllowed && anyUnknown(m) {
		resp.Diagnostics.AddWarning("Provider Configuration Not Yet Known",
			"Some provider arguments are not known until apply; AWS calls made during plan use the defaults.")
	}

	cfg := awsx.Config{
		Region:                    m.Region.ValueString(),
		Profile:                   m.Profile.ValueString(),
		AccessKey:                 m.AccessKey.ValueString(),
		SecretKey:                 m.SecretKey.ValueString(),
		Token:                     m.Token.ValueString(),
		MaxRetries:                int(m.MaxRetries.ValueInt64()),
		SkipCredentialsValidation: m.SkipCredentialsValidation.ValueBool(),
		SkipRequestingAccountID:   m.SkipRequestingAccountID.ValueBool() || m.SkipCredentialsValidation.ValueBool(),
		APIOptions:                p.opts.APIOptions,
		UserAgent:                 "terraform-provider-amibake/" + p.version,
	}
	resp.Diagnostics.Append(m.SharedConfigFiles.ElementsAs(ctx, &cfg.SharedConfigFiles, false)...)
	resp.Diagnostics.Append(m.SharedCredentialsFiles.ElementsAs(ctx, &cfg.SharedCredentialsFiles, false)...)
	if m.AssumeRole != nil && m.AssumeRole.RoleARN.ValueString() != "" {
		ar := &awsx.AssumeRole{
			RoleARN:     m.AssumeRole.RoleARN.ValueString(),
			SessionName: m.AssumeRole.SessionName.ValueString(),
			ExternalID:  m.AssumeRole.ExternalID.ValueString(),
		}
		if d := m.AssumeRole.Duration.ValueString(); d != "" {
			ar.Duration, _ = time.ParseDuration(d) // checked by the validator
		}
		cfg.AssumeRole = ar
	}
	if e := m.Endpoints; e != nil {
		cfg.Endpoints = awsx.Endpoints{
			EC2: e.EC2.ValueString(), SSM: e.SSM.ValueString(), Lambda: e.Lambda.ValueString(),
			STS: e.STS.ValueString(), IAM: e.IAM.ValueString(),
			AutoScaling: e.AutoScaling.ValueString(), CloudFormation: e.CloudFormation.ValueString(),
			ELBv2: e.ELBv2.ValueString(), KMS: e.KMS.ValueString(), S3: e.S3.ValueString(),
			SNS: e.SNS.ValueString(), StepFunctions: e.StepFunctions.ValueString(),
		}
	}
	tags := map[string]string{}
	if m.DefaultTags != nil {
		resp.Diagnostics.Append(m.DefaultTags.Tags.ElementsAs(ctx, &tags, false)...)
	}
	for k := range tags {
		if isReservedTag(k) {
			resp.Diagnostics.AddAttributeError(path.Root("default_tags").AtName("tags").AtMapKey(k),
				"Reserved Tag Key", "Tag keys starting with \"amibake:\" are set by the provider itself; choose another key.")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	data := newProviderData(cfg, tags)
	if d := m.LeaseDuration.ValueString(); d != "" {
		data.leaseDuration, _ = time.ParseDuration(d) // checked by the validator
	}
	data.useDocumentRole = m.UseDocumentAssumeRole.IsNull() || m.UseDocumentAssumeRole.ValueBool()
	data.executor = m.Executor.ValueString()
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *amibakeProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewDocumentResource,
		NewImageResource,
	}
}

func (p *amibakeProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewDocumentDataSource,
		NewImageDataSource,
	}
}

func anyUnknown(m providerModel) bool {
	return m.Region.IsUnknown() || m.Profile.IsUnknown() || m.AccessKey.IsUnknown() ||
		m.SecretKey.IsUnknown() || m.Token.IsUnknown()
}

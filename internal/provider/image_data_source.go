package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

var (
	_ datasource.DataSource                     = (*imageDataSource)(nil)
	_ datasource.DataSourceWithConfigure        = (*imageDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*imageDataSource)(nil)
	_ datasource.DataSourceWithValidateConfig   = (*imageDataSource)(nil)
)

// NewImageDataSource returns the amibake_image data source.
func NewImageDataSource() datasource.DataSource { return &imageDataSource{} }

type imageDataSource struct {
	data *providerData
}

type imageDataSourceModel struct {
	BakeKey           types.String `tfsdk:"bake_key"`
	Tags              types.Map    `tfsdk:"tags"`
	Region            types.String `tfsdk:"region"`
	CopyRegions       types.List   `tfsdk:"copy_regions"`
	IncludeDeprecated types.Bool   `tfsdk:"include_deprecated"`
	ID                types.String `tfsdk:"id"`
	ImageID           types.String `tfsdk:"image_id"`
	Name              types.String `tfsdk:"name"`
	CreationDate      types.String `tfsdk:"creation_date"`
	ExecutionID       types.String `tfsdk:"execution_id"`
	ImageTags         types.Map    `tfsdk:"image_tags"`
	SnapshotIDs       types.List   `tfsdk:"snapshot_ids"`
	DeprecationTime   types.String `tfsdk:"deprecation_time"`
	Copies            types.Map    `tfsdk:"copies"`
}

var (
	bakeKeyPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	// regionPattern is the shape of a Region code (eu-west-1, us-gov-west-1,
	// cn-north-1, eusc-de-east-1), to catch typos and names at plan time.
	regionPattern = regexp.MustCompile(`^[a-z]+(-[a-z]+)+-[0-9]+$`)
)

const regionMessage = "must be an AWS Region code such as eu-west-1"

// bakedImageTags are on every image a bake of this provider completed; the
// data source always asks for them, so tags selects among baked images only.
var bakedImageTags = map[string]string{engine.TagManaged: "true", actions.TagCompleted: "true"}

func (d *imageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

func (d *imageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The newest image that an `amibake_image` baked, for configurations that do not manage it: " +
			"selected by the bake's `bake_key`, by tags, or both, among the available images of the account of the " +
			"provider's credentials in one Region, with the ids of its copies in other Regions.",
		Attributes: map[string]schema.Attribute{
			"bake_key": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "Selects the images of one bake: the `bake_key` of an `amibake_image` (its recipe, parameter values " +
					"and triggers; 32 hexadecimal digits). At least one of `bake_key` and `tags` is required. When only `tags` " +
					"select, the `bake_key` of the image found.",
				Validators: []validator.String{
					stringvalidator.RegexMatches(bakeKeyPattern, "must be the 32 hexadecimal digits of an amibake_image's bake_key"),
				},
			},
			"tags": schema.MapAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Selects images carrying every one of these tags with exactly these values, for example the " +
					"`tags` of the `amibake_image` resources of one golden image whose parameters change from bake to bake. " +
					"Keys may be `amibake:execution-id` but not the keys the data source sets itself (`" + engine.TagBakeKey +
					"`: use `bake_key`; `" + engine.TagManaged + "`, `" + actions.TagCompleted + "`).",
				Validators: []validator.Map{
					mapvalidator.SizeAtLeast(1),
					mapvalidator.KeysAre(stringvalidator.LengthBetween(1, 128)),
					mapvalidator.ValueStringsAre(stringvalidator.LengthAtMost(256)),
				},
			},
			"region": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: "Region to look in. Defaults to the provider's `region`.",
				Validators:          []validator.String{stringvalidator.RegexMatches(regionPattern, regionMessage)},
			},
			"copy_regions": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Regions in which to look up the copies of the image found; `copies` lists them. A Region " +
					"without a copy of that image fails the read, naming the Region.",
				Validators: []validator.List{
					listvalidator.UniqueValues(),
					listvalidator.SizeAtMost(maxCopyRegions),
					listvalidator.ValueStringsAre(stringvalidator.RegexMatches(regionPattern, regionMessage)),
				},
			},
			"include_deprecated": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Also count images whose deprecation time has passed. Default `false`: the newest image " +
					"not yet deprecated.",
			},
			"id":            computed("Same as `image_id`."),
			"image_id":      computed("The newest matching image (by creation date; among images created in the same second, the greatest id)."),
			"name":          computed("The image's name."),
			"creation_date": computed("When AWS created the image (RFC 3339)."),
			"execution_id":  computed("The execution id of the bake that made the image (its `" + engine.TagExecutionID + "` tag)."),
			"image_tags": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Every tag of the image, the provider's own `amibake:*` tags included.",
			},
			"snapshot_ids": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "The EBS snapshots behind the image, in device order.",
			},
			"deprecation_time": computed("When the image is (or was) deprecated (RFC 3339); null when it has no deprecation time."),
			"copies": schema.MapAttribute{
				Computed:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Region → image id of the image's copy in each of `copy_regions`: the newest available image " +
					"of the account there tagged `" + ami.CopyOfTag + " = \"<region>/<image_id>\"` that AWS does not describe as " +
					"something else (an image made from an instance, or a copy of another source image). Empty without `copy_regions`.",
			},
		},
	}
}

func (d *imageDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.AtLeastOneOf(path.MatchRoot("bake_key"), path.MatchRoot("tags")),
	}
}

// ValidateConfig refuses tag keys the data source sets itself.
func (d *imageDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var tags types.Map
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("tags"), &tags)...)
	if resp.Diagnostics.HasError() || tags.IsNull() || tags.IsUnknown() {
		return
	}
	for k := range tags.Elements() {
		switch k {
		case engine.TagBakeKey:
			resp.Diagnostics.AddAttributeError(path.Root("tags").AtMapKey(k), "Use bake_key",
				fmt.Sprintf("Select images by bake key with the bake_key argument, not with a %q tag.", k))
		case engine.TagManaged, actions.TagCompleted:
			resp.Diagnostics.AddAttributeError(path.Root("tags").AtMapKey(k), "Reserved Tag Key",
				fmt.Sprintf("The data source always requires %s = \"true\" and %s = \"true\", which every image a bake "+
					"completed carries; remove %q from tags.", engine.TagManaged, actions.TagCompleted, k))
		}
	}
}

func (d *imageDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	data, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	d.data = data
}

func (d *imageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	defer recoverPanic(ctx, "amibake_image data source read", &resp.Diagnostics)
	var m imageDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withLimit(ctx, "data source read", readTimeout)
	defer cancel()
	clients, diags := d.data.Clients(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}

	region := m.Region.ValueString()
	if region == "" {
		region = clients.Region
	}
	want := stringMap(m.Tags)
	for k, v := range bakedImageTags {
		want[k] = v
	}
	if key := m.BakeKey.ValueString(); key != "" {
		want[engine.TagBakeKey] = key
	}
	img, err := ami.FindNewest(ctx, clients, ami.Query{Region: region, Tags: want, IncludeDeprecated: m.IncludeDeprecated.ValueBool()})
	var none *ami.NoMatchError
	switch {
	case errors.As(err, &none):
		resp.Diagnostics.AddError("No Baked Image Found", capitalize(err.Error())+
			".\n\nCheck bake_key, tags and region: the image must be available, owned by this account, and completed by a "+
			"bake of this provider. An amibake_image whose recipe, parameters or triggers changed has a new bake_key; "+
			"tags select across bakes.")
		return
	case err != nil:
		resp.Diagnostics.AddError("Cannot Look Up Images", err.Error())
		return
	}
	id := aws.ToString(img.ImageId)

	var regions []string
	resp.Diagnostics.Append(m.CopyRegions.ElementsAs(ctx, &regions, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	copies := map[string]string{}
	if len(regions) > 0 {
		set, err := ami.FindCopies(ctx, clients, region, id, regions)
		if err != nil {
			resp.Diagnostics.AddError("Cannot Look Up Copies", err.Error())
			return
		}
		for i, r := range regions {
			if _, ok := set.Copies[r]; !ok {
				resp.Diagnostics.AddAttributeError(path.Root("copy_regions").AtListIndex(i), "No Copy Found",
					missingCopy(region, id, r, clients.AccountID, set.Rejected[r]))
			}
		}
		if resp.Diagnostics.HasError() {
			return
		}
		copies = set.Copies
	}

	tags := ami.TagMap(img)
	m.Region = types.StringValue(region)
	m.BakeKey = types.StringValue(tags[engine.TagBakeKey])
	m.ID = types.StringValue(id)
	m.ImageID = types.StringValue(id)
	m.Name = types.StringValue(aws.ToString(img.Name))
	m.CreationDate = types.StringValue(aws.ToString(img.CreationDate))
	m.ExecutionID = types.StringValue(tags[engine.TagExecutionID])
	m.DeprecationTime = types.StringPointerValue(img.DeprecationTime)
	if m.DeprecationTime.ValueString() == "" {
		m.DeprecationTime = types.StringNull()
	}
	m.ImageTags, diags = types.MapValueFrom(ctx, types.StringType, tags)
	resp.Diagnostics.Append(diags...)
	m.SnapshotIDs, diags = types.ListValueFrom(ctx, types.StringType, nonNil(ami.Snapshots(*img)))
	resp.Diagnostics.Append(diags...)
	m.Copies, diags = types.MapValueFrom(ctx, types.StringType, copies)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// missingCopy explains why region has no copy of image id of srcRegion.
func missingCopy(srcRegion, id, region, account string, rejected []ami.Rejected) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Image %s (%s) has no copy in %s: no available image of ", id, srcRegion, region)
	if account != "" {
		fmt.Fprintf(&b, "account %s ", account)
	} else {
		b.WriteString("this account ")
	}
	fmt.Fprintf(&b, "there is tagged %s = %q", ami.CopyOfTag, ami.CopyOf(srcRegion, id))
	if len(rejected) > 0 {
		b.WriteString(" and copied from it. Tagged so, but not copies of it according to AWS:")
		for _, r := range rejected {
			fmt.Fprintf(&b, "\n  - %s: %s", r.ImageID, r.Reason)
		}
		b.WriteString("\n")
	} else {
		b.WriteString(".")
	}
	b.WriteString("\n\nCopy the image to that Region (the distribution of its amibake_image), or remove the Region from copy_regions.")
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// The `distribution` block of amibake_image: copies in other Regions, launch
// permissions, deprecation and deregistration protection, all applied after
// the bake and changed in place.

type distributionModel struct {
	Regions          types.Set    `tfsdk:"region"`
	LaunchPermission types.Object `tfsdk:"launch_permission"`
	ShareSnapshots   types.Bool   `tfsdk:"share_snapshots"`
	DeprecateAt      types.String `tfsdk:"deprecate_at"`
	DeprecateAfter   types.String `tfsdk:"deprecate_after"`
	Protection       types.Object `tfsdk:"deregistration_protection"`
}

type regionCopyModel struct {
	Region   types.String `tfsdk:"region"`
	KmsKeyID types.String `tfsdk:"kms_key_id"`
	Name     types.String `tfsdk:"name"`
}

type launchPermissionModel struct {
	AccountIDs          types.Set `tfsdk:"account_ids"`
	OrganizationARNs    types.Set `tfsdk:"organization_arns"`
	OrganizationalUnits types.Set `tfsdk:"organizational_unit_arns"`
}

type protectionModel struct {
	Enabled  types.Bool `tfsdk:"enabled"`
	Cooldown types.Bool `tfsdk:"cooldown"`
}

var (
	regionCopyAttrTypes = map[string]attr.Type{
		"region": types.StringType, "kms_key_id": types.StringType, "name": types.StringType,
	}
	launchPermissionAttrTypes = map[string]attr.Type{
		"account_ids":              types.SetType{ElemType: types.StringType},
		"organization_arns":        types.SetType{ElemType: types.StringType},
		"organizational_unit_arns": types.SetType{ElemType: types.StringType},
	}
	protectionAttrTypes   = map[string]attr.Type{"enabled": types.BoolType, "cooldown": types.BoolType}
	distributionAttrTypes = map[string]attr.Type{
		"region":                    types.SetType{ElemType: types.ObjectType{AttrTypes: regionCopyAttrTypes}},
		"launch_permission":         types.ObjectType{AttrTypes: launchPermissionAttrTypes},
		"share_snapshots":           types.BoolType,
		"deprecate_at":              types.StringType,
		"deprecate_after":           types.StringType,
		"deregistration_protection": types.ObjectType{AttrTypes: protectionAttrTypes},
	}
)

// maxCopyRegions bounds the region blocks (and a data source's copy_regions):
// more than any partition has Regions.
const maxCopyRegions = 64

// Patterns of the identifiers a distribution names (AWS's own formats).
var (
	accountPattern   = regexp.MustCompile(`^\d{12}$`)
	orgARNPattern    = regexp.MustCompile(`^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]{10,32}$`)
	ouARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	kmsKeyPattern    = regexp.MustCompile(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+|alias/[a-zA-Z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	kmsARNRegionPart = regexp.MustCompile(`^arn:aws[a-z-]*:kms:([a-z0-9-]+):`)
	daysPattern      = regexp.MustCompile(`^(\d+)d$`)
)

// basetypesOptions converts objects that hold no unknown values.
var basetypesOptions = basetypes.ObjectAsOptions{}

// maxDeprecation is how far ahead AWS lets a deprecation be scheduled.
const maxDeprecation = 10 * 365 * 24 * time.Hour

func distributionBlock() schema.SingleNestedBlock {
	deprecation := path.MatchRelative().AtParent()
	return schema.SingleNestedBlock{
		MarkdownDescription: "What happens to the image after the bake, by either executor: copies in other Regions, who may launch it, " +
			"when it is deprecated and whether it may be deregistered. Every change is made in place (no rebuild), on the image and " +
			"on every copy, and checked on refresh: a copy deleted or a permission changed outside Terraform shows in the next plan, " +
			"and apply repairs it. Destroy removes every copy, in every Region, with its snapshots (unless `deregister_on_destroy` is false). " +
			"If a step of the distribution fails when the image is first baked, the image is kept (not tainted) with a warning, and the " +
			"next plan shows what is missing. `timeouts.create` covers the bake and its first distribution, `timeouts.update` later changes.",
		Attributes: map[string]schema.Attribute{
			"share_snapshots": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Also give the accounts of `launch_permission.account_ids` create-volume permission on the snapshots " +
					"of the image and of every copy, so that they can copy the image or make volumes from it. Encrypted images get it " +
					"whatever this says (another account copying or launching an encrypted image needs it, and access to its KMS key). " +
					"Snapshots cannot be shared with Organizations or OUs: AWS takes accounts only. Default `false`.",
			},
			"deprecate_at": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "When the image and its copies are deprecated, as an RFC 3339 time (`2027-01-31T00:00:00Z`). " +
					"AWS keeps it to the minute, and takes times from now to 10 years ahead; a time in the past is refused at plan " +
					"time when it is set or changed. A deprecated image can still be launched by id, but is hidden from listings. " +
					"Conflicts with `deprecate_after`. Removing it cancels the deprecation.",
				Validators: []validator.String{
					rfc3339Validator{},
					stringvalidator.ConflictsWith(deprecation.AtName("deprecate_after")),
				},
			},
			"deprecate_after": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "When the image and its copies are deprecated, as a time after the bake (the image's creation " +
					"time): whole days (`\"90d\"`) or a Go duration (`\"2160h\"`), at most 10 years. Conflicts with `deprecate_at`. " +
					"Removing it cancels the deprecation.",
				Validators: []validator.String{
					deprecateAfterValidator{},
					stringvalidator.ConflictsWith(deprecation.AtName("deprecate_at")),
				},
			},
		},
		Blocks: map[string]schema.Block{
			"region": schema.SetNestedBlock{
				// Each block is a copy made in parallel: bound them by the
				// number of Regions a partition has, with room to grow.
				Validators: []validator.Set{setvalidator.SizeAtMost(maxCopyRegions)},
				MarkdownDescription: "A copy of the image in another Region, made in parallel with the others once the bake has " +
					"succeeded. Adding a block copies; removing one deregisters that copy and deletes its snapshots; changing " +
					"`kms_key_id` or `name` replaces that copy alone. Copies carry the image's tags, the provider's `default_tags` " +
					"and `amibake:copy-of = \"<bake Region>/<image id>\"`.",
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"region": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Region to copy the image to, e.g. `eu-central-1`; not the bake's own Region, and each Region once.",
						Validators: []validator.String{stringvalidator.RegexMatches(regionPattern,
							"must be a Region name such as eu-central-1")},
					},
					"kms_key_id": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "KMS key that encrypts the copy's snapshots: a key id, alias (`alias/name`), key ARN or " +
							"alias ARN of that Region. The copy is encrypted whenever this is set; without it, a copy of an encrypted " +
							"image uses the Region's default EBS key. The provider's credentials need `kms:CreateGrant`, " +
							"`kms:Decrypt` and `kms:GenerateDataKeyWithoutPlaintext` (`kms:ReEncrypt*`) on the key.",
						Validators: []validator.String{stringvalidator.RegexMatches(kmsKeyPattern,
							"must be a KMS key id, alias/NAME, key ARN or alias ARN")},
					},
					"name": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Name of the copy. Default: the image's own name.",
						Validators:          []validator.String{imageNameValidator{}},
					},
				}},
			},
			"launch_permission": schema.SingleNestedBlock{
				MarkdownDescription: "Who besides this account may launch the image and every copy. Set as a whole: permissions " +
					"added outside Terraform are removed by the next apply, and removing the block revokes them all. The public " +
					"group is never granted nor revoked here.",
				Attributes: map[string]schema.Attribute{
					"account_ids": schema.SetAttribute{
						ElementType: types.StringType, Optional: true,
						MarkdownDescription: "AWS account ids (12 digits).",
						Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(accountPattern,
							"must be a 12-digit AWS account id"))},
					},
					"organization_arns": schema.SetAttribute{
						ElementType: types.StringType, Optional: true,
						MarkdownDescription: "ARNs of AWS Organizations (`arn:aws:organizations::123456789012:organization/o-...`).",
						Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(orgARNPattern,
							"must be an Organization ARN, arn:aws:organizations::ACCOUNT:organization/o-ID"))},
					},
					"organizational_unit_arns": schema.SetAttribute{
						ElementType: types.StringType, Optional: true,
						MarkdownDescription: "ARNs of organizational units (`arn:aws:organizations::123456789012:ou/o-.../ou-...`).",
						Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(ouARNPattern,
							"must be an organizational unit ARN, arn:aws:organizations::ACCOUNT:ou/o-ID/ou-ID"))},
					},
				},
			},
			"deregistration_protection": schema.SingleNestedBlock{
				MarkdownDescription: "Deregistration protection of the image and every copy. While it is enabled, destroying the " +
					"resource, replacing it, or removing a `region` fails with an error: set `enabled = false` and apply first. " +
					"The provider never disables it on its own. Removing the block leaves the images as they are.",
				Validators: []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtName("enabled"))},
				Attributes: map[string]schema.Attribute{
					"enabled": schema.BoolAttribute{
						Optional:            true,
						MarkdownDescription: "Whether the images are protected from deregistration. Required in the block.",
					},
					"cooldown": schema.BoolAttribute{
						Optional: true,
						MarkdownDescription: "AWS's cooldown: once protection is disabled, the images stay protected for 24 more " +
							"hours, so that destroy fails until then. Default `false`.",
					},
				},
			},
		},
	}
}

const regionImageIDsDescription = "The image id in each Region: the baked image in the bake's Region, and each copy of " +
	"`distribution` in its own. Refreshed on read: a copy deleted outside Terraform leaves the map, and the next apply copies it again."

// distribution is a distribution block in Go terms. Unknown values are
// reported by the conversion, which leaves the fields empty.
type distribution struct {
	Regions []regionCopy // sorted by region
	// Permissions is nil without a launch_permission block.
	Permissions    *ami.LaunchPermissions
	ShareSnapshots bool
	DeprecateAt    string
	DeprecateAfter string
	// Protection is nil without a deregistration_protection block.
	Protection *ami.Protection
}

type regionCopy struct {
	Region, KmsKeyID, Name string
}

// region returns the copy spec of region, ok false when there is none.
func (d *distribution) region(region string) (regionCopy, bool) {
	if d == nil {
		return regionCopy{}, false
	}
	for _, r := range d.Regions {
		if r.Region == region {
			return r, true
		}
	}
	return regionCopy{}, false
}

// managesDeprecation: the block schedules a deprecation.
func (d *distribution) managesDeprecation() bool {
	return d != nil && (d.DeprecateAt != "" || d.DeprecateAfter != "")
}

// deprecation is when the images are deprecated, from the image's creation
// time for deprecate_after; zero when none is set.
func (d *distribution) deprecation(created time.Time) (time.Time, error) {
	switch {
	case d == nil:
		return time.Time{}, nil
	case d.DeprecateAt != "":
		return time.Parse(time.RFC3339, d.DeprecateAt)
	case d.DeprecateAfter != "":
		after, err := parseDeprecateAfter(d.DeprecateAfter)
		if err != nil {
			return time.Time{}, err
		}
		if created.IsZero() {
			return time.Time{}, fmt.Errorf("the image's creation time is unknown")
		}
		return created.Add(after), nil
	}
	return time.Time{}, nil
}

// parseDeprecateAfter reads "90d" or a Go duration.
func parseDeprecateAfter(s string) (time.Duration, error) {
	if m := daysPattern.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 10*366 {
			return 0, fmt.Errorf("%s is more than 10 years", document.QuoteValue(s))
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s is neither whole days (\"90d\") nor a Go duration (\"2160h\")", document.QuoteValue(s))
	}
	return d, nil
}

// distributionFrom converts the block; nil when it is null. known is false
// when some value is unknown (the result then holds what is known).
func distributionFrom(ctx context.Context, obj types.Object) (d *distribution, known bool, diags diag.Diagnostics) {
	if obj.IsNull() {
		return nil, true, diags
	}
	if obj.IsUnknown() {
		return nil, false, diags
	}
	var m distributionModel
	if diags.Append(obj.As(ctx, &m, basetypes.ObjectAsOptions{UnhandledUnknownAsEmpty: true})...); diags.HasError() {
		return nil, false, diags
	}
	known = true
	d = &distribution{}
	str := func(v types.String) string {
		if v.IsUnknown() {
			known = false
		}
		return v.ValueString()
	}
	if m.Regions.IsUnknown() {
		known = false
	}
	for _, e := range m.Regions.Elements() {
		o, ok := e.(types.Object)
		if !ok || o.IsUnknown() {
			known = false
			continue
		}
		var rc regionCopyModel
		diags.Append(o.As(ctx, &rc, basetypes.ObjectAsOptions{})...)
		d.Regions = append(d.Regions, regionCopy{Region: str(rc.Region), KmsKeyID: str(rc.KmsKeyID), Name: str(rc.Name)})
	}
	slices.SortFunc(d.Regions, func(a, b regionCopy) int { return strings.Compare(a.Region, b.Region) })
	if m.LaunchPermission.IsUnknown() {
		known = false
	} else if !m.LaunchPermission.IsNull() {
		var lp launchPermissionModel
		diags.Append(m.LaunchPermission.As(ctx, &lp, basetypes.ObjectAsOptions{})...)
		set := func(s types.Set) []string {
			if s.IsUnknown() {
				known = false
			}
			var out []string
			for _, e := range s.Elements() {
				if v, ok := e.(types.String); ok && !v.IsUnknown() {
					out = append(out, v.ValueString())
				} else {
					known = false
				}
			}
			slices.Sort(out)
			return out
		}
		d.Permissions = &ami.LaunchPermissions{
			Accounts:            set(lp.AccountIDs),
			Organizations:       set(lp.OrganizationARNs),
			OrganizationalUnits: set(lp.OrganizationalUnits),
		}
	}
	if m.ShareSnapshots.IsUnknown() {
		known = false
	}
	d.ShareSnapshots = m.ShareSnapshots.ValueBool()
	d.DeprecateAt = str(m.DeprecateAt)
	d.DeprecateAfter = str(m.DeprecateAfter)
	if m.Protection.IsUnknown() {
		known = false
	} else if !m.Protection.IsNull() {
		var p protectionModel
		diags.Append(m.Protection.As(ctx, &p, basetypes.ObjectAsOptions{})...)
		if p.Enabled.IsUnknown() || p.Cooldown.IsUnknown() {
			known = false
		}
		d.Protection = &ami.Protection{Enabled: p.Enabled.ValueBool(), Cooldown: p.Cooldown.ValueBool()}
	}
	return d, known, diags
}

// rfc3339Validator accepts RFC 3339 times.
type rfc3339Validator struct{}

func (rfc3339Validator) Description(context.Context) string {
	return "value must be an RFC 3339 time such as 2027-01-31T00:00:00Z"
}

func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (rfc3339Validator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := time.Parse(time.RFC3339, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Time",
			fmt.Sprintf("%s is not an RFC 3339 time; write it like \"2027-01-31T00:00:00Z\" (timeadd(timestamp(), \"2160h\") "+
				"changes on every plan: prefer deprecate_after for a time relative to the bake).", document.QuoteValue(req.ConfigValue.ValueString())))
	}
}

// deprecateAfterValidator accepts whole days ("90d") or a positive Go
// duration, up to 10 years.
type deprecateAfterValidator struct{}

func (deprecateAfterValidator) Description(context.Context) string {
	return "value must be whole days such as 90d or a Go duration such as 2160h, at most 10 years"
}

func (v deprecateAfterValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (deprecateAfterValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := parseDeprecateAfter(req.ConfigValue.ValueString())
	switch {
	case err != nil:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Duration", err.Error()+".")
	case d <= 0:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Duration",
			fmt.Sprintf("%s is not after the bake; give a positive duration such as \"90d\".", document.QuoteValue(req.ConfigValue.ValueString())))
	case d > maxDeprecation:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Duration",
			fmt.Sprintf("%s is more than 10 years, the furthest AWS schedules a deprecation.", document.QuoteValue(req.ConfigValue.ValueString())))
	}
}

// imageNameValidator applies EC2's rules for AMI names.
type imageNameValidator struct{}

func (imageNameValidator) Description(context.Context) string {
	return "value must be an AMI name EC2 takes: 3 to 128 letters, digits, spaces and ( ) [ ] . / - ' @ _"
}

func (v imageNameValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (imageNameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := document.CheckImageName(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid AMI Name", err.Error()+".")
	}
}

// regionsPath is the path of the region blocks.
var regionsPath = path.Root("distribution").AtName("region")

// validateDistribution checks the block as far as the configuration alone
// says: each Region once, and a KMS key ARN of the copy's own Region.
func validateDistribution(ctx context.Context, obj types.Object) diag.Diagnostics {
	d, _, diags := distributionFrom(ctx, obj)
	if d == nil || diags.HasError() {
		return diags
	}
	seen := map[string]bool{}
	for _, r := range d.Regions {
		if r.Region == "" {
			continue
		}
		if seen[r.Region] {
			diags.AddAttributeError(regionsPath, "Duplicate Region",
				fmt.Sprintf("Region %s is listed in more than one region block; an image has one copy per Region. Keep one block for it.",
					document.QuoteValue(r.Region)))
		}
		seen[r.Region] = true
		if m := kmsARNRegionPart.FindStringSubmatch(r.KmsKeyID); m != nil && m[1] != r.Region {
			diags.AddAttributeError(regionsPath, "KMS Key of Another Region",
				fmt.Sprintf("The copy in %s names KMS key %s, which is in %s. A copy is encrypted with a key of its own Region: "+
					"give a key (or a multi-Region replica) of %s.", r.Region, document.QuoteValue(r.KmsKeyID), m[1], r.Region))
		}
	}
	return diags
}

// planDistribution checks, at plan time, what needs the state or the
// provider: the bake's Region listed as a copy, a deprecation time in the
// past, a protected copy removed while protection stays on.
func planDistribution(plan, state *distribution, bakeRegion string, now time.Time) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan == nil {
		return diags
	}
	if bakeRegion != "" {
		if _, ok := plan.region(bakeRegion); ok {
			diags.AddAttributeError(regionsPath, "Copy in the Bake Region",
				fmt.Sprintf("The image is baked in %s, so it needs no copy there: remove the region block for %s. "+
					"region_image_ids lists the image itself under %s.", bakeRegion, bakeRegion, bakeRegion))
		}
	}
	if plan.DeprecateAt != "" && (state == nil || state.DeprecateAt != plan.DeprecateAt) {
		if at, err := time.Parse(time.RFC3339, plan.DeprecateAt); err == nil {
			switch {
			case at.Before(now):
				diags.AddAttributeError(path.Root("distribution").AtName("deprecate_at"), "Deprecation Time in the Past",
					fmt.Sprintf("deprecate_at %s is in the past; AWS schedules deprecations from now on. Give a later time, "+
						"or deprecate_after for a time relative to the bake.", plan.DeprecateAt))
			case at.After(now.Add(maxDeprecation)):
				diags.AddAttributeError(path.Root("distribution").AtName("deprecate_at"), "Deprecation Time Too Far",
					fmt.Sprintf("deprecate_at %s is more than 10 years ahead, the furthest AWS schedules a deprecation.", plan.DeprecateAt))
			}
		}
	}
	if state == nil || state.Protection == nil || !state.Protection.Enabled {
		return diags
	}
	var removed []string
	for _, r := range state.Regions {
		if p, ok := plan.region(r.Region); !ok || p != r {
			removed = append(removed, r.Region)
		}
	}
	switch {
	case len(removed) == 0:
	case plan.Protection == nil || plan.Protection.Enabled:
		diags.AddAttributeError(regionsPath, "Protected Copy",
			fmt.Sprintf("This plan removes or replaces the copies in %s, which have deregistration protection. The provider "+
				"never disables it on its own: set distribution.deregistration_protection.enabled = false and apply first, "+
				"then remove or change the region blocks.", strings.Join(removed, ", ")))
	case state.Protection.Cooldown:
		diags.AddAttributeError(regionsPath, "Protected Copy, With Cooldown",
			fmt.Sprintf("This plan disables deregistration protection and removes or replaces the copies in %s, but the "+
				"protection has AWS's 24-hour cooldown: the copies cannot be deregistered until a day after it is disabled. "+
				"Apply the protection change alone first, then change the region blocks a day later.", strings.Join(removed, ", ")))
	}
	return diags
}

// planDistributionChecks runs planDistribution, and plans region_image_ids
// anew when the copies change.
func (r *imageResource) planDistributionChecks(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) diag.Diagnostics {
	var diags diag.Diagnostics
	if req.Plan.Raw.IsNull() {
		return diags
	}
	var planObj, stateObj types.Object
	var region types.String
	if diags.Append(req.Plan.GetAttribute(ctx, path.Root("distribution"), &planObj)...); diags.HasError() {
		return diags
	}
	plan, known, d := distributionFrom(ctx, planObj)
	diags.Append(d...)
	var prior *distribution
	bakeRegion := r.data.knownRegion()
	if !req.State.Raw.IsNull() {
		diags.Append(req.State.GetAttribute(ctx, path.Root("distribution"), &stateObj)...)
		diags.Append(req.State.GetAttribute(ctx, path.Root("region"), &region)...)
		prior, _, d = distributionFrom(ctx, stateObj)
		diags.Append(d...)
		if region.ValueString() != "" {
			bakeRegion = region.ValueString()
		}
	}
	if diags.HasError() {
		return diags
	}
	if known {
		diags.Append(planDistribution(plan, prior, bakeRegion, time.Now())...)
	}
	if !req.State.Raw.IsNull() && (!known || !sameCopies(plan, prior)) {
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("region_image_ids"), types.MapUnknown(types.StringType))...)
	}
	return diags
}

// sameCopies reports whether two distributions ask for the same copies.
func sameCopies(a, b *distribution) bool {
	var ra, rb []regionCopy
	if a != nil {
		ra = a.Regions
	}
	if b != nil {
		rb = b.Regions
	}
	return slices.Equal(ra, rb)
}

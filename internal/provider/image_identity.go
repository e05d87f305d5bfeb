package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

var _ resource.ResourceWithIdentity = (*imageResource)(nil)

// imageIdentityModel is the resource identity of amibake_image (Terraform and
// OpenTofu 1.12 and later): what names one AMI anywhere. Older CLIs neither
// ask for it nor store it; the provider sets it all the same.
type imageIdentityModel struct {
	AccountID types.String `tfsdk:"account_id"`
	Region    types.String `tfsdk:"region"`
	ImageID   types.String `tfsdk:"image_id"`
}

func (r *imageResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"account_id": identityschema.StringAttribute{
				OptionalForImport: true,
				Description: "Account that owns the image. Defaults to the account of the provider's credentials; " +
					"an import naming another account is refused, as amibake_image manages only images of its own account.",
			},
			"region": identityschema.StringAttribute{
				OptionalForImport: true,
				Description: "Region of the image. Defaults to the provider's Region; an image of another Region is imported " +
					"through a provider configuration for that Region (`provider = amibake.<alias>` in the import block and the resource).",
			},
			"image_id": identityschema.StringAttribute{
				RequiredForImport: true,
				Description:       "The AMI id (`ami-...`).",
			},
		},
	}
}

// identityOf is the identity recorded with a resource's state.
func identityOf(m imageResourceModel) imageIdentityModel {
	return imageIdentityModel{AccountID: m.AccountID, Region: m.Region, ImageID: m.ImageID}
}

// setIdentity records the identity of m. The framework asks for one after
// every create, read and update when the resource has an identity schema,
// even when the CLI does not support identities (it then drops it).
func setIdentity(ctx context.Context, id *tfsdk.ResourceIdentity, m imageResourceModel) diag.Diagnostics {
	if id == nil {
		return nil
	}
	return id.Set(ctx, identityOf(m))
}

// importByIdentity is ImportState for an `import` block with `identity`:
// the image must be of the provider's account and Region, which Read,
// in-place updates and destroy work in.
func (r *imageResource) importByIdentity(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	var want imageIdentityModel
	resp.Diagnostics.Append(req.Identity.Get(ctx, &want)...)
	if resp.Diagnostics.HasError() {
		return
	}
	imageID := want.ImageID.ValueString()
	if !strings.HasPrefix(imageID, "ami-") {
		resp.Diagnostics.AddAttributeError(path.Root("image_id"), "Invalid Import Identity",
			fmt.Sprintf("identity.image_id must be an AMI id (ami-...), got %s.", document.QuoteValue(imageID)))
		return
	}
	clients, diags := r.data.Clients(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	account, region := want.AccountID.ValueString(), want.Region.ValueString()
	if account != "" && clients.AccountID != "" && account != clients.AccountID {
		resp.Diagnostics.Append(foreignImage(&ami.ForeignError{ImageID: imageID, Owner: account, Account: clients.AccountID}, "import")...)
		return
	}
	if region != "" && region != clients.Region {
		resp.Diagnostics.AddAttributeError(path.Root("region"), "Image in Another Region",
			fmt.Sprintf("Refusing to import image %s of Region %s: the provider works in Region %s, where it reads, updates and "+
				"destroys the image. Import it through a provider configuration for %s, for example\n\n"+
				"  provider \"amibake\" {\n    alias  = %q\n    region = %q\n  }\n\n"+
				"with provider = amibake.%s in both the import block and the resource.",
				imageID, region, clients.Region, region, aliasFor(region), region, aliasFor(region)))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), imageID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("image_id"), imageID)...)
	resp.Diagnostics.Append(markImported(ctx, resp.Private)...)
}

// aliasFor is a provider alias to suggest for a Region: eu-west-1 → eu_west_1.
func aliasFor(region string) string {
	return strings.ReplaceAll(region, "-", "_")
}

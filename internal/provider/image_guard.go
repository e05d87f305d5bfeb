package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// documentRole is how a bake becomes the document's assumeRole: nil when the
// provider bakes with its own credentials (use_document_assume_role = false).
func (d *providerData) documentRole(clients *awsx.Clients) func(context.Context, awsx.RoleSession) (*awsx.Clients, error) {
	if !d.useDocumentRole || clients == nil {
		return nil
	}
	return clients.AssumeRole
}

// explainRunError adds to the error of a run what the user can do about it,
// where the engine, which knows nothing of Terraform, cannot say it.
func explainRunError(ctx context.Context, err error) error {
	var re *engine.RoleError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return fmt.Errorf("%w\n\nNothing was created. Let the provider's credentials assume the role (sts:AssumeRole in "+
			"their policy, and the role's trust policy naming them), change the document's assumeRole (or the parameter "+
			"it comes from), or set use_document_assume_role = false in the provider to bake with the provider's own "+
			"credentials", err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		if l, ok := limitOf(ctx); ok && l.attribute() {
			return fmt.Errorf("%w\n\nThe bake did not finish within %s; if AWS did not answer, check the endpoints "+
				"(the provider's endpoints block, AWS_ENDPOINT_URL_<SERVICE>), else raise %s in the resource, "+
				"for example timeouts { create = \"2h\" }; the steps below show which one was still running", err, l, l.name)
		}
	}
	return err
}

// foreignImage reports an image of another account: amibake_image neither
// adopts nor destroys one, whatever state says.
func foreignImage(err error, doing string) (diags diag.Diagnostics) {
	var fe *ami.ForeignError
	if !errors.As(err, &fe) {
		return diags
	}
	diags.AddError("Image Owned by Another Account",
		fmt.Sprintf("Refusing to %s image %s: it is owned by account %s, and the provider's credentials are in account %s. "+
			"amibake_image manages only images of its own account.\n\nIf the id in state or in the import is wrong, remove "+
			"the resource from state (terraform state rm) or import the right image; to manage this image, configure the "+
			"provider with credentials of account %s.", doing, fe.ImageID, fe.Owner, fe.Account, fe.Owner))
	return diags
}

// checkDestroyable refuses to destroy an image that another account owns. An
// image already gone is left to the delete, which treats it as done.
func checkDestroyable(ctx context.Context, clients *awsx.Clients, imageID string) diag.Diagnostics {
	var diags diag.Diagnostics
	if imageID == "" {
		return diags
	}
	img, err := ami.FindByID(ctx, clients, imageID)
	switch {
	case ami.IsNotFound(err):
		return diags
	case err != nil:
		diags.AddError("Cannot Read Image", fmt.Sprintf("DescribeImages %s, to check its owner before destroying it: %s\n\n"+
			"The resource stays in state; run terraform destroy again.", imageID, err))
		return diags
	}
	return foreignImage(ami.CheckOwner(img, clients.AccountID), "destroy")
}

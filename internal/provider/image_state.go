package provider

import (
	"context"
	"reflect"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
)

// refreshedAttribute is one attribute of amibake_image that Read gets from and
// sets in state, with the model field that holds it.
type refreshedAttribute struct {
	name  string
	field any // pointer to the field of imageResourceModel
}

// refreshedAttributes are the attributes that refresh and leftovers read or
// change: the image and what it is made of, the tags, the copies, the
// distribution (copies in other Regions, permissions, deprecation,
// protection), the kept builders and the defaults an import leaves null. Read
// touches nothing else: getting and setting the whole model would convert the recipe, which costs
// far more than the DescribeImages call, on every refresh of every image.
func refreshedAttributes(m *imageResourceModel) []refreshedAttribute {
	return []refreshedAttribute{
		{"id", &m.ID},
		{"image_id", &m.ImageID},
		{"snapshot_ids", &m.SnapshotIDs},
		{"tags", &m.Tags},
		{"region", &m.Region},
		{"account_id", &m.AccountID},
		{"execution_id", &m.ExecutionID},
		{"bake_key", &m.BakeKey},
		{"deregister_on_destroy", &m.DeregisterOnDestroy},
		{"delete_snapshots_on_destroy", &m.DeleteSnapshotsOnDestroy},
		{"keep_builder_instances", &m.KeepBuilderInstances},
		{"step_outputs", &m.StepOutputs},
		{"copies", &m.Copies},
		{"steps", &m.Steps},
		{"kept_instance_ids", &m.KeptInstanceIDs},
		{"distribution", &m.Distribution},
		{"region_image_ids", &m.RegionImageIDs},
	}
}

// getRefreshed reads the refreshed attributes from state into a model whose
// other fields stay zero.
func getRefreshed(ctx context.Context, state tfsdk.State, m *imageResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, a := range refreshedAttributes(m) {
		diags.Append(state.GetAttribute(ctx, path.Root(a.name), a.field)...)
	}
	return diags
}

// setRefreshed writes to state the refreshed attributes whose value differs
// from before.
func setRefreshed(ctx context.Context, state *tfsdk.State, before, after *imageResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	old := refreshedAttributes(before)
	for i, a := range refreshedAttributes(after) {
		v := fieldValue(a.field)
		if v.Equal(fieldValue(old[i].field)) {
			continue
		}
		diags.Append(state.SetAttribute(ctx, path.Root(a.name), v)...)
	}
	return diags
}

func fieldValue(field any) attr.Value {
	return reflect.ValueOf(field).Elem().Interface().(attr.Value)
}

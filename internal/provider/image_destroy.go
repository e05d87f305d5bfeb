package provider

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// leftovers lists what of a resource whose image is gone still exists: its
// copies, and after a failed bake (leftovers in private state) its snapshots.
func (r *imageResource) leftovers(ctx context.Context, m imageResourceModel, private privateGetter) ([]string, diag.Diagnostics) {
	clients, diags := r.data.Clients(ctx)
	if diags.HasError() {
		return nil, diags
	}
	var remains []string
	for _, id := range stringMap(m.Copies) {
		img, err := ami.FindByID(ctx, clients, id)
		switch {
		case ami.IsNotFound(err):
		case err != nil:
			diags.AddError("Cannot Read Image Copy", fmt.Sprintf("DescribeImages %s: %s", id, err))
		case ami.Usable(img):
			remains = append(remains, "copy "+id)
		}
	}
	bakeRegion := m.Region.ValueString()
	if bakeRegion == "" {
		bakeRegion = clients.Region
	}
	if copies := copyTargets(stringMap(m.RegionImageIDs), bakeRegion); len(copies) > 0 {
		found, err := ami.DescribeTargets(ctx, clients, copies)
		if err != nil {
			diags.AddError("Cannot Read Image Copies", err.Error())
		}
		for _, t := range copies {
			if _, ok := found[t]; ok {
				remains = append(remains, "copy "+t.String())
			}
		}
	}
	var kept []string
	if !m.KeptInstanceIDs.IsNull() && !m.KeptInstanceIDs.IsUnknown() {
		diags.Append(m.KeptInstanceIDs.ElementsAs(ctx, &kept, false)...)
	}
	if len(kept) > 0 {
		alive, err := engine.InstancesNotTerminated(ctx, clients, kept)
		if err != nil {
			diags.AddError("Cannot Read Kept Builders", fmt.Sprintf("DescribeInstances %v: %s", kept, err))
		}
		for _, id := range alive {
			remains = append(remains, "kept builder "+id)
		}
	}
	// The snapshots in state are the bake's own: after a failed bake (kept
	// in state) or when the image was deregistered outside Terraform, which
	// leaves them behind. Destroy removes them, unless told to keep them.
	failedBake := false
	if b, _ := private.GetKey(ctx, leftoversKey); string(b) == "true" {
		failedBake = true
	}
	if failedBake || m.DeleteSnapshotsOnDestroy.IsNull() || m.DeleteSnapshotsOnDestroy.ValueBool() {
		var snapshots []string
		diags.Append(m.SnapshotIDs.ElementsAs(ctx, &snapshots, false)...)
		live, err := ami.ExistingSnapshots(ctx, clients, snapshots)
		if err != nil {
			diags.AddError("Cannot Read Snapshots", fmt.Sprintf("DescribeSnapshots %v: %s", snapshots, err))
		}
		for _, s := range live {
			remains = append(remains, "snapshot "+s)
		}
	}
	sort.Strings(remains)
	return remains, diags
}

// terminateKept terminates the builders the bake kept (keep_builder_instances).
func (r *imageResource) terminateKept(ctx context.Context, m imageResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	var ids []string
	if !m.KeptInstanceIDs.IsNull() && !m.KeptInstanceIDs.IsUnknown() {
		diags.Append(m.KeptInstanceIDs.ElementsAs(ctx, &ids, false)...)
	}
	if len(ids) == 0 || diags.HasError() {
		return diags
	}
	clients, d := r.data.Clients(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	refused, err := engine.TerminateKeptBuilders(ctx, clients, m.ExecutionID.ValueString(), ids)
	if len(refused) > 0 {
		diags.AddWarning("Kept Builders Not Terminated",
			fmt.Sprintf("These instances are listed in kept_instance_ids but were not launched by bake %s, so they were left alone: %s",
				m.ExecutionID.ValueString(), strings.Join(refused, ", ")))
	}
	if err != nil {
		diags.AddError("Cannot Terminate Kept Builders",
			err.Error()+"\nThe resource stays in state so that the next destroy tries again.")
	}
	return diags
}

// destroyImages deregisters an image and its copies and, when asked, deletes
// their snapshots: those the images list, and the known ones (snapshots in
// state), which an image already deregistered no longer lists. It returns one
// line for each image or snapshot it could not remove, and for each snapshot
// it left because another registered image is built on it.
func destroyImages(ctx context.Context, clients *awsx.Clients, region, imageID string, copies map[string]string, snapshots []string, deleteSnapshots bool) (failed, inUse []string) {
	m := imageResourceModel{ImageID: types.StringValue(imageID), Copies: types.MapNull(types.StringType)}
	if len(copies) > 0 {
		m.Copies = regionImageIDsValue(copies)
	}
	return destroyTargetImages(ctx, clients, region, imageID, destroyTargets(m, region), nil, snapshots, deleteSnapshots)
}

// destroyTargetImages removes every image of targets in parallel (the baked
// image imageID in region, copies in any Region, with the snapshots known of
// each by id), as destroyImages says.
func destroyTargetImages(ctx context.Context, clients *awsx.Clients, region, imageID string, targets []ami.Target, known map[string][]string, snapshots []string, deleteSnapshots bool) (failed, inUse []string) {
	// The baked image's known snapshots are deleted after it, and only if
	// every image went: one still registered may be built on them.
	removals := ami.RemoveTargets(ctx, clients, targets, known, deleteSnapshots)
	for i, rem := range removals {
		used, err := ami.SplitSnapshotsInUse(rem.Err())
		inUse = append(inUse, used...)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s (%s): %s", targets[i].ImageID, targets[i].Region, err))
		}
	}
	if deleteSnapshots && len(snapshots) > 0 && len(failed) == 0 {
		used, err := ami.SplitSnapshotsInUse(ami.DeleteSnapshots(ctx, clients, region, snapshots))
		for _, u := range used {
			if !slices.Contains(inUse, u) {
				inUse = append(inUse, u)
			}
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("snapshots (%s): %s", region, err))
		}
	}
	return failed, inUse
}

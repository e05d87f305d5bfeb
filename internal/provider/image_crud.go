package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

func (r *imageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer recoverPanic(ctx, "amibake_image create", &resp.Diagnostics)
	var m imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(withWriteOnly(ctx, req.Config, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	createTimeout, diags := m.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(diags...)
	doc, _, diags := buildImageRecipe(ctx, m)
	resp.Diagnostics.Append(diags...)
	values, _ := parameterValues(ctx, m, &resp.Diagnostics)
	if doc != nil {
		// Checked at plan time too, unless the parameters were unknown then.
		resp.Diagnostics.Append(secretExposures(doc, m)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	outputName, err := imageOutputName(doc, m.ImageOutput.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("image_output"), "No Image Output", err.Error())
		return
	}
	// Client setup counts against timeouts.create, as everything else does.
	runCtx, cancel := withLimit(ctx, "timeouts.create", createTimeout)
	defer cancel()
	clients, diags := r.data.Clients(runCtx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	dist, _, diags := distributionFrom(ctx, m.Distribution)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(planDistribution(dist, nil, clients.Region, time.Now())...)
	if resp.Diagnostics.HasError() {
		return
	}
	key, err := bakeKey(doc, values, sensitiveNames(m), m.Triggers)
	if err != nil {
		resp.Diagnostics.AddError("Cannot Compute Bake Key", err.Error())
		return
	}

	secrets := engine.NewRedactor(secretValues(m)...)
	res, runErr := r.bake(runCtx, m, doc, values, engine.Options{
		Clients:              clients,
		Tags:                 r.data.defaultTags,
		BakeKey:              key,
		LeaseDuration:        r.data.leaseDuration,
		KeepBuilderInstances: m.KeepBuilderInstances.ValueBool(),
		ImageOutput:          outputName,
		Secrets:              secrets.Secrets(),
		SensitiveParameters:  sensitiveNames(m),
		OnEvent:              func(e engine.Event) { logEvent(ctx, e, secrets) },
		AssumeRole:           r.data.documentRole(clients),
	})
	runErr = explainRunError(runCtx, runErr)
	if res != nil {
		// The run also hides the SecureString parameters it read and the
		// secrets its steps' APIs returned.
		secrets.Add(res.Secrets...)
	}

	rec := recordBake(res, runErr, outputName)
	// Write-only: the values are done with once the bake has run.
	m.SensitiveParametersWO = types.MapNull(types.StringType)
	if res != nil && len(res.Kept) > 0 {
		resp.Diagnostics.AddWarning("Builder Instances Kept", keptText(res.Kept))
	}
	if rec.err != nil {
		resp.Diagnostics.AddError("Bake Failed", secrets.Redact(bakeErrorDetail(rec.err, res)))
		// What cleanup could not remove, and builders kept on request, are
		// kept in state (the resource is then tainted), so that terraform
		// destroy or the next apply removes them.
		if rec.imageID != "" || (res != nil && len(res.Kept) > 0) {
			m.ImageID = types.StringValue(rec.imageID)
			m.ID = m.ImageID
			if rec.imageID == "" {
				m.ID = types.StringValue("bake-" + res.ExecutionID) // only kept builders to track
			}
			resp.Diagnostics.Append(r.fillFromResult(ctx, &m, clients.Region, clients.AccountID, res, rec, secrets)...)
			m.SnapshotIDs, diags = types.ListValueFrom(ctx, types.StringType, rec.snapshots)
			resp.Diagnostics.Append(diags...)
			m.RegionImageIDs = regionImageIDsValue(map[string]string{})
			if rec.imageID != "" {
				m.RegionImageIDs = regionImageIDsValue(map[string]string{clients.Region: rec.imageID})
			}
			resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
			resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m)...)
			resp.Diagnostics.Append(resp.Private.SetKey(ctx, leftoversKey, []byte("true"))...)
			if rec.imageID != "" {
				resp.Diagnostics.AddWarning("Leftovers Kept in State", rec.keptText())
			}
		}
		return
	}
	imageID := rec.imageID
	if summary, detail := continuedFailures(res, secrets); summary != "" {
		resp.Diagnostics.AddWarning(summary, detail)
	}

	m.ImageID = types.StringValue(imageID)
	m.ID = m.ImageID
	m.BakeKey = types.StringValue(key)
	resp.Diagnostics.Append(r.fillFromResult(ctx, &m, clients.Region, clients.AccountID, res, rec, secrets)...)
	if !m.Tags.IsNull() && len(m.Tags.Elements()) > 0 {
		if err := ami.UpdateTags(ctx, clients, imageID, stringMap(m.Tags), nil); err != nil {
			resp.Diagnostics.AddWarning("Cannot Tag Image", err.Error())
		}
	}
	gone, diags := r.refresh(ctx, &m, true, false)
	resp.Diagnostics.Append(diags...)
	if gone {
		// Deregistered between the end of the bake and now: no dead id in state.
		resp.Diagnostics.AddError("Baked Image Gone",
			fmt.Sprintf("Image %s was deregistered (or failed) right after the bake, outside this apply; it is not recorded. Apply again to bake it anew.", imageID))
		return
	}
	if dist != nil {
		run := &distributionRun{clients: clients, bakeRegion: clients.Region, imageID: imageID, plan: dist,
			ids: map[string]string{clients.Region: imageID}, snapshots: copySnapshots{}}
		err := run.run(runCtx)
		m.RegionImageIDs = regionImageIDsValue(run.ids)
		resp.Diagnostics.Append(run.snapshots.save(ctx, resp.Private)...)
		if err != nil {
			// Not an error: that would taint the image and rebake it. Refresh
			// shows what is missing, and the next apply completes it.
			resp.Diagnostics.AddWarning("Distribution Incomplete",
				fmt.Sprintf("Image %s is baked and recorded, but its distribution did not complete:\n\n%s\n\n"+
					"The next plan shows what is missing (copies, permissions, deprecation, protection), and apply completes it.",
					imageID, err))
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m)...)
}

func (r *imageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	defer recoverPanic(ctx, "amibake_image read", &resp.Diagnostics)
	ctx, cancel := withLimit(ctx, "refresh", readTimeout)
	defer cancel()
	// Only what refresh reads and changes is got and set: the recipe is left
	// as it is in state, unconverted.
	var m imageResourceModel
	resp.Diagnostics.Append(getRefreshed(ctx, req.State, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	before := m
	img, diags := r.refreshImage(ctx, &m, false, imported(req.Private))
	resp.Diagnostics.Append(diags...)
	gone := img == nil && !diags.HasError()
	if img != nil {
		clients, diags := r.data.Clients(ctx)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		snaps, diags := readCopySnapshots(ctx, req.Private)
		resp.Diagnostics.Append(diags...)
		resp.Diagnostics.Append(refreshDistribution(ctx, clients, &m, img, m.Region.ValueString(), snaps)...)
		resp.Diagnostics.Append(snaps.save(ctx, resp.Private)...)
	}
	if gone {
		remains, diags := r.leftovers(ctx, m, req.Private)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		if len(remains) > 0 {
			// Dropping the resource would orphan these; keep it, and plan its
			// replacement, whose destroy removes them.
			resp.Diagnostics.AddWarning("Image Gone, Leftovers Remain",
				fmt.Sprintf("Image %s no longer exists, but %s of this resource still exist; the next apply replaces the resource "+
					"and removes them.", m.ImageID.ValueString(), strings.Join(remains, ", ")))
			resp.Diagnostics.Append(resp.Private.SetKey(ctx, imageGoneKey, []byte("true"))...)
			resp.Diagnostics.Append(setRefreshed(ctx, &resp.State, &before, &m)...)
			resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m)...)
			return
		}
		tflog.Warn(ctx, "image no longer exists; removing it from state so the next apply bakes it again",
			map[string]any{"image_id": m.ImageID.ValueString()})
		resp.State.RemoveResource(ctx)
		// The framework wants an identity even for a removed resource.
		resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, before)...)
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(setRefreshed(ctx, &resp.State, &before, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m)...)
}

// refresh reads the image from AWS into the model: state, snapshots, managed tags
// and the defaults that an import leaves null. An adopted image (import) whose
// state has no tags yet takes the tags it carries.
func (r *imageResource) refresh(ctx context.Context, m *imageResourceModel, afterCreate, adopted bool) (gone bool, diags diag.Diagnostics) {
	img, diags := r.refreshImage(ctx, m, afterCreate, adopted)
	return img == nil && !diags.HasError(), diags
}

// refreshImage is refresh, returning the image as described (nil when it is
// gone, or on error).
func (r *imageResource) refreshImage(ctx context.Context, m *imageResourceModel, afterCreate, adopted bool) (image *ec2types.Image, diags diag.Diagnostics) {
	clients, d := r.data.Clients(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return nil, diags
	}
	id := m.ImageID.ValueString()
	if m.ImageID.IsNull() || m.ImageID.IsUnknown() {
		id = m.ID.ValueString() // an import: only the id is known
	}
	if id == "" {
		return nil, diags // a failed bake that kept only its builders
	}
	img, err := ami.FindByID(ctx, clients, id)
	if err != nil {
		if ami.IsNotFound(err) {
			return nil, diags
		}
		diags.AddError("Cannot Read Image", fmt.Sprintf("DescribeImages %s: %s", id, err))
		return nil, diags
	}
	if img == nil || !ami.Usable(img) {
		return nil, diags
	}
	if d := foreignImage(ami.CheckOwner(img, clients.AccountID), "read"); d.HasError() {
		diags.Append(d...)
		return nil, diags
	}
	m.ID = types.StringValue(id)
	m.ImageID = types.StringValue(id)
	snaps := ami.Snapshots(*img)
	if snaps == nil {
		snaps = []string{}
	}
	m.SnapshotIDs, d = types.ListValueFrom(ctx, types.StringType, snaps)
	diags.Append(d...)
	tags := ami.TagMap(img)
	if m.Region.IsNull() || m.Region.IsUnknown() {
		m.Region = types.StringValue(clients.Region)
	}
	if m.AccountID.IsNull() || m.AccountID.IsUnknown() {
		m.AccountID = types.StringValue(clients.AccountID)
	}
	if m.ExecutionID.IsNull() || m.ExecutionID.IsUnknown() {
		m.ExecutionID = types.StringValue(tags[engine.TagExecutionID])
	}
	if m.BakeKey.IsNull() || m.BakeKey.IsUnknown() {
		m.BakeKey = types.StringValue(tags[engine.TagBakeKey])
	}
	for _, b := range []*types.Bool{&m.DeregisterOnDestroy, &m.DeleteSnapshotsOnDestroy} {
		if b.IsNull() || b.IsUnknown() {
			*b = types.BoolValue(true)
		}
	}
	if m.KeepBuilderInstances.IsNull() || m.KeepBuilderInstances.IsUnknown() {
		m.KeepBuilderInstances = types.BoolValue(false)
	}
	if m.StepOutputs.IsNull() || m.StepOutputs.IsUnknown() {
		m.StepOutputs = types.MapValueMust(types.StringType, map[string]attr.Value{})
	}
	if m.Copies.IsNull() || m.Copies.IsUnknown() {
		m.Copies = types.MapValueMust(types.StringType, map[string]attr.Value{})
	}
	if m.Steps.IsNull() || m.Steps.IsUnknown() {
		m.Steps = types.ListValueMust(stepResultType, []attr.Value{})
	}
	if m.KeptInstanceIDs.IsNull() || m.KeptInstanceIDs.IsUnknown() {
		m.KeptInstanceIDs = types.ListValueMust(types.StringType, []attr.Value{})
	}
	if afterCreate {
		m.RegionImageIDs = regionImageIDsValue(regionImageIDs(*m, m.Region.ValueString()))
	}
	if adopted && m.Tags.IsNull() {
		// Without them in state the next plan would add what is already there.
		m.Tags = r.userTags(tags)
	}
	// Only the tag keys this resource manages are refreshed, so drift in them shows in the plan.
	if !afterCreate && !m.Tags.IsNull() {
		managed := map[string]string{}
		for k := range m.Tags.Elements() {
			if v, ok := tags[k]; ok {
				managed[k] = v
			}
		}
		m.Tags, d = types.MapValueFrom(ctx, types.StringType, managed)
		diags.Append(d...)
	}
	return img, diags
}

// userTags are the tags of an image that a configuration would set: neither
// the provider's own amibake:* tags nor its default_tags with their default
// value. Null when there are none.
func (r *imageResource) userTags(tags map[string]string) types.Map {
	user := map[string]attr.Value{}
	for k, v := range tags {
		if strings.HasPrefix(k, "amibake:") {
			continue
		}
		if dv, ok := r.data.defaultTags[k]; ok && dv == v {
			continue
		}
		user[k] = types.StringValue(v)
	}
	if len(user) == 0 {
		return types.MapNull(types.StringType)
	}
	return types.MapValueMust(types.StringType, user)
}

func (r *imageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer recoverPanic(ctx, "amibake_image update", &resp.Diagnostics)
	var plan, state imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := withLimit(ctx, "timeouts.update", timeout)
	defer cancel()
	clients, diags := r.data.Clients(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	bakeRegion := state.Region.ValueString()
	if bakeRegion == "" {
		bakeRegion = clients.Region
	}
	if !plan.Tags.Equal(state.Tags) {
		want := stringMap(plan.Tags)
		var remove []string
		for k := range stringMap(state.Tags) {
			if _, ok := want[k]; !ok {
				remove = append(remove, k)
			}
		}
		sort.Strings(remove)
		if err := ami.UpdateTags(ctx, clients, state.ImageID.ValueString(), want, remove); err != nil {
			resp.Diagnostics.AddError("Cannot Update Image Tags", err.Error())
			return
		}
		for _, t := range copyTargets(stringMap(state.RegionImageIDs), bakeRegion) {
			if err := ami.UpdateTagsIn(ctx, clients, t.Region, t.ImageID, want, remove); err != nil && !ami.IsNotFound(err) {
				resp.Diagnostics.AddError("Cannot Update Image Tags", fmt.Sprintf("copy %s: %s", t, err))
				return
			}
		}
	}
	ids := regionImageIDs(state, bakeRegion)
	snaps, diags := readCopySnapshots(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	var distErr error
	var run *distributionRun
	if !plan.Distribution.Equal(state.Distribution) || snaps.orphans() {
		planDist, _, d1 := distributionFrom(ctx, plan.Distribution)
		prior, _, d2 := distributionFrom(ctx, state.Distribution)
		resp.Diagnostics.Append(d1...)
		resp.Diagnostics.Append(d2...)
		if resp.Diagnostics.HasError() {
			return
		}
		run = &distributionRun{clients: clients, bakeRegion: bakeRegion, imageID: state.ImageID.ValueString(),
			plan: planDist, prior: prior, ids: ids, snapshots: snaps}
		distErr = run.run(ctx)
	}
	// Everything else that can change in place is Terraform-side only (destroy flags,
	// an adopted recipe after import): keep the computed values from state.
	plan.ID, plan.ImageID = state.ID, state.ImageID
	plan.ExecutionID, plan.BakeKey = state.ExecutionID, state.BakeKey
	plan.StepOutputs, plan.SnapshotIDs = state.StepOutputs, state.SnapshotIDs
	plan.Region, plan.AccountID = state.Region, state.AccountID
	plan.Steps, plan.Copies = state.Steps, state.Copies
	plan.KeptInstanceIDs = state.KeptInstanceIDs
	plan.RegionImageIDs = regionImageIDsValue(ids)
	img, diags := r.refreshImage(ctx, &plan, true, false)
	resp.Diagnostics.Append(diags...)
	if distErr != nil {
		resp.Diagnostics.AddError("Cannot Update Distribution", fmt.Sprintf("%s\n\nWhat was done is recorded; the next plan "+
			"shows what remains, and apply tries it again.", distErr))
		if img != nil && run != nil {
			// State shows what exists, measured against what was asked for.
			var asked distribution
			if run.plan != nil {
				asked = *run.plan
			}
			asked.Regions = run.stateRegions()
			if run.plan != nil || len(asked.Regions) > 0 {
				plan.Distribution, diags = distributionValue(ctx, &asked, plan.Distribution)
				resp.Diagnostics.Append(diags...)
				resp.Diagnostics.Append(refreshDistribution(ctx, clients, &plan, img, bakeRegion, snaps)...)
			}
		}
	}
	resp.Diagnostics.Append(snaps.save(ctx, resp.Private)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, plan)...)
	resp.Diagnostics.Append(clearImported(ctx, resp.Private)...)
}

func (r *imageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	defer recoverPanic(ctx, "amibake_image delete", &resp.Diagnostics)
	var m imageResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.terminateKept(ctx, m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !m.DeregisterOnDestroy.IsNull() && !m.DeregisterOnDestroy.ValueBool() {
		resp.Diagnostics.AddWarning("Image Kept",
			fmt.Sprintf("deregister_on_destroy is false: image %s and its copies stay registered and are no longer managed by Terraform.",
				m.ImageID.ValueString()))
		return
	}
	deleteTimeout, diags := m.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := withLimit(ctx, "timeouts.delete", deleteTimeout)
	defer cancel()
	clients, diags := r.data.Clients(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if resp.Diagnostics.Append(checkDestroyable(ctx, clients, m.ImageID.ValueString())...); resp.Diagnostics.HasError() {
		return
	}
	deleteSnapshots := m.DeleteSnapshotsOnDestroy.IsNull() || m.DeleteSnapshotsOnDestroy.ValueBool()

	region := clients.Region
	if !m.Region.IsNull() && m.Region.ValueString() != "" {
		region = m.Region.ValueString()
	}
	snaps, diags := readCopySnapshots(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	targets := destroyTargets(m, region)
	// Nothing is removed while any image is protected: a destroy half done
	// would leave the resource neither whole nor gone.
	images, err := ami.DescribeTargets(ctx, clients, targets)
	if err != nil {
		resp.Diagnostics.AddError("Cannot Read Images", fmt.Sprintf("%s\n\nThe resource stays in state; run terraform destroy again.", err))
		return
	}
	if unproven := ami.Unproven(images, copyTargets(stringMap(m.RegionImageIDs), region), clients.AccountID, region, m.ImageID.ValueString()); len(unproven) > 0 {
		resp.Diagnostics.AddAttributeError(path.Root("region_image_ids"), "Copies Not Proven",
			fmt.Sprintf("Cannot destroy %s: the state lists these images as its copies, but nothing shows they are:\n  %s\n\n"+
				"The provider deregisters a copy only when the image itself shows it is one. Deregister them yourself "+
				"if they are yours, or take the resource out of state with terraform state rm. Nothing was removed.",
				m.ImageID.ValueString(), strings.Join(unproven, "\n  ")))
		return
	}
	if blocked := ami.Protected(images, targets, time.Now()); len(blocked) > 0 {
		resp.Diagnostics.AddAttributeError(path.Root("distribution").AtName("deregistration_protection"), "Image Protected From Deregistration",
			fmt.Sprintf("Cannot destroy %s: these images have deregistration protection:\n  %s\n\n"+
				"The provider never disables protection on its own. Set distribution.deregistration_protection.enabled = false "+
				"and apply, then destroy (with the cooldown, a day later). Nothing was removed; the resource stays in state.",
				m.ImageID.ValueString(), strings.Join(blocked, "\n  ")))
		return
	}
	var snapshots []string
	resp.Diagnostics.Append(m.SnapshotIDs.ElementsAs(ctx, &snapshots, false)...)
	// Copies deregistered outside Terraform leave snapshots the state knows.
	targets = append(targets, snaps.orphanTargets()...)
	failed, inUse := destroyTargetImages(ctx, clients, region, m.ImageID.ValueString(), targets, snaps.known(), snapshots, deleteSnapshots)
	if len(inUse) > 0 {
		resp.Diagnostics.AddWarning("Snapshots Kept",
			"The image is deregistered, but these snapshots stay because other registered images are built on them; "+
				"they are no longer managed by Terraform:\n  "+strings.Join(inUse, "\n  "))
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		resp.Diagnostics.AddError("Cannot Delete Image",
			"These images could not be removed; the resource stays in state so that the next destroy tries again:\n  "+
				strings.Join(failed, "\n  "))
	}
}

func stringMap(m types.Map) map[string]string {
	out := map[string]string{}
	for k, v := range m.Elements() {
		if s, ok := v.(types.String); ok && !s.IsNull() && !s.IsUnknown() {
			out[k] = s.ValueString()
		}
	}
	return out
}

func secretValues(m imageResourceModel) []string {
	var out []string
	for _, src := range sensitiveSources(m) {
		for _, v := range stringMap(src.values) {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

var (
	engineCanRun    = engine.CanRun
	engineSupported = engine.Supported
)

func (r *imageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer recoverPanic(ctx, "amibake_image create", &resp.Diagnostics)
	var m imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	createTimeout, diags := m.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(diags...)
	doc, _, diags := buildImageRecipe(m)
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
			resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
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
		if err := engine.TagImage(ctx, clients, imageID, stringMap(m.Tags), nil); err != nil {
			resp.Diagnostics.AddWarning("Cannot Tag Image", err.Error())
		}
	}
	gone, diags := r.refresh(ctx, &m, true)
	resp.Diagnostics.Append(diags...)
	if gone {
		// Deregistered between the end of the bake and now: no dead id in state.
		resp.Diagnostics.AddError("Baked Image Gone",
			fmt.Sprintf("Image %s was deregistered (or failed) right after the bake, outside this apply; it is not recorded. Apply again to bake it anew.", imageID))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// keptText names the builders a bake left in place, with their state.
func keptText(kept []engine.KeptInstance) string {
	lines := make([]string, len(kept))
	for i, k := range kept {
		st := k.State
		if st == "" {
			st = "state unknown"
		}
		lines[i] = fmt.Sprintf("  %s (%s)", k.ID, st)
	}
	return "keep_builder_instances is true, so these builder instances were left in place:\n" + strings.Join(lines, "\n") +
		"\nThey are recorded in kept_instance_ids, never removed by a later bake, and terminated when this resource is destroyed."
}

// bakeRecord is what Create keeps in state after a run: the product and its
// copies, or, when the bake failed, the images cleanup could not remove, so that
// destroy or the next apply removes them.
type bakeRecord struct {
	imageID string
	// copies maps the region of each further image to its id; a second image
	// in the same region is keyed "region/id".
	copies map[string]string
	// snapshots are known only after a failure: those of the kept images,
	// which Delete cannot learn from an image already deregistered.
	snapshots []string
	err       error // non-nil when the bake failed
}

// keptText tells the user what a failed bake left in state.
func (rec bakeRecord) keptText() string {
	ids := []string{rec.imageID}
	for _, id := range rec.copies {
		ids = append(ids, id)
	}
	sort.Strings(ids[1:])
	var b strings.Builder
	fmt.Fprintf(&b, "The failed bake left images that cleanup could not remove: %s", strings.Join(ids, ", "))
	if len(rec.snapshots) > 0 {
		fmt.Fprintf(&b, " (snapshots %s)", strings.Join(rec.snapshots, ", "))
	}
	b.WriteString(". They are recorded in state, and the resource is tainted, so that terraform destroy or the next apply removes them.")
	return b.String()
}

func recordBake(res *engine.Result, runErr error, outputName string) bakeRecord {
	rec := bakeRecord{err: runErr, copies: map[string]string{}, snapshots: []string{}}
	if res == nil {
		return rec
	}
	if rec.err == nil {
		if v, ok := res.Outputs[outputName]; ok {
			rec.imageID = scalarString(v)
		}
		if rec.imageID == "" {
			rec.err = fmt.Errorf("the bake succeeded but its image output %s is empty; check image_output", outputName)
		}
	}
	if rec.err != nil {
		rec.imageID = ""
		if len(res.Images) > 0 {
			rec.imageID = res.Images[0].ImageID
		}
	}
	for _, img := range res.Images {
		if rec.err != nil {
			for _, s := range img.SnapshotIDs {
				if !slices.Contains(rec.snapshots, s) {
					rec.snapshots = append(rec.snapshots, s)
				}
			}
		}
		if img.ImageID == rec.imageID {
			continue
		}
		key := img.Region
		if _, taken := rec.copies[key]; taken {
			key = img.Region + "/" + img.ImageID
		}
		rec.copies[key] = img.ImageID
	}
	return rec
}

// continuedFailures is the warning for steps that failed and that the recipe
// let the bake go on past (onFailure Continue or step:X); "" when none did.
func continuedFailures(res *engine.Result, secrets *engine.Redactor) (summary, detail string) {
	if res == nil {
		return "", ""
	}
	var lines []string
	for _, s := range res.Steps {
		switch s.Status {
		case engine.StatusSuccess, engine.StatusSkipped:
			continue
		}
		verb := map[string]string{engine.StatusTimedOut: "timed out", engine.StatusCancelled: "was cancelled"}[s.Status]
		if verb == "" {
			verb = "failed"
		}
		lines = append(lines, fmt.Sprintf("  step %s (%s) %s: %s", document.QuoteValue(s.Name), s.Action, verb, firstLine(secrets.Redact(s.Message))))
	}
	if len(lines) == 0 {
		return "", ""
	}
	return "Bake Continued Past Failed Steps",
		"The image was baked, but these steps failed and the recipe let the bake go on (on_failure):\n" +
			strings.Join(lines, "\n") + "\nCheck that the image is what you want; `steps` in state has the details."
}

// fillFromResult copies what a run produced into the model.
func (r *imageResource) fillFromResult(ctx context.Context, m *imageResourceModel, region, account string, res *engine.Result, rec bakeRecord, secrets *engine.Redactor) diag.Diagnostics {
	var diags diag.Diagnostics
	m.ExecutionID = types.StringValue(res.ExecutionID)
	m.Region = types.StringValue(region)
	m.AccountID = types.StringValue(account)
	if m.BakeKey.IsUnknown() {
		m.BakeKey = types.StringNull()
	}

	outs := map[string]string{}
	for k, v := range res.Outputs {
		outs[k] = secrets.Redact(scalarString(v))
	}
	var d diag.Diagnostics
	m.StepOutputs, d = types.MapValueFrom(ctx, types.StringType, outs)
	diags.Append(d...)

	m.Copies, d = types.MapValueFrom(ctx, types.StringType, rec.copies)
	diags.Append(d...)

	steps := []attr.Value{}
	for _, s := range res.Steps {
		obj, d := types.ObjectValue(stepResultType.AttrTypes, map[string]attr.Value{
			"name":        types.StringValue(s.Name),
			"action":      types.StringValue(s.Action),
			"status":      types.StringValue(s.Status),
			"attempts":    types.Int64Value(int64(s.Attempts)),
			"started_at":  types.StringValue(timestamp(s.StartedAt)),
			"finished_at": types.StringValue(timestamp(s.FinishedAt)),
			"message":     types.StringValue(secrets.Redact(s.Message)),
		})
		diags.Append(d...)
		steps = append(steps, obj)
	}
	m.Steps, d = types.ListValue(stepResultType, steps)
	diags.Append(d...)
	kept := []string{}
	for _, k := range res.Kept {
		kept = append(kept, k.ID)
	}
	m.KeptInstanceIDs, d = types.ListValueFrom(ctx, types.StringType, kept)
	diags.Append(d...)
	if m.SnapshotIDs.IsUnknown() {
		m.SnapshotIDs = types.ListValueMust(types.StringType, []attr.Value{})
	}
	return diags
}

func (r *imageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	defer recoverPanic(ctx, "amibake_image read", &resp.Diagnostics)
	ctx, cancel := withLimit(ctx, "refresh", readTimeout)
	defer cancel()
	var m imageResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	gone, diags := r.refresh(ctx, &m, false)
	resp.Diagnostics.Append(diags...)
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
			resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
			return
		}
		tflog.Warn(ctx, "image no longer exists; removing it from state so the next apply bakes it again",
			map[string]any{"image_id": m.ImageID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// leftovers lists what of a resource whose image is gone still exists: its
// copies, and after a failed bake (leftovers in private state) its snapshots.
func (r *imageResource) leftovers(ctx context.Context, m imageResourceModel, private privateGetter) ([]string, diag.Diagnostics) {
	clients, diags := r.data.Clients(ctx)
	if diags.HasError() {
		return nil, diags
	}
	var remains []string
	for _, id := range stringMap(m.Copies) {
		img, err := engine.DescribeImage(ctx, clients, id)
		switch {
		case engine.IsNotFound(err):
		case err != nil:
			diags.AddError("Cannot Read Image Copy", fmt.Sprintf("DescribeImages %s: %s", id, err))
		case engine.ImageUsable(img):
			remains = append(remains, "copy "+id)
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
		live, err := engine.SnapshotsExisting(ctx, clients, snapshots)
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

// refresh reads the image from AWS into the model: state, snapshots, managed tags
// and the defaults that an import leaves null.
func (r *imageResource) refresh(ctx context.Context, m *imageResourceModel, afterCreate bool) (gone bool, diags diag.Diagnostics) {
	clients, d := r.data.Clients(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return false, diags
	}
	id := m.ImageID.ValueString()
	if m.ImageID.IsNull() || m.ImageID.IsUnknown() {
		id = m.ID.ValueString() // an import: only the id is known
	}
	if id == "" {
		return true, diags // a failed bake that kept only its builders
	}
	img, err := engine.DescribeImage(ctx, clients, id)
	if err != nil {
		if engine.IsNotFound(err) {
			return true, diags
		}
		diags.AddError("Cannot Read Image", fmt.Sprintf("DescribeImages %s: %s", id, err))
		return false, diags
	}
	if img == nil || !engine.ImageUsable(img) {
		return true, diags
	}
	if d := foreignImage(engine.CheckImageOwner(img, clients.AccountID), "read"); d.HasError() {
		diags.Append(d...)
		return false, diags
	}
	m.ID = types.StringValue(id)
	m.ImageID = types.StringValue(id)
	snaps := engine.ImageSnapshots(img)
	if snaps == nil {
		snaps = []string{}
	}
	m.SnapshotIDs, d = types.ListValueFrom(ctx, types.StringType, snaps)
	diags.Append(d...)
	tags := engine.ImageTags(img)
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
	return false, diags
}

func (r *imageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer recoverPanic(ctx, "amibake_image update", &resp.Diagnostics)
	ctx, cancel := withLimit(ctx, "in-place update", updateTimeout)
	defer cancel()
	var plan, state imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	clients, diags := r.data.Clients(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
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
		if err := engine.TagImage(ctx, clients, state.ImageID.ValueString(), want, remove); err != nil {
			resp.Diagnostics.AddError("Cannot Update Image Tags", err.Error())
			return
		}
	}
	// Everything else that can change in place is Terraform-side only (destroy flags,
	// an adopted recipe after import): keep the computed values from state.
	plan.ID, plan.ImageID = state.ID, state.ImageID
	plan.ExecutionID, plan.BakeKey = state.ExecutionID, state.BakeKey
	plan.StepOutputs, plan.SnapshotIDs = state.StepOutputs, state.SnapshotIDs
	plan.Region, plan.AccountID = state.Region, state.AccountID
	plan.Steps, plan.Copies = state.Steps, state.Copies
	plan.KeptInstanceIDs = state.KeptInstanceIDs
	_, diags = r.refresh(ctx, &plan, true)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
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
	var snapshots []string
	resp.Diagnostics.Append(m.SnapshotIDs.ElementsAs(ctx, &snapshots, false)...)
	failed, inUse := destroyImages(ctx, clients, region, m.ImageID.ValueString(), stringMap(m.Copies), snapshots, deleteSnapshots)
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
	type target struct{ region, id string }
	targets := []target{{region, imageID}}
	keys := make([]string, 0, len(copies))
	for k := range copies {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, _, _ := strings.Cut(k, "/")
		targets = append(targets, target{r, copies[k]})
	}
	for _, t := range targets {
		if t.id == "" {
			continue
		}
		used, err := engine.SplitSnapshotsInUse(engine.DeleteImage(ctx, clients, t.region, t.id, deleteSnapshots))
		inUse = append(inUse, used...)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s (%s): %s", t.id, t.region, err))
		}
	}
	if deleteSnapshots && len(snapshots) > 0 && len(failed) == 0 {
		used, err := engine.SplitSnapshotsInUse(engine.DeleteSnapshots(ctx, clients, region, snapshots))
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

// bakeKey is a deterministic hash of what defines a bake: recipe, parameter
// values and triggers. Sensitive parameters count by name only: the key is
// put on a tag anyone may read, and a hash of a secret invites guessing.
func bakeKey(doc *document.Document, values map[string]string, sensitive []string, triggers types.Map) (string, error) {
	js, err := doc.CanonicalJSON()
	if err != nil {
		return "", err
	}
	params := map[string]string{}
	for k, v := range values {
		if !slices.Contains(sensitive, k) {
			params[k] = v
		}
	}
	sensitive = slices.Sorted(slices.Values(sensitive))
	payload, err := json.Marshal(struct {
		Doc       string            `json:"doc"`
		Params    map[string]string `json:"params"`
		Sensitive []string          `json:"sensitive,omitempty"`
		Triggers  map[string]string `json:"triggers"`
	}{string(js), params, sensitive, stringMap(triggers)})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:16]), nil
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
	for _, v := range stringMap(m.SensitiveParameters) {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// scalarString renders an output value: strings as they are, anything else as JSON.
func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func bakeErrorDetail(err error, res *engine.Result) string {
	var b strings.Builder
	b.WriteString(err.Error())
	if res != nil && len(res.Steps) > 0 {
		b.WriteString("\n\nSteps:\n")
		for _, s := range res.Steps {
			fmt.Fprintf(&b, "  %-28s %-28s %-9s attempts=%d %s\n", s.Name, s.Action, s.Status, s.Attempts, firstLine(s.Message))
		}
	}
	if res != nil && len(res.Instances) > 0 {
		fmt.Fprintf(&b, "\nBuilder instances launched: %s", strings.Join(res.Instances, ", "))
		switch {
		case len(res.Kept) > 0:
			kept := make([]string, len(res.Kept))
			for i, k := range res.Kept {
				kept[i] = k.ID
				if k.State != "" {
					kept[i] += " " + k.State
				}
			}
			fmt.Fprintf(&b, " (kept, as keep_builder_instances asks: %s)", strings.Join(kept, ", "))
		case !slices.ContainsFunc(res.Instances, func(id string) bool { return slices.Contains(res.Leftovers, id) }):
			b.WriteString(" (all terminated)")
		}
		b.WriteString("\n")
	}
	if res != nil && len(res.Leftovers) > 0 {
		fmt.Fprintf(&b, "Not removed (clean up by hand if a later apply does not): %s\n", strings.Join(res.Leftovers, ", "))
	}
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// logEvent turns an engine progress event into a tflog line.
func logEvent(ctx context.Context, e engine.Event, secrets *engine.Redactor) {
	fields := map[string]any{"step": e.Step, "action": e.Action}
	if e.Attempt > 0 {
		fields["attempt"] = e.Attempt
	}
	if e.Elapsed > 0 {
		fields["elapsed"] = e.Elapsed.Round(time.Millisecond).String()
	}
	for k, v := range e.Fields {
		fields[k] = secrets.RedactValue(v)
	}
	msg := strings.ReplaceAll(e.Kind, "_", " ")
	if e.Kind == engine.EventLog {
		if m, ok := e.Fields["message"].(string); ok {
			msg = secrets.Redact(m)
		}
	}
	if e.Kind == engine.EventAttemptFailed {
		tflog.Warn(ctx, msg, fields)
		return
	}
	tflog.Info(ctx, msg, fields)
}

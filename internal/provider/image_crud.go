package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

var (
	engineCanRun    = engine.CanRun
	engineSupported = engine.Supported
)

func (r *imageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
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
	if resp.Diagnostics.HasError() {
		return
	}
	outputName, err := imageOutputName(doc, m.ImageOutput.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("image_output"), "No Image Output", err.Error())
		return
	}
	clients, diags := r.data.Clients(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	key, err := bakeKey(doc, values, m.Triggers)
	if err != nil {
		resp.Diagnostics.AddError("Cannot Compute Bake Key", err.Error())
		return
	}

	runCtx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	secrets := secretValues(m)
	res, runErr := engine.Run(runCtx, doc, values, engine.Options{
		Clients:              clients,
		Tags:                 r.data.defaultTags,
		BakeKey:              key,
		KeepBuilderInstances: m.KeepBuilderInstances.ValueBool(),
		OnEvent:              func(e engine.Event) { logEvent(ctx, e, secrets) },
	})

	imageID := ""
	if res != nil {
		if v, ok := res.Outputs[outputName]; ok {
			imageID = scalarString(v)
		}
	}
	if runErr == nil && imageID == "" {
		runErr = fmt.Errorf("the bake succeeded but its image output %s is empty; check image_output", outputName)
	}
	if runErr != nil {
		resp.Diagnostics.AddError("Bake Failed", redact(bakeErrorDetail(runErr, res), secrets))
		// Images that failed cleanup are kept in state so destroy or the next apply removes them.
		if res != nil && len(res.Images) > 0 {
			kept := res.Images[0]
			m.ImageID = types.StringValue(kept.ImageID)
			m.ID = m.ImageID
			resp.Diagnostics.Append(r.fillFromResult(ctx, &m, clients.Region, clients.AccountID, res, secrets)...)
			resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
			resp.Diagnostics.AddWarning("Image Kept in State",
				fmt.Sprintf("The failed bake left image %s that could not be removed; it is recorded in state so that "+
					"terraform destroy or the next apply removes it.", kept.ImageID))
		}
		return
	}

	m.ImageID = types.StringValue(imageID)
	m.ID = m.ImageID
	m.BakeKey = types.StringValue(key)
	resp.Diagnostics.Append(r.fillFromResult(ctx, &m, clients.Region, clients.AccountID, res, secrets)...)
	if !m.Tags.IsNull() && len(m.Tags.Elements()) > 0 {
		if err := engine.TagImage(ctx, clients, imageID, stringMap(m.Tags), nil); err != nil {
			resp.Diagnostics.AddWarning("Cannot Tag Image", err.Error())
		}
	}
	_, diags = r.refresh(ctx, &m, true)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// fillFromResult copies what a run produced into the model.
func (r *imageResource) fillFromResult(ctx context.Context, m *imageResourceModel, region, account string, res *engine.Result, secrets []string) diag.Diagnostics {
	var diags diag.Diagnostics
	m.ExecutionID = types.StringValue(res.ExecutionID)
	m.Region = types.StringValue(region)
	m.AccountID = types.StringValue(account)
	if m.BakeKey.IsUnknown() {
		m.BakeKey = types.StringNull()
	}

	outs := map[string]string{}
	for k, v := range res.Outputs {
		outs[k] = redact(scalarString(v), secrets)
	}
	var d diag.Diagnostics
	m.StepOutputs, d = types.MapValueFrom(ctx, types.StringType, outs)
	diags.Append(d...)

	copies := map[string]string{}
	for _, img := range res.Images {
		if img.ImageID != m.ImageID.ValueString() {
			copies[img.Region] = img.ImageID
		}
	}
	m.Copies, d = types.MapValueFrom(ctx, types.StringType, copies)
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
			"message":     types.StringValue(redact(s.Message, secrets)),
		})
		diags.Append(d...)
		steps = append(steps, obj)
	}
	m.Steps, d = types.ListValue(stepResultType, steps)
	diags.Append(d...)
	if m.SnapshotIDs.IsUnknown() {
		m.SnapshotIDs = types.ListValueMust(types.StringType, []attr.Value{})
	}
	return diags
}

func (r *imageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m imageResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	gone, diags := r.refresh(ctx, &m, false)
	resp.Diagnostics.Append(diags...)
	if gone {
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

// refresh reads the image from AWS into the model: state, snapshots, managed tags
// and the defaults that an import leaves null.
func (r *imageResource) refresh(ctx context.Context, m *imageResourceModel, afterCreate bool) (gone bool, diags diag.Diagnostics) {
	clients, d := r.data.Clients(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return false, diags
	}
	id := m.ImageID.ValueString()
	if id == "" {
		id = m.ID.ValueString()
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
	_, diags = r.refresh(ctx, &plan, true)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(clearImported(ctx, resp.Private)...)
}

func (r *imageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m imageResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
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
	clients, diags := r.data.Clients(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, deleteTimeout)
	defer cancel()
	deleteSnapshots := m.DeleteSnapshotsOnDestroy.IsNull() || m.DeleteSnapshotsOnDestroy.ValueBool()

	targets := map[string]string{clients.Region: m.ImageID.ValueString()}
	if !m.Region.IsNull() && m.Region.ValueString() != "" {
		targets = map[string]string{m.Region.ValueString(): m.ImageID.ValueString()}
	}
	for region, id := range stringMap(m.Copies) {
		targets[region+"|copy"] = id
	}
	var failed []string
	for key, id := range targets {
		region, _, _ := strings.Cut(key, "|")
		if err := engine.DeleteImage(ctx, clients, region, id, deleteSnapshots); err != nil {
			failed = append(failed, fmt.Sprintf("%s (%s): %s", id, region, err))
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		resp.Diagnostics.AddError("Cannot Delete Image",
			"These images could not be removed; the resource stays in state so that the next destroy tries again:\n  "+
				strings.Join(failed, "\n  "))
	}
}

// bakeKey is a deterministic hash of what defines a bake: recipe, parameter values and triggers.
func bakeKey(doc *document.Document, values map[string]string, triggers types.Map) (string, error) {
	js, err := doc.CanonicalJSON()
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(struct {
		Doc      string            `json:"doc"`
		Params   map[string]string `json:"params"`
		Triggers map[string]string `json:"triggers"`
	}{string(js), values, stringMap(triggers)})
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

// redact hides secret values in text that reaches logs, diagnostics or state.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "(sensitive value)")
	}
	return s
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
		if len(res.Leftovers) == 0 {
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
func logEvent(ctx context.Context, e engine.Event, secrets []string) {
	fields := map[string]any{"step": e.Step, "action": e.Action}
	if e.Attempt > 0 {
		fields["attempt"] = e.Attempt
	}
	if e.Elapsed > 0 {
		fields["elapsed"] = e.Elapsed.Round(time.Millisecond).String()
	}
	for k, v := range e.Fields {
		if s, ok := v.(string); ok {
			v = redact(s, secrets)
		}
		fields[k] = v
	}
	msg := strings.ReplaceAll(e.Kind, "_", " ")
	if e.Kind == engine.EventLog {
		if m, ok := e.Fields["message"].(string); ok {
			msg = redact(m, secrets)
		}
	}
	if e.Kind == engine.EventAttemptFailed {
		tflog.Warn(ctx, msg, fields)
		return
	}
	tflog.Info(ctx, msg, fields)
}

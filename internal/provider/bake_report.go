package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

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
			rec.imageID = res.Images[0].ID
		}
	}
	for _, img := range res.Images {
		if rec.err != nil {
			for _, s := range img.Snapshots {
				if !slices.Contains(rec.snapshots, s) {
					rec.snapshots = append(rec.snapshots, s)
				}
			}
		}
		if img.ID == rec.imageID {
			continue
		}
		key := img.Region
		if _, taken := rec.copies[key]; taken {
			key = img.Region + "/" + img.ID
		}
		rec.copies[key] = img.ID
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

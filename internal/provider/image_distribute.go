package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// copyTagKeys are the provider's own tags that copies carry over from the
// baked image; its other amibake:* tags (lease, completion) belong to the
// bake.
var copyTagKeys = []string{engine.TagExecutionID, engine.TagManaged, engine.TagBakeKey}

// copyTags are the tags a copy gets: the image's own (recipe, resource and
// default tags) and the provider's identity tags.
func copyTags(img *ec2types.Image) map[string]string {
	out := map[string]string{}
	for k, v := range ami.TagMap(img) {
		if !strings.HasPrefix(k, "amibake:") || slices.Contains(copyTagKeys, k) {
			out[k] = v
		}
	}
	return out
}

// regionImageIDs reads region_image_ids, with the image itself under its
// Region whatever state says.
func regionImageIDs(m imageResourceModel, bakeRegion string) map[string]string {
	ids := stringMap(m.RegionImageIDs)
	if id := m.ImageID.ValueString(); id != "" {
		ids[bakeRegion] = id
	}
	return ids
}

func regionImageIDsValue(ids map[string]string) types.Map {
	elems := make(map[string]attr.Value, len(ids))
	for k, v := range ids {
		elems[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, elems)
}

// copyTargets are the copies among ids (all but the bake Region's), sorted.
func copyTargets(ids map[string]string, bakeRegion string) []ami.Target {
	var out []ami.Target
	for _, region := range slices.Sorted(maps.Keys(ids)) {
		if region != bakeRegion {
			out = append(out, ami.Target{Region: region, ImageID: ids[region]})
		}
	}
	return out
}

// distributionRun is one reconciliation of a distribution: from what the
// state says exists (ids, prior) to what the plan wants.
type distributionRun struct {
	clients    *awsx.Clients
	bakeRegion string
	imageID    string
	plan       *distribution
	prior      *distribution
	// ids is the image id by Region; it follows every copy made or removed,
	// so that it is right whatever fails.
	ids map[string]string
	// snapshots are the copies' snapshots as last seen; nil keeps no record.
	snapshots copySnapshots
	// made are the Regions copied to by this run.
	made map[string]bool
}

// stateRegions are the region blocks that describe the copies in ids after
// a run that failed part way: the plan's for copies it kept or made, the
// prior state's for old copies it could not remove, so that the next plan
// shows their removal or replacement again.
func (d *distributionRun) stateRegions() []regionCopy {
	var out []regionCopy
	for _, t := range copyTargets(d.ids, d.bakeRegion) {
		if want, ok := d.plan.region(t.Region); ok && (d.keeps(t.Region) || d.made[t.Region]) {
			out = append(out, want)
		} else if had, ok := d.prior.region(t.Region); ok {
			out = append(out, had)
		}
	}
	return out
}

// run copies, removes and sets what the plan says. Failures are joined in
// the error; ids is right even then: a copy made is recorded before
// anything else can fail, a copy whose removal failed stays.
func (d *distributionRun) run(ctx context.Context) error {
	src, err := ami.FindIn(ctx, d.clients, d.bakeRegion, d.imageID)
	if err != nil {
		return fmt.Errorf("reading image %s before distributing it: %w", d.imageID, err)
	}
	var errs []error
	if err := d.removeOrphans(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := d.removeCopies(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := d.makeCopies(ctx, src); err != nil {
		errs = append(errs, err)
	}
	if err := d.applySettings(ctx, src); err != nil {
		errs = append(errs, err)
	}
	if err := d.recordSnapshots(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeOrphans deletes the snapshots of copies deregistered outside
// Terraform, which AWS leaves behind.
func (d *distributionRun) removeOrphans(ctx context.Context) error {
	targets := d.snapshots.orphanTargets()
	if len(targets) == 0 {
		return nil
	}
	var errs []error
	for i, rem := range ami.RemoveTargets(ctx, d.clients, targets, d.snapshots.known(), true) {
		// A snapshot another registered image is built on is not ours to keep.
		if _, err := ami.SplitSnapshotsInUse(rem.Err()); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(d.snapshots, targets[i].ImageID)
	}
	return errors.Join(errs...)
}

// recordSnapshots notes the snapshots of every copy, so that they can be
// deleted even once the copy is gone.
func (d *distributionRun) recordSnapshots(ctx context.Context) error {
	if d.snapshots == nil {
		return nil
	}
	copies := copyTargets(d.ids, d.bakeRegion)
	for id, c := range d.snapshots {
		if !c.Gone && !slices.Contains(copies, ami.Target{Region: c.Region, ImageID: id}) {
			delete(d.snapshots, id) // removed with its snapshots
		}
	}
	if len(copies) == 0 {
		return nil
	}
	images, err := ami.DescribeTargets(ctx, d.clients, copies)
	if err != nil {
		return err
	}
	d.snapshots.seen(images, copies)
	return nil
}

// keeps reports whether the copy recorded in region stays as it is: the plan
// wants the same copy the state describes.
func (d *distributionRun) keeps(region string) bool {
	want, ok := d.plan.region(region)
	have, had := d.prior.region(region)
	return ok && had && want == have
}

// removeCopies removes the copies the plan no longer wants as they are:
// Regions removed, and those whose key or name changed. A protected copy is
// refused with an error; it is disabled first only when the plan itself
// disables protection.
func (d *distributionRun) removeCopies(ctx context.Context) error {
	var targets []ami.Target
	for _, t := range copyTargets(d.ids, d.bakeRegion) {
		if !d.keeps(t.Region) {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	images, err := ami.DescribeTargets(ctx, d.clients, targets)
	if err != nil {
		return err
	}
	var errs []error
	if unproven := ami.Unproven(images, targets, d.clients.AccountID, d.bakeRegion, d.imageID); len(unproven) > 0 {
		errs = append(errs, fmt.Errorf("not removed, since nothing shows these are copies of %s:\n  %s",
			d.imageID, strings.Join(unproven, "\n  ")))
		var proven []ami.Target
		for _, t := range targets {
			if len(ami.Unproven(images, []ami.Target{t}, d.clients.AccountID, d.bakeRegion, d.imageID)) == 0 {
				proven = append(proven, t)
			}
		}
		targets = proven
	}
	if d.plan != nil && d.plan.Protection != nil && !d.plan.Protection.Enabled {
		disabled := false
		for _, t := range targets {
			if img, ok := images[t]; ok && ami.ProtectionOf(img).Enabled {
				if err := ami.SetProtection(ctx, d.clients, t.Region, t.ImageID, false, false); err != nil {
					errs = append(errs, err)
					continue
				}
				disabled = true
			}
		}
		// What AWS says now: a protection with cooldown still holds.
		if disabled {
			if images, err = ami.DescribeTargets(ctx, d.clients, targets); err != nil {
				return errors.Join(append(errs, err)...)
			}
		}
	}
	if blocked := ami.Protected(images, targets, time.Now()); len(blocked) > 0 {
		errs = append(errs, &protectedError{images: blocked, doing: "remove these copies"})
		var free []ami.Target
		for _, t := range targets {
			if len(ami.Protected(images, []ami.Target{t}, time.Now())) == 0 {
				free = append(free, t)
			}
		}
		targets = free
	}
	for i, rem := range ami.RemoveTargets(ctx, d.clients, targets, nil, true) {
		if err := rem.Err(); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(d.ids, targets[i].Region)
	}
	return errors.Join(errs...)
}

// makeCopies copies the image into every planned Region that has no copy.
func (d *distributionRun) makeCopies(ctx context.Context, src *ec2types.Image) error {
	if d.plan == nil {
		return nil
	}
	var reqs []ami.CopyRequest
	tags := copyTags(src)
	for _, rc := range d.plan.Regions {
		if _, ok := d.ids[rc.Region]; ok || rc.Region == d.bakeRegion {
			continue
		}
		name := rc.Name
		if name == "" {
			name = aws.ToString(src.Name)
		}
		reqs = append(reqs, ami.CopyRequest{
			SourceRegion: d.bakeRegion, SourceImageID: d.imageID, Region: rc.Region,
			Name: name, Description: aws.ToString(src.Description), KmsKeyID: rc.KmsKeyID, Tags: tags,
		})
	}
	var errs []error
	for _, res := range ami.CopyImages(ctx, d.clients, reqs) {
		if res.ImageID != "" {
			d.ids[res.Request.Region] = res.ImageID
			if d.made == nil {
				d.made = map[string]bool{}
			}
			d.made[res.Request.Region] = true
		}
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
	}
	return errors.Join(errs...)
}

// settings are what the plan sets on every image; what the prior state set
// and the plan no longer does is taken back (permissions revoked, deprecation
// cancelled), except protection, which is only ever changed when asked.
func (d *distributionRun) settings(src *ec2types.Image) (ami.Settings, error) {
	var s ami.Settings
	switch {
	case d.plan != nil && d.plan.Permissions != nil:
		s.Permissions = d.plan.Permissions
		s.ShareSnapshots = d.plan.ShareSnapshots
	case d.prior != nil && d.prior.Permissions != nil:
		s.Permissions = &ami.LaunchPermissions{}
	}
	if d.prior != nil && d.prior.Permissions != nil {
		s.SnapshotAccountsManaged = d.prior.Permissions.Accounts
	}
	switch {
	case d.plan.managesDeprecation():
		at, err := d.plan.deprecation(creationTime(src))
		if err != nil {
			return s, err
		}
		s.Deprecation = &at
	case d.prior.managesDeprecation():
		s.Deprecation = &time.Time{}
	}
	if d.plan != nil {
		s.Protection = d.plan.Protection
	}
	return s, nil
}

func (d *distributionRun) applySettings(ctx context.Context, src *ec2types.Image) error {
	s, err := d.settings(src)
	if err != nil {
		return err
	}
	if s.Permissions == nil && s.Deprecation == nil && s.Protection == nil {
		return nil
	}
	targets := append([]ami.Target{{Region: d.bakeRegion, ImageID: d.imageID}}, copyTargets(d.ids, d.bakeRegion)...)
	images, err := ami.DescribeTargets(ctx, d.clients, targets)
	if err != nil {
		return err
	}
	return ami.Apply(ctx, d.clients, images, targets, s)
}

// creationTime is when the image was created; zero when AWS's date does not
// parse (a deprecate_after then has nothing to count from).
func creationTime(img *ec2types.Image) time.Time {
	t, _ := ami.CreationTime(*img)
	return t
}

// protectedError is a deregistration refused because of protection.
type protectedError struct {
	images []string
	doing  string
}

func (e *protectedError) Error() string {
	return fmt.Sprintf("cannot %s while they have deregistration protection:\n  %s\n\nThe provider never disables "+
		"protection on its own: set distribution.deregistration_protection.enabled = false, apply, then try again "+
		"(with the cooldown, a day later)", e.doing, strings.Join(e.images, "\n  "))
}

// refreshDistribution compares the distribution in the model with what AWS
// says, and writes what exists into the model: copies that are gone leave
// region_image_ids and the region blocks (the plan adds them again), a copy
// that exists but failed leaves the region blocks only (the plan replaces
// it), and permissions, deprecation and protection that differ on any image
// show as that image has them. src is the baked image, just described.
func refreshDistribution(ctx context.Context, clients *awsx.Clients, m *imageResourceModel, src *ec2types.Image, bakeRegion string, snaps copySnapshots) diag.Diagnostics {
	d, known, diags := distributionFrom(ctx, m.Distribution)
	if diags.HasError() || !known {
		return diags
	}
	ids := regionImageIDs(*m, bakeRegion)
	copies := copyTargets(ids, bakeRegion)
	images := map[ami.Target]ec2types.Image{{Region: bakeRegion, ImageID: m.ImageID.ValueString()}: *src}
	if len(copies) > 0 {
		found, err := ami.DescribeTargets(ctx, clients, copies)
		if err != nil {
			diags.AddError("Cannot Read Image Copies", err.Error())
			return diags
		}
		maps.Copy(images, found)
	}
	snaps.seen(images, copies)
	var present []ami.Target
	usable := map[string]bool{}
	for _, t := range copies {
		img, ok := images[t]
		switch {
		case !ok:
			delete(ids, t.Region)
		case !ami.Usable(&img):
			delete(images, t)
		default:
			present = append(present, t)
			usable[t.Region] = true
		}
	}
	m.RegionImageIDs = regionImageIDsValue(ids)
	if d == nil {
		return diags
	}
	// A Region shows as configured only while its copy is there and usable
	// (not failed, not missing after an incomplete first distribution).
	d.Regions = slices.DeleteFunc(d.Regions, func(r regionCopy) bool { return !usable[r.Region] })
	all := append([]ami.Target{{Region: bakeRegion, ImageID: m.ImageID.ValueString()}}, present...)
	if d.Permissions != nil {
		perms, err := ami.LaunchPermissionsOf(ctx, clients, all)
		if err != nil {
			diags.AddError("Cannot Read Launch Permissions", err.Error())
			return diags
		}
		got := make([]ami.LaunchPermissions, 0, len(all))
		for _, t := range all {
			got = append(got, perms[t])
		}
		d.Permissions = refreshPermissions(*d.Permissions, got)
	}
	refreshDeprecation(d, images, all, creationTime(src))
	if d.Protection != nil {
		for _, t := range all {
			p := ami.ProtectionOf(images[t])
			if p.Enabled != d.Protection.Enabled || (p.Enabled && p.Cooldown != d.Protection.Cooldown) {
				d.Protection = &ami.Protection{Enabled: p.Enabled, Cooldown: d.Protection.Cooldown}
				if p.Enabled {
					d.Protection.Cooldown = p.Cooldown
				}
				break
			}
		}
	}
	obj, dd := distributionValue(ctx, d, m.Distribution)
	diags.Append(dd...)
	m.Distribution = obj
	return diags
}

// refreshPermissions is what state shows of launch permissions that each
// image has as got: a permission it had that any image lacks is dropped
// (the plan adds it back), one it did not have that any image has is added
// (the plan removes it).
func refreshPermissions(had ami.LaunchPermissions, got []ami.LaunchPermissions) *ami.LaunchPermissions {
	pick := func(had []string, of func(ami.LaunchPermissions) []string) []string {
		var out []string
		for _, p := range had {
			everywhere := true
			for _, g := range got {
				if !slices.Contains(of(g), p) {
					everywhere = false
				}
			}
			if everywhere {
				out = append(out, p)
			}
		}
		for _, g := range got {
			for _, p := range of(g) {
				if !slices.Contains(had, p) && !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
		sort.Strings(out)
		return out
	}
	return &ami.LaunchPermissions{
		Accounts:            pick(had.Accounts, func(p ami.LaunchPermissions) []string { return p.Accounts }),
		Organizations:       pick(had.Organizations, func(p ami.LaunchPermissions) []string { return p.Organizations }),
		OrganizationalUnits: pick(had.OrganizationalUnits, func(p ami.LaunchPermissions) []string { return p.OrganizationalUnits }),
	}
}

// refreshDeprecation shows, when an image's deprecation differs from the
// one set, that image's: as a time for deprecate_at, as a time after the
// bake for deprecate_after, or none.
func refreshDeprecation(d *distribution, images map[ami.Target]ec2types.Image, all []ami.Target, created time.Time) {
	if !d.managesDeprecation() {
		return
	}
	want, err := d.deprecation(created)
	if err != nil {
		return
	}
	for _, t := range all {
		have, ok := ami.DeprecationTime(images[t])
		if ok && ami.SameDeprecation(have, want) {
			continue
		}
		switch {
		case !ok:
			d.DeprecateAt, d.DeprecateAfter = "", ""
		case d.DeprecateAt != "":
			d.DeprecateAt = have.UTC().Format(time.RFC3339)
		default:
			d.DeprecateAfter = formatAfter(have.Sub(created))
		}
		return
	}
}

// formatAfter writes a duration as deprecate_after takes it: days when
// whole, else a Go duration.
func formatAfter(d time.Duration) string {
	d = d.Round(time.Minute)
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// distributionValue is d as the block's value; attributes that old (the
// value in state) leaves null stay null while d has nothing for them.
func distributionValue(ctx context.Context, d *distribution, old types.Object) (types.Object, diag.Diagnostics) {
	var diags diag.Diagnostics
	if d == nil {
		return types.ObjectNull(distributionAttrTypes), diags
	}
	var om distributionModel
	if !old.IsNull() && !old.IsUnknown() {
		diags.Append(old.As(ctx, &om, basetypesOptions)...)
	} else {
		om = distributionModel{
			Regions: types.SetNull(types.ObjectType{AttrTypes: regionCopyAttrTypes}), LaunchPermission: types.ObjectNull(launchPermissionAttrTypes),
			ShareSnapshots: types.BoolNull(), Protection: types.ObjectNull(protectionAttrTypes),
		}
	}
	optString := func(s string) types.String {
		if s == "" {
			return types.StringNull()
		}
		return types.StringValue(s)
	}
	regions := make([]attr.Value, 0, len(d.Regions))
	for _, r := range d.Regions {
		regions = append(regions, types.ObjectValueMust(regionCopyAttrTypes, map[string]attr.Value{
			"region": types.StringValue(r.Region), "kms_key_id": optString(r.KmsKeyID), "name": optString(r.Name),
		}))
	}
	regionSet := types.SetValueMust(types.ObjectType{AttrTypes: regionCopyAttrTypes}, regions)
	if len(regions) == 0 && om.Regions.IsNull() {
		regionSet = types.SetNull(types.ObjectType{AttrTypes: regionCopyAttrTypes})
	}
	lp := types.ObjectNull(launchPermissionAttrTypes)
	if d.Permissions != nil {
		var olp launchPermissionModel
		if !om.LaunchPermission.IsNull() {
			diags.Append(om.LaunchPermission.As(ctx, &olp, basetypesOptions)...)
		} else {
			olp = launchPermissionModel{AccountIDs: types.SetNull(types.StringType), OrganizationARNs: types.SetNull(types.StringType),
				OrganizationalUnits: types.SetNull(types.StringType)}
		}
		set := func(vals []string, old types.Set) types.Set {
			if len(vals) == 0 && old.IsNull() {
				return old
			}
			elems := make([]attr.Value, len(vals))
			for i, v := range vals {
				elems[i] = types.StringValue(v)
			}
			return types.SetValueMust(types.StringType, elems)
		}
		lp = types.ObjectValueMust(launchPermissionAttrTypes, map[string]attr.Value{
			"account_ids":              set(d.Permissions.Accounts, olp.AccountIDs),
			"organization_arns":        set(d.Permissions.Organizations, olp.OrganizationARNs),
			"organizational_unit_arns": set(d.Permissions.OrganizationalUnits, olp.OrganizationalUnits),
		})
	}
	prot := types.ObjectNull(protectionAttrTypes)
	if d.Protection != nil {
		var op protectionModel
		if !om.Protection.IsNull() {
			diags.Append(om.Protection.As(ctx, &op, basetypesOptions)...)
		} else {
			op.Cooldown = types.BoolNull()
		}
		cooldown := types.BoolValue(d.Protection.Cooldown)
		if !d.Protection.Cooldown && op.Cooldown.IsNull() {
			cooldown = types.BoolNull()
		}
		prot = types.ObjectValueMust(protectionAttrTypes, map[string]attr.Value{
			"enabled": types.BoolValue(d.Protection.Enabled), "cooldown": cooldown,
		})
	}
	return types.ObjectValueMust(distributionAttrTypes, map[string]attr.Value{
		"region":                    regionSet,
		"launch_permission":         lp,
		"share_snapshots":           om.ShareSnapshots,
		"deprecate_at":              optString(d.DeprecateAt),
		"deprecate_after":           optString(d.DeprecateAfter),
		"deregistration_protection": prot,
	}), diags
}

// destroyTargets are every image of a resource: the baked one, the copies
// of copy_image steps, and the copies of distribution.
func destroyTargets(m imageResourceModel, bakeRegion string) []ami.Target {
	targets := []ami.Target{}
	if id := m.ImageID.ValueString(); id != "" {
		targets = append(targets, ami.Target{Region: bakeRegion, ImageID: id})
	}
	steps := stringMap(m.Copies)
	for _, k := range slices.Sorted(maps.Keys(steps)) {
		region, _, _ := strings.Cut(k, "/")
		if steps[k] != "" {
			targets = append(targets, ami.Target{Region: region, ImageID: steps[k]})
		}
	}
	for _, t := range copyTargets(stringMap(m.RegionImageIDs), bakeRegion) {
		if !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
	}
	return targets
}

// copySnapshotsKey is the private state key of the copies' snapshots.
const copySnapshotsKey = "copy_snapshots"

// copySnapshots are the snapshots of each copy by copy id, kept in private
// state: AWS leaves them behind when a copy is deregistered outside
// Terraform, and the copy no longer lists them then.
type copySnapshots map[string]*copySnaps

type copySnaps struct {
	Region    string   `json:"region"`
	Snapshots []string `json:"snapshots"`
	// Gone: the copy was deregistered outside Terraform; its snapshots are
	// deleted by the next apply or destroy.
	Gone bool `json:"gone,omitempty"`
}

func readCopySnapshots(ctx context.Context, p privateGetter) (copySnapshots, diag.Diagnostics) {
	out := copySnapshots{}
	b, diags := p.GetKey(ctx, copySnapshotsKey)
	if len(b) == 0 || diags.HasError() {
		return out, diags
	}
	if err := json.Unmarshal(b, &out); err != nil {
		diags.AddWarning("Copy Snapshots Not Read", "The record of the copies' snapshots in private state is unreadable; "+
			"snapshots of copies deregistered outside Terraform may be left: "+err.Error())
		return copySnapshots{}, diags
	}
	return out, diags
}

func (c copySnapshots) save(ctx context.Context, p privateSetter) diag.Diagnostics {
	if c == nil {
		return nil
	}
	if len(c) == 0 {
		return p.SetKey(ctx, copySnapshotsKey, nil) // no key rather than an empty record
	}
	b, err := json.Marshal(c)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Cannot Record Copy Snapshots", err.Error())
		return diags
	}
	return p.SetKey(ctx, copySnapshotsKey, b)
}

// seen records the snapshots of the copies described in images, and marks
// gone those of targets that were not.
func (c copySnapshots) seen(images map[ami.Target]ec2types.Image, targets []ami.Target) {
	if c == nil {
		return
	}
	for _, t := range targets {
		img, ok := images[t]
		switch {
		case ok:
			c[t.ImageID] = &copySnaps{Region: t.Region, Snapshots: ami.Snapshots(img)}
		case c[t.ImageID] != nil:
			c[t.ImageID].Gone = true
		}
	}
}

func (c copySnapshots) orphans() bool { return len(c.orphanTargets()) > 0 }

// orphanTargets are the copies gone outside Terraform whose snapshots remain
// to delete.
func (c copySnapshots) orphanTargets() []ami.Target {
	var out []ami.Target
	for _, id := range slices.Sorted(maps.Keys(c)) {
		if c[id].Gone && len(c[id].Snapshots) > 0 {
			out = append(out, ami.Target{Region: c[id].Region, ImageID: id})
		}
	}
	return out
}

// known is the snapshots by copy id, for ami.RemoveTargets.
func (c copySnapshots) known() map[string][]string {
	out := make(map[string][]string, len(c))
	for id, s := range c {
		out[id] = s.Snapshots
	}
	return out
}

package provider

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

func TestRefreshPermissions(t *testing.T) {
	had := ami.LaunchPermissions{Accounts: []string{"111111111111", "222222222222"}, OrganizationalUnits: []string{"ou-1"}}
	got := []ami.LaunchPermissions{
		{Accounts: []string{"111111111111", "222222222222"}, OrganizationalUnits: []string{"ou-1"}},
		// A copy lost an account, and another was added by hand.
		{Accounts: []string{"111111111111", "999999999999"}, OrganizationalUnits: []string{"ou-1"}},
	}
	want := &ami.LaunchPermissions{Accounts: []string{"111111111111", "999999999999"}, OrganizationalUnits: []string{"ou-1"}}
	if r := refreshPermissions(had, got); !reflect.DeepEqual(r, want) {
		t.Errorf("refreshPermissions = %+v, want %+v", r, want)
	}
	if r := refreshPermissions(had, got[:1]); !r.Equal(had) {
		t.Errorf("nothing changed, yet refreshPermissions = %+v", r)
	}
}

func TestRefreshDeprecation(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	img := func(at string) ec2types.Image {
		if at == "" {
			return ec2types.Image{}
		}
		return ec2types.Image{DeprecationTime: aws.String(at)}
	}
	a, b := ami.Target{Region: "r1", ImageID: "ami-a"}, ami.Target{Region: "r2", ImageID: "ami-b"}
	tests := []struct {
		name        string
		d           distribution
		a, b        string // the images' DeprecationTime
		wantAt      string
		wantAfter   string
		wantCleared bool
	}{
		{"same, to the minute", distribution{DeprecateAt: "2027-01-01T00:00:20Z"}, "2027-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z", "2027-01-01T00:00:20Z", "", false},
		{"changed by hand", distribution{DeprecateAt: "2027-01-01T00:00:00Z"}, "2027-01-01T00:00:00.000Z", "2028-06-01T12:00:00.000Z", "2028-06-01T12:00:00Z", "", false},
		{"cancelled by hand", distribution{DeprecateAt: "2027-01-01T00:00:00Z"}, "2027-01-01T00:00:00.000Z", "", "", "", true},
		{"after the bake, same", distribution{DeprecateAfter: "90d"}, "2026-04-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z", "", "90d", false},
		{"after the bake, changed", distribution{DeprecateAfter: "90d"}, "2026-04-01T00:00:00.000Z", "2026-04-02T00:00:00.000Z", "", "91d", false},
		{"after the bake, odd hours", distribution{DeprecateAfter: "2165h"}, "2026-04-01T05:00:00.000Z", "2026-04-01T05:00:00.000Z", "", "2165h", false},
		{"after the bake, odd hours changed", distribution{DeprecateAfter: "2160h"}, "2026-04-01T05:00:00.000Z", "2026-04-01T00:00:00.000Z", "", "2165h0m0s", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d
			images := map[ami.Target]ec2types.Image{a: img(tt.a), b: img(tt.b)}
			refreshDeprecation(&d, images, []ami.Target{a, b}, created)
			if d.DeprecateAt != tt.wantAt || (tt.wantAfter != "" && d.DeprecateAfter != tt.wantAfter) {
				t.Errorf("deprecate_at %q, deprecate_after %q; want %q, %q", d.DeprecateAt, d.DeprecateAfter, tt.wantAt, tt.wantAfter)
			}
			if tt.wantCleared && d.managesDeprecation() {
				t.Errorf("a deprecation cancelled by hand still shows: %+v", d)
			}
		})
	}
	if got := formatAfter(2160*time.Hour + 5*time.Hour); got != "2165h0m0s" {
		t.Errorf("formatAfter = %q", got)
	}
}

func TestParseDeprecateAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2160h": 2160 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := parseDeprecateAfter(in); err != nil || got != want {
			t.Errorf("parseDeprecateAfter(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"3 months", "90", "d"} {
		if _, err := parseDeprecateAfter(in); err == nil {
			t.Errorf("parseDeprecateAfter(%q) accepted", in)
		}
	}
}

// distributionValue keeps null what the configuration left null, so that a
// refresh that found nothing changed shows no difference.
func TestDistributionValueKeepsNulls(t *testing.T) {
	ctx := context.Background()
	regionType := types.ObjectType{AttrTypes: regionCopyAttrTypes}
	old := types.ObjectValueMust(distributionAttrTypes, map[string]attr.Value{
		"region": types.SetValueMust(regionType, []attr.Value{types.ObjectValueMust(regionCopyAttrTypes, map[string]attr.Value{
			"region": types.StringValue("eu-west-1"), "kms_key_id": types.StringNull(), "name": types.StringNull(),
		})}),
		"launch_permission": types.ObjectValueMust(launchPermissionAttrTypes, map[string]attr.Value{
			"account_ids":              types.SetValueMust(types.StringType, []attr.Value{types.StringValue("111111111111")}),
			"organization_arns":        types.SetNull(types.StringType),
			"organizational_unit_arns": types.SetValueMust(types.StringType, []attr.Value{}),
		}),
		"share_snapshots": types.BoolNull(),
		"deprecate_at":    types.StringNull(),
		"deprecate_after": types.StringValue("90d"),
		"deregistration_protection": types.ObjectValueMust(protectionAttrTypes, map[string]attr.Value{
			"enabled": types.BoolValue(true), "cooldown": types.BoolNull(),
		}),
	})
	d, known, diags := distributionFrom(ctx, old)
	if diags.HasError() || !known {
		t.Fatalf("distributionFrom: %v, known %v", diags, known)
	}
	again, diags := distributionValue(ctx, d, old)
	if diags.HasError() || !again.Equal(old) {
		t.Errorf("round trip changed the value:\n%s\nwant\n%s", again, old)
	}
	// A copy gone and the protection disabled by hand show as such.
	d.Regions = nil
	d.Protection = &ami.Protection{}
	changed, _ := distributionValue(ctx, d, old)
	s := changed.String()
	if !strings.Contains(s, `"region":[]`) || !strings.Contains(s, `"enabled":false`) {
		t.Errorf("changed value %s", s)
	}
}

func TestPlanDistributionProtectedCopies(t *testing.T) {
	now := time.Now()
	west := regionCopy{Region: "us-west-2"}
	state := &distribution{Regions: []regionCopy{west, {Region: "eu-west-1"}}, Protection: &ami.Protection{Enabled: true}}
	tests := []struct {
		name string
		plan *distribution
		want string
	}{
		{"kept", &distribution{Regions: []regionCopy{west, {Region: "eu-west-1"}}, Protection: &ami.Protection{Enabled: true}}, ""},
		{"removed while protected", &distribution{Regions: []regionCopy{west}, Protection: &ami.Protection{Enabled: true}}, "Protected Copy"},
		{"replaced while protected", &distribution{Regions: []regionCopy{west, {Region: "eu-west-1", Name: "other"}}, Protection: &ami.Protection{Enabled: true}}, "Protected Copy"},
		{"removed, block removed", &distribution{Regions: []regionCopy{west}}, "Protected Copy"},
		{"removed with protection off", &distribution{Regions: []regionCopy{west}, Protection: &ami.Protection{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := planDistribution(tt.plan, state, "us-east-1", now)
			got := ""
			if diags.HasError() {
				got = diags.Errors()[0].Summary()
			}
			if got != tt.want {
				t.Errorf("planDistribution: %q, want %q (%v)", got, tt.want, diags)
			}
		})
	}
	cool := &distribution{Regions: state.Regions, Protection: &ami.Protection{Enabled: true, Cooldown: true}}
	diags := planDistribution(&distribution{Regions: []regionCopy{west}, Protection: &ami.Protection{}}, cool, "us-east-1", now)
	if !diags.HasError() || diags.Errors()[0].Summary() != "Protected Copy, With Cooldown" {
		t.Errorf("with cooldown: %v", diags)
	}
}

// TestDistributionSettingsRoundTrip runs a distribution's settings against
// the simulated cloud: applied, changed by hand, seen by refresh as changed,
// and repaired by the next run.
func TestDistributionSettingsRoundTrip(t *testing.T) {
	ctx := context.Background()
	cloud := simcloud.NewInstant()
	id, _ := cloud.AddImage(simcloud.Image{})
	clients := cloud.Clients(awsx.Policy{Initial: time.Millisecond, Max: time.Millisecond, Factor: 1})
	region := clients.Region
	plan := &distribution{
		Permissions:    &ami.LaunchPermissions{Accounts: []string{"111122223333"}},
		DeprecateAfter: "90d",
		Protection:     &ami.Protection{Enabled: true, Cooldown: true},
	}
	run := func() {
		t.Helper()
		r := &distributionRun{clients: clients, bakeRegion: region, imageID: id, plan: plan, prior: plan, ids: map[string]string{region: id}}
		if err := r.run(ctx); err != nil {
			t.Fatalf("run: %v", err)
		}
	}
	run()
	img, err := ami.FindByID(ctx, clients, id)
	if err != nil {
		t.Fatal(err)
	}
	at, ok := ami.DeprecationTime(*img)
	if want := creationTime(img).Add(90 * 24 * time.Hour); !ok || !ami.SameDeprecation(at, want) {
		t.Errorf("deprecation %v (%v), want %v", at, ok, want)
	}
	if p := ami.ProtectionOf(*img); !p.Enabled || !p.Cooldown {
		t.Errorf("protection %+v", p)
	}
	if p, _ := ami.GetLaunchPermissions(ctx, clients, "", id); !slices.Equal(p.Accounts, []string{"111122223333"}) {
		t.Errorf("launch permissions %+v", p)
	}

	// By hand: protection off, deprecation cancelled, an account added.
	ec2c := clients.EC2
	if _, err := ec2c.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec2c.DisableImageDeprecation(ctx, &ec2.DisableImageDeprecationInput{ImageId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec2c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id),
		LaunchPermission: &ec2types.LaunchPermissionModifications{Add: []ec2types.LaunchPermission{{UserId: aws.String("999999999999")}}}}); err != nil {
		t.Fatal(err)
	}
	obj, diags := distributionValue(ctx, plan, types.ObjectNull(distributionAttrTypes))
	if diags.HasError() {
		t.Fatal(diags)
	}
	m := imageResourceModel{ImageID: types.StringValue(id), Distribution: obj, RegionImageIDs: types.MapNull(types.StringType)}
	img, _ = ami.FindByID(ctx, clients, id)
	if diags := refreshDistribution(ctx, clients, &m, img, region, copySnapshots{}); diags.HasError() {
		t.Fatal(diags)
	}
	got, _, _ := distributionFrom(ctx, m.Distribution)
	if got.Protection == nil || got.Protection.Enabled || got.managesDeprecation() ||
		!slices.Equal(got.Permissions.Accounts, []string{"111122223333", "999999999999"}) {
		t.Errorf("refresh shows %+v (protection %+v, permissions %+v)", got, got.Protection, got.Permissions)
	}
	if ids := stringMap(m.RegionImageIDs); ids[region] != id || len(ids) != 1 {
		t.Errorf("region_image_ids %v", ids)
	}

	run()
	img, _ = ami.FindByID(ctx, clients, id)
	if _, ok := ami.DeprecationTime(*img); !ok || !ami.ProtectionOf(*img).Enabled {
		t.Errorf("not repaired: %+v", img)
	}
	if p, _ := ami.GetLaunchPermissions(ctx, clients, "", id); !slices.Equal(p.Accounts, []string{"111122223333"}) {
		t.Errorf("launch permissions after repair %+v", p)
	}
	if blocked := ami.Protected(map[ami.Target]ec2types.Image{{Region: region, ImageID: id}: *img}, []ami.Target{{Region: region, ImageID: id}}, time.Now()); len(blocked) != 1 {
		t.Errorf("a protected image must block its destroy: %v", blocked)
	}
}

// After a run that failed part way, state describes each copy as it is:
// new and kept copies as planned, old ones that stayed as they were.
func TestDistributionRunStateRegions(t *testing.T) {
	plan := &distribution{Regions: []regionCopy{{Region: "a"}, {Region: "b", KmsKeyID: "new"}, {Region: "d"}}}
	prior := &distribution{Regions: []regionCopy{{Region: "a"}, {Region: "b", KmsKeyID: "old"}, {Region: "c"}}}
	run := &distributionRun{bakeRegion: "home", plan: plan, prior: prior,
		// b's old copy and c's could not be removed (protected); d was made;
		// e is a failed copy state knew nothing of.
		ids:  map[string]string{"home": "ami-0", "a": "ami-a", "b": "ami-b", "c": "ami-c", "d": "ami-d", "e": "ami-e"},
		made: map[string]bool{"d": true},
	}
	want := []regionCopy{{Region: "a"}, {Region: "b", KmsKeyID: "old"}, {Region: "c"}, {Region: "d"}}
	if got := run.stateRegions(); !reflect.DeepEqual(got, want) {
		t.Errorf("stateRegions = %+v, want %+v", got, want)
	}
}

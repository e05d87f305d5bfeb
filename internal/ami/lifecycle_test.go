package ami

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

const (
	org = "arn:aws:organizations::123456789012:organization/o-abcdefghij"
	ou  = "arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefgh34"
)

// applyAll describes the targets and applies s to them.
func applyAll(t *testing.T, c *regions, targets []Target, s Settings) error {
	t.Helper()
	cl := c.clients()
	images, err := DescribeTargets(context.Background(), cl, targets)
	if err != nil {
		t.Fatal(err)
	}
	return Apply(context.Background(), cl, images, targets, s)
}

func TestApplyLaunchPermissionsAsADiff(t *testing.T) {
	c := newRegions()
	c.put("eu-west-1", "ami-a", 1)
	c.put("us-east-1", "ami-b", 1)
	// By hand: one account to keep, one to remove, and the public group,
	// which distribution leaves alone.
	for _, id := range []string{"ami-a", "ami-b"} {
		c.images[id].perms = []ec2types.LaunchPermission{{UserId: aws.String("111111111111")}, {UserId: aws.String("999999999999")}, {Group: ec2types.PermissionGroupAll}}
	}
	targets := []Target{{"eu-west-1", "ami-a"}, {"us-east-1", "ami-b"}}
	want := LaunchPermissions{Accounts: []string{"111111111111", "222222222222"}, Organizations: []string{org}, OrganizationalUnits: []string{ou}}
	if err := applyAll(t, c, targets, Settings{Permissions: &want}); err != nil {
		t.Fatal(err)
	}
	got := c.callsOf("ModifyImageAttribute")
	wantCalls := []string{
		"ModifyImageAttribute ami-a[+222222222222 +" + org + " +" + ou + " -999999999999]@eu-west-1",
		"ModifyImageAttribute ami-b[+222222222222 +" + org + " +" + ou + " -999999999999]@us-east-1",
	}
	if !reflect.DeepEqual(got, wantCalls) {
		t.Errorf("calls\n%q\nwant\n%q", got, wantCalls)
	}
	for _, tg := range targets {
		p, err := GetLaunchPermissions(context.Background(), c.clients(), tg.Region, tg.ImageID)
		if err != nil || !p.Equal(want) {
			t.Errorf("%s permissions %+v, %v", tg, p, err)
		}
		if n := len(c.images[tg.ImageID].perms); n != 5 {
			t.Errorf("%s has %d permissions, want 4 and the public group", tg, n)
		}
	}
	// Nothing to change: no call.
	c.calls = nil
	if err := applyAll(t, c, targets, Settings{Permissions: &want}); err != nil {
		t.Fatal(err)
	}
	if got := c.callsOf("Modify"); len(got) > 0 {
		t.Errorf("calls with nothing to change: %v", got)
	}
}

func TestApplySnapshotPermissions(t *testing.T) {
	c := newRegions()
	c.put("eu-west-1", "ami-plain", 1)
	c.put("us-east-1", "ami-enc", 1)
	c.images["ami-enc"].encrypted = true
	targets := []Target{{"eu-west-1", "ami-plain"}, {"us-east-1", "ami-enc"}}
	perms := LaunchPermissions{Accounts: []string{"222222222222"}, OrganizationalUnits: []string{ou}}
	if err := applyAll(t, c, targets, Settings{Permissions: &perms}); err != nil {
		t.Fatal(err)
	}
	// Only the encrypted image's snapshots are shared, with accounts only.
	if got := c.callsOf("ModifySnapshotAttribute"); !reflect.DeepEqual(got, []string{"ModifySnapshotAttribute snap-ami-enc-0[+222222222222]@us-east-1"}) {
		t.Errorf("without share_snapshots: %v", got)
	}
	c.calls = nil
	if err := applyAll(t, c, targets, Settings{Permissions: &perms, ShareSnapshots: true}); err != nil {
		t.Fatal(err)
	}
	if got := c.callsOf("ModifySnapshotAttribute"); !reflect.DeepEqual(got, []string{"ModifySnapshotAttribute snap-ami-plain-0[+222222222222]@eu-west-1"}) {
		t.Errorf("with share_snapshots: %v", got)
	}
	// The account goes: its permissions go from the snapshots, an account
	// shared with by other means stays.
	c.snaps["snap-ami-plain-0"].users = append(c.snaps["snap-ami-plain-0"].users, "555555555555")
	c.calls = nil
	none := LaunchPermissions{}
	if err := applyAll(t, c, targets, Settings{Permissions: &none, ShareSnapshots: true, SnapshotAccountsManaged: []string{"222222222222"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"ModifySnapshotAttribute snap-ami-enc-0[-222222222222]@us-east-1", "ModifySnapshotAttribute snap-ami-plain-0[-222222222222]@eu-west-1"}
	if got := c.callsOf("ModifySnapshotAttribute"); !reflect.DeepEqual(got, want) {
		t.Errorf("after removing the account: %v", got)
	}
	if u := c.snaps["snap-ami-plain-0"].users; !reflect.DeepEqual(u, []string{"555555555555"}) {
		t.Errorf("snapshot users %v", u)
	}
}

func TestApplyDeprecation(t *testing.T) {
	c := newRegions()
	c.put("eu-west-1", "ami-a", 1)
	c.put("us-east-1", "ami-b", 1)
	targets := []Target{{"eu-west-1", "ami-a"}, {"us-east-1", "ami-b"}}
	at := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Minute).Add(20 * time.Second)
	if err := applyAll(t, c, targets, Settings{Deprecation: &at}); err != nil {
		t.Fatal(err)
	}
	if got := c.callsOf("EnableImageDeprecation"); !reflect.DeepEqual(got, []string{"EnableImageDeprecation ami-a@eu-west-1", "EnableImageDeprecation ami-b@us-east-1"}) {
		t.Errorf("calls %v", got)
	}
	images, _ := DescribeTargets(context.Background(), c.clients(), targets)
	for tg, img := range images {
		have, ok := DeprecationTime(img)
		if !ok || !SameDeprecation(have, at) {
			t.Errorf("%s deprecation %v, want %v", tg, have, at)
		}
	}
	// AWS rounded to the minute: the same time asks for nothing.
	c.calls = nil
	if err := applyAll(t, c, targets, Settings{Deprecation: &at}); err != nil {
		t.Fatal(err)
	}
	if len(c.calls) > 0 {
		t.Errorf("calls for the same time: %v", c.calls)
	}
	zero := time.Time{}
	if err := applyAll(t, c, targets, Settings{Deprecation: &zero}); err != nil {
		t.Fatal(err)
	}
	if got := c.callsOf("DisableImageDeprecation"); len(got) != 2 {
		t.Errorf("calls %v", got)
	}
}

func TestApplyProtection(t *testing.T) {
	c := newRegions()
	c.put("eu-west-1", "ami-a", 1)
	c.put("us-east-1", "ami-b", 1)
	c.images["ami-b"].protection = "enabled-without-cooldown"
	targets := []Target{{"eu-west-1", "ami-a"}, {"us-east-1", "ami-b"}}
	if err := applyAll(t, c, targets, Settings{Protection: &Protection{Enabled: true, Cooldown: true}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ami-a", "ami-b"} {
		if p := c.images[id].protection; p != "enabled-with-cooldown" {
			t.Errorf("%s protection %q", id, p)
		}
	}
	c.calls = nil
	if err := applyAll(t, c, targets, Settings{Protection: &Protection{Enabled: true, Cooldown: true}}); err != nil {
		t.Fatal(err)
	}
	if len(c.calls) > 0 {
		t.Errorf("calls with nothing to change: %v", c.calls)
	}
	if err := applyAll(t, c, targets, Settings{Protection: &Protection{}}); err != nil {
		t.Fatal(err)
	}
	if got := c.callsOf("DisableImageDeregistrationProtection"); len(got) != 2 {
		t.Errorf("calls %v", got)
	}
}

// One image failing does not stop the others, and the error names it.
func TestApplyPartialFailure(t *testing.T) {
	c := newRegions()
	c.put("eu-west-1", "ami-a", 1)
	c.put("us-east-1", "ami-b", 1)
	targets := []Target{{"eu-west-1", "ami-a"}, {"us-east-1", "ami-b"}, {"us-west-2", "ami-gone"}}
	c.failOp["EnableImageDeregistrationProtection"] = &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "denied"}
	perms := LaunchPermissions{Accounts: []string{"222222222222"}}
	err := applyAll(t, c, targets, Settings{Permissions: &perms, Protection: &Protection{Enabled: true}})
	if err == nil || !strings.Contains(err.Error(), "ami-gone in us-west-2") || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Fatalf("err = %v", err)
	}
	for _, id := range []string{"ami-a", "ami-b"} {
		if len(c.images[id].perms) != 1 {
			t.Errorf("%s permissions %v: the others' failures must not stop it", id, c.images[id].perms)
		}
	}
}

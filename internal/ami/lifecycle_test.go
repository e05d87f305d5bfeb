package ami

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

const (
	org = "arn:aws:organizations::123456789012:organization/o-abcdefghij"
	ou  = "arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefgh34"
)

// applyAll describes the targets and applies s to them.
func applyAll(t *testing.T, c *simcloud.Cloud, targets []Target, s Settings) error {
	t.Helper()
	cl := clients(c)
	images, err := DescribeTargets(context.Background(), cl, targets)
	if err != nil {
		t.Fatal(err)
	}
	return Apply(context.Background(), cl, images, targets, s)
}

func TestApplyLaunchPermissionsAsADiff(t *testing.T) {
	c := newCloud()
	// By hand: one account to keep, one to remove, and the public group,
	// which distribution leaves alone.
	byHand := []ec2types.LaunchPermission{{UserId: aws.String("111111111111")}, {UserId: aws.String("999999999999")}, {Group: ec2types.PermissionGroupAll}}
	c.AddImage(simcloud.Image{ID: "ami-a", Region: home, LaunchPermissions: byHand})
	c.AddImage(simcloud.Image{ID: "ami-b", Region: "sa-east-1", LaunchPermissions: byHand})
	targets := []Target{{home, "ami-a"}, {"sa-east-1", "ami-b"}}
	want := LaunchPermissions{Accounts: []string{"111111111111", "222222222222"}, Organizations: []string{org}, OrganizationalUnits: []string{ou}}
	if err := applyAll(t, c, targets, Settings{Permissions: &want}); err != nil {
		t.Fatal(err)
	}
	got := callsOf(c, 0, "ModifyImageAttribute")
	wantCalls := []string{
		"ModifyImageAttribute ami-a[+222222222222 +" + org + " +" + ou + " -999999999999]@us-east-1",
		"ModifyImageAttribute ami-b[+222222222222 +" + org + " +" + ou + " -999999999999]@sa-east-1",
	}
	if !reflect.DeepEqual(got, wantCalls) {
		t.Errorf("calls\n%q\nwant\n%q", got, wantCalls)
	}
	for _, tg := range targets {
		p, err := GetLaunchPermissions(context.Background(), clients(c), tg.Region, tg.ImageID)
		if err != nil || !p.Equal(want) {
			t.Errorf("%s permissions %+v, %v", tg, p, err)
		}
		if n := len(c.LaunchPermissions(tg.ImageID)); n != 5 {
			t.Errorf("%s has %d permissions, want 4 and the public group", tg, n)
		}
	}
	// Nothing to change: no call.
	mark := len(c.Calls())
	if err := applyAll(t, c, targets, Settings{Permissions: &want}); err != nil {
		t.Fatal(err)
	}
	if got := callsOf(c, mark, "Modify"); len(got) > 0 {
		t.Errorf("calls with nothing to change: %v", got)
	}
}

func TestApplySnapshotPermissions(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-plain", 1)
	c.AddImage(simcloud.Image{ID: "ami-enc", Region: "sa-east-1", Snapshots: []string{"snap-ami-enc-0"}, Encrypted: true})
	targets := []Target{{home, "ami-plain"}, {"sa-east-1", "ami-enc"}}
	perms := LaunchPermissions{Accounts: []string{"222222222222"}, OrganizationalUnits: []string{ou}}
	if err := applyAll(t, c, targets, Settings{Permissions: &perms}); err != nil {
		t.Fatal(err)
	}
	// Only the encrypted image's snapshots are shared, with accounts only.
	if got := callsOf(c, 0, "ModifySnapshotAttribute"); !reflect.DeepEqual(got, []string{"ModifySnapshotAttribute snap-ami-enc-0[+222222222222]@sa-east-1"}) {
		t.Errorf("without share_snapshots: %v", got)
	}
	mark := len(c.Calls())
	if err := applyAll(t, c, targets, Settings{Permissions: &perms, ShareSnapshots: true}); err != nil {
		t.Fatal(err)
	}
	if got := callsOf(c, mark, "ModifySnapshotAttribute"); !reflect.DeepEqual(got, []string{"ModifySnapshotAttribute snap-ami-plain-0[+222222222222]@us-east-1"}) {
		t.Errorf("with share_snapshots: %v", got)
	}
	// The account goes: its permissions go from the snapshots, an account
	// shared with by other means stays.
	c.ShareSnapshot("snap-ami-plain-0", "555555555555")
	mark = len(c.Calls())
	none := LaunchPermissions{}
	if err := applyAll(t, c, targets, Settings{Permissions: &none, ShareSnapshots: true, SnapshotAccountsManaged: []string{"222222222222"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"ModifySnapshotAttribute snap-ami-enc-0[-222222222222]@sa-east-1", "ModifySnapshotAttribute snap-ami-plain-0[-222222222222]@us-east-1"}
	if got := callsOf(c, mark, "ModifySnapshotAttribute"); !reflect.DeepEqual(got, want) {
		t.Errorf("after removing the account: %v", got)
	}
	if u := c.SnapshotUsers("snap-ami-plain-0"); !reflect.DeepEqual(u, []string{"555555555555"}) {
		t.Errorf("snapshot users %v", u)
	}
}

func TestApplyDeprecation(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-a", 1)
	put(c, "sa-east-1", "ami-b", 1)
	targets := []Target{{home, "ami-a"}, {"sa-east-1", "ami-b"}}
	at := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Minute).Add(20 * time.Second)
	if err := applyAll(t, c, targets, Settings{Deprecation: &at}); err != nil {
		t.Fatal(err)
	}
	if got := callsOf(c, 0, "EnableImageDeprecation"); !reflect.DeepEqual(got, []string{"EnableImageDeprecation ami-a@us-east-1", "EnableImageDeprecation ami-b@sa-east-1"}) {
		t.Errorf("calls %v", got)
	}
	images, _ := DescribeTargets(context.Background(), clients(c), targets)
	for tg, img := range images {
		have, ok := DeprecationTime(img)
		if !ok || !SameDeprecation(have, at) {
			t.Errorf("%s deprecation %v, want %v", tg, have, at)
		}
	}
	// AWS rounded to the minute: the same time asks for nothing.
	mark := len(c.Calls())
	if err := applyAll(t, c, targets, Settings{Deprecation: &at}); err != nil {
		t.Fatal(err)
	}
	if got := callsOf(c, mark, ""); len(got) > 0 {
		t.Errorf("calls for the same time: %v", got)
	}
	zero := time.Time{}
	if err := applyAll(t, c, targets, Settings{Deprecation: &zero}); err != nil {
		t.Fatal(err)
	}
	if got := callsOf(c, 0, "DisableImageDeprecation"); len(got) != 2 {
		t.Errorf("calls %v", got)
	}
}

func TestApplyProtection(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-a", 1)
	c.AddImage(simcloud.Image{ID: "ami-b", Region: "sa-east-1", Protection: "enabled-without-cooldown"})
	targets := []Target{{home, "ami-a"}, {"sa-east-1", "ami-b"}}
	if err := applyAll(t, c, targets, Settings{Protection: &Protection{Enabled: true, Cooldown: true}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ami-a", "ami-b"} {
		if img, _ := c.Image(id); aws.ToString(img.DeregistrationProtection) != "enabled-with-cooldown" {
			t.Errorf("%s protection %q", id, aws.ToString(img.DeregistrationProtection))
		}
	}
	mark := len(c.Calls())
	if err := applyAll(t, c, targets, Settings{Protection: &Protection{Enabled: true, Cooldown: true}}); err != nil {
		t.Fatal(err)
	}
	if got := callsOf(c, mark, ""); len(got) > 0 {
		t.Errorf("calls with nothing to change: %v", got)
	}
	if err := applyAll(t, c, targets, Settings{Protection: &Protection{}}); err != nil {
		t.Fatal(err)
	}
	if got := callsOf(c, 0, "DisableImageDeregistrationProtection"); len(got) != 2 {
		t.Errorf("calls %v", got)
	}
}

// One image failing does not stop the others, and the error names it.
func TestApplyPartialFailure(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-a", 1)
	put(c, "sa-east-1", "ami-b", 1)
	targets := []Target{{home, "ami-a"}, {"sa-east-1", "ami-b"}, {"us-west-2", "ami-gone"}}
	c.Inject(faults.FailCalls("EnableImageDeregistrationProtection", 1, -1, "UnauthorizedOperation", 403))
	perms := LaunchPermissions{Accounts: []string{"222222222222"}}
	err := applyAll(t, c, targets, Settings{Permissions: &perms, Protection: &Protection{Enabled: true}})
	if err == nil || !strings.Contains(err.Error(), "ami-gone in us-west-2") || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Fatalf("err = %v", err)
	}
	for _, id := range []string{"ami-a", "ami-b"} {
		if p := c.LaunchPermissions(id); len(p) != 1 {
			t.Errorf("%s permissions %v: the others' failures must not stop it", id, p)
		}
	}
}

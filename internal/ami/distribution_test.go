package ami

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

func copyReq(region, kms string) CopyRequest {
	return CopyRequest{SourceRegion: home, SourceImageID: "ami-src", Region: region, Name: "golden",
		KmsKeyID: kms, Tags: map[string]string{"team": "platform"}}
}

func TestCopyImages(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-src", 1)
	res := CopyImages(context.Background(), clients(c), []CopyRequest{
		copyReq("sa-east-1", ""),
		copyReq("us-west-2", "arn:aws:kms:us-west-2:123456789012:key/k"),
	})
	for i, region := range []string{"sa-east-1", "us-west-2"} {
		r := res[i]
		if r.Err != nil || r.ImageID == "" || r.Image == nil || r.Image.State != ec2types.ImageStateAvailable {
			t.Fatalf("copy to %s: %+v", region, r)
		}
		img, _ := c.Image(r.ImageID)
		if got := c.RegionOf(r.ImageID); got != region {
			t.Errorf("copy %s made in %s, want %s", r.ImageID, got, region)
		}
		if tags := c.Tags(r.ImageID); tags[CopyOfTag] != "us-east-1/ami-src" || tags["team"] != "platform" {
			t.Errorf("copy %s tags %v", r.ImageID, tags)
		}
		snaps := Snapshots(img)
		if len(snaps) == 0 || c.Tags(snaps[0])[CopyOfTag] != "us-east-1/ami-src" || c.RegionOf(snaps[0]) != region {
			t.Errorf("copy %s snapshots %v: want one in %s tagged as the copy", r.ImageID, snaps, region)
		}
		if want, got := region == "us-west-2", aws.ToBool(img.BlockDeviceMappings[0].Ebs.Encrypted); got != want {
			t.Errorf("copy to %s encrypted = %v, want %v", region, got, want)
		}
	}
	if got := callsOf(c, 0, "CopyImage"); !reflect.DeepEqual(got, []string{"CopyImage ami-src@sa-east-1", "CopyImage ami-src@us-west-2"}) {
		t.Errorf("CopyImage calls %v", got)
	}
	// The tag specifications did it: no CreateTags.
	if got := callsOf(c, 0, "CreateTags"); len(got) > 0 {
		t.Errorf("CreateTags calls %v, want none", got)
	}
}

// A repeated request (a lost answer, a crash before state was saved) returns
// the copy already made: the client token depends on the request only.
func TestCopyImageIsIdempotent(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-src", 1)
	first := CopyImages(context.Background(), clients(c), []CopyRequest{copyReq("sa-east-1", "")})[0]
	again := CopyImages(context.Background(), clients(c), []CopyRequest{copyReq("sa-east-1", "")})[0]
	if first.Err != nil || again.Err != nil || first.ImageID != again.ImageID {
		t.Fatalf("first %+v, again %+v: want the same copy", first, again)
	}
	if a, b := copyReq("sa-east-1", "").clientToken(0), copyReq("sa-east-1", "k").clientToken(0); a == b || len(a) > 64 {
		t.Errorf("tokens %q and %q: want different, at most 64 characters", a, b)
	}
}

// A region removed and added again: the token names the deregistered copy,
// so a new token makes a new one.
func TestCopyImageAfterRemoval(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-src", 1)
	cl := clients(c)
	first := CopyImages(context.Background(), cl, []CopyRequest{copyReq("sa-east-1", "")})[0]
	if r := RemoveTargets(context.Background(), cl, []Target{{"sa-east-1", first.ImageID}}, nil, true); r[0].Err() != nil {
		t.Fatal(r[0].Err())
	}
	again := CopyImages(context.Background(), cl, []CopyRequest{copyReq("sa-east-1", "")})[0]
	if again.Err != nil || again.ImageID == first.ImageID || !available(c, again.ImageID) {
		t.Fatalf("copy after removal = %+v (first was %s)", again, first.ImageID)
	}
}

// A copy that fails is removed with its snapshot and not reported as made.
func TestCopyImageFailedIsRemoved(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-src", 1)
	c.FailImagesIn("sa-east-1", "Client.InternalError", "Copy failed")
	res := CopyImages(context.Background(), clients(c), []CopyRequest{copyReq("sa-east-1", ""), copyReq("us-west-2", "")})
	if res[0].Err == nil || res[0].ImageID != "" || !strings.Contains(res[0].Err.Error(), "failed") {
		t.Errorf("failed copy: %+v", res[0])
	}
	if res[1].Err != nil || res[1].ImageID == "" {
		t.Errorf("the other region's copy: %+v", res[1])
	}
	if got := callsOf(c, 0, "DeregisterImage"); len(got) != 1 || !strings.HasSuffix(got[0], "@sa-east-1") {
		t.Errorf("DeregisterImage calls %v", got)
	}
	if got := callsOf(c, 0, "DeleteSnapshot"); len(got) != 1 || !strings.HasSuffix(got[0], "@sa-east-1") {
		t.Errorf("DeleteSnapshot calls %v", got)
	}
}

// A failed copy that cannot be removed keeps its id, so that the caller
// records it: nothing made is ever left untracked.
func TestCopyImageFailedAndKeptIsReported(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-src", 1)
	c.FailImagesIn("sa-east-1", "Client.InternalError", "Copy failed")
	c.Inject(faults.FailCalls("DeregisterImage", 1, -1, "UnauthorizedOperation", 403))
	r := CopyImages(context.Background(), clients(c), []CopyRequest{copyReq("sa-east-1", "")})[0]
	if r.Err == nil || r.ImageID == "" || !strings.Contains(r.Err.Error(), "UnauthorizedOperation") {
		t.Fatalf("copy = %+v, want its id and both errors", r)
	}
}

// When CopyImage drops the tag specifications (an emulator, or a copy made
// by an earlier attempt), the copy and its snapshots are tagged after.
func TestCopyImageTagsWhatCopyImageDidNot(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-src", 1)
	c.DropCopyTags()
	r := CopyImages(context.Background(), clients(c), []CopyRequest{copyReq("sa-east-1", "")})[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	img, _ := c.Image(r.ImageID)
	snaps := Snapshots(img)
	if len(snaps) == 0 || c.Tags(r.ImageID)[CopyOfTag] != "us-east-1/ami-src" || c.Tags(snaps[0])["team"] != "platform" {
		t.Errorf("tags: image %v, snapshots %v", c.Tags(r.ImageID), snaps)
	}
	if got := callsOf(c, 0, "CreateTags"); len(got) != 1 || !strings.HasSuffix(got[0], "@sa-east-1") {
		t.Errorf("CreateTags calls %v", got)
	}
}

func TestCopyImageAPIError(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-src", 1)
	c.Inject(faults.Rule{Operation: "CopyImage", To: -1, Code: "InvalidParameterValue", Message: "bad key"})
	r := CopyImages(context.Background(), clients(c), []CopyRequest{copyReq("sa-east-1", "k")})[0]
	if r.Err == nil || r.ImageID != "" || !strings.Contains(r.Err.Error(), "bad key") {
		t.Fatalf("copy = %+v", r)
	}
}

func TestDescribeTargetsOneCallPerRegion(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-a", 1)
	put(c, "sa-east-1", "ami-b", 1)
	put(c, "sa-east-1", "ami-c", 1)
	cl := clients(c)
	got, err := DescribeTargets(context.Background(), cl, []Target{{home, "ami-a"}, {"sa-east-1", "ami-b"}, {"sa-east-1", "ami-c"}, {"sa-east-1", "ami-gone"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("described %d images, want 3: %v", len(got), got)
	}
	var calls []string
	for _, call := range c.Calls("DescribeImages") {
		calls = append(calls, ownRegion(call.Region))
	}
	slices.Sort(calls)
	if !reflect.DeepEqual(calls, []string{"sa-east-1", home}) {
		t.Errorf("DescribeImages calls in %v, want one per region", calls)
	}
}

func TestProtectionOf(t *testing.T) {
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want Protection
	}{
		{"", Protection{}},
		{"disabled", Protection{}},
		{"enabled-without-cooldown", Protection{Enabled: true}},
		{"enabled", Protection{Enabled: true}},
		{"enabled-with-cooldown", Protection{Enabled: true, Cooldown: true}},
		{"disabled-until-2030-01-02T03:04:05.000Z", Protection{Until: until, CoolingDown: "disabled-until-2030-01-02T03:04:05.000Z"}},
		{"disabled after 2030-01-02T03:04:05.000Z", Protection{Until: until, CoolingDown: "disabled after 2030-01-02T03:04:05.000Z"}},
		{"disabled for a while", Protection{CoolingDown: "disabled for a while"}},
	}
	for _, tt := range tests {
		if got := ProtectionOf(ec2types.Image{DeregistrationProtection: aws.String(tt.in)}); !got.Until.Equal(tt.want.Until) ||
			got.Enabled != tt.want.Enabled || got.Cooldown != tt.want.Cooldown || got.CoolingDown != tt.want.CoolingDown {
			t.Errorf("ProtectionOf(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestProtected(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	images := map[Target]ec2types.Image{
		{"a", "ami-1"}: {DeregistrationProtection: aws.String("enabled-with-cooldown")},
		{"b", "ami-2"}: {DeregistrationProtection: aws.String("disabled")},
		{"c", "ami-3"}: {DeregistrationProtection: aws.String("disabled-until-2030-01-01T12:00:00Z")},
		{"d", "ami-4"}: {DeregistrationProtection: aws.String("disabled-until-2029-12-31T12:00:00Z")},
		{"f", "ami-5"}: {DeregistrationProtection: aws.String("disabled after 2030-01-01T13:00:00.000Z")},
		{"g", "ami-6"}: {DeregistrationProtection: aws.String("disabled for a day")},
	}
	got := Protected(images, []Target{{"a", "ami-1"}, {"b", "ami-2"}, {"c", "ami-3"}, {"d", "ami-4"}, {"e", "ami-gone"}, {"f", "ami-5"}, {"g", "ami-6"}}, now)
	want := []string{
		"ami-1 in a: deregistration protection is enabled, with cooldown",
		"ami-3 in c: deregistration protection was disabled with a cooldown that ends at 2030-01-01T12:00:00Z",
		"ami-5 in f: deregistration protection was disabled with a cooldown that ends at 2030-01-01T13:00:00Z",
		`ami-6 in g: deregistration protection was disabled with a cooldown (AWS says "disabled for a day")`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Protected = %q, want %q", got, want)
	}
}

func TestRemoveTargetsInEveryRegion(t *testing.T) {
	c := newCloud()
	put(c, home, "ami-a", 1)
	put(c, "sa-east-1", "ami-b", 2)
	put(c, "us-west-2", "ami-c", 1)
	rem := RemoveTargets(context.Background(), clients(c), []Target{{home, "ami-a"}, {"sa-east-1", "ami-b"}, {"us-west-2", "ami-c"}}, nil, true)
	for _, r := range rem {
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
	}
	if snaps := c.Snapshots(); len(snaps) != 0 {
		t.Errorf("snapshots left: %v", snaps)
	}
	want := []string{"DeleteSnapshot snap-ami-b-0@sa-east-1", "DeleteSnapshot snap-ami-b-1@sa-east-1", "DeleteSnapshot snap-ami-c-0@us-west-2"}
	if got := callsOf(c, 0, "DeleteSnapshot"); len(got) != 4 || !reflect.DeepEqual(got[1:], want) {
		t.Errorf("DeleteSnapshot calls %v", got)
	}
}

func TestRemoveTargetsKeepsSnapshotsWhenAsked(t *testing.T) {
	c := newCloud()
	put(c, "sa-east-1", "ami-b", 1)
	rem := RemoveTargets(context.Background(), clients(c), []Target{{"sa-east-1", "ami-b"}}, nil, false)
	if _, registered := c.Image("ami-b"); rem[0].Err() != nil || len(c.Snapshots()) != 1 || registered {
		t.Fatalf("removal %+v; snapshots %v", rem[0], c.Snapshots())
	}
}

package ami

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

// image is an image of the account created at created (as DescribeImages
// writes it), with tags given as key, value, ...
func image(id, created string, tags ...string) simcloud.Image {
	img := simcloud.Image{ID: id, CreationDate: created, Tags: map[string]string{}}
	for i := 0; i+1 < len(tags); i += 2 {
		img.Tags[tags[i]] = tags[i+1]
	}
	return img
}

// describeCalls lists the DescribeImages calls that were answered (not
// throttled).
func describeCalls(c *simcloud.Cloud) []*ec2.DescribeImagesInput {
	var out []*ec2.DescribeImagesInput
	for _, call := range c.Calls("DescribeImages") {
		if call.Err == nil {
			out = append(out, call.Input.(*ec2.DescribeImagesInput))
		}
	}
	return out
}

// describedIn lists the Regions DescribeImages was asked in, each time.
func describedIn(c *simcloud.Cloud) []string {
	var out []string
	for _, call := range c.Calls("DescribeImages") {
		out = append(out, ownRegion(call.Region))
	}
	return out
}

func TestFindNewest(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	key := map[string]string{"amibake:bake-key": "k1"}
	tests := []struct {
		name   string
		images []simcloud.Image
		query  Query
		want   string
		// noMatch: a NoMatchError counting this many deprecated images.
		noMatch    bool
		deprecated int
		// ignoreOwners: the answer lists other accounts' images too, as an
		// EC2 that ignores Owners would.
		ignoreOwners bool
	}{
		{
			name: "newest of two, whatever the listing order",
			images: []simcloud.Image{
				image("ami-new", "2026-05-02T10:00:00.000Z", "amibake:bake-key", "k1"),
				image("ami-old", "2026-05-01T10:00:00.000Z", "amibake:bake-key", "k1"),
			},
			want: "ami-new",
		},
		{
			name: "another bake key does not count however new",
			images: []simcloud.Image{
				image("ami-mine", "2026-05-01T10:00:00.000Z", "amibake:bake-key", "k1"),
				image("ami-theirs", "2026-05-03T10:00:00.000Z", "amibake:bake-key", "k2"),
			},
			want: "ami-mine",
		},
		{
			name: "same instant: the greater id, whatever the order",
			images: []simcloud.Image{
				image("ami-b", "2026-05-01T10:00:00Z", "amibake:bake-key", "k1"),
				image("ami-c", "2026-05-01T10:00:00.000Z", "amibake:bake-key", "k1"),
				image("ami-a", "2026-05-01T10:00:00Z", "amibake:bake-key", "k1"),
			},
			want: "ami-c",
		},
		{
			name: "not available, or another account's",
			images: []simcloud.Image{
				func() simcloud.Image {
					i := image("ami-pending", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.State = ec2types.ImageStatePending
					return i
				}(),
				func() simcloud.Image {
					i := image("ami-shared", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.Owner = other
					return i
				}(),
				image("ami-ok", "2026-05-01T10:00:00Z", "amibake:bake-key", "k1"),
			},
			want:         "ami-ok",
			ignoreOwners: true,
		},
		{
			name: "deprecated newer image skipped",
			images: []simcloud.Image{
				func() simcloud.Image {
					i := image("ami-dep", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.DeprecationTime = ("2026-06-01T12:00:00Z") // exactly now: deprecated
					return i
				}(),
				func() simcloud.Image {
					i := image("ami-later", "2026-05-02T10:00:00Z", "amibake:bake-key", "k1")
					i.DeprecationTime = ("2026-06-01T12:01:00Z")
					return i
				}(),
			},
			want: "ami-later",
		},
		{
			name: "deprecated included when asked",
			images: []simcloud.Image{
				func() simcloud.Image {
					i := image("ami-dep", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.DeprecationTime = ("2026-05-04T00:00:00Z")
					return i
				}(),
				image("ami-older", "2026-05-02T10:00:00Z", "amibake:bake-key", "k1"),
			},
			query: Query{IncludeDeprecated: true},
			want:  "ami-dep",
		},
		{
			name: "only deprecated: none, and the error says how many",
			images: []simcloud.Image{
				func() simcloud.Image {
					i := image("ami-dep", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.DeprecationTime = ("2026-05-04T00:00:00Z")
					return i
				}(),
			},
			noMatch:    true,
			deprecated: 1,
		},
		{
			name:    "nothing",
			images:  []simcloud.Image{image("ami-x", "2026-05-03T10:00:00Z", "amibake:bake-key", "k2")},
			noMatch: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCloud()
			if tt.ignoreOwners {
				c.Before("DescribeImages", func(_ int, in any) { in.(*ec2.DescribeImagesInput).Owners = nil })
			}
			for _, img := range tt.images {
				c.AddImage(img)
			}
			q := tt.query
			q.Tags, q.Now = key, now
			img, err := FindNewest(context.Background(), clients(c), q)
			if tt.noMatch {
				var nm *NoMatchError
				if !errors.As(err, &nm) || nm.Deprecated != tt.deprecated || nm.Region != home {
					t.Fatalf("FindNewest = %v, %v; want a NoMatchError in %s with %d deprecated", img, err, home, tt.deprecated)
				}
				if !strings.Contains(err.Error(), `amibake:bake-key = "k1"`) || !strings.Contains(err.Error(), "no results") {
					t.Errorf("error does not name the selector: %v", err)
				}
				return
			}
			if err != nil || aws.ToString(img.ImageId) != tt.want {
				t.Fatalf("FindNewest = %v, %v; want %s", img, err, tt.want)
			}
		})
	}
}

func TestFindNewestAsksForOwnImagesAndPages(t *testing.T) {
	c := newCloud()
	c.PageImages(2)
	c.Inject(faults.ThrottleStorm("DescribeImages", 1, 2))
	for i := range 5 {
		add(c, "us-east-2", image("ami-"+strconv.Itoa(i), "2026-05-0"+strconv.Itoa(i+1)+"T00:00:00Z", "role", "golden", "amibake:managed", "true"))
	}
	add(c, "us-east-2", image("ami-9", "2026-05-09T00:00:00Z", "role", "silver", "amibake:managed", "true"))
	img, err := FindNewest(context.Background(), clients(c), Query{Region: "us-east-2", Tags: map[string]string{"role": "golden", "amibake:managed": "true"}})
	if err != nil || aws.ToString(img.ImageId) != "ami-4" {
		t.Fatalf("FindNewest = %v, %v; want ami-4 from the last page", img, err)
	}
	calls := describeCalls(c)
	if len(calls) != 3 {
		t.Fatalf("%d DescribeImages calls answered, want 3 pages", len(calls))
	}
	in := calls[0]
	if !reflect.DeepEqual(in.Owners, []string{"self"}) || !aws.ToBool(in.IncludeDeprecated) {
		t.Errorf("Owners = %v, IncludeDeprecated = %v; want [self], true", in.Owners, in.IncludeDeprecated)
	}
	var names []string
	for _, f := range in.Filters {
		names = append(names, aws.ToString(f.Name)+"="+strings.Join(f.Values, ","))
	}
	if want := []string{"state=available", "tag:amibake:managed=true", "tag:role=golden"}; !reflect.DeepEqual(names, want) {
		t.Errorf("filters %v, want %v", names, want)
	}
	for _, r := range describedIn(c) {
		if r != "us-east-2" {
			t.Errorf("asked %s, want us-east-2", r)
		}
	}
}

func TestFindNewestBadDates(t *testing.T) {
	for _, tt := range []struct{ created, deprecation string }{
		{"yesterday", ""},
		{"2026-05-01T00:00:00Z", "soon"},
	} {
		c := newCloud()
		img := image("ami-1", tt.created, "k", "v")
		img.DeprecationTime = tt.deprecation
		c.AddImage(img)
		_, err := FindNewest(context.Background(), clients(c), Query{Tags: map[string]string{"k": "v"}})
		if err == nil || !strings.Contains(err.Error(), "ami-1") || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("%+v: err = %v, want the image and its bad time named", tt, err)
		}
	}
}

func TestFindCopies(t *testing.T) {
	const src = "ami-src"
	tag := CopyOf(home, src)
	copyOf := func(id, created, sourceID, sourceRegion string) simcloud.Image {
		img := image(id, created, CopyOfTag, tag)
		img.CopiedFrom, img.CopiedFromRegion = sourceID, sourceRegion
		return img
	}
	c := newCloud()
	// us-east-1: a real copy (AWS names its source) and two forgeries.
	add(c, "sa-east-1", copyOf("ami-real", "2026-05-01T00:00:00Z", src, home))
	add(c, "sa-east-1", copyOf("ami-other-source", "2026-05-02T00:00:00Z", "ami-else", home))
	add(c, "sa-east-1", copyOf("ami-other-region", "2026-05-02T00:00:00Z", src, "ap-south-1"))
	baked := copyOf("ami-baked", "2026-05-03T00:00:00Z", "", "")
	baked.Instance = "i-0123"
	add(c, "sa-east-1", baked)
	// eu-central-1: copies from before AWS reported the source: the tag is
	// all there is, and the newest wins.
	add(c, "eu-central-1", copyOf("ami-c1", "2026-05-01T00:00:00Z", "", ""))
	add(c, "eu-central-1", copyOf("ami-c2", "2026-05-02T00:00:00Z", "", ""))
	// ap-south-1: only another account's image (shared with us), and a
	// deregistered copy.
	foreign := copyOf("ami-foreign", "2026-05-02T00:00:00Z", src, home)
	foreign.Owner = other
	add(c, "ap-south-1", foreign)
	gone := copyOf("ami-gone", "2026-05-02T00:00:00Z", src, home)
	gone.State = ec2types.ImageStateDeregistered
	add(c, "ap-south-1", gone)
	// us-west-2: a copy of another image, honestly tagged.
	add(c, "us-west-2", image("ami-w", "2026-05-02T00:00:00Z", CopyOfTag, CopyOf(home, "ami-else")))

	set, err := FindCopies(context.Background(), clients(c), home, src, []string{"sa-east-1", "eu-central-1", "ap-south-1", "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"sa-east-1": "ami-real", "eu-central-1": "ami-c2"}; !reflect.DeepEqual(set.Copies, want) {
		t.Errorf("copies %v, want %v", set.Copies, want)
	}
	var rejected []string
	for _, r := range set.Rejected["sa-east-1"] {
		rejected = append(rejected, r.ImageID+": "+r.Reason)
	}
	want := []string{
		"ami-baked: made by CreateImage from instance i-0123, not copied",
		"ami-other-region: a copy of an image in ap-south-1",
		"ami-other-source: a copy of ami-else",
	}
	if !reflect.DeepEqual(rejected, want) {
		t.Errorf("rejected in us-east-1:\n%q\nwant\n%q", rejected, want)
	}
	if len(set.Rejected["ap-south-1"]) != 0 || len(set.Rejected["us-west-2"]) != 0 {
		t.Errorf("Owners=self and the tag filter keep the rest out: %+v", set.Rejected)
	}
	for _, in := range describeCalls(c) {
		if !reflect.DeepEqual(in.Owners, []string{"self"}) {
			t.Errorf("Owners = %v, want [self]", in.Owners)
		}
	}
	asked := describedIn(c)
	slices.Sort(asked)
	if want := []string{"ap-south-1", "eu-central-1", "sa-east-1", "us-west-2"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("asked %v, want each Region once: %v", asked, want)
	}
}

// TestFindCopiesFailsWithARegion: a Region that cannot be asked fails the
// lookup, naming it, rather than reporting a Region without copies.
func TestFindCopiesFailsWithARegion(t *testing.T) {
	c := newCloud()
	// A Region not enabled for the account.
	c.Inject(faults.Rule{Operation: "DescribeImages", To: -1, Code: "AuthFailure", Status: 401,
		Message: "AWS was not able to validate the provided access credentials"}.Only(simcloud.AddressedTo("ap-east-1")))
	add(c, "sa-east-1", image("ami-c", "2026-05-01T00:00:00Z", CopyOfTag, CopyOf(home, "ami-src")))
	set, err := FindCopies(context.Background(), clients(c), home, "ami-src", []string{"sa-east-1", "ap-east-1"})
	if err == nil || !strings.Contains(err.Error(), "DescribeImages in ap-east-1") || !strings.Contains(err.Error(), "AuthFailure") {
		t.Fatalf("FindCopies = %+v, %v; want the failing Region's error", set, err)
	}
}

// TestFindCopiesChecksOwnerItself: an answer listing another account's image
// (Owners ignored, or an image shared with the caller) still does not make it
// a copy.
func TestFindCopiesChecksOwnerItself(t *testing.T) {
	img := ec2types.Image{ImageId: aws.String("ami-foreign"), CreationDate: aws.String("2026-05-02T00:00:00Z"),
		Tags: []ec2types.Tag{{Key: aws.String(CopyOfTag), Value: aws.String(CopyOf(home, "ami-src"))}}}
	img.OwnerId = aws.String(other)
	if got := notCopyOf(img, self, home, "ami-src"); got != "owned by account "+other {
		t.Errorf("notCopyOf = %q", got)
	}
	img.OwnerId = aws.String(self)
	if got := notCopyOf(img, self, home, "ami-src"); got != "" {
		t.Errorf("notCopyOf = %q, want a copy", got)
	}
}

// add puts img in region.
func add(c *simcloud.Cloud, region string, img simcloud.Image) {
	img.Region = region
	c.AddImage(img)
}

// TestUnprovenCopies: an image the state calls a copy is removed only when it
// carries the copy tag of this source and nothing AWS says contradicts it.
func TestUnprovenCopies(t *testing.T) {
	tag := func(v string) []ec2types.Tag {
		return []ec2types.Tag{{Key: aws.String(CopyOfTag), Value: aws.String(v)}}
	}
	images := map[Target]ec2types.Image{
		{"eu-west-1", "ami-copy"}:     {OwnerId: aws.String(self), Tags: tag(CopyOf(home, "ami-src"))},
		{"eu-west-1", "ami-untagged"}: {OwnerId: aws.String(self)},
		{"eu-west-1", "ami-other"}:    {OwnerId: aws.String(self), Tags: tag(CopyOf(home, "ami-else"))},
		{"eu-west-1", "ami-baked"}:    {OwnerId: aws.String(self), Tags: tag(CopyOf(home, "ami-src")), SourceInstanceId: aws.String("i-1")},
		{"eu-west-1", "ami-foreign"}:  {OwnerId: aws.String(other), Tags: tag(CopyOf(home, "ami-src"))},
	}
	targets := []Target{{"eu-west-1", "ami-copy"}, {"eu-west-1", "ami-untagged"}, {"eu-west-1", "ami-other"},
		{"eu-west-1", "ami-baked"}, {"eu-west-1", "ami-foreign"}, {"eu-west-1", "ami-gone"}}
	got := Unproven(images, targets, self, home, "ami-src")
	want := []string{
		"ami-untagged in eu-west-1: not tagged " + CopyOfTag + " = " + CopyOf(home, "ami-src"),
		"ami-other in eu-west-1: not tagged " + CopyOfTag + " = " + CopyOf(home, "ami-src"),
		"ami-baked in eu-west-1: made by CreateImage from instance i-1, not copied",
		"ami-foreign in eu-west-1: owned by account " + other,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Unproven =\n  %q\nwant\n  %q", got, want)
	}
}

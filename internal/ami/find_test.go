package ami

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

const (
	self  = "123456789012"
	other = "999999999999"
	home  = "eu-west-1"
)

// gallery is DescribeImages over images in several Regions and accounts, as
// AWS answers it: Owners, the state and tag: filters, pages of pageSize.
// It answers throttles times with a throttle first.
type gallery struct {
	awsx.EC2API

	mu        sync.Mutex
	byRegion  map[string][]ec2types.Image
	pageSize  int
	throttles int
	calls     []*ec2.DescribeImagesInput
	regions   []string
	// failIn is a Region whose calls fail as a Region not enabled for the
	// account does.
	failIn string
	// ignoreOwners lists images of other accounts too, as an answer with
	// images shared with the caller would.
	ignoreOwners bool
}

func (g *gallery) add(region string, img ec2types.Image) {
	if img.OwnerId == nil {
		img.OwnerId = aws.String(self)
	}
	if img.State == "" {
		img.State = ec2types.ImageStateAvailable
	}
	g.byRegion[region] = append(g.byRegion[region], img)
}

func (g *gallery) DescribeImages(_ context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.throttles > 0 {
		g.throttles--
		return nil, &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
	}
	o := ec2.Options{Region: home}
	for _, f := range opts {
		f(&o)
	}
	g.calls = append(g.calls, in)
	g.regions = append(g.regions, o.Region)
	if o.Region == g.failIn {
		return nil, &smithy.GenericAPIError{Code: "AuthFailure", Message: "AWS was not able to validate the provided access credentials"}
	}
	var match []ec2types.Image
	for _, img := range g.byRegion[o.Region] {
		if !g.ignoreOwners && len(in.Owners) > 0 && (in.Owners[0] != "self" || aws.ToString(img.OwnerId) != self) {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			name := aws.ToString(f.Name)
			switch {
			case name == "state":
				ok = ok && string(img.State) == f.Values[0]
			case strings.HasPrefix(name, "tag:"):
				ok = ok && TagMap(&img)[strings.TrimPrefix(name, "tag:")] == f.Values[0]
			}
		}
		if ok {
			match = append(match, img)
		}
	}
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	out := &ec2.DescribeImagesOutput{}
	end := len(match)
	if g.pageSize > 0 && start+g.pageSize < end {
		end = start + g.pageSize
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	out.Images = match[start:end]
	return out, nil
}

func newGallery() *gallery { return &gallery{byRegion: map[string][]ec2types.Image{}} }

func (g *gallery) clients() *awsx.Clients {
	return &awsx.Clients{EC2: g, Region: home, AccountID: self,
		Policy: awsx.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2}}
}

func image(id, created string, tags ...string) ec2types.Image {
	img := ec2types.Image{ImageId: aws.String(id), CreationDate: aws.String(created)}
	for i := 0; i+1 < len(tags); i += 2 {
		img.Tags = append(img.Tags, ec2types.Tag{Key: aws.String(tags[i]), Value: aws.String(tags[i+1])})
	}
	return img
}

func TestFindNewest(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	key := map[string]string{"amibake:bake-key": "k1"}
	tests := []struct {
		name   string
		images []ec2types.Image
		query  Query
		want   string
		// noMatch: a NoMatchError counting this many deprecated images.
		noMatch    bool
		deprecated int
		// ignoreOwners: the answer lists other accounts' images too.
		ignoreOwners bool
	}{
		{
			name: "newest of two, whatever the listing order",
			images: []ec2types.Image{
				image("ami-new", "2026-05-02T10:00:00.000Z", "amibake:bake-key", "k1"),
				image("ami-old", "2026-05-01T10:00:00.000Z", "amibake:bake-key", "k1"),
			},
			want: "ami-new",
		},
		{
			name: "another bake key does not count however new",
			images: []ec2types.Image{
				image("ami-mine", "2026-05-01T10:00:00.000Z", "amibake:bake-key", "k1"),
				image("ami-theirs", "2026-05-03T10:00:00.000Z", "amibake:bake-key", "k2"),
			},
			want: "ami-mine",
		},
		{
			name: "same instant: the greater id, whatever the order",
			images: []ec2types.Image{
				image("ami-b", "2026-05-01T10:00:00Z", "amibake:bake-key", "k1"),
				image("ami-c", "2026-05-01T10:00:00.000Z", "amibake:bake-key", "k1"),
				image("ami-a", "2026-05-01T10:00:00Z", "amibake:bake-key", "k1"),
			},
			want: "ami-c",
		},
		{
			name: "not available, or another account's",
			images: []ec2types.Image{
				func() ec2types.Image {
					i := image("ami-pending", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.State = ec2types.ImageStatePending
					return i
				}(),
				func() ec2types.Image {
					i := image("ami-shared", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.OwnerId = aws.String(other)
					return i
				}(),
				image("ami-ok", "2026-05-01T10:00:00Z", "amibake:bake-key", "k1"),
			},
			want:         "ami-ok",
			ignoreOwners: true,
		},
		{
			name: "deprecated newer image skipped",
			images: []ec2types.Image{
				func() ec2types.Image {
					i := image("ami-dep", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.DeprecationTime = aws.String("2026-06-01T12:00:00Z") // exactly now: deprecated
					return i
				}(),
				func() ec2types.Image {
					i := image("ami-later", "2026-05-02T10:00:00Z", "amibake:bake-key", "k1")
					i.DeprecationTime = aws.String("2026-06-01T12:01:00Z")
					return i
				}(),
			},
			want: "ami-later",
		},
		{
			name: "deprecated included when asked",
			images: []ec2types.Image{
				func() ec2types.Image {
					i := image("ami-dep", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.DeprecationTime = aws.String("2026-05-04T00:00:00Z")
					return i
				}(),
				image("ami-older", "2026-05-02T10:00:00Z", "amibake:bake-key", "k1"),
			},
			query: Query{IncludeDeprecated: true},
			want:  "ami-dep",
		},
		{
			name: "only deprecated: none, and the error says how many",
			images: []ec2types.Image{
				func() ec2types.Image {
					i := image("ami-dep", "2026-05-03T10:00:00Z", "amibake:bake-key", "k1")
					i.DeprecationTime = aws.String("2026-05-04T00:00:00Z")
					return i
				}(),
			},
			noMatch:    true,
			deprecated: 1,
		},
		{
			name:    "nothing",
			images:  []ec2types.Image{image("ami-x", "2026-05-03T10:00:00Z", "amibake:bake-key", "k2")},
			noMatch: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGallery()
			g.ignoreOwners = tt.ignoreOwners
			for _, img := range tt.images {
				g.add(home, img)
			}
			q := tt.query
			q.Tags, q.Now = key, now
			img, err := FindNewest(context.Background(), g.clients(), q)
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
	g := newGallery()
	g.pageSize = 2
	g.throttles = 2
	for i := range 5 {
		g.add("us-east-2", image("ami-"+strconv.Itoa(i), "2026-05-0"+strconv.Itoa(i+1)+"T00:00:00Z", "role", "golden", "amibake:managed", "true"))
	}
	g.add("us-east-2", image("ami-9", "2026-05-09T00:00:00Z", "role", "silver", "amibake:managed", "true"))
	img, err := FindNewest(context.Background(), g.clients(), Query{Region: "us-east-2", Tags: map[string]string{"role": "golden", "amibake:managed": "true"}})
	if err != nil || aws.ToString(img.ImageId) != "ami-4" {
		t.Fatalf("FindNewest = %v, %v; want ami-4 from the last page", img, err)
	}
	if len(g.calls) != 3 {
		t.Fatalf("%d DescribeImages calls, want 3 pages", len(g.calls))
	}
	in := g.calls[0]
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
	for _, r := range g.regions {
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
		g := newGallery()
		img := image("ami-1", tt.created, "k", "v")
		if tt.deprecation != "" {
			img.DeprecationTime = aws.String(tt.deprecation)
		}
		g.add(home, img)
		_, err := FindNewest(context.Background(), g.clients(), Query{Tags: map[string]string{"k": "v"}})
		if err == nil || !strings.Contains(err.Error(), "ami-1") || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("%+v: err = %v, want the image and its bad time named", tt, err)
		}
	}
}

func TestFindCopies(t *testing.T) {
	const src = "ami-src"
	tag := CopyOf(home, src)
	copyOf := func(id, created, sourceID, sourceRegion string) ec2types.Image {
		img := image(id, created, CopyOfTag, tag)
		if sourceID != "" {
			img.SourceImageId = aws.String(sourceID)
		}
		if sourceRegion != "" {
			img.SourceImageRegion = aws.String(sourceRegion)
		}
		return img
	}
	g := newGallery()
	// us-east-1: a real copy (AWS names its source) and two forgeries.
	g.add("us-east-1", copyOf("ami-real", "2026-05-01T00:00:00Z", src, home))
	g.add("us-east-1", copyOf("ami-other-source", "2026-05-02T00:00:00Z", "ami-else", home))
	g.add("us-east-1", copyOf("ami-other-region", "2026-05-02T00:00:00Z", src, "ap-south-1"))
	baked := copyOf("ami-baked", "2026-05-03T00:00:00Z", "", "")
	baked.SourceInstanceId = aws.String("i-0123")
	g.add("us-east-1", baked)
	// eu-central-1: copies from before AWS reported the source: the tag is
	// all there is, and the newest wins.
	g.add("eu-central-1", copyOf("ami-c1", "2026-05-01T00:00:00Z", "", ""))
	g.add("eu-central-1", copyOf("ami-c2", "2026-05-02T00:00:00Z", "", ""))
	// ap-south-1: only another account's image (shared with us), and a
	// deregistered copy.
	foreign := copyOf("ami-foreign", "2026-05-02T00:00:00Z", src, home)
	foreign.OwnerId = aws.String(other)
	g.add("ap-south-1", foreign)
	gone := copyOf("ami-gone", "2026-05-02T00:00:00Z", src, home)
	gone.State = ec2types.ImageStateDeregistered
	g.add("ap-south-1", gone)
	// us-west-2: a copy of another image, honestly tagged.
	g.add("us-west-2", image("ami-w", "2026-05-02T00:00:00Z", CopyOfTag, CopyOf(home, "ami-else")))

	set, err := FindCopies(context.Background(), g.clients(), home, src, []string{"us-east-1", "eu-central-1", "ap-south-1", "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"us-east-1": "ami-real", "eu-central-1": "ami-c2"}; !reflect.DeepEqual(set.Copies, want) {
		t.Errorf("copies %v, want %v", set.Copies, want)
	}
	var rejected []string
	for _, r := range set.Rejected["us-east-1"] {
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
	for _, in := range g.calls {
		if !reflect.DeepEqual(in.Owners, []string{"self"}) {
			t.Errorf("Owners = %v, want [self]", in.Owners)
		}
	}
	slices.Sort(g.regions)
	if want := []string{"ap-south-1", "eu-central-1", "us-east-1", "us-west-2"}; !reflect.DeepEqual(g.regions, want) {
		t.Errorf("asked %v, want each Region once: %v", g.regions, want)
	}
}

// TestFindCopiesFailsWithARegion: a Region that cannot be asked fails the
// lookup, naming it, rather than reporting a Region without copies.
func TestFindCopiesFailsWithARegion(t *testing.T) {
	g := newGallery()
	g.failIn = "ap-east-1"
	g.add("us-east-1", image("ami-c", "2026-05-01T00:00:00Z", CopyOfTag, CopyOf(home, "ami-src")))
	set, err := FindCopies(context.Background(), g.clients(), home, "ami-src", []string{"us-east-1", "ap-east-1"})
	if err == nil || !strings.Contains(err.Error(), "DescribeImages in ap-east-1") || !strings.Contains(err.Error(), "AuthFailure") {
		t.Fatalf("FindCopies = %+v, %v; want the failing Region's error", set, err)
	}
}

// TestFindCopiesChecksOwnerItself: an answer listing another account's image
// (Owners ignored, or an image shared with the caller) still does not make it
// a copy.
func TestFindCopiesChecksOwnerItself(t *testing.T) {
	img := image("ami-foreign", "2026-05-02T00:00:00Z", CopyOfTag, CopyOf(home, "ami-src"))
	img.OwnerId = aws.String(other)
	if got := notCopyOf(img, self, home, "ami-src"); got != "owned by account "+other {
		t.Errorf("notCopyOf = %q", got)
	}
	img.OwnerId = aws.String(self)
	if got := notCopyOf(img, self, home, "ami-src"); got != "" {
		t.Errorf("notCopyOf = %q, want a copy", got)
	}
}

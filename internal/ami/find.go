package ami

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// CopyOfTag marks a Region copy of a baked image; its value is CopyOf of the
// source. The tag only says where to look: FindCopies checks what AWS itself
// says of the image before it counts as a copy.
const CopyOfTag = "amibake:copy-of"

// CopyOf is the value of CopyOfTag on the copies of image id in region.
func CopyOf(region, id string) string { return region + "/" + id }

// Query selects the caller's own available images in one Region.
type Query struct {
	// Region is where to look; the clients' own when empty.
	Region string
	// Tags must all be on the image with these values.
	Tags map[string]string
	// IncludeDeprecated counts images whose deprecation time has passed.
	IncludeDeprecated bool
	// Now decides what is deprecated; time.Now when zero.
	Now time.Time
}

func (q Query) region(c *awsx.Clients) string {
	if q.Region != "" {
		return q.Region
	}
	return c.Region
}

// NoMatchError is a query that no image answers.
type NoMatchError struct {
	Region  string
	Account string
	Tags    map[string]string
	// Deprecated counts the images that would have matched had deprecated
	// images been included.
	Deprecated int
}

func (e *NoMatchError) Error() string {
	var b strings.Builder
	owner := "the account of the provider's credentials"
	if e.Account != "" {
		owner = "account " + e.Account
	}
	fmt.Fprintf(&b, "your query returned no results: no available image of %s in %s carries ", owner, e.Region)
	for i, k := range slices.Sorted(maps.Keys(e.Tags)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = %q", k, e.Tags[k])
	}
	if e.Deprecated > 0 {
		fmt.Fprintf(&b, " (%d deprecated image(s) do; include_deprecated = true counts them)", e.Deprecated)
	}
	return b.String()
}

// FindNewest returns the newest (by CreationDate, then by image id) available
// image of the caller's account in q's Region that carries all of q.Tags and,
// unless q.IncludeDeprecated, is not deprecated. None is a *NoMatchError.
func FindNewest(ctx context.Context, clients *awsx.Clients, q Query) (*ec2types.Image, error) {
	imgs, err := list(ctx, clients, q.region(clients), q.Tags)
	if err != nil {
		return nil, err
	}
	now := q.Now
	if now.IsZero() {
		now = time.Now()
	}
	var keep []ec2types.Image
	hidden := 0
	for _, img := range imgs {
		if !own(img, clients.AccountID) || img.State != ec2types.ImageStateAvailable || !hasTags(img, q.Tags) {
			continue
		}
		dep, err := deprecated(img, now)
		if err != nil {
			return nil, err
		}
		if dep && !q.IncludeDeprecated {
			hidden++
			continue
		}
		keep = append(keep, img)
	}
	if len(keep) == 0 {
		return nil, &NoMatchError{Region: q.region(clients), Account: clients.AccountID, Tags: q.Tags, Deprecated: hidden}
	}
	return newest(keep)
}

// newest returns the image with the latest CreationDate; images created in
// the same instant are told apart by id, so the answer does not depend on the
// order AWS lists them in.
func newest(imgs []ec2types.Image) (*ec2types.Image, error) {
	var best *ec2types.Image
	var bestAt time.Time
	for i := range imgs {
		at, err := CreationTime(imgs[i])
		if err != nil {
			return nil, err
		}
		if best == nil || at.After(bestAt) || (at.Equal(bestAt) && aws.ToString(imgs[i].ImageId) > aws.ToString(best.ImageId)) {
			best, bestAt = &imgs[i], at
		}
	}
	return best, nil
}

// CreationTime is when AWS says the image was created.
func CreationTime(img ec2types.Image) (time.Time, error) {
	at, err := time.Parse(time.RFC3339, aws.ToString(img.CreationDate))
	if err != nil {
		return time.Time{}, fmt.Errorf("image %s: CreationDate %q is not an RFC 3339 time: %w", aws.ToString(img.ImageId), aws.ToString(img.CreationDate), err)
	}
	return at, nil
}

// deprecated reports whether img's deprecation time has passed at now. The
// owner of an image sees it in DescribeImages whatever IncludeDeprecated
// says, so the time is compared here.
func deprecated(img ec2types.Image, now time.Time) (bool, error) {
	s := aws.ToString(img.DeprecationTime)
	if s == "" {
		return false, nil
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return false, fmt.Errorf("image %s: DeprecationTime %q is not an RFC 3339 time: %w", aws.ToString(img.ImageId), s, err)
	}
	return !at.After(now), nil
}

// Rejected is an image that carries a copy's tag but is not a copy of the
// source, and why.
type Rejected struct {
	ImageID string
	Reason  string
}

// CopySet is what FindCopies found: the copy of the source in each Region
// that has one, and the images tagged as copies that are not.
type CopySet struct {
	Copies   map[string]string // Region → image id
	Rejected map[string][]Rejected
}

// FindCopies looks in each of regions for the caller's available copy of
// image srcID of srcRegion: an image tagged CopyOfTag = CopyOf(srcRegion,
// srcID). Anyone who can tag images in the account can put that tag on any
// image, so an image counts as the copy only if what AWS says of it agrees:
// an image made by CreateImage (it names its SourceInstanceId) is no copy,
// and one whose SourceImageId or SourceImageRegion names another source is a
// copy of something else. Copies made before AWS reported those fields carry
// neither, and the tag is then all there is. Several copies in a Region: the
// newest. A failure in any Region fails the whole lookup.
func FindCopies(ctx context.Context, clients *awsx.Clients, srcRegion, srcID string, regions []string) (*CopySet, error) {
	type found struct {
		copyID   string
		rejected []Rejected
		err      error
	}
	// The Regions are asked at once: each is a DescribeImages of its own.
	results := make([]found, len(regions))
	var wg sync.WaitGroup
	for i, region := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.copyID, r.rejected, r.err = findCopy(ctx, clients, region, srcRegion, srcID)
		}()
	}
	wg.Wait()
	out := &CopySet{Copies: map[string]string{}, Rejected: map[string][]Rejected{}}
	for i, region := range regions {
		r := results[i]
		if r.err != nil {
			return nil, r.err
		}
		if r.copyID != "" {
			out.Copies[region] = r.copyID
		}
		if len(r.rejected) > 0 {
			out.Rejected[region] = r.rejected
		}
	}
	return out, nil
}

// findCopy is FindCopies in one Region: the copy's id ("" when there is
// none) and the images tagged as copies that are not.
func findCopy(ctx context.Context, clients *awsx.Clients, region, srcRegion, srcID string) (string, []Rejected, error) {
	want := map[string]string{CopyOfTag: CopyOf(srcRegion, srcID)}
	imgs, err := list(ctx, clients, region, want)
	if err != nil {
		return "", nil, err
	}
	var copies []ec2types.Image
	var rejected []Rejected
	for _, img := range imgs {
		if img.State != ec2types.ImageStateAvailable || !hasTags(img, want) {
			continue
		}
		if reason := notCopyOf(img, clients.AccountID, srcRegion, srcID); reason != "" {
			rejected = append(rejected, Rejected{ImageID: aws.ToString(img.ImageId), Reason: reason})
			continue
		}
		copies = append(copies, img)
	}
	if len(copies) == 0 {
		return "", rejected, nil
	}
	best, err := newest(copies)
	if err != nil {
		return "", nil, err
	}
	return aws.ToString(best.ImageId), rejected, nil
}

// notCopyOf says why img is not the caller's copy of srcID in srcRegion, or
// "" when nothing AWS reports contradicts it.
func notCopyOf(img ec2types.Image, account, srcRegion, srcID string) string {
	switch {
	case !own(img, account):
		return fmt.Sprintf("owned by account %s", aws.ToString(img.OwnerId))
	case aws.ToString(img.SourceInstanceId) != "":
		return fmt.Sprintf("made by CreateImage from instance %s, not copied", aws.ToString(img.SourceInstanceId))
	case aws.ToString(img.SourceImageId) != "" && aws.ToString(img.SourceImageId) != srcID:
		return fmt.Sprintf("a copy of %s", aws.ToString(img.SourceImageId))
	case aws.ToString(img.SourceImageRegion) != "" && aws.ToString(img.SourceImageRegion) != srcRegion:
		return fmt.Sprintf("a copy of an image in %s", aws.ToString(img.SourceImageRegion))
	}
	return ""
}

// list returns the caller's own images in region (the clients' own when
// empty) that DescribeImages filters by state available and tags, page by
// page.
func list(ctx context.Context, clients *awsx.Clients, region string, tags map[string]string) ([]ec2types.Image, error) {
	filters := []ec2types.Filter{{Name: aws.String("state"), Values: []string{string(ec2types.ImageStateAvailable)}}}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		filters = append(filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{tags[k]}})
	}
	in := &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: filters,
		// The owner sees deprecated images anyway; say so, and judge them here.
		IncludeDeprecated: aws.Bool(true),
	}
	var out []ec2types.Image
	for {
		var res *ec2.DescribeImagesOutput
		err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) (err error) {
			res, err = clients.EC2.DescribeImages(ctx, in, awsx.InRegion(clients, region)...)
			return err
		})
		if err != nil {
			where := region
			if where == "" {
				where = clients.Region
			}
			return nil, fmt.Errorf("DescribeImages in %s: %w", where, err)
		}
		out = append(out, res.Images...)
		if aws.ToString(res.NextToken) == "" {
			break
		}
		next := *in
		next.NextToken = res.NextToken
		in = &next
	}
	sort.SliceStable(out, func(i, j int) bool { return aws.ToString(out[i].ImageId) < aws.ToString(out[j].ImageId) })
	return out, nil
}

// own: the image belongs to account (unknown when the provider skipped
// asking STS: then Owners=self is all there is).
func own(img ec2types.Image, account string) bool {
	return account == "" || aws.ToString(img.OwnerId) == account
}

func hasTags(img ec2types.Image, want map[string]string) bool {
	have := TagMap(&img)
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Unproven lists, one line each, the copies among targets that cannot be
// shown to be copies of srcID in srcRegion made for the caller: gone from
// images (nothing to prove, nothing to remove) is fine; otherwise the image
// must carry CopyOfTag = CopyOf(srcRegion, srcID) and nothing AWS reports of
// it may contradict that (see FindCopies). The ids come from Terraform state,
// which can be edited: they are never deregistered on the state's word alone.
func Unproven(images map[Target]ec2types.Image, targets []Target, account, srcRegion, srcID string) []string {
	want := map[string]string{CopyOfTag: CopyOf(srcRegion, srcID)}
	var out []string
	for _, t := range targets {
		img, ok := images[t]
		if !ok {
			continue
		}
		reason := notCopyOf(img, account, srcRegion, srcID)
		if reason == "" && !hasTags(img, want) {
			reason = fmt.Sprintf("not tagged %s = %s", CopyOfTag, CopyOf(srcRegion, srcID))
		}
		if reason != "" {
			out = append(out, fmt.Sprintf("%s: %s", t, reason))
		}
	}
	return out
}

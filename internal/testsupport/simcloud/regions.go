package simcloud

import (
	"context"
	"strconv"
)

// Regions. A cloud is one Region (Region) that, by default, answers every
// call the same whatever Region the call addresses: most tests need no more.
// After SeparateRegions, each Region is its own: images and snapshots live in
// the Region they were made or put in, and a call sees only those of the
// Region its options address (the cloud's own when they name none), as on
// AWS, where an id is not found in another Region.

type regionKey struct{}

// ownRegion is the Region a call addressing region acts in.
func ownRegion(region string) string {
	if region == "" {
		return Region
	}
	return region
}

// SeparateRegions makes every Region its own from now on (see above).
func (c *Cloud) SeparateRegions() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.knobs.regions = true
}

// seen reports whether a resource in Region res is visible to a call
// addressed to region. Caller holds mu.
func (c *Cloud) seen(res, region string) bool {
	return !c.knobs.regions || ownRegion(res) == ownRegion(region)
}

// AddressedTo holds for the calls addressed to region (Region for those that
// name none). With faults.Rule.Only it makes a fault of one Region, e.g. an
// opt-in Region the account has not enabled, where EC2 answers AuthFailure.
func AddressedTo(region string) func(ctx context.Context, input any) bool {
	want := ownRegion(region)
	return func(ctx context.Context, _ any) bool {
		r, _ := ctx.Value(regionKey{}).(string)
		return r == want
	}
}

// PageImages makes DescribeImages answer at most n images a page, with a
// NextToken for the rest, even when the request sets no MaxResults: a
// paginated EC2 answer may hold fewer items than asked for, and a caller
// follows NextToken until there is none
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html).
func (c *Cloud) PageImages(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.knobs.imagePage = n
}

// page cuts a listing of n items at token into a page of at most size
// (no limit when 0): the slice bounds and the next token ("" at the end).
func page(n int, token string, size int) (from, to int, next string) {
	from, _ = strconv.Atoi(token)
	from = min(max(from, 0), n)
	to = n
	if size > 0 && from+size < n {
		to = from + size
		next = strconv.Itoa(to)
	}
	return from, to, next
}

// RegionOf is the Region an image or snapshot lives in, "" when there is no
// such resource.
func (c *Cloud) RegionOf(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if img, ok := c.images[id]; ok {
		return img.region
	}
	if s, ok := c.snapshots[id]; ok {
		return ownRegion(s.region)
	}
	return ""
}

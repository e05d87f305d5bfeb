package awsx

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// regionalImages are the image watchers of the regions other than the
// clients' own, made on first use: the copies of an image in one region are
// waited on and described together, whichever resource asks.
type regionalImages struct {
	api    EC2API
	mu     sync.Mutex
	policy Policy
	// byRegion holds one watcher per region asked about.
	byRegion map[string]*ImageWatcher
}

func (r *regionalImages) get(region string) *ImageWatcher {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.byRegion[region]; ok {
		return w
	}
	w := newRegionalImageWatcher(r.api, region, r.policy)
	r.byRegion[region] = w
	return w
}

func (r *regionalImages) setPolicy(p Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.policy = p
	for _, w := range r.byRegion {
		w.SetPolicy(p)
	}
}

// newRegionalImageWatcher watches the images of region through api. Its
// throttling lane is the region's own: EC2 rate limits an account per region.
func newRegionalImageWatcher(api EC2API, region string, p Policy) *ImageWatcher {
	w := NewImageWatcher(regionEC2{EC2API: api, region: region}, p)
	w.t.lane = "describe:image@" + region
	return w
}

// ImagesIn returns the image watcher of region: the clients' own (Images)
// for their region or an empty one, else the region's, shared by every caller
// of these clients.
func (c *Clients) ImagesIn(region string) *ImageWatcher {
	if region == "" || region == c.Region {
		if c.Images == nil {
			return NewImageWatcher(c.EC2, c.Policy)
		}
		return c.Images
	}
	if c.regional == nil {
		// Clients filled by hand without NewWatchers: a watcher of its own.
		return newRegionalImageWatcher(c.EC2, region, c.Policy)
	}
	return c.regional.get(region)
}

// regionEC2 addresses the image describes of a watcher to one region.
type regionEC2 struct {
	EC2API
	region string
}

func (r regionEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	return r.EC2API.DescribeImages(ctx, in, append(optFns, func(o *ec2.Options) { o.Region = r.region })...)
}

package ami

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// cloud is an EC2 of images and snapshots. It records the calls that change
// something as "Op id@region" and throttles an operation throttle[op] times.
type cloud struct {
	awsx.EC2API

	mu        sync.Mutex
	images    map[string]ec2types.Image
	snapshots map[string]bool
	tags      map[string]map[string]string // by resource id
	throttle  map[string]int
	calls     []string
}

func newCloud() *cloud {
	return &cloud{images: map[string]ec2types.Image{}, snapshots: map[string]bool{}, tags: map[string]map[string]string{}, throttle: map[string]int{}}
}

// put registers an image in state st, built on snaps.
func (c *cloud) put(id string, st ec2types.ImageState, snaps ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := ec2types.Image{ImageId: aws.String(id), State: st, OwnerId: aws.String("123456789012")}
	for i, s := range snaps {
		img.BlockDeviceMappings = append(img.BlockDeviceMappings, ec2types.BlockDeviceMapping{
			DeviceName: aws.String(fmt.Sprintf("/dev/xvd%c", 'a'+i)), Ebs: &ec2types.EbsBlockDevice{SnapshotId: aws.String(s)}})
		c.snapshots[s] = true
	}
	c.images[id] = img
}

func (c *cloud) clients() *awsx.Clients {
	cl := &awsx.Clients{EC2: c, Region: "eu-west-1", AccountID: "123456789012",
		Policy: awsx.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2}}
	cl.NewWatchers()
	return cl
}

// enter counts a call and answers a throttle while the storm lasts.
func (c *cloud) enter(op string) error {
	if c.throttle[op] > 0 {
		c.throttle[op]--
		return &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
	}
	return nil
}

func (c *cloud) record(op, id string, opts []func(*ec2.Options)) {
	var o ec2.Options
	for _, f := range opts {
		f(&o)
	}
	c.calls = append(c.calls, op+" "+id+"@"+o.Region)
}

func (c *cloud) DescribeImages(_ context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.enter("DescribeImages"); err != nil {
		return nil, err
	}
	out := &ec2.DescribeImagesOutput{}
	for _, f := range in.Filters {
		for _, id := range f.Values {
			if img, ok := c.images[id]; ok {
				out.Images = append(out.Images, img)
			}
		}
	}
	return out, nil
}

func (c *cloud) DeregisterImage(_ context.Context, in *ec2.DeregisterImageInput, opts ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.enter("DeregisterImage"); err != nil {
		return nil, err
	}
	id := aws.ToString(in.ImageId)
	c.record("DeregisterImage", id, opts)
	if img, ok := c.images[id]; !ok || img.State == ec2types.ImageStateDeregistered {
		return nil, &smithy.GenericAPIError{Code: "InvalidAMIID.NotFound", Message: "The image id '[" + id + "]' does not exist"}
	}
	delete(c.images, id)
	return &ec2.DeregisterImageOutput{}, nil
}

func (c *cloud) DeleteSnapshot(_ context.Context, in *ec2.DeleteSnapshotInput, opts ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.enter("DeleteSnapshot"); err != nil {
		return nil, err
	}
	id := aws.ToString(in.SnapshotId)
	c.record("DeleteSnapshot", id, opts)
	if !c.snapshots[id] {
		return nil, &smithy.GenericAPIError{Code: "InvalidSnapshot.NotFound", Message: "The snapshot '" + id + "' does not exist."}
	}
	for _, imgID := range slices.Sorted(maps.Keys(c.images)) {
		if slices.Contains(Snapshots(c.images[imgID]), id) {
			return nil, &smithy.GenericAPIError{Code: "InvalidSnapshot.InUse", Message: fmt.Sprintf("The snapshot %s is currently in use by %s", id, imgID)}
		}
	}
	delete(c.snapshots, id)
	return &ec2.DeleteSnapshotOutput{}, nil
}

func (c *cloud) DescribeSnapshots(_ context.Context, in *ec2.DescribeSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &ec2.DescribeSnapshotsOutput{}
	for _, f := range in.Filters {
		for _, id := range f.Values {
			if c.snapshots[id] {
				out.Snapshots = append(out.Snapshots, ec2types.Snapshot{SnapshotId: aws.String(id)})
			}
		}
	}
	return out, nil
}

func (c *cloud) CreateTags(_ context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range in.Resources {
		if c.tags[id] == nil {
			c.tags[id] = map[string]string{}
		}
		for _, t := range in.Tags {
			c.tags[id][aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return &ec2.CreateTagsOutput{}, nil
}

func (c *cloud) DeleteTags(_ context.Context, in *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range in.Resources {
		for _, t := range in.Tags {
			delete(c.tags[id], aws.ToString(t.Key))
		}
	}
	return &ec2.DeleteTagsOutput{}, nil
}

// left lists the images and snapshots still there, sorted.
func (c *cloud) left() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id := range c.images {
		out = append(out, id)
	}
	for id := range c.snapshots {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

package ami

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// regions is an EC2 of several regions: images and snapshots live in one
// region each, and every call acts in the region its options address (home
// when none). It records the calls that change something as "Op id@region".
type regions struct {
	awsx.EC2API

	mu     sync.Mutex
	home   string
	seq    int
	images map[string]*rimage
	snaps  map[string]*rsnap
	tokens map[string]string // CopyImage client token -> image id
	calls  []string
	// copyFails makes copies into a region end in state failed.
	copyFails map[string]bool
	// dropCopyTags ignores CopyImage's tag specifications (as moto does).
	dropCopyTags bool
	// failOp answers an error to every call of an operation.
	failOp map[string]error
}

type rimage struct {
	region, name string
	state        ec2types.ImageState
	snaps        []string
	tags         map[string]string
	perms        []ec2types.LaunchPermission
	deprecate    string
	protection   string
	encrypted    bool
	source       string
}

type rsnap struct {
	region string
	users  []string
	tags   map[string]string
}

func newRegions() *regions {
	return &regions{home: "eu-west-1", images: map[string]*rimage{}, snaps: map[string]*rsnap{},
		tokens: map[string]string{}, copyFails: map[string]bool{}, failOp: map[string]error{}}
}

func (c *regions) clients() *awsx.Clients {
	cl := &awsx.Clients{EC2: c, Region: c.home, AccountID: "123456789012",
		Policy: awsx.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2}}
	cl.NewWatchers()
	return cl
}

func (c *regions) regionOf(opts []func(*ec2.Options)) string {
	var o ec2.Options
	for _, f := range opts {
		f(&o)
	}
	if o.Region == "" {
		return c.home
	}
	return o.Region
}

// put registers an available image in region with n snapshots.
func (c *regions) put(region, id string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := &rimage{region: region, name: id, state: ec2types.ImageStateAvailable, tags: map[string]string{}}
	for i := range n {
		s := fmt.Sprintf("snap-%s-%d", id, i)
		c.snaps[s] = &rsnap{region: region, tags: map[string]string{}}
		img.snaps = append(img.snaps, s)
	}
	c.images[id] = img
}

func (c *regions) image(id string) *rimage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.images[id]
}

func (c *regions) begin(op, id string, opts []func(*ec2.Options)) (string, error) {
	region := c.regionOf(opts)
	if err := c.failOp[op]; err != nil {
		return region, err
	}
	if !strings.HasPrefix(op, "Describe") {
		c.calls = append(c.calls, op+" "+id+"@"+region)
	}
	return region, nil
}

func notFound(id string) error {
	return &smithy.GenericAPIError{Code: "InvalidAMIID.NotFound", Message: "The image id '[" + id + "]' does not exist"}
}

// lookup finds an image registered in region. Caller holds mu.
func (c *regions) lookup(region, id string) (*rimage, error) {
	img, ok := c.images[id]
	if !ok || img.region != region || img.state == ec2types.ImageStateDeregistered {
		return nil, notFound(id)
	}
	return img, nil
}

func (c *regions) CopyImage(_ context.Context, in *ec2.CopyImageInput, opts ...func(*ec2.Options)) (*ec2.CopyImageOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	region, err := c.begin("CopyImage", aws.ToString(in.SourceImageId), opts)
	if err != nil {
		return nil, err
	}
	if id, ok := c.tokens[aws.ToString(in.ClientToken)]; ok {
		return &ec2.CopyImageOutput{ImageId: aws.String(id)}, nil
	}
	if _, err := c.lookup(aws.ToString(in.SourceRegion), aws.ToString(in.SourceImageId)); err != nil {
		return nil, err
	}
	for id, img := range c.images {
		if img.region == region && img.name == aws.ToString(in.Name) && img.state != ec2types.ImageStateDeregistered {
			return nil, &smithy.GenericAPIError{Code: "InvalidAMIName.Duplicate", Message: "AMI name in use by " + id}
		}
	}
	c.seq++
	id := fmt.Sprintf("ami-copy%d", c.seq)
	img := &rimage{region: region, name: aws.ToString(in.Name), state: ec2types.ImageStatePending, tags: map[string]string{},
		encrypted: aws.ToBool(in.Encrypted), source: aws.ToString(in.SourceImageId)}
	snap := fmt.Sprintf("snap-copy%d", c.seq)
	c.snaps[snap] = &rsnap{region: region, tags: map[string]string{}}
	img.snaps = []string{snap}
	if !c.dropCopyTags {
		for _, spec := range in.TagSpecifications {
			dst := img.tags
			if spec.ResourceType == ec2types.ResourceTypeSnapshot {
				dst = c.snaps[snap].tags
			}
			for _, t := range spec.Tags {
				dst[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
	}
	c.images[id] = img
	c.tokens[aws.ToString(in.ClientToken)] = id
	return &ec2.CopyImageOutput{ImageId: aws.String(id)}, nil
}

func (c *regions) DescribeImages(_ context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	region, err := c.begin("DescribeImages", "", opts)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeImagesOutput{}
	for _, f := range in.Filters {
		for _, id := range f.Values {
			img, ok := c.images[id]
			if !ok || img.region != region {
				continue
			}
			if img.state == ec2types.ImageStatePending {
				// Available at the next look, or failed.
				img.state = ec2types.ImageStateAvailable
				if c.copyFails[region] {
					img.state = ec2types.ImageStateFailed
				}
				out.Images = append(out.Images, c.view(id, img, ec2types.ImageStatePending))
				continue
			}
			out.Images = append(out.Images, c.view(id, img, img.state))
		}
	}
	return out, nil
}

func (c *regions) view(id string, img *rimage, st ec2types.ImageState) ec2types.Image {
	v := ec2types.Image{ImageId: aws.String(id), Name: aws.String(img.name), State: st, OwnerId: aws.String("123456789012")}
	for k, val := range img.tags {
		v.Tags = append(v.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(val)})
	}
	for _, s := range img.snaps {
		v.BlockDeviceMappings = append(v.BlockDeviceMappings, ec2types.BlockDeviceMapping{
			DeviceName: aws.String("/dev/xvda"), Ebs: &ec2types.EbsBlockDevice{SnapshotId: aws.String(s), Encrypted: aws.Bool(img.encrypted)}})
	}
	if img.deprecate != "" {
		v.DeprecationTime = aws.String(img.deprecate)
	}
	if img.protection != "" {
		v.DeregistrationProtection = aws.String(img.protection)
	}
	return v
}

func (c *regions) DeregisterImage(_ context.Context, in *ec2.DeregisterImageInput, opts ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := aws.ToString(in.ImageId)
	region, err := c.begin("DeregisterImage", id, opts)
	if err != nil {
		return nil, err
	}
	img, err := c.lookup(region, id)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(img.protection, "enabled") {
		return nil, &smithy.GenericAPIError{Code: "OperationNotPermitted", Message: "protected"}
	}
	img.state = ec2types.ImageStateDeregistered
	return &ec2.DeregisterImageOutput{}, nil
}

func (c *regions) DeleteSnapshot(_ context.Context, in *ec2.DeleteSnapshotInput, opts ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := aws.ToString(in.SnapshotId)
	region, err := c.begin("DeleteSnapshot", id, opts)
	if err != nil {
		return nil, err
	}
	s, ok := c.snaps[id]
	if !ok || s.region != region {
		return nil, &smithy.GenericAPIError{Code: "InvalidSnapshot.NotFound", Message: id}
	}
	delete(c.snaps, id)
	return &ec2.DeleteSnapshotOutput{}, nil
}

func (c *regions) CreateTags(_ context.Context, in *ec2.CreateTagsInput, opts ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.begin("CreateTags", strings.Join(in.Resources, ","), opts); err != nil {
		return nil, err
	}
	for _, id := range in.Resources {
		var dst map[string]string
		if img, ok := c.images[id]; ok {
			dst = img.tags
		} else if s, ok := c.snaps[id]; ok {
			dst = s.tags
		} else {
			return nil, notFound(id)
		}
		for _, t := range in.Tags {
			dst[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return &ec2.CreateTagsOutput{}, nil
}

func (c *regions) DescribeImageAttribute(_ context.Context, in *ec2.DescribeImageAttributeInput, opts ...func(*ec2.Options)) (*ec2.DescribeImageAttributeOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	region, err := c.begin("DescribeImageAttribute", aws.ToString(in.ImageId), opts)
	if err != nil {
		return nil, err
	}
	img, err := c.lookup(region, aws.ToString(in.ImageId))
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeImageAttributeOutput{ImageId: in.ImageId, LaunchPermissions: slices.Clone(img.perms)}, nil
}

func permKey(p ec2types.LaunchPermission) string {
	return aws.ToString(p.UserId) + "|" + string(p.Group) + "|" + aws.ToString(p.OrganizationArn) + "|" + aws.ToString(p.OrganizationalUnitArn)
}

func (c *regions) ModifyImageAttribute(_ context.Context, in *ec2.ModifyImageAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifyImageAttributeOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var desc []string
	for _, p := range in.LaunchPermission.Add {
		desc = append(desc, "+"+strings.Trim(permKey(p), "|"))
	}
	for _, p := range in.LaunchPermission.Remove {
		desc = append(desc, "-"+strings.Trim(permKey(p), "|"))
	}
	region, err := c.begin("ModifyImageAttribute", aws.ToString(in.ImageId)+"["+strings.Join(desc, " ")+"]", opts)
	if err != nil {
		return nil, err
	}
	img, err := c.lookup(region, aws.ToString(in.ImageId))
	if err != nil {
		return nil, err
	}
	for _, p := range in.LaunchPermission.Add {
		if !slices.ContainsFunc(img.perms, func(q ec2types.LaunchPermission) bool { return permKey(q) == permKey(p) }) {
			img.perms = append(img.perms, p)
		}
	}
	for _, p := range in.LaunchPermission.Remove {
		img.perms = slices.DeleteFunc(img.perms, func(q ec2types.LaunchPermission) bool { return permKey(q) == permKey(p) })
	}
	return &ec2.ModifyImageAttributeOutput{}, nil
}

func (c *regions) DescribeSnapshotAttribute(_ context.Context, in *ec2.DescribeSnapshotAttributeInput, opts ...func(*ec2.Options)) (*ec2.DescribeSnapshotAttributeOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	region, err := c.begin("DescribeSnapshotAttribute", aws.ToString(in.SnapshotId), opts)
	if err != nil {
		return nil, err
	}
	s, ok := c.snaps[aws.ToString(in.SnapshotId)]
	if !ok || s.region != region {
		return nil, &smithy.GenericAPIError{Code: "InvalidSnapshot.NotFound", Message: aws.ToString(in.SnapshotId)}
	}
	out := &ec2.DescribeSnapshotAttributeOutput{SnapshotId: in.SnapshotId}
	for _, u := range s.users {
		out.CreateVolumePermissions = append(out.CreateVolumePermissions, ec2types.CreateVolumePermission{UserId: aws.String(u)})
	}
	return out, nil
}

func (c *regions) ModifySnapshotAttribute(_ context.Context, in *ec2.ModifySnapshotAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifySnapshotAttributeOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var add, remove []string
	if in.CreateVolumePermission != nil {
		for _, p := range in.CreateVolumePermission.Add {
			add = append(add, aws.ToString(p.UserId))
		}
		for _, p := range in.CreateVolumePermission.Remove {
			remove = append(remove, aws.ToString(p.UserId))
		}
	}
	switch in.OperationType {
	case ec2types.OperationTypeAdd:
		add = append(add, in.UserIds...)
	case ec2types.OperationTypeRemove:
		remove = append(remove, in.UserIds...)
	}
	var desc []string
	for _, u := range add {
		desc = append(desc, "+"+u)
	}
	for _, u := range remove {
		desc = append(desc, "-"+u)
	}
	region, err := c.begin("ModifySnapshotAttribute", aws.ToString(in.SnapshotId)+"["+strings.Join(desc, " ")+"]", opts)
	if err != nil {
		return nil, err
	}
	s, ok := c.snaps[aws.ToString(in.SnapshotId)]
	if !ok || s.region != region {
		return nil, &smithy.GenericAPIError{Code: "InvalidSnapshot.NotFound", Message: aws.ToString(in.SnapshotId)}
	}
	for _, u := range add {
		if !slices.Contains(s.users, u) {
			s.users = append(s.users, u)
		}
	}
	s.users = slices.DeleteFunc(s.users, func(u string) bool { return slices.Contains(remove, u) })
	sort.Strings(s.users)
	return &ec2.ModifySnapshotAttributeOutput{}, nil
}

func (c *regions) EnableImageDeprecation(_ context.Context, in *ec2.EnableImageDeprecationInput, opts ...func(*ec2.Options)) (*ec2.EnableImageDeprecationOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	region, err := c.begin("EnableImageDeprecation", aws.ToString(in.ImageId), opts)
	if err != nil {
		return nil, err
	}
	img, err := c.lookup(region, aws.ToString(in.ImageId))
	if err != nil {
		return nil, err
	}
	img.deprecate = aws.ToTime(in.DeprecateAt).Round(time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	return &ec2.EnableImageDeprecationOutput{}, nil
}

func (c *regions) DisableImageDeprecation(_ context.Context, in *ec2.DisableImageDeprecationInput, opts ...func(*ec2.Options)) (*ec2.DisableImageDeprecationOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	region, err := c.begin("DisableImageDeprecation", aws.ToString(in.ImageId), opts)
	if err != nil {
		return nil, err
	}
	img, err := c.lookup(region, aws.ToString(in.ImageId))
	if err != nil {
		return nil, err
	}
	img.deprecate = ""
	return &ec2.DisableImageDeprecationOutput{}, nil
}

func (c *regions) EnableImageDeregistrationProtection(_ context.Context, in *ec2.EnableImageDeregistrationProtectionInput, opts ...func(*ec2.Options)) (*ec2.EnableImageDeregistrationProtectionOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	region, err := c.begin("EnableImageDeregistrationProtection", aws.ToString(in.ImageId), opts)
	if err != nil {
		return nil, err
	}
	img, err := c.lookup(region, aws.ToString(in.ImageId))
	if err != nil {
		return nil, err
	}
	img.protection = "enabled-without-cooldown"
	if aws.ToBool(in.WithCooldown) {
		img.protection = "enabled-with-cooldown"
	}
	return &ec2.EnableImageDeregistrationProtectionOutput{}, nil
}

func (c *regions) DisableImageDeregistrationProtection(_ context.Context, in *ec2.DisableImageDeregistrationProtectionInput, opts ...func(*ec2.Options)) (*ec2.DisableImageDeregistrationProtectionOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	region, err := c.begin("DisableImageDeregistrationProtection", aws.ToString(in.ImageId), opts)
	if err != nil {
		return nil, err
	}
	img, err := c.lookup(region, aws.ToString(in.ImageId))
	if err != nil {
		return nil, err
	}
	img.protection = "disabled"
	return &ec2.DisableImageDeregistrationProtectionOutput{}, nil
}

// callsOf lists the recorded calls of op, sorted.
func (c *regions) callsOf(op string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, call := range c.calls {
		if strings.HasPrefix(call, op+" ") {
			out = append(out, call)
		}
	}
	sort.Strings(out)
	return out
}

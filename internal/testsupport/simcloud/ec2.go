package simcloud

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

type phase struct {
	state ec2types.InstanceStateName
	from  time.Time
}

type instance struct {
	id, source, clientToken string
	plan                    Plan
	created                 time.Time
	phases                  []phase
	reason                  string    // the state reason, once it ended on its own
	agentAt                 time.Time // zero when the agent is not running
	registered              time.Time // when the agent first came online
	tags                    map[string]string
}

func (in *instance) state(now time.Time) ec2types.InstanceStateName {
	st := in.phases[0].state
	for _, p := range in.phases {
		if !p.from.After(now) {
			st = p.state
		}
	}
	return st
}

// change drops whatever was still to come and schedules a new transition.
func (in *instance) change(now time.Time, during, then ec2types.InstanceStateName, d time.Duration) {
	kept := in.phases[:0]
	for _, p := range in.phases {
		if !p.from.After(now) {
			kept = append(kept, p)
		}
	}
	in.phases = append(kept, phase{during, now}, phase{then, now.Add(d)})
}

type image struct {
	id, name, owner string
	instance        string // the instance CreateImage made it from
	sourceImage     string // the image CopyImage made it from
	sourceRegion    string // and its Region ("": the cloud's own)
	region          string // where it lives
	encrypted       bool
	// creationText and deprecationText, when set, are shown verbatim.
	creationText, deprecationText string
	plan                          Plan
	created, ready                time.Time
	fails                         *ec2types.StateReason // ends failed with this reason
	fixed                         ec2types.ImageState   // a state put by a test, kept as is
	reason                        *ec2types.StateReason // of the fixed state
	snapshots                     []string
	tags                          map[string]string
	sharing                       imageSharing // launch permissions, deprecation, protection
}

func (img *image) state(now time.Time) (ec2types.ImageState, *ec2types.StateReason) {
	switch {
	case img.fixed != "":
		return img.fixed, img.reason
	case now.Before(img.ready):
		return ec2types.ImageStatePending, nil
	case img.fails != nil:
		return ec2types.ImageStateFailed, img.fails
	}
	return ec2types.ImageStateAvailable, nil
}

type snapshot struct {
	id          string
	region      string // where it lives
	description string // AWS's, set at creation
	tags        map[string]string
	volumeUsers []string // accounts with createVolumePermission
}

// EC2 returns the EC2 client of this cloud.
func (c *Cloud) EC2() awsx.EC2API { return ec2Client{c} }

type ec2Client struct{ c *Cloud }

var _ awsx.EC2API = ec2Client{}

// ec2Region is the region a call's options address, "" for the client's own.
func ec2Region(optFns []func(*ec2.Options)) string {
	var o ec2.Options
	for _, f := range optFns {
		f(&o)
	}
	return o.Region
}

func (e ec2Client) RunInstances(ctx context.Context, in *ec2.RunInstancesInput, optFns ...func(*ec2.Options)) (out *ec2.RunInstancesOutput, err error) {
	err = e.c.call(ctx, "EC2", "RunInstances", in, ec2Region(optFns), func() error {
		out, err = e.c.runInstances(in)
		return err
	})
	return out, err
}

func (e ec2Client) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (out *ec2.DescribeInstancesOutput, err error) {
	err = e.c.call(ctx, "EC2", "DescribeInstances", in, ec2Region(optFns), func() error {
		out, err = e.c.describeInstances(in)
		return err
	})
	return out, err
}

func (e ec2Client) StartInstances(ctx context.Context, in *ec2.StartInstancesInput, optFns ...func(*ec2.Options)) (out *ec2.StartInstancesOutput, err error) {
	err = e.c.call(ctx, "EC2", "StartInstances", in, ec2Region(optFns), func() error {
		err = e.c.changeInstances(in.InstanceIds, ec2types.InstanceStateNameRunning)
		out = &ec2.StartInstancesOutput{}
		return err
	})
	return out, err
}

func (e ec2Client) StopInstances(ctx context.Context, in *ec2.StopInstancesInput, optFns ...func(*ec2.Options)) (out *ec2.StopInstancesOutput, err error) {
	err = e.c.call(ctx, "EC2", "StopInstances", in, ec2Region(optFns), func() error {
		err = e.c.changeInstances(in.InstanceIds, ec2types.InstanceStateNameStopped)
		out = &ec2.StopInstancesOutput{}
		return err
	})
	return out, err
}

func (e ec2Client) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, optFns ...func(*ec2.Options)) (out *ec2.TerminateInstancesOutput, err error) {
	err = e.c.call(ctx, "EC2", "TerminateInstances", in, ec2Region(optFns), func() error {
		err = e.c.changeInstances(in.InstanceIds, ec2types.InstanceStateNameTerminated)
		out = &ec2.TerminateInstancesOutput{}
		return err
	})
	return out, err
}

func (e ec2Client) CreateImage(ctx context.Context, in *ec2.CreateImageInput, optFns ...func(*ec2.Options)) (out *ec2.CreateImageOutput, err error) {
	err = e.c.call(ctx, "EC2", "CreateImage", in, ec2Region(optFns), func() error {
		out, err = e.c.createImage(in, ec2Region(optFns))
		return err
	})
	return out, err
}

func (e ec2Client) CopyImage(ctx context.Context, in *ec2.CopyImageInput, optFns ...func(*ec2.Options)) (out *ec2.CopyImageOutput, err error) {
	err = e.c.call(ctx, "EC2", "CopyImage", in, ec2Region(optFns), func() error {
		out, err = e.c.copyImage(in, ec2Region(optFns))
		return err
	})
	return out, err
}

func (e ec2Client) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, optFns ...func(*ec2.Options)) (out *ec2.DescribeImagesOutput, err error) {
	err = e.c.call(ctx, "EC2", "DescribeImages", in, ec2Region(optFns), func() error {
		out, err = e.c.describeImages(in, ec2Region(optFns))
		return err
	})
	return out, err
}

// DeregisterImage removes the image; its snapshots stay, as on AWS.
func (e ec2Client) DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, optFns ...func(*ec2.Options)) (out *ec2.DeregisterImageOutput, err error) {
	err = e.c.call(ctx, "EC2", "DeregisterImage", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		id := aws.ToString(in.ImageId)
		img, err := e.c.imageByID(id, ec2Region(optFns))
		if err != nil {
			return err
		}
		if img.protected() {
			return apiError("OperationNotPermitted", "The image %s has deregistration protection enabled.", id)
		}
		delete(e.c.images, id)
		out = &ec2.DeregisterImageOutput{}
		return nil
	})
	return out, err
}

func (e ec2Client) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (out *ec2.CreateTagsOutput, err error) {
	err = e.c.call(ctx, "EC2", "CreateTags", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		for _, id := range in.Resources {
			if _, err := e.c.tagsIn(id, ec2Region(optFns)); err != nil {
				return err
			}
		}
		for _, id := range in.Resources {
			tags, _ := e.c.tagsOf(id)
			for _, t := range in.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		out = &ec2.CreateTagsOutput{}
		return nil
	})
	return out, err
}

func (e ec2Client) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, optFns ...func(*ec2.Options)) (out *ec2.DeleteTagsOutput, err error) {
	err = e.c.call(ctx, "EC2", "DeleteTags", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		for _, id := range in.Resources {
			tags, err := e.c.tagsIn(id, ec2Region(optFns))
			if err != nil {
				return err
			}
			for _, t := range in.Tags {
				delete(tags, aws.ToString(t.Key))
			}
		}
		out = &ec2.DeleteTagsOutput{}
		return nil
	})
	return out, err
}

func (e ec2Client) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, optFns ...func(*ec2.Options)) (out *ec2.DescribeSnapshotsOutput, err error) {
	err = e.c.call(ctx, "EC2", "DescribeSnapshots", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		for _, id := range in.SnapshotIds {
			if _, err := e.c.snapshotByID(id, ec2Region(optFns)); err != nil {
				return err
			}
		}
		out = &ec2.DescribeSnapshotsOutput{}
		for _, id := range candidates(e.c.snapshots, in.Filters, "snapshot-id") {
			s := e.c.snapshots[id]
			if !e.c.seen(s.region, ec2Region(optFns)) {
				continue
			}
			if len(in.SnapshotIds) > 0 && !slices.Contains(in.SnapshotIds, id) {
				continue
			}
			if !matches(in.Filters, func(name string) []string {
				switch name {
				case "snapshot-id":
					return []string{id}
				case "description":
					return []string{s.description}
				}
				return tagValue(s.tags, name)
			}) {
				continue
			}
			out.Snapshots = append(out.Snapshots, e.c.snapshotView(s))
		}
		return nil
	})
	return out, err
}

// DeleteSnapshot deletes a snapshot no registered image is built on.
func (e ec2Client) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, optFns ...func(*ec2.Options)) (out *ec2.DeleteSnapshotOutput, err error) {
	err = e.c.call(ctx, "EC2", "DeleteSnapshot", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		id := aws.ToString(in.SnapshotId)
		if _, err := e.c.snapshotByID(id, ec2Region(optFns)); err != nil {
			return err
		}
		for _, imgID := range sortedKeys(e.c.images) {
			if slices.Contains(e.c.images[imgID].snapshots, id) {
				return apiError("InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", id, imgID)
			}
		}
		delete(e.c.snapshots, id)
		out = &ec2.DeleteSnapshotOutput{}
		return nil
	})
	return out, err
}

// runInstances launches MinCount instances (at least one). A client token
// already used returns the instances it launched, as on AWS.
func (c *Cloud) runInstances(in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	source := aws.ToString(in.ImageId)
	if source == "" {
		return nil, apiError("MissingParameter", "The request must contain the parameter ImageId")
	}
	now := c.Now()
	out := &ec2.RunInstancesOutput{}
	if token := aws.ToString(in.ClientToken); token != "" {
		for _, id := range sortedKeys(c.instances) {
			if inst := c.instances[id]; inst.clientToken == token {
				out.Instances = append(out.Instances, c.instanceView(inst, now))
			}
		}
		if len(out.Instances) > 0 {
			return out, nil
		}
	}
	n := int(aws.ToInt32(in.MinCount))
	if n < 1 {
		n = 1
	}
	plan := c.planLocked(source)
	for range n {
		inst := &instance{
			id:          c.newID("i"),
			source:      source,
			clientToken: aws.ToString(in.ClientToken),
			plan:        plan,
			created:     now,
			phases:      []phase{{ec2types.InstanceStateNamePending, now}, {ec2types.InstanceStateNameRunning, now.Add(plan.Launch)}},
			agentAt:     now.Add(plan.Launch + plan.Agent),
			tags:        specTags(in.TagSpecifications, ec2types.ResourceTypeInstance),
		}
		if reason := c.knobs.launchFails; reason != "" {
			inst.phases[1].state = ec2types.InstanceStateNameTerminated
			inst.reason = reason
			inst.agentAt = time.Time{}
		}
		inst.registered = inst.agentAt
		c.instances[inst.id] = inst
		out.Instances = append(out.Instances, c.instanceView(inst, now))
	}
	return out, nil
}

func (c *Cloud) instanceView(in *instance, now time.Time) ec2types.Instance {
	st := in.state(now)
	v := ec2types.Instance{
		InstanceId:  aws.String(in.id),
		ImageId:     aws.String(in.source),
		ClientToken: aws.String(in.clientToken),
		State:       &ec2types.InstanceState{Name: st},
		Tags:        ec2TagList(in.tags),
	}
	if in.reason != "" && (st == ec2types.InstanceStateNameShuttingDown || st == ec2types.InstanceStateNameTerminated) {
		v.StateReason = &ec2types.StateReason{Code: aws.String("Server.InternalError"), Message: aws.String(in.reason)}
	}
	return v
}

func (c *Cloud) describeInstances(in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	for _, id := range in.InstanceIds {
		if inst, ok := c.instances[id]; !ok || now.Sub(inst.created) < c.cfg.Durations.Listed {
			return nil, apiError("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		}
	}
	var res ec2types.Reservation
	for _, id := range candidates(c.instances, in.Filters, "instance-id") {
		inst := c.instances[id]
		if now.Sub(inst.created) < c.cfg.Durations.Listed {
			continue
		}
		if len(in.InstanceIds) > 0 && !slices.Contains(in.InstanceIds, id) {
			continue
		}
		st := inst.state(now)
		if !matches(in.Filters, func(name string) []string {
			switch name {
			case "instance-id":
				return []string{id}
			case "instance-state-name":
				return []string{string(st)}
			case "client-token":
				return []string{inst.clientToken}
			case "image-id":
				return []string{inst.source}
			}
			return tagValue(inst.tags, name)
		}) {
			continue
		}
		res.Instances = append(res.Instances, c.instanceView(inst, now))
	}
	out := &ec2.DescribeInstancesOutput{}
	if len(res.Instances) > 0 {
		out.Reservations = []ec2types.Reservation{res}
	}
	return out, nil
}

func (c *Cloud) changeInstances(ids []string, want ec2types.InstanceStateName) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	for _, id := range ids {
		if _, ok := c.instances[id]; !ok {
			return apiError("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		}
	}
	for _, id := range ids {
		inst := c.instances[id]
		st := inst.state(now)
		switch want {
		case ec2types.InstanceStateNameStopped:
			switch st {
			case ec2types.InstanceStateNameRunning:
				inst.change(now, ec2types.InstanceStateNameStopping, ec2types.InstanceStateNameStopped, inst.plan.Stop)
				inst.agentAt = time.Time{}
			case ec2types.InstanceStateNameStopping, ec2types.InstanceStateNameStopped:
			default:
				return apiError("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be stopped.", id)
			}
		case ec2types.InstanceStateNameRunning:
			switch st {
			case ec2types.InstanceStateNameStopped:
				inst.change(now, ec2types.InstanceStateNamePending, ec2types.InstanceStateNameRunning, inst.plan.Launch)
				inst.agentAt = now.Add(inst.plan.Launch + inst.plan.Agent)
			case ec2types.InstanceStateNamePending, ec2types.InstanceStateNameRunning:
			default:
				return apiError("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be started.", id)
			}
		case ec2types.InstanceStateNameTerminated:
			switch st {
			case ec2types.InstanceStateNameShuttingDown, ec2types.InstanceStateNameTerminated:
			default:
				inst.change(now, ec2types.InstanceStateNameShuttingDown, ec2types.InstanceStateNameTerminated, inst.plan.Terminate)
				inst.agentAt = time.Time{}
			}
		}
	}
	return nil
}

func (c *Cloud) createImage(in *ec2.CreateImageInput, region string) (*ec2.CreateImageOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := aws.ToString(in.InstanceId)
	inst, ok := c.instances[id]
	if !ok {
		return nil, apiError("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
	}
	name := aws.ToString(in.Name)
	if err := c.nameFree(name, region); err != nil {
		return nil, err
	}
	img := c.addImage(name, region, inst.plan, c.Now(), specTags(in.TagSpecifications, ec2types.ResourceTypeImage))
	img.instance = id
	img.fails = c.imageFails(region)
	c.newSnapshots(img, 1, specTags(in.TagSpecifications, ec2types.ResourceTypeSnapshot))
	return &ec2.CreateImageOutput{ImageId: aws.String(img.id)}, nil
}

// copyImage copies an image of SourceRegion into region. A client token
// already used in region returns the copy it made, as on AWS
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html:
// ClientToken, "Ensuring idempotency").
func (c *Cloud) copyImage(in *ec2.CopyImageInput, region string) (*ec2.CopyImageOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	token := ""
	if t := aws.ToString(in.ClientToken); t != "" {
		token = ownRegion(region) + "/" + t
		if id, ok := c.copyTokens[token]; ok {
			return &ec2.CopyImageOutput{ImageId: aws.String(id)}, nil
		}
	}
	src, err := c.imageByID(aws.ToString(in.SourceImageId), aws.ToString(in.SourceRegion))
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	if err := c.nameFree(name, region); err != nil {
		return nil, err
	}
	imageTags := specTags(in.TagSpecifications, ec2types.ResourceTypeImage)
	snapTags := specTags(in.TagSpecifications, ec2types.ResourceTypeSnapshot)
	if c.knobs.copyDropsTags {
		imageTags, snapTags = map[string]string{}, map[string]string{}
	}
	img := c.addImage(name, region, src.plan, c.Now(), imageTags)
	img.sourceImage, img.sourceRegion = src.id, src.region
	img.encrypted = aws.ToBool(in.Encrypted) || src.encrypted
	img.fails = c.imageFails(region)
	c.newSnapshots(img, max(len(src.snapshots), 1), snapTags)
	if token != "" {
		c.copyTokens[token] = img.id
	}
	return &ec2.CopyImageOutput{ImageId: aws.String(img.id)}, nil
}

// nameFree refuses a name an image of the account in region already has.
// Caller holds mu.
func (c *Cloud) nameFree(name, region string) error {
	for _, id := range sortedKeys(c.images) {
		if img := c.images[id]; img.name == name && img.owner == Account && img.fixed != ec2types.ImageStateDeregistered && c.seen(img.region, region) {
			return apiError("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, img.id)
		}
	}
	return nil
}

// addImage registers a pending image of the account. Caller holds mu.
func (c *Cloud) addImage(name, region string, plan Plan, now time.Time, tags map[string]string) *image {
	img := &image{
		id: c.newID("ami"), name: name, owner: Account, plan: plan, region: ownRegion(region),
		created: now, ready: now.Add(plan.Image), tags: tags,
	}
	c.images[img.id] = img
	return img
}

// newSnapshots makes n snapshots for img, described as AWS describes those of
// CreateImage and CopyImage. Caller holds mu.
func (c *Cloud) newSnapshots(img *image, n int, tags map[string]string) {
	for range n {
		id := c.newID("snap")
		c.snapshots[id] = &snapshot{id: id, region: img.region, description: describeSnapshot(img), tags: cloneTags(tags)}
		img.snapshots = append(img.snapshots, id)
	}
}

// describeSnapshot is AWS's description of a snapshot made for img.
func describeSnapshot(img *image) string {
	switch {
	case img.instance != "":
		return fmt.Sprintf("Created by CreateImage(%s) for %s", img.instance, img.id)
	case img.sourceImage != "":
		return fmt.Sprintf("Copied for DestinationAmi %s from SourceAmi %s", img.id, img.sourceImage)
	}
	return ""
}

func (c *Cloud) describeImages(in *ec2.DescribeImagesInput, region string) (*ec2.DescribeImagesOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	for _, id := range in.ImageIds {
		if img, ok := c.images[id]; !ok || now.Sub(img.created) < c.cfg.Durations.Listed || !c.seen(img.region, region) {
			return nil, apiError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
		}
	}
	owners := map[string]bool{}
	for _, o := range in.Owners {
		if o == "self" {
			o = Account
		}
		owners[o] = true
	}
	out := &ec2.DescribeImagesOutput{}
	for _, id := range candidates(c.images, in.Filters, "image-id") {
		img := c.images[id]
		if now.Sub(img.created) < c.cfg.Durations.Listed || !c.seen(img.region, region) {
			continue
		}
		if len(in.ImageIds) > 0 && !slices.Contains(in.ImageIds, id) {
			continue
		}
		if len(owners) > 0 && !owners[img.owner] {
			continue
		}
		state, _ := img.state(now)
		if !matches(in.Filters, func(name string) []string {
			switch name {
			case "image-id":
				return []string{id}
			case "name":
				return []string{img.name}
			case "state":
				return []string{string(state)}
			case "owner-id":
				return []string{img.owner}
			case "source-instance-id":
				return []string{img.instance}
			}
			return tagValue(img.tags, name)
		}) {
			continue
		}
		out.Images = append(out.Images, c.imageView(img, now))
	}
	size := c.knobs.imagePage
	if m := int(aws.ToInt32(in.MaxResults)); m > 0 && (size == 0 || m < size) {
		size = m
	}
	from, to, next := page(len(out.Images), aws.ToString(in.NextToken), size)
	out.Images = out.Images[from:to]
	if next != "" {
		out.NextToken = aws.String(next)
	}
	return out, nil
}

func (c *Cloud) imageView(img *image, now time.Time) ec2types.Image {
	state, reason := img.state(now)
	v := ec2types.Image{
		ImageId:     aws.String(img.id),
		Name:        aws.String(img.name),
		State:       state,
		StateReason: reason,
		OwnerId:     aws.String(img.owner),
		Tags:        ec2TagList(img.tags),
		// As AWS writes it: UTC, to the millisecond.
		CreationDate: aws.String(img.created.UTC().Format("2006-01-02T15:04:05.000Z")),
	}
	if img.creationText != "" {
		v.CreationDate = aws.String(img.creationText)
	}
	if img.instance != "" {
		v.SourceInstanceId = aws.String(img.instance)
	}
	img.sharingView(&v)
	if img.sourceImage != "" {
		v.SourceImageId = aws.String(img.sourceImage)
		v.SourceImageRegion = aws.String(ownRegion(img.sourceRegion))
	}
	for i, s := range img.snapshots {
		dev := "/dev/xvda"
		if i > 0 {
			dev = fmt.Sprintf("/dev/xvd%c", 'a'+i)
		}
		v.BlockDeviceMappings = append(v.BlockDeviceMappings, ec2types.BlockDeviceMapping{
			DeviceName: aws.String(dev),
			Ebs:        &ec2types.EbsBlockDevice{SnapshotId: aws.String(s), VolumeSize: aws.Int32(8), Encrypted: aws.Bool(img.encrypted)},
		})
	}
	return v
}

func (c *Cloud) snapshotView(s *snapshot) ec2types.Snapshot {
	v := ec2types.Snapshot{SnapshotId: aws.String(s.id), Tags: ec2TagList(s.tags), State: ec2types.SnapshotStateCompleted, OwnerId: aws.String(Account)}
	if s.description != "" {
		v.Description = aws.String(s.description)
	}
	return v
}

// tagsIn is tagsOf for a call addressed to region: an image or snapshot of
// another Region is not found. Caller holds mu.
func (c *Cloud) tagsIn(id, region string) (map[string]string, error) {
	if img, ok := c.images[id]; ok && !c.seen(img.region, region) {
		return nil, apiError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	}
	if s, ok := c.snapshots[id]; ok && !c.seen(s.region, region) {
		return nil, apiError("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	}
	return c.tagsOf(id)
}

// tagsOf returns the live tag map of a resource. Caller holds mu.
func (c *Cloud) tagsOf(id string) (map[string]string, error) {
	switch {
	case strings.HasPrefix(id, "i-"):
		if in, ok := c.instances[id]; ok {
			return in.tags, nil
		}
		return nil, apiError("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
	case strings.HasPrefix(id, "ami-"):
		if img, ok := c.images[id]; ok {
			return img.tags, nil
		}
		return nil, apiError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	case strings.HasPrefix(id, "snap-"):
		if s, ok := c.snapshots[id]; ok {
			return s.tags, nil
		}
		return nil, apiError("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	}
	return nil, apiError("InvalidID", "The ID '%s' is not valid", id)
}

func specTags(specs []ec2types.TagSpecification, kind ec2types.ResourceType) map[string]string {
	tags := map[string]string{}
	for _, s := range specs {
		if s.ResourceType != kind {
			continue
		}
		for _, t := range s.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags
}

func cloneTags(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func ec2TagList(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func tagValue(tags map[string]string, filter string) []string {
	if k, ok := strings.CutPrefix(filter, "tag:"); ok {
		if v, ok := tags[k]; ok {
			return []string{v}
		}
		return nil
	}
	if filter == "tag-key" {
		return sortedKeys(tags)
	}
	return nil
}

// matches applies EC2's filter semantics: every filter must match, a filter
// matches when any of its values equals any value of the resource.
func matches(filters []ec2types.Filter, values func(name string) []string) bool {
	for _, f := range filters {
		have := values(aws.ToString(f.Name))
		ok := false
		for _, want := range f.Values {
			if slices.Contains(have, want) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// candidates are the ids a Describe has to look at: those an id filter names
// (which the filter check confirms), else every id.
func candidates[V any](m map[string]V, filters []ec2types.Filter, idFilter string) []string {
	for _, f := range filters {
		if aws.ToString(f.Name) != idFilter {
			continue
		}
		var ids []string
		for _, id := range f.Values {
			if _, ok := m[id]; ok {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		return slices.Compact(ids)
	}
	return sortedKeys(m)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package simcloud

import (
	"context"
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
	id, name, instance string
	plan               Plan
	created, ready     time.Time
	snapshot           string
	tags               map[string]string
}

type snapshot struct {
	id, image string
	tags      map[string]string
}

// EC2 returns the EC2 client of this cloud.
func (c *Cloud) EC2() awsx.EC2API { return ec2Client{c} }

type ec2Client struct{ c *Cloud }

var _ awsx.EC2API = ec2Client{}

func (e ec2Client) RunInstances(ctx context.Context, in *ec2.RunInstancesInput, _ ...func(*ec2.Options)) (out *ec2.RunInstancesOutput, err error) {
	err = e.c.call(ctx, "RunInstances", func() error {
		out, err = e.c.runInstances(in)
		return err
	})
	return out, err
}

func (e ec2Client) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (out *ec2.DescribeInstancesOutput, err error) {
	err = e.c.call(ctx, "DescribeInstances", func() error {
		out, err = e.c.describeInstances(in)
		return err
	})
	return out, err
}

func (e ec2Client) StartInstances(ctx context.Context, in *ec2.StartInstancesInput, _ ...func(*ec2.Options)) (out *ec2.StartInstancesOutput, err error) {
	err = e.c.call(ctx, "StartInstances", func() error {
		err = e.c.changeInstances(in.InstanceIds, ec2types.InstanceStateNameRunning)
		out = &ec2.StartInstancesOutput{}
		return err
	})
	return out, err
}

func (e ec2Client) StopInstances(ctx context.Context, in *ec2.StopInstancesInput, _ ...func(*ec2.Options)) (out *ec2.StopInstancesOutput, err error) {
	err = e.c.call(ctx, "StopInstances", func() error {
		err = e.c.changeInstances(in.InstanceIds, ec2types.InstanceStateNameStopped)
		out = &ec2.StopInstancesOutput{}
		return err
	})
	return out, err
}

func (e ec2Client) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (out *ec2.TerminateInstancesOutput, err error) {
	err = e.c.call(ctx, "TerminateInstances", func() error {
		err = e.c.changeInstances(in.InstanceIds, ec2types.InstanceStateNameTerminated)
		out = &ec2.TerminateInstancesOutput{}
		return err
	})
	return out, err
}

func (e ec2Client) CreateImage(ctx context.Context, in *ec2.CreateImageInput, _ ...func(*ec2.Options)) (out *ec2.CreateImageOutput, err error) {
	err = e.c.call(ctx, "CreateImage", func() error {
		out, err = e.c.createImage(in)
		return err
	})
	return out, err
}

func (e ec2Client) CopyImage(ctx context.Context, in *ec2.CopyImageInput, _ ...func(*ec2.Options)) (out *ec2.CopyImageOutput, err error) {
	err = e.c.call(ctx, "CopyImage", func() error {
		out, err = e.c.copyImage(in)
		return err
	})
	return out, err
}

func (e ec2Client) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (out *ec2.DescribeImagesOutput, err error) {
	err = e.c.call(ctx, "DescribeImages", func() error {
		out, err = e.c.describeImages(in)
		return err
	})
	return out, err
}

func (e ec2Client) DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, _ ...func(*ec2.Options)) (out *ec2.DeregisterImageOutput, err error) {
	err = e.c.call(ctx, "DeregisterImage", func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		id := aws.ToString(in.ImageId)
		if _, ok := e.c.images[id]; !ok {
			return apiError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
		}
		delete(e.c.images, id)
		out = &ec2.DeregisterImageOutput{}
		return nil
	})
	return out, err
}

func (e ec2Client) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (out *ec2.CreateTagsOutput, err error) {
	err = e.c.call(ctx, "CreateTags", func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		for _, id := range in.Resources {
			tags, err := e.c.tagsOf(id)
			if err != nil {
				return err
			}
			for _, t := range in.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		out = &ec2.CreateTagsOutput{}
		return nil
	})
	return out, err
}

func (e ec2Client) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (out *ec2.DeleteTagsOutput, err error) {
	err = e.c.call(ctx, "DeleteTags", func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		for _, id := range in.Resources {
			tags, err := e.c.tagsOf(id)
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

func (e ec2Client) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, _ ...func(*ec2.Options)) (out *ec2.DescribeSnapshotsOutput, err error) {
	err = e.c.call(ctx, "DescribeSnapshots", func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		out = &ec2.DescribeSnapshotsOutput{}
		for _, id := range sortedKeys(e.c.snapshots) {
			s := e.c.snapshots[id]
			if len(in.SnapshotIds) > 0 && !slices.Contains(in.SnapshotIds, id) {
				continue
			}
			if !matches(in.Filters, func(name string) []string {
				if name == "snapshot-id" {
					return []string{id}
				}
				return tagValue(s.tags, name)
			}) {
				continue
			}
			out.Snapshots = append(out.Snapshots, ec2types.Snapshot{SnapshotId: aws.String(id), Tags: ec2TagList(s.tags), State: ec2types.SnapshotStateCompleted})
		}
		return nil
	})
	return out, err
}

func (e ec2Client) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, _ ...func(*ec2.Options)) (out *ec2.DeleteSnapshotOutput, err error) {
	err = e.c.call(ctx, "DeleteSnapshot", func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		id := aws.ToString(in.SnapshotId)
		s, ok := e.c.snapshots[id]
		if !ok {
			return apiError("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
		}
		if _, used := e.c.images[s.image]; used {
			return apiError("InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", id, s.image)
		}
		delete(e.c.snapshots, id)
		out = &ec2.DeleteSnapshotOutput{}
		return nil
	})
	return out, err
}

func (c *Cloud) runInstances(in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	source := aws.ToString(in.ImageId)
	if source == "" {
		return nil, apiError("MissingParameter", "The request must contain the parameter ImageId")
	}
	n := int(aws.ToInt32(in.MinCount))
	if n < 1 {
		n = 1
	}
	now := c.Now()
	plan := c.planLocked(source)
	out := &ec2.RunInstancesOutput{}
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
		inst.registered = inst.agentAt
		c.instances[inst.id] = inst
		out.Instances = append(out.Instances, c.instanceView(inst, now))
	}
	return out, nil
}

func (c *Cloud) instanceView(in *instance, now time.Time) ec2types.Instance {
	st := in.state(now)
	return ec2types.Instance{
		InstanceId:  aws.String(in.id),
		ImageId:     aws.String(in.source),
		ClientToken: aws.String(in.clientToken),
		State:       &ec2types.InstanceState{Name: st},
		Tags:        ec2TagList(in.tags),
	}
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

func (c *Cloud) createImage(in *ec2.CreateImageInput) (*ec2.CreateImageOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := aws.ToString(in.InstanceId)
	inst, ok := c.instances[id]
	if !ok {
		return nil, apiError("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
	}
	name := aws.ToString(in.Name)
	for _, img := range c.images {
		if img.name == name {
			return nil, apiError("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, img.id)
		}
	}
	now := c.Now()
	img := c.addImage(name, id, inst.plan, now, specTags(in.TagSpecifications, ec2types.ResourceTypeImage))
	return &ec2.CreateImageOutput{ImageId: aws.String(img.id)}, nil
}

func (c *Cloud) copyImage(in *ec2.CopyImageInput) (*ec2.CopyImageOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	src, ok := c.images[aws.ToString(in.SourceImageId)]
	if !ok {
		return nil, apiError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", aws.ToString(in.SourceImageId))
	}
	img := c.addImage(aws.ToString(in.Name), src.instance, src.plan, c.Now(), specTags(in.TagSpecifications, ec2types.ResourceTypeImage))
	return &ec2.CopyImageOutput{ImageId: aws.String(img.id)}, nil
}

// addImage registers a pending image and its snapshot. Caller holds mu.
func (c *Cloud) addImage(name, instance string, plan Plan, now time.Time, tags map[string]string) *image {
	img := &image{
		id: c.newID("ami"), name: name, instance: instance, plan: plan,
		created: now, ready: now.Add(plan.Image), tags: tags,
	}
	img.snapshot = c.newID("snap")
	c.snapshots[img.snapshot] = &snapshot{id: img.snapshot, image: img.id, tags: map[string]string{}}
	c.images[img.id] = img
	return img
}

func (c *Cloud) describeImages(in *ec2.DescribeImagesInput) (*ec2.DescribeImagesOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	for _, id := range in.ImageIds {
		if img, ok := c.images[id]; !ok || now.Sub(img.created) < c.cfg.Durations.Listed {
			return nil, apiError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
		}
	}
	out := &ec2.DescribeImagesOutput{}
	for _, id := range candidates(c.images, in.Filters, "image-id") {
		img := c.images[id]
		if now.Sub(img.created) < c.cfg.Durations.Listed {
			continue
		}
		if len(in.ImageIds) > 0 && !slices.Contains(in.ImageIds, id) {
			continue
		}
		state := ec2types.ImageStatePending
		if !now.Before(img.ready) {
			state = ec2types.ImageStateAvailable
		}
		if !matches(in.Filters, func(name string) []string {
			switch name {
			case "image-id":
				return []string{id}
			case "name":
				return []string{img.name}
			case "state":
				return []string{string(state)}
			}
			return tagValue(img.tags, name)
		}) {
			continue
		}
		out.Images = append(out.Images, ec2types.Image{
			ImageId: aws.String(id),
			Name:    aws.String(img.name),
			State:   state,
			OwnerId: aws.String("123456789012"),
			Tags:    ec2TagList(img.tags),
			BlockDeviceMappings: []ec2types.BlockDeviceMapping{{
				DeviceName: aws.String("/dev/xvda"),
				Ebs:        &ec2types.EbsBlockDevice{SnapshotId: aws.String(img.snapshot), VolumeSize: aws.Int32(8)},
			}},
		})
	}
	return out, nil
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

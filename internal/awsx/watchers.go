package awsx

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// InstanceWatcher waits for EC2 instance states. All waits running in the
// process at the same time share one DescribeInstances per tick.
type InstanceWatcher struct {
	t *ticker[ec2types.Instance]
}

// NewInstanceWatcher returns a watcher polling api on policy p.
func NewInstanceWatcher(api EC2API, p Policy) *InstanceWatcher {
	return &InstanceWatcher{t: newTicker("instance", p, describeInstances(api), instanceState)}
}

// SetPolicy changes the polling schedule.
func (w *InstanceWatcher) SetPolicy(p Policy) { w.t.setPolicy(p) }

// WaitForState waits until every instance is in one of want (running when
// want is empty) and returns the instances as last described. An instance that
// is not visible yet right after launch is waited for, within a grace period;
// one that ends up shutting-down or terminated when that is not wanted fails
// the wait with its state reason. When terminated is wanted, an instance that
// is no longer listed counts as terminated.
func (w *InstanceWatcher) WaitForState(ctx context.Context, ids []string, want ...ec2types.InstanceStateName) (map[string]ec2types.Instance, error) {
	if len(want) == 0 {
		want = []ec2types.InstanceStateName{ec2types.InstanceStateNameRunning}
	}
	grace := w.t.grace()
	wantGone := slices.Contains(want, ec2types.InstanceStateNameTerminated)
	judge := func(id string, in ec2types.Instance, found bool, age time.Duration) (ec2types.Instance, bool, error) {
		if !found {
			switch {
			case wantGone:
				return ec2types.Instance{InstanceId: aws.String(id), State: &ec2types.InstanceState{Name: ec2types.InstanceStateNameTerminated}}, true, nil
			case age > grace:
				return in, false, fmt.Errorf("instance %s not found after %s", id, age.Round(time.Second))
			}
			return in, false, nil
		}
		st := stateName(in)
		if slices.Contains(want, st) {
			return in, true, nil
		}
		if st == ec2types.InstanceStateNameTerminated || (st == ec2types.InstanceStateNameShuttingDown && !wantGone) {
			return in, false, fmt.Errorf("instance %s is %s while waiting for %s%s", id, st, joinStates(want), instanceReason(in))
		}
		return in, false, nil
	}
	return w.t.wait(ctx, ids, judge)
}

func stateName(in ec2types.Instance) ec2types.InstanceStateName {
	if in.State == nil {
		return ""
	}
	return in.State.Name
}

func instanceState(in ec2types.Instance) string { return string(stateName(in)) }

func instanceReason(in ec2types.Instance) string {
	if in.StateReason != nil && aws.ToString(in.StateReason.Message) != "" {
		return ": " + aws.ToString(in.StateReason.Message)
	}
	if r := aws.ToString(in.StateTransitionReason); r != "" {
		return ": " + r
	}
	return ""
}

func joinStates(want []ec2types.InstanceStateName) string {
	s := ""
	for i, w := range want {
		if i > 0 {
			s += " or "
		}
		s += string(w)
	}
	return s
}

func describeInstances(api EC2API) describeFunc[ec2types.Instance] {
	return func(ctx context.Context, ids []string) (map[string]ec2types.Instance, error) {
		out := make(map[string]ec2types.Instance, len(ids))
		for _, c := range chunks(ids) {
			// A filter, not InstanceIds: one id AWS does not know yet would fail
			// the whole call for everyone sharing it.
			in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: c}}}
			for {
				res, err := api.DescribeInstances(ctx, in)
				if err != nil {
					return nil, err
				}
				for _, r := range res.Reservations {
					for _, i := range r.Instances {
						out[aws.ToString(i.InstanceId)] = i
					}
				}
				if aws.ToString(res.NextToken) == "" {
					break
				}
				in.NextToken = res.NextToken
			}
		}
		return out, nil
	}
}

// ImageWatcher waits for AMIs to become available and answers one-shot
// describes; both kinds of callers are batched across the process.
type ImageWatcher struct {
	t *ticker[ec2types.Image]
	c *coalescer[ec2types.Image]
}

// DescribeWindow is how long the first of several concurrent Describe callers
// waits for others to join its call.
const DescribeWindow = 10 * time.Millisecond

// NewImageWatcher returns a watcher polling api on policy p.
func NewImageWatcher(api EC2API, p Policy) *ImageWatcher {
	d := describeImages(api)
	return &ImageWatcher{
		t: newTicker("image", p, d, imageState),
		c: &coalescer[ec2types.Image]{describe: d, window: DescribeWindow},
	}
}

// SetPolicy changes the polling schedule.
func (w *ImageWatcher) SetPolicy(p Policy) { w.t.setPolicy(p) }

// WaitAvailable waits until every image is available. failed, invalid, error,
// disabled or deregistered fail the wait with the image's state reason; an image
// still not listed after the grace period fails it too.
func (w *ImageWatcher) WaitAvailable(ctx context.Context, ids []string) (map[string]ec2types.Image, error) {
	grace := w.t.grace()
	judge := func(id string, img ec2types.Image, found bool, age time.Duration) (ec2types.Image, bool, error) {
		if !found {
			if age > grace {
				return img, false, fmt.Errorf("image %s not found (deregistered?) after %s", id, age.Round(time.Second))
			}
			return img, false, nil
		}
		switch img.State {
		case ec2types.ImageStateAvailable:
			return img, true, nil
		case ec2types.ImageStatePending, ec2types.ImageStateTransient, "":
			return img, false, nil
		default:
			return img, false, fmt.Errorf("image %s is %s%s", id, img.State, imageReason(img))
		}
	}
	return w.t.wait(ctx, ids, judge)
}

// Describe returns the images that exist among ids (absent ones are missing from
// the map). Callers arriving together share one DescribeImages.
func (w *ImageWatcher) Describe(ctx context.Context, ids []string) (map[string]ec2types.Image, error) {
	return w.c.get(ctx, ids)
}

func imageState(img ec2types.Image) string { return string(img.State) }

func imageReason(img ec2types.Image) string {
	if img.StateReason == nil {
		return ""
	}
	code, msg := aws.ToString(img.StateReason.Code), aws.ToString(img.StateReason.Message)
	switch {
	case code != "" && msg != "":
		return fmt.Sprintf(": %s: %s", code, msg)
	case msg != "":
		return ": " + msg
	case code != "":
		return ": " + code
	}
	return ""
}

func describeImages(api EC2API) describeFunc[ec2types.Image] {
	return func(ctx context.Context, ids []string) (map[string]ec2types.Image, error) {
		out := make(map[string]ec2types.Image, len(ids))
		for _, c := range chunks(ids) {
			// A filter, not ImageIds: an unknown id would fail the whole call.
			in := &ec2.DescribeImagesInput{Filters: []ec2types.Filter{{Name: aws.String("image-id"), Values: c}}}
			for {
				res, err := api.DescribeImages(ctx, in)
				if err != nil {
					return nil, err
				}
				for _, img := range res.Images {
					out[aws.ToString(img.ImageId)] = img
				}
				if aws.ToString(res.NextToken) == "" {
					break
				}
				in.NextToken = res.NextToken
			}
		}
		return out, nil
	}
}

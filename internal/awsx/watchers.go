package awsx

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
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
	return w.t.wait(ctx, ids, instanceTransition(want), judge)
}

// instanceTransition is the change a wait for want is most likely watching.
func instanceTransition(want []ec2types.InstanceStateName) Transition {
	if len(want) != 1 {
		return ""
	}
	switch want[0] {
	case ec2types.InstanceStateNameRunning:
		return InstanceLaunch
	case ec2types.InstanceStateNameStopped:
		return InstanceStop
	case ec2types.InstanceStateNameTerminated:
		return InstanceTerminate
	}
	return ""
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
	return w.t.wait(ctx, ids, ImageCreate, judge)
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

// CommandWatcher waits for Run Command commands to end. Every command being
// waited on in the process shares one ListCommands per tick: by id while there
// are only a couple, else one listing (in pages of 50) of the commands sent
// since the oldest of them.
type CommandWatcher struct {
	t *ticker[ssmtypes.Command]
	// unavailable is set once ListCommands failed for another reason than
	// throttling (an IAM policy without ssm:ListCommands): the callers poll
	// the invocations on their own then.
	unavailable atomic.Bool

	mu   sync.Mutex
	sent map[string]time.Time
}

// commandsByID is the most commands looked up one by one in a tick; more are
// listed together.
const commandsByID = 2

// commandClockSkew widens the listing's time filter: our clock and AWS's may
// disagree a little.
const commandClockSkew = 5 * time.Minute

// NewCommandWatcher returns a watcher polling api on policy p.
func NewCommandWatcher(api SSMAPI, p Policy) *CommandWatcher {
	w := &CommandWatcher{sent: map[string]time.Time{}}
	w.t = newTicker("command", p, w.list(api), func(c ssmtypes.Command) string { return string(c.Status) })
	return w
}

// SetPolicy changes the polling schedule.
func (w *CommandWatcher) SetPolicy(p Policy) { w.t.setPolicy(p) }

// Wait returns once ListCommands reports the command ended, whatever its
// status; the caller then reads the invocations once. A command that stays
// unlisted past the grace period returns too, and so does any wait once
// ListCommands turned out to be unavailable: the caller's own polling of the
// invocations takes over. An error means ctx ended first.
func (w *CommandWatcher) Wait(ctx context.Context, commandID string) error {
	if w.unavailable.Load() || commandID == "" {
		return nil
	}
	w.mu.Lock()
	w.sent[commandID] = time.Now()
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.sent, commandID)
		w.mu.Unlock()
	}()
	grace := w.t.grace()
	judge := func(id string, c ssmtypes.Command, found bool, age time.Duration) (ssmtypes.Command, bool, error) {
		if !found {
			return c, age > grace, nil
		}
		switch c.Status {
		case ssmtypes.CommandStatusPending, ssmtypes.CommandStatusInProgress, ssmtypes.CommandStatusCancelling:
			return c, false, nil
		}
		return c, true, nil
	}
	_, err := w.t.wait(ctx, []string{commandID}, CommandRun, judge)
	if err != nil && ctx.Err() == nil {
		w.unavailable.Store(true)
		return nil
	}
	return err
}

func (w *CommandWatcher) oldest(ids []string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var t time.Time
	for _, id := range ids {
		if s, ok := w.sent[id]; ok && (t.IsZero() || s.Before(t)) {
			t = s
		}
	}
	if t.IsZero() {
		t = time.Now()
	}
	return t
}

func (w *CommandWatcher) list(api SSMAPI) describeFunc[ssmtypes.Command] {
	return func(ctx context.Context, ids []string) (map[string]ssmtypes.Command, error) {
		out := make(map[string]ssmtypes.Command, len(ids))
		if len(ids) <= commandsByID {
			for _, id := range ids {
				res, err := api.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: aws.String(id)})
				if ErrorCode(err) == "InvalidCommandId" {
					continue // not listed yet right after SendCommand
				}
				if err != nil {
					return nil, err
				}
				for _, c := range res.Commands {
					out[aws.ToString(c.CommandId)] = c
				}
			}
			return out, nil
		}
		want := make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
		}
		since := w.oldest(ids).Add(-commandClockSkew).UTC().Format(time.RFC3339)
		in := &ssm.ListCommandsInput{
			MaxResults: aws.Int32(50),
			Filters:    []ssmtypes.CommandFilter{{Key: ssmtypes.CommandFilterKeyInvokedAfter, Value: aws.String(since)}},
		}
		for {
			res, err := api.ListCommands(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, c := range res.Commands {
				if id := aws.ToString(c.CommandId); want[id] {
					out[id] = c
				}
			}
			if len(out) == len(ids) || aws.ToString(res.NextToken) == "" {
				return out, nil
			}
			in.NextToken = res.NextToken
		}
	}
}

// InstanceInformationAPI is the Systems Manager call that tells which
// instances' agents are online. The SDK client has it; an SSMAPI that lacks it
// (a test fake) leaves the agent watcher out.
type InstanceInformationAPI interface {
	DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, optFns ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
}

var _ InstanceInformationAPI = (*ssm.Client)(nil)

// AgentWatcher waits for the SSM agents of new instances to come online. One
// DescribeInstanceInformation per tick serves every instance being waited on,
// so that each bake then sends its command once, instead of every bake
// probing with SendCommand, whose rate limit they all share.
type AgentWatcher struct {
	t *ticker[ssmtypes.InstanceInformation]
	// unavailable is set once the call failed for another reason than
	// throttling (an emulator without it, an IAM policy without
	// ssm:DescribeInstanceInformation): the callers probe on their own then.
	unavailable atomic.Bool
}

// agentChunk is the most instance ids one DescribeInstanceInformation filters on.
const agentChunk = 50

// NewAgentWatcher returns a watcher polling api on policy p.
func NewAgentWatcher(api InstanceInformationAPI, p Policy) *AgentWatcher {
	w := &AgentWatcher{}
	w.t = newTicker("agent", p, describeAgents(api), func(i ssmtypes.InstanceInformation) string { return string(i.PingStatus) })
	return w
}

// SetPolicy changes the polling schedule.
func (w *AgentWatcher) SetPolicy(p Policy) { w.t.setPolicy(p) }

// WaitManaged waits until the agent of every instance reports Online and
// returns true. It returns false as soon as the call turns out to be
// unavailable: the caller then finds out by sending its command. An error
// means ctx ended first; it says what each agent last looked like.
func (w *AgentWatcher) WaitManaged(ctx context.Context, ids []string) (bool, error) {
	if w.unavailable.Load() {
		return false, nil
	}
	judge := func(id string, info ssmtypes.InstanceInformation, found bool, _ time.Duration) (ssmtypes.InstanceInformation, bool, error) {
		return info, found && info.PingStatus == ssmtypes.PingStatusOnline, nil
	}
	_, err := w.t.wait(ctx, ids, AgentRegistration, judge)
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, err
	}
	w.unavailable.Store(true)
	return false, nil
}

func describeAgents(api InstanceInformationAPI) describeFunc[ssmtypes.InstanceInformation] {
	// No SDK retries: throttles are the watcher's business, and an emulator
	// that does not implement the call should be found out at once.
	once := func(o *ssm.Options) { o.RetryMaxAttempts = 1 }
	return func(ctx context.Context, ids []string) (map[string]ssmtypes.InstanceInformation, error) {
		out := make(map[string]ssmtypes.InstanceInformation, len(ids))
		for len(ids) > 0 {
			c := ids[:min(agentChunk, len(ids))]
			ids = ids[len(c):]
			in := &ssm.DescribeInstanceInformationInput{
				MaxResults: aws.Int32(50),
				InstanceInformationFilterList: []ssmtypes.InstanceInformationFilter{
					{Key: ssmtypes.InstanceInformationFilterKeyInstanceIds, ValueSet: c},
				},
			}
			for {
				res, err := api.DescribeInstanceInformation(ctx, in, once)
				if err != nil && !IsThrottle(err) && ctx.Err() == nil {
					// Not something to wait out: the callers fall back.
					return nil, fmt.Errorf("DescribeInstanceInformation: %v", err)
				}
				if err != nil {
					return nil, err
				}
				for _, i := range res.InstanceInformationList {
					out[aws.ToString(i.InstanceId)] = i
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

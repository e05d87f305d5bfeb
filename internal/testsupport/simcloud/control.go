package simcloud

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

// What a test controls and sees.

// NewInstant returns a cloud for unit tests in which every change is done
// when the call that asked for it returns (see NewManual).
func NewInstant() *Cloud { return NewManual(Instant()) }

// NewManual returns a cloud for unit tests whose transitions take d on a clock
// that moves only with Advance. Calls are answered at once, nothing is rate
// limited, and each call is one attempt: a fault or throttle reaches the
// caller as the SDK hands it over once its own retries are spent.
func NewManual(d Durations) *Cloud {
	limits := NoLimits()
	return New(Config{Durations: d, Scale: 1, Manual: true, Limits: &limits, Attempts: 1})
}

// Call is one API call as the cloud received it.
type Call struct {
	Op     string
	N      int    // its number among the calls of Op, from 1
	Input  any    // the SDK input, e.g. *ec2.TerminateInstancesInput
	Region string // the region its options addressed; "" for the client's own
	CtxErr error  // the error of its context when it was made (a call on a dead context)
	Err    error  // its answer's error
}

func (c *Cloud) record(ctx context.Context, op string, input any, region string) (n, at int) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	c.ops[op]++
	c.log = append(c.log, Call{Op: op, N: c.ops[op], Input: input, Region: region, CtxErr: ctx.Err()})
	return c.ops[op], len(c.log) - 1
}

func (c *Cloud) hooksOf(op string) []func(int, any) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return slices.Clone(c.hooks[op])
}

// Calls lists the calls of the operations named (all when none), in order.
func (c *Cloud) Calls(ops ...string) []Call {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	var out []Call
	for _, call := range c.log {
		if len(ops) == 0 || slices.Contains(ops, call.Op) {
			out = append(out, call)
		}
	}
	return out
}

// Count is how many calls of op were made.
func (c *Cloud) Count(op string) int {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return c.ops[op]
}

// Before runs f before every call of op is answered, with the call's number
// among the calls of op and its input; f runs outside the cloud's locks and
// may use the cloud (Advance, SetInstanceState).
func (c *Cloud) Before(op string, f func(n int, input any)) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	c.hooks[op] = append(c.hooks[op], f)
}

// Inject adds fault rules (package faults); they apply to every call as they
// would through an SDK client's middleware. Services are "EC2", "SSM" and
// "Lambda".
func (c *Cloud) Inject(rules ...faults.Rule) { c.faults.Add(rules...) }

// ClearFaults drops every fault rule.
func (c *Cloud) ClearFaults() { c.faults.Reset() }

// Faults is the injector of the cloud's fault rules.
func (c *Cloud) Faults() *faults.Injector { return c.faults }

// knobs are the cloud's behaviours a test chooses.
type knobs struct {
	launchFails   string                           // instances launched end terminated with this reason
	imageFails    *ec2types.StateReason            // images created end failed with this reason
	outcome       *Outcome                         // how commands sent end
	copyDropsTags bool                             // CopyImage ignores TagSpecifications
	imageFailsIn  map[string]*ec2types.StateReason // by Region, over imageFails
	regions       bool                             // each Region its own (SeparateRegions)
	imagePage     int                              // DescribeImages page size (PageImages)
	invoke        func(*lambda.InvokeInput) (*lambda.InvokeOutput, error)
}

// FailLaunches makes every instance launched from now on end terminated
// instead of running, with reason as its state reason.
func (c *Cloud) FailLaunches(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.knobs.launchFails = reason
}

// FailImages makes every image created or copied from now on end failed
// instead of available, with that state reason.
func (c *Cloud) FailImages(code, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.knobs.imageFails = &ec2types.StateReason{Code: aws.String(code), Message: aws.String(message)}
}

// FailImagesIn is FailImages for the images created or copied in region
// only.
func (c *Cloud) FailImagesIn(region, code, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.knobs.imageFailsIn == nil {
		c.knobs.imageFailsIn = map[string]*ec2types.StateReason{}
	}
	c.knobs.imageFailsIn[ownRegion(region)] = &ec2types.StateReason{Code: aws.String(code), Message: aws.String(message)}
}

// imageFails is how an image made in region ends failed, nil when it does
// not. Caller holds mu.
func (c *Cloud) imageFails(region string) *ec2types.StateReason {
	if r := c.knobs.imageFailsIn[ownRegion(region)]; r != nil {
		return r
	}
	return c.knobs.imageFails
}

// EndCommands makes every command sent from now on end with o.
func (c *Cloud) EndCommands(o Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.knobs.outcome = &o
}

// DropCopyTags makes CopyImage ignore its TagSpecifications, as some EC2
// implementations do.
func (c *Cloud) DropCopyTags() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.knobs.copyDropsTags = true
}

// OnInvoke makes f every Lambda function.
func (c *Cloud) OnInvoke(f func(*lambda.InvokeInput) (*lambda.InvokeOutput, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.knobs.invoke = f
}

// PutParameter stores a Systems Manager parameter, a SecureString when secure.
func (c *Cloud) PutParameter(name, value string, secure bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parameters[name]
	c.parameters[name] = parameter{value: value, secure: secure, version: p.version + 1}
}

// Instance is an instance a test puts in the cloud.
type Instance struct {
	ID          string                     // generated when empty
	State       ec2types.InstanceStateName // running when empty; kept until a call changes it
	ClientToken string
	ImageID     string // what it was launched from
	Reason      string // its state reason, when it is shutting-down or terminated
	Tags        map[string]string
}

// AddInstance puts an instance in the cloud, listed at once. A running one
// has its SSM agent online. Its later transitions and commands take the
// cloud's durations.
func (c *Cloud) AddInstance(in Instance) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	if in.ID == "" {
		in.ID = c.newID("i")
	}
	if in.State == "" {
		in.State = ec2types.InstanceStateNameRunning
	}
	if in.ImageID == "" {
		in.ImageID = "ami-0source"
	}
	inst := &instance{
		id: in.ID, source: in.ImageID, clientToken: in.ClientToken, reason: in.Reason, plan: c.planLocked(in.ImageID),
		created: now.Add(-c.cfg.Durations.Listed), phases: []phase{{in.State, now}}, tags: cloneTags(in.Tags),
	}
	if in.State == ec2types.InstanceStateNameRunning {
		inst.agentAt, inst.registered = now, now
	}
	c.instances[in.ID] = inst
	return in.ID
}

// Image is an image a test puts in the cloud.
type Image struct {
	ID, Name string              // generated when empty
	Owner    string              // the account's when empty
	State    ec2types.ImageState // available when empty; kept as is
	Reason   *ec2types.StateReason
	// Instance is the instance it was made from (SourceInstanceId); its new
	// snapshots are then described as CreateImage's.
	Instance string
	// Snapshots are the ids of the snapshots it is built on: those that
	// exist are shared, the others made. When empty, NewSnapshots new ones are
	// made (one when 0).
	Snapshots    []string
	NewSnapshots int
	Tags         map[string]string
	// SnapshotTags tag its new snapshots.
	SnapshotTags map[string]string
	// Region is where it and its new snapshots live (the cloud's own when
	// empty); it matters after SeparateRegions.
	Region string
	// CopiedFrom and CopiedFromRegion make it a copy, as CopyImage's are
	// (SourceImageId, SourceImageRegion).
	CopiedFrom, CopiedFromRegion string
	Encrypted                    bool // its snapshots are encrypted
	LaunchPermissions            []ec2types.LaunchPermission
	Protection                   string // DeregistrationProtection, e.g. "enabled-without-cooldown"
	// CreationDate and DeprecationTime are what DescribeImages shows,
	// verbatim, when set: for tests of how a caller reads them (the creation
	// date is the clock's otherwise).
	CreationDate, DeprecationTime string
}

// AddImage puts an image in the cloud, listed at once, and returns its id and
// its snapshots'.
func (c *Cloud) AddImage(img Image) (string, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	if img.ID == "" {
		img.ID = c.newID("ami")
	}
	if img.Name == "" {
		img.Name = "image-" + strings.TrimPrefix(img.ID, "ami-")
	}
	if img.Owner == "" {
		img.Owner = Account
	}
	if img.State == "" {
		img.State = ec2types.ImageStateAvailable
	}
	im := &image{
		id: img.ID, name: img.Name, owner: img.Owner, instance: img.Instance, region: ownRegion(img.Region),
		sourceImage: img.CopiedFrom, sourceRegion: img.CopiedFromRegion, encrypted: img.Encrypted,
		created: now.Add(-c.cfg.Durations.Listed), ready: now, fixed: img.State, reason: img.Reason,
		tags: cloneTags(img.Tags), creationText: img.CreationDate, deprecationText: img.DeprecationTime,
	}
	im.sharing.permissions = slices.Clone(img.LaunchPermissions)
	im.sharing.protection = img.Protection
	if img.State == ec2types.ImageStatePending {
		im.fixed = ""
		im.ready = now.Add(time.Duration(1<<62 - 1)) // until SetImageState
	}
	c.images[im.id] = im
	if len(img.Snapshots) == 0 {
		c.newSnapshots(im, max(img.NewSnapshots, 1), img.SnapshotTags)
	}
	for _, id := range img.Snapshots {
		if _, ok := c.snapshots[id]; !ok {
			c.snapshots[id] = &snapshot{id: id, region: im.region, description: describeSnapshot(im), tags: cloneTags(img.SnapshotTags)}
		}
		im.snapshots = append(im.snapshots, id)
	}
	return im.id, slices.Clone(im.snapshots)
}

// SetInstanceState puts an instance in state st at once (the agent is
// online in running, off otherwise); reason is its state reason.
func (c *Cloud) SetInstanceState(id string, st ec2types.InstanceStateName, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst, ok := c.instances[id]
	if !ok {
		return
	}
	now := c.Now()
	inst.phases = []phase{{st, now}}
	inst.reason = reason
	inst.agentAt = time.Time{}
	if st == ec2types.InstanceStateNameRunning {
		inst.agentAt = now
		if inst.registered.IsZero() {
			inst.registered = now
		}
	}
}

// SetImageState puts an image in state st, kept as is.
func (c *Cloud) SetImageState(id string, st ec2types.ImageState, reason *ec2types.StateReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if img, ok := c.images[id]; ok {
		img.fixed, img.reason = st, reason
	}
}

// Remove makes a resource vanish without a trace, as someone else's call
// would: an instance purged, an image deregistered (its snapshots stay), a
// snapshot deleted.
func (c *Cloud) Remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.instances, id)
	delete(c.images, id)
	delete(c.snapshots, id)
}

// Instance returns an instance as DescribeInstances would, now.
func (c *Cloud) Instance(id string) (ec2types.Instance, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst, ok := c.instances[id]
	if !ok {
		return ec2types.Instance{}, false
	}
	return c.instanceView(inst, c.Now()), true
}

// InstanceState is an instance's state now, "" when there is no such instance.
func (c *Cloud) InstanceState(id string) ec2types.InstanceStateName {
	in, ok := c.Instance(id)
	if !ok {
		return ""
	}
	return in.State.Name
}

// Image returns an image as DescribeImages would, now; a deregistered image is
// not found.
func (c *Cloud) Image(id string) (ec2types.Image, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img, ok := c.images[id]
	if !ok {
		return ec2types.Image{}, false
	}
	return c.imageView(img, c.Now()), true
}

// Snapshot returns a snapshot as DescribeSnapshots would.
func (c *Cloud) Snapshot(id string) (ec2types.Snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.snapshots[id]
	if !ok {
		return ec2types.Snapshot{}, false
	}
	return c.snapshotView(s), true
}

// Tags returns a copy of the tags of an instance, image or snapshot; nil when
// there is no such resource.
func (c *Cloud) Tags(id string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	tags, err := c.tagsOf(id)
	if err != nil {
		return nil
	}
	return cloneTags(tags)
}

// Images lists the ids of the registered images; Snapshots those of the
// snapshots.
func (c *Cloud) Images() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedKeys(c.images)
}

// Snapshots lists the ids of the snapshots.
func (c *Cloud) Snapshots() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedKeys(c.snapshots)
}

// LaunchPermissions returns the launch permissions of an image.
func (c *Cloud) LaunchPermissions(id string) []ec2types.LaunchPermission {
	c.mu.Lock()
	defer c.mu.Unlock()
	if img, ok := c.images[id]; ok {
		return slices.Clone(img.sharing.permissions)
	}
	return nil
}

// SnapshotUsers lists the accounts a snapshot's createVolumePermission names.
func (c *Cloud) SnapshotUsers(id string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.snapshots[id]; ok {
		return slices.Sorted(slices.Values(s.volumeUsers))
	}
	return nil
}

// ShareSnapshot gives accounts createVolumePermission on a snapshot, as a
// share made by other means would.
func (c *Cloud) ShareSnapshot(id string, accounts ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.snapshots[id]; ok {
		for _, a := range accounts {
			if !slices.Contains(s.volumeUsers, a) {
				s.volumeUsers = append(s.volumeUsers, a)
			}
		}
	}
}

package actions

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " (fake)"}
}

type fakeInstance struct {
	state ec2types.InstanceStateName
	tags  map[string]string
	token string // the client token it was launched with
}

type fakeImage struct {
	name   string
	state  ec2types.ImageState
	reason string
	snaps  []string
	tags   map[string]string
	region string
	source string // the instance CreateImage made it from
}

// fakeEC2 is a tiny in-memory EC2: enough state for the actions and cleanup to
// be checked by what they leave behind, not only by what they call.
type fakeEC2 struct {
	mu        sync.Mutex
	seq       int
	instances map[string]*fakeInstance
	images    map[string]*fakeImage
	snapshots map[string]map[string]string // id -> tags
	snapDesc  map[string]string            // id -> description kept after its image is gone
	calls     []string

	// knobs
	failOp         map[string]error           // op -> error for every call
	throttle       map[string]int             // op -> calls left to throttle
	failID         map[string]error           // resource id -> error on delete/terminate
	launchFate     ec2types.InstanceStateName // state after the first describe (default running)
	imageFate      ec2types.ImageState        // state after the first describe (default available)
	imageReason    string
	launchButErr   error // RunInstances launches, then answers this error
	imageButErr    error // CreateImage creates, then answers this error
	ignoreCopyTags bool

	runInput    *ec2.RunInstancesInput
	createInput *ec2.CreateImageInput
	copyInput   *ec2.CopyImageInput
	stopInput   *ec2.StopInstancesInput
	tagCalls    []*ec2.CreateTagsInput
}

func newFakeEC2() *fakeEC2 {
	return &fakeEC2{
		instances: map[string]*fakeInstance{},
		images:    map[string]*fakeImage{},
		snapshots: map[string]map[string]string{},
		snapDesc:  map[string]string{},
		failOp:    map[string]error{},
		failID:    map[string]error{},
		throttle:  map[string]int{},
	}
}

func (f *fakeEC2) begin(op string) error {
	f.calls = append(f.calls, op)
	if f.throttle[op] > 0 {
		f.throttle[op]--
		return apiErr("RequestLimitExceeded")
	}
	return f.failOp[op]
}

func (f *fakeEC2) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

func (f *fakeEC2) id(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s-%04d", prefix, f.seq)
}

func specTags(specs []ec2types.TagSpecification, rt ec2types.ResourceType) map[string]string {
	m := map[string]string{}
	for _, s := range specs {
		if s.ResourceType == rt {
			for _, t := range s.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
	}
	return m
}

func (f *fakeEC2) RunInstances(ctx context.Context, in *ec2.RunInstancesInput, _ ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runInput = in
	if err := f.begin("RunInstances"); err != nil {
		return nil, err
	}
	out := &ec2.RunInstancesOutput{}
	for range aws.ToInt32(in.MaxCount) {
		id := f.id("i")
		f.instances[id] = &fakeInstance{state: ec2types.InstanceStateNamePending, tags: specTags(in.TagSpecifications, ec2types.ResourceTypeInstance), token: aws.ToString(in.ClientToken)}
		out.Instances = append(out.Instances, ec2types.Instance{InstanceId: aws.String(id), State: &ec2types.InstanceState{Name: ec2types.InstanceStateNamePending}})
	}
	if f.launchButErr != nil {
		return nil, f.launchButErr
	}
	return out, nil
}

func filterValues(filters []ec2types.Filter, name string) ([]string, bool) {
	for _, fl := range filters {
		if aws.ToString(fl.Name) == name {
			return fl.Values, true
		}
	}
	return nil, false
}

// tagsMatch applies tag:KEY filters.
func tagsMatch(filters []ec2types.Filter, tags map[string]string) bool {
	for _, fl := range filters {
		name := aws.ToString(fl.Name)
		if k, ok := strings.CutPrefix(name, "tag:"); ok {
			if !slices.Contains(fl.Values, tags[k]) {
				return false
			}
		}
	}
	return true
}

func (f *fakeEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DescribeInstances"); err != nil {
		return nil, err
	}
	ids, byID := filterValues(in.Filters, "instance-id")
	states, byState := filterValues(in.Filters, "instance-state-name")
	var res ec2types.Reservation
	keys := make([]string, 0, len(f.instances))
	for id := range f.instances {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	for _, id := range keys {
		inst := f.instances[id]
		if byID && !slices.Contains(ids, id) {
			continue
		}
		if !tagsMatch(in.Filters, inst.tags) {
			continue
		}
		if byState && !slices.Contains(states, string(inst.state)) {
			continue
		}
		// Transitions complete between two looks.
		if inst.state == ec2types.InstanceStateNamePending {
			inst.state = ec2types.InstanceStateNameRunning
			if f.launchFate != "" {
				inst.state = f.launchFate
			}
			res.Instances = append(res.Instances, inst.describe(id, ec2types.InstanceStateNamePending))
			continue
		}
		if inst.state == ec2types.InstanceStateNameStopping {
			inst.state = ec2types.InstanceStateNameStopped
		}
		res.Instances = append(res.Instances, inst.describe(id, inst.state))
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{res}}, nil
}

func (in *fakeInstance) describe(id string, st ec2types.InstanceStateName) ec2types.Instance {
	out := ec2types.Instance{InstanceId: aws.String(id), State: &ec2types.InstanceState{Name: st}, ClientToken: aws.String(in.token)}
	for k, v := range in.tags {
		out.Tags = append(out.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func (f *fakeEC2) change(op string, ids []string, to ec2types.InstanceStateName) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(op); err != nil {
		return err
	}
	for _, id := range ids {
		if err := f.failID[id]; err != nil {
			return err
		}
		if _, ok := f.instances[id]; !ok {
			return apiErr("InvalidInstanceID.NotFound")
		}
	}
	for _, id := range ids {
		f.instances[id].state = to
	}
	return nil
}

func (f *fakeEC2) StartInstances(ctx context.Context, in *ec2.StartInstancesInput, _ ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error) {
	return &ec2.StartInstancesOutput{}, f.change("StartInstances", in.InstanceIds, ec2types.InstanceStateNameRunning)
}

func (f *fakeEC2) StopInstances(ctx context.Context, in *ec2.StopInstancesInput, _ ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	f.mu.Lock()
	f.stopInput = in
	f.mu.Unlock()
	return &ec2.StopInstancesOutput{}, f.change("StopInstances", in.InstanceIds, ec2types.InstanceStateNameStopping)
}

func (f *fakeEC2) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return &ec2.TerminateInstancesOutput{}, f.change("TerminateInstances", in.InstanceIds, ec2types.InstanceStateNameTerminated)
}

func (f *fakeEC2) newImage(region string, tags map[string]string) string {
	id := f.id("ami")
	snap := f.id("snap")
	f.snapshots[snap] = map[string]string{}
	f.images[id] = &fakeImage{state: ec2types.ImageStatePending, snaps: []string{snap}, tags: tags, region: region}
	return id
}

func (f *fakeEC2) CreateImage(ctx context.Context, in *ec2.CreateImageInput, _ ...func(*ec2.Options)) (*ec2.CreateImageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createInput = in
	if err := f.begin("CreateImage"); err != nil {
		return nil, err
	}
	if _, ok := f.instances[aws.ToString(in.InstanceId)]; !ok {
		return nil, apiErr("InvalidInstanceID.NotFound")
	}
	id := f.newImage("", specTags(in.TagSpecifications, ec2types.ResourceTypeImage))
	f.images[id].name = aws.ToString(in.Name)
	f.images[id].source = aws.ToString(in.InstanceId)
	if f.imageButErr != nil {
		return nil, f.imageButErr
	}
	return &ec2.CreateImageOutput{ImageId: aws.String(id)}, nil
}

func (f *fakeEC2) CopyImage(ctx context.Context, in *ec2.CopyImageInput, opts ...func(*ec2.Options)) (*ec2.CopyImageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.copyInput = in
	if err := f.begin("CopyImage"); err != nil {
		return nil, err
	}
	tags := specTags(in.TagSpecifications, ec2types.ResourceTypeImage)
	if f.ignoreCopyTags {
		tags = map[string]string{}
	}
	return &ec2.CopyImageOutput{ImageId: aws.String(f.newImage("", tags))}, nil
}

func regionOf(opts []func(*ec2.Options)) string {
	var o ec2.Options
	for _, fn := range opts {
		fn(&o)
	}
	return o.Region
}

func (f *fakeEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DescribeImages"); err != nil {
		return nil, err
	}
	ids, byID := filterValues(in.Filters, "image-id")
	if len(in.ImageIds) > 0 {
		ids, byID = in.ImageIds, true
	}
	out := &ec2.DescribeImagesOutput{}
	keys := make([]string, 0, len(f.images))
	for id := range f.images {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	for _, id := range keys {
		img := f.images[id]
		if byID && !slices.Contains(ids, id) || !tagsMatch(in.Filters, img.tags) {
			continue
		}
		if names, ok := filterValues(in.Filters, "name"); ok && !slices.Contains(names, img.name) {
			continue
		}
		seen := img.state
		if img.state == ec2types.ImageStatePending {
			img.state = ec2types.ImageStateAvailable
			if f.imageFate != "" {
				img.state, img.reason = f.imageFate, f.imageReason
			}
		}
		e := ec2types.Image{ImageId: aws.String(id), State: seen, Name: aws.String("img"), SourceInstanceId: aws.String(img.source)}
		if seen == ec2types.ImageStateFailed {
			e.StateReason = &ec2types.StateReason{Code: aws.String("Client.InternalError"), Message: aws.String(img.reason)}
		}
		for _, s := range img.snaps {
			e.BlockDeviceMappings = append(e.BlockDeviceMappings, ec2types.BlockDeviceMapping{DeviceName: aws.String("/dev/xvda"), Ebs: &ec2types.EbsBlockDevice{SnapshotId: aws.String(s)}})
		}
		for k, v := range img.tags {
			e.Tags = append(e.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		out.Images = append(out.Images, e)
	}
	return out, nil
}

func (f *fakeEC2) DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, opts ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "DeregisterImage@"+regionOf(opts))
	if err := f.begin("DeregisterImage"); err != nil {
		return nil, err
	}
	id := aws.ToString(in.ImageId)
	if err := f.failID[id]; err != nil {
		return nil, err
	}
	img, ok := f.images[id]
	if !ok {
		return nil, apiErr("InvalidAMIID.NotFound")
	}
	for _, s := range img.snaps {
		if img.source != "" {
			f.snapDesc[s] = fmt.Sprintf("Created by CreateImage(%s) for %s", img.source, id)
		}
	}
	delete(f.images, id)
	return &ec2.DeregisterImageOutput{}, nil
}

func (f *fakeEC2) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteTags"); err != nil {
		return nil, err
	}
	for _, r := range in.Resources {
		m, ok := f.tagsOf(r)
		if !ok {
			return nil, apiErr("InvalidID")
		}
		for _, t := range in.Tags {
			delete(m, aws.ToString(t.Key))
		}
	}
	return &ec2.DeleteTagsOutput{}, nil
}

// tagsOf is the tag map of an instance, image or snapshot; the caller holds f.mu.
func (f *fakeEC2) tagsOf(id string) (map[string]string, bool) {
	switch {
	case f.instances[id] != nil:
		return f.instances[id].tags, true
	case f.images[id] != nil:
		return f.images[id].tags, true
	case f.snapshots[id] != nil:
		return f.snapshots[id], true
	}
	return nil, false
}

func (f *fakeEC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tagCalls = append(f.tagCalls, in)
	if err := f.begin("CreateTags"); err != nil {
		return nil, err
	}
	for _, r := range in.Resources {
		m, ok := f.tagsOf(r)
		if !ok {
			return nil, apiErr("InvalidID")
		}
		for _, t := range in.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return &ec2.CreateTagsOutput{}, nil
}

func (f *fakeEC2) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DescribeSnapshots"); err != nil {
		return nil, err
	}
	out := &ec2.DescribeSnapshotsOutput{}
	ids, byID := filterValues(in.Filters, "snapshot-id")
	for id, tags := range f.snapshots {
		if byID && !slices.Contains(ids, id) || !tagsMatch(in.Filters, tags) {
			continue
		}
		s := ec2types.Snapshot{SnapshotId: aws.String(id)}
		// AWS describes what CreateImage made; the description cannot be changed.
		for imgID, img := range f.images {
			if slices.Contains(img.snaps, id) && img.source != "" {
				s.Description = aws.String(fmt.Sprintf("Created by CreateImage(%s) for %s", img.source, imgID))
			}
		}
		if d, ok := f.snapDesc[id]; ok {
			s.Description = aws.String(d)
		}
		for k, v := range tags {
			s.Tags = append(s.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		out.Snapshots = append(out.Snapshots, s)
	}
	return out, nil
}

func (f *fakeEC2) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, _ ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteSnapshot"); err != nil {
		return nil, err
	}
	id := aws.ToString(in.SnapshotId)
	if err := f.failID[id]; err != nil {
		return nil, err
	}
	if _, ok := f.snapshots[id]; !ok {
		return nil, apiErr("InvalidSnapshot.NotFound")
	}
	for imgID, img := range f.images {
		if slices.Contains(img.snaps, id) {
			return nil, &smithy.GenericAPIError{Code: "InvalidSnapshot.InUse",
				Message: fmt.Sprintf("The snapshot %s is currently in use by %s", id, imgID)}
		}
	}
	delete(f.snapshots, id)
	return &ec2.DeleteSnapshotOutput{}, nil
}

// fakeSSM scripts SendCommand and the invocation's progress.
type fakeSSM struct {
	mu         sync.Mutex
	notManaged int // SendCommand answers InvalidInstanceId this many times
	sends      int
	polls      map[string]int
	status     ssmtypes.CommandInvocationStatus
	stdout     string
	stderr     string
	code       int32
	sendInput  *ssm.SendCommandInput
	cancelled  []string
	tagged     []*ssm.AddTagsToResourceInput
}

func (s *fakeSSM) SendCommand(ctx context.Context, in *ssm.SendCommandInput, _ ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	s.sendInput = in
	if s.sends <= s.notManaged {
		return nil, apiErr("InvalidInstanceId")
	}
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String("cmd-1")}}, nil
}

func (s *fakeSSM) GetCommandInvocation(ctx context.Context, in *ssm.GetCommandInvocationInput, _ ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.polls == nil {
		s.polls = map[string]int{}
	}
	id := aws.ToString(in.InstanceId)
	s.polls[id]++
	switch s.polls[id] {
	case 1:
		return nil, apiErr("InvocationDoesNotExist")
	case 2:
		return &ssm.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatusInProgress}, nil
	}
	st := s.status
	if st == "" {
		st = ssmtypes.CommandInvocationStatusSuccess
	}
	return &ssm.GetCommandInvocationOutput{
		Status: st, StatusDetails: aws.String(string(st)), ResponseCode: s.code,
		StandardOutputContent: aws.String(s.stdout), StandardErrorContent: aws.String(s.stderr),
	}, nil
}

func (s *fakeSSM) ListCommandInvocations(ctx context.Context, in *ssm.ListCommandInvocationsInput, _ ...func(*ssm.Options)) (*ssm.ListCommandInvocationsOutput, error) {
	return nil, apiErr("NotImplemented")
}

func (s *fakeSSM) ListCommands(ctx context.Context, in *ssm.ListCommandsInput, _ ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error) {
	return &ssm.ListCommandsOutput{Commands: []ssmtypes.Command{{CommandId: in.CommandId, Status: ssmtypes.CommandStatusSuccess}}}, nil
}

func (s *fakeSSM) CancelCommand(ctx context.Context, in *ssm.CancelCommandInput, _ ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelled = append(s.cancelled, aws.ToString(in.CommandId))
	return &ssm.CancelCommandOutput{}, nil
}

func (s *fakeSSM) AddTagsToResource(ctx context.Context, in *ssm.AddTagsToResourceInput, _ ...func(*ssm.Options)) (*ssm.AddTagsToResourceOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tagged = append(s.tagged, in)
	return &ssm.AddTagsToResourceOutput{}, nil
}

func (s *fakeSSM) GetParameter(ctx context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	return nil, apiErr("ParameterNotFound")
}

type fakeLambda struct {
	in  *lambda.InvokeInput
	out *lambda.InvokeOutput
}

func (l *fakeLambda) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	l.in = in
	return l.out, nil
}

type logLine struct {
	msg    string
	fields map[string]any
}

type memLog struct {
	mu    sync.Mutex
	lines []logLine
}

func (l *memLog) Info(msg string, fields map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logLine{msg, fields})
}

func (l *memLog) has(field, value string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.lines {
		if fmt.Sprint(ln.fields[field]) == value {
			return true
		}
	}
	return false
}

// testPolicy keeps waits in milliseconds.
var testPolicy = awsx.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2}

var runTags = map[string]string{"amibake:execution-id": "exec-1", "amibake:managed": "true", "team": "platform"}

type world struct {
	ec2    *fakeEC2
	ssm    *fakeSSM
	lambda *fakeLambda
	log    *memLog
	env    *Env
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{ec2: newFakeEC2(), ssm: &fakeSSM{}, lambda: &fakeLambda{}, log: &memLog{}}
	c := &awsx.Clients{
		EC2: w.ec2, SSM: w.ssm, Lambda: w.lambda,
		Raw:    map[string]any{"ec2": w.ec2, "ssm": w.ssm},
		Region: "us-east-1", AccountID: "123456789012", Partition: "aws",
		Policy: testPolicy,
	}
	c.NewWatchers()
	w.env = &Env{Clients: c, Ledger: NewLedger(), Tags: runTags, ExecutionID: "exec-1", Log: w.log}
	return w
}

// launch puts a running instance in the fake and the ledger.
func (w *world) launch(t *testing.T) string {
	t.Helper()
	w.ec2.mu.Lock()
	id := w.ec2.id("i")
	w.ec2.instances[id] = &fakeInstance{state: ec2types.InstanceStateNameRunning, tags: map[string]string{}}
	w.ec2.mu.Unlock()
	w.env.Ledger.RecordInstance(id)
	return id
}

// image puts an available image with one snapshot in the fake.
func (w *world) image(t *testing.T, tags map[string]string) (string, string) {
	t.Helper()
	w.ec2.mu.Lock()
	defer w.ec2.mu.Unlock()
	if tags == nil {
		tags = map[string]string{}
	}
	id := w.ec2.newImage("", tags)
	w.ec2.images[id].state = ec2types.ImageStateAvailable
	snap := w.ec2.images[id].snaps[0]
	for k, v := range tags {
		w.ec2.snapshots[snap][k] = v
	}
	return id, snap
}

func (f *fakeSSM) GetDocument(_ context.Context, in *ssm.GetDocumentInput, _ ...func(*ssm.Options)) (*ssm.GetDocumentOutput, error) {
	return nil, &ssmtypes.InvalidDocument{Message: aws.String("no document " + aws.ToString(in.Name))}
}

// put adds an instance launched with token and tagged tags, outside the ledger.
func (w *world) put(t *testing.T, token string, st ec2types.InstanceStateName, tags map[string]string) string {
	t.Helper()
	w.ec2.mu.Lock()
	defer w.ec2.mu.Unlock()
	id := w.ec2.id("i")
	w.ec2.instances[id] = &fakeInstance{state: st, tags: maps.Clone(tags), token: token}
	return id
}

// imageFrom adds an available image made from instance, with one snapshot,
// both tagged tags, outside the ledger.
func (w *world) imageFrom(t *testing.T, instance string, tags map[string]string) (string, string) {
	t.Helper()
	id, snap := w.image(t, maps.Clone(tags))
	w.ec2.mu.Lock()
	defer w.ec2.mu.Unlock()
	w.ec2.images[id].source = instance
	return id, snap
}

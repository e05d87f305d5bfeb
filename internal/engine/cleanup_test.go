package engine

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// fakeEC2 keeps instances and images in memory and records the calls that
// remove them, with whether their context was already done.
type fakeEC2 struct {
	awsx.EC2API

	mu        sync.Mutex
	instances map[string]ec2types.InstanceStateName
	images    map[string]ec2types.Image
	snapshots map[string]bool
	calls     []string
	deadCtx   []string // calls made with a done context
	// denyTerminate fails TerminateInstances for these ids.
	denyTerminate []string
}

func newFakeEC2() *fakeEC2 {
	return &fakeEC2{instances: map[string]ec2types.InstanceStateName{}, images: map[string]ec2types.Image{}, snapshots: map[string]bool{}}
}

func (f *fakeEC2) record(ctx context.Context, call string) {
	f.calls = append(f.calls, call)
	if ctx.Err() != nil {
		f.deadCtx = append(f.deadCtx, call)
	}
}

// launch and bake are what the fake runInstances and createImage actions do.
func (f *fakeEC2) launch(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances[id] = ec2types.InstanceStateNameRunning
}

func (f *fakeEC2) bake(id, snap string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images[id] = ec2types.Image{ImageId: aws.String(id), State: ec2types.ImageStateAvailable,
		BlockDeviceMappings: []ec2types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &ec2types.EbsBlockDevice{SnapshotId: aws.String(snap)}}}}
	f.snapshots[snap] = true
}

func (f *fakeEC2) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(ctx, "TerminateInstances "+strings.Join(in.InstanceIds, ","))
	for _, id := range in.InstanceIds {
		if slices.Contains(f.denyTerminate, id) {
			return nil, &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation."}
		}
		if _, ok := f.instances[id]; !ok {
			return nil, &smithy.GenericAPIError{Code: "InvalidInstanceID.NotFound", Message: "The instance ID '" + id + "' does not exist"}
		}
	}
	for _, id := range in.InstanceIds {
		f.instances[id] = ec2types.InstanceStateNameTerminated
	}
	return &ec2.TerminateInstancesOutput{}, nil
}

// DescribeInstances lists nothing: the fake's instances carry no tags, so the
// search by execution id at cleanup finds only what the ledger knows.
func (f *fakeEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(ctx, "DescribeInstances")
	return &ec2.DescribeInstancesOutput{}, nil
}

func (f *fakeEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := slices.Clone(in.ImageIds)
	for _, fl := range in.Filters {
		if aws.ToString(fl.Name) == "image-id" {
			ids = append(ids, fl.Values...)
		}
	}
	f.record(ctx, "DescribeImages "+strings.Join(ids, ","))
	out := &ec2.DescribeImagesOutput{}
	for _, id := range ids {
		if img, ok := f.images[id]; ok {
			out.Images = append(out.Images, img)
		}
	}
	return out, nil
}

func (f *fakeEC2) DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, _ ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := aws.ToString(in.ImageId)
	f.record(ctx, "DeregisterImage "+id)
	if _, ok := f.images[id]; !ok {
		return nil, &smithy.GenericAPIError{Code: "InvalidAMIID.NotFound", Message: "The image id '[" + id + "]' does not exist"}
	}
	delete(f.images, id)
	return &ec2.DeregisterImageOutput{}, nil
}

func (f *fakeEC2) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, _ ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := aws.ToString(in.SnapshotId)
	f.record(ctx, "DeleteSnapshot "+id)
	if !f.snapshots[id] {
		return nil, &smithy.GenericAPIError{Code: "InvalidSnapshot.NotFound", Message: "The snapshot '" + id + "' does not exist."}
	}
	delete(f.snapshots, id)
	return &ec2.DeleteSnapshotOutput{}, nil
}

// removals lists the calls that remove something, in order.
func (f *fakeEC2) removals() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if !strings.HasPrefix(c, "Describe") && !strings.HasPrefix(c, "CreateTags") {
			out = append(out, c)
		}
	}
	return out
}

func fakeClients(f *fakeEC2) *awsx.Clients {
	c := &awsx.Clients{EC2: f, Region: "eu-west-1", AccountID: "123456789012", Partition: "aws",
		Policy: awsx.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2}}
	c.NewWatchers()
	return c
}

// bakeScript launches i-1 and makes ami-1 (snapshot snap-1) in the fake cloud,
// then runs the step "last" as given.
func bakeScript(f *fakeEC2, last fakeAction) *script {
	return &script{behaviour: map[string]fakeAction{
		"launch": func(_ context.Context, env *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
			f.launch("i-1")
			env.Ledger.RecordInstance("i-1")
			return actions.Result{Outputs: map[string]any{"InstanceIds": []string{"i-1"}}}, nil
		},
		"image": func(_ context.Context, env *actions.Env, _ *document.Step, in map[string]any) (actions.Result, error) {
			if in["InstanceId"] != "i-1" {
				return actions.Result{}, errors.New("wrong instance")
			}
			f.bake("ami-1", "snap-1")
			env.Ledger.RecordImage(env.Clients.Region, "ami-1")
			env.Ledger.RecordSnapshots("ami-1", []string{"snap-1"})
			return actions.Result{Outputs: map[string]any{"ImageId": "ami-1", "ImageState": "available"}}, nil
		},
		"last": last,
	}}
}

func bakeDoc() *document.Document {
	return doc(
		step("launch", "aws:runInstances", inputs(map[string]any{"ImageId": "ami-base"})),
		step("image", "aws:createImage", inputs(map[string]any{"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "baked"})),
		step("last", "aws:createTags"),
	)
}

func TestRunCleanup(t *testing.T) {
	tests := []struct {
		name         string
		last         fakeAction
		keep         bool
		wantErr      string
		wantRemovals []string
		wantImages   []ami.Record
		wantFailed   bool
		// wantCleaned is what the cleanup event reports as deregistered.
		wantCleaned []string
	}{
		{
			name:         "success keeps the image and terminates the builder",
			last:         outputs(nil),
			wantRemovals: []string{"TerminateInstances i-1"},
			wantImages:   []ami.Record{{Region: "eu-west-1", ID: "ami-1", Snapshots: []string{"snap-1"}}},
		},
		{
			name:         "failure deregisters the image and deletes its snapshots",
			last:         fails("tagging failed"),
			wantErr:      `step "last" (aws:createTags) failed: tagging failed`,
			wantRemovals: []string{"TerminateInstances i-1", "DeregisterImage ami-1", "DeleteSnapshot snap-1"},
			wantFailed:   true,
			wantCleaned:  []string{"ami-1"},
		},
		{
			name:         "keep_builder_instances on failure",
			last:         fails("tagging failed"),
			keep:         true,
			wantErr:      `step "last" (aws:createTags) failed: tagging failed`,
			wantRemovals: []string{"DeregisterImage ami-1", "DeleteSnapshot snap-1"},
			wantFailed:   true,
			wantCleaned:  []string{"ami-1"},
		},
		{
			name: "an image the run deleted itself is not touched again",
			last: func(ctx context.Context, env *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
				if err := ami.Delete(ctx, env.Clients, "", "ami-1", true); err != nil {
					return actions.Result{}, err
				}
				env.Ledger.ImageDeleted("ami-1")
				return actions.Result{}, errors.New("later failure")
			},
			wantErr:      "later failure",
			wantRemovals: []string{"DeregisterImage ami-1", "DeleteSnapshot snap-1", "TerminateInstances i-1"},
			wantFailed:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEC2()
			ev := &events{}
			o := options(bakeScript(f, tt.last), ev)
			o.Clients = fakeClients(f)
			o.KeepBuilderInstances = tt.keep
			res, err := Run(context.Background(), bakeDoc(), nil, o)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if got := f.removals(); !reflect.DeepEqual(got, tt.wantRemovals) {
				t.Errorf("removals %v, want %v", got, tt.wantRemovals)
			}
			if !reflect.DeepEqual(res.Images, tt.wantImages) {
				t.Errorf("Images = %+v, want %+v", res.Images, tt.wantImages)
			}
			if !reflect.DeepEqual(res.Instances, []string{"i-1"}) || len(res.Leftovers) != 0 {
				t.Errorf("Instances = %v, Leftovers = %v", res.Instances, res.Leftovers)
			}
			if wantState := map[bool]ec2types.InstanceStateName{true: "running", false: "terminated"}[tt.keep]; f.instances["i-1"] != wantState {
				t.Errorf("builder instance is %s, want %s", f.instances["i-1"], wantState)
			}
			if _, ok := f.images["ami-1"]; ok == tt.wantFailed {
				t.Errorf("image exists = %v after a run that failed = %v", ok, tt.wantFailed)
			}
			cl := ev.of(EventCleanup)
			if len(cl) != 1 || cl[0].Fields["run_failed"] != tt.wantFailed {
				t.Fatalf("cleanup events = %+v", cl)
			}
			if got, _ := cl[0].Fields["deregistered"].([]string); !reflect.DeepEqual(got, tt.wantCleaned) {
				t.Errorf("cleanup event deregistered %v, want %v", got, tt.wantCleaned)
			}
		})
	}
}

func TestRunCleanupAfterCancellationUsesLiveContext(t *testing.T) {
	f := newFakeEC2()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := bakeScript(f, func(ctx context.Context, _ *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
		cancel() // Ctrl-C while the last step waits
		<-ctx.Done()
		return actions.Result{}, ctx.Err()
	})
	o := options(s, nil)
	o.Clients = fakeClients(f)
	res, err := Run(ctx, bakeDoc(), nil, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := statuses(res); !reflect.DeepEqual(got, []string{"launch:Success", "image:Success", "last:Cancelled"}) {
		t.Errorf("steps %v", got)
	}
	if want := []string{"TerminateInstances i-1", "DeregisterImage ami-1", "DeleteSnapshot snap-1"}; !reflect.DeepEqual(f.removals(), want) {
		t.Errorf("removals %v, want %v", f.removals(), want)
	}
	if len(f.deadCtx) != 0 {
		t.Errorf("calls made on a cancelled context: %v", f.deadCtx)
	}
	if f.instances["i-1"] != ec2types.InstanceStateNameTerminated || len(f.images) != 0 || len(f.snapshots) != 0 {
		t.Errorf("left in the cloud: instances %v, images %v, snapshots %v", f.instances, f.images, f.snapshots)
	}
}

func TestRunLeftovers(t *testing.T) {
	tests := []struct {
		name    string
		last    fakeAction
		wantErr []string
	}{
		{"after success", outputs(nil), []string{"cleanup could not remove instance i-1 in eu-west-1 (UnauthorizedOperation: You are not authorized to perform this operation.)"}},
		{"after failure", fails("boom"), []string{`step "last" (aws:createTags) failed: boom; cleanup could not remove instance i-1 in eu-west-1 (UnauthorizedOperation:`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEC2()
			f.denyTerminate = []string{"i-1"}
			o := options(bakeScript(f, tt.last), nil)
			o.Clients = fakeClients(f)
			res, err := Run(context.Background(), bakeDoc(), nil, o)
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want it to contain %q", err, want)
				}
			}
			var ce *CleanupError
			if !errors.As(err, &ce) || !reflect.DeepEqual(ce.Leftovers, []string{"i-1"}) {
				t.Errorf("CleanupError = %+v", ce)
			}
			if !reflect.DeepEqual(res.Leftovers, []string{"i-1"}) {
				t.Errorf("Leftovers = %v", res.Leftovers)
			}
		})
	}
}

// CreateTags records the tags set (the lease, the kept mark) by resource.
func (f *fakeEC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range in.Tags {
		f.record(ctx, "CreateTags "+aws.ToString(t.Key)+"="+aws.ToString(t.Value)+" "+strings.Join(in.Resources, ","))
	}
	return &ec2.CreateTagsOutput{}, nil
}

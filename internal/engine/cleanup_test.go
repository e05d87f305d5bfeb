package engine

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

// cloud is the simulated cloud of a run: the scripted actions put their
// instances and images there as the real ones would, and the run's calls are
// read back from its log.
type cloud struct{ *simcloud.Cloud }

func newCloud() cloud { return cloud{simcloud.NewInstant()} }

// launch and bake are what the scripted runInstances and createImage actions do.
func (c cloud) launch(id string) { c.AddInstance(simcloud.Instance{ID: id}) }

func (c cloud) bake(id, snap string) { c.AddImage(simcloud.Image{ID: id, Snapshots: []string{snap}}) }

// has reports whether an image or snapshot is still there.
func (c cloud) has(id string) bool {
	if _, ok := c.Image(id); ok {
		return true
	}
	_, ok := c.Snapshot(id)
	return ok
}

// removals lists the calls that remove something, in order, with what they
// name.
func (c cloud) removals() []string {
	var out []string
	for _, call := range c.Calls("TerminateInstances", "DeregisterImage", "DeleteSnapshot") {
		switch in := call.Input.(type) {
		case *ec2.TerminateInstancesInput:
			out = append(out, call.Op+" "+strings.Join(in.InstanceIds, ","))
		case *ec2.DeregisterImageInput:
			out = append(out, call.Op+" "+aws.ToString(in.ImageId))
		case *ec2.DeleteSnapshotInput:
			out = append(out, call.Op+" "+aws.ToString(in.SnapshotId))
		}
	}
	return out
}

// deadCtx lists the calls made with a context already done.
func (c cloud) deadCtx() []string {
	var out []string
	for _, call := range c.Calls() {
		if call.CtxErr != nil {
			out = append(out, call.Op)
		}
	}
	return out
}

// clients is the run's client bundle over the cloud, in eu-west-1.
func (c cloud) clients() *awsx.Clients {
	cl := c.Clients(awsx.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2})
	cl.Region = "eu-west-1"
	return cl
}

// bakeScript launches i-1 and makes ami-1 (snapshot snap-1) in the fake cloud,
// then runs the step "last" as given.
func bakeScript(f cloud, last fakeAction) *script {
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
			f := newCloud()
			ev := &events{}
			o := options(bakeScript(f, tt.last), ev)
			o.Clients = f.clients()
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
			if wantState := map[bool]ec2types.InstanceStateName{true: "running", false: "terminated"}[tt.keep]; f.InstanceState("i-1") != wantState {
				t.Errorf("builder instance is %s, want %s", f.InstanceState("i-1"), wantState)
			}
			if ok := f.has("ami-1"); ok == tt.wantFailed {
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
	f := newCloud()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := bakeScript(f, func(ctx context.Context, _ *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
		cancel() // Ctrl-C while the last step waits
		<-ctx.Done()
		return actions.Result{}, ctx.Err()
	})
	o := options(s, nil)
	o.Clients = f.clients()
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
	if dead := f.deadCtx(); len(dead) != 0 {
		t.Errorf("calls made on a cancelled context: %v", dead)
	}
	if f.InstanceState("i-1") != ec2types.InstanceStateNameTerminated || len(f.Images()) != 0 || len(f.Snapshots()) != 0 {
		t.Errorf("left in the cloud: i-1 %s, images %v, snapshots %v", f.InstanceState("i-1"), f.Images(), f.Snapshots())
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
			f := newCloud()
			f.Inject(faults.Rule{Operation: "TerminateInstances", To: -1, Code: "UnauthorizedOperation", Status: 403,
				Message: "You are not authorized to perform this operation."}.Only(faults.Naming("i-1")))
			o := options(bakeScript(f, tt.last), nil)
			o.Clients = f.clients()
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

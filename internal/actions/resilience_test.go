package actions

import (
	"context"
	"slices"
	"testing"
	"time"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

// stormLength exceeds what the SDK's own retries absorb (3 attempts).
const stormLength = 5

// TestThrottlingNeverFails: a throttle storm on any call that creates or
// removes something slows it down and never fails it.
func TestThrottlingNeverFails(t *testing.T) {
	tests := []struct {
		op  string
		run func(t *testing.T, w *world) error
		// check looks at the cloud after the call.
		check func(t *testing.T, w *world)
	}{
		{"RunInstances", func(t *testing.T, w *world) error {
			_, err := run(t, w, "aws:runInstances", map[string]any{"ImageId": "ami-base"})
			return err
		}, func(t *testing.T, w *world) {
			if n := len(w.env.Ledger.Instances()); n != 1 {
				t.Errorf("%d instances recorded, want 1", n)
			}
		}},
		{"CreateImage", func(t *testing.T, w *world) error {
			_, err := run(t, w, "aws:createImage", map[string]any{"InstanceId": w.launch(t), "ImageName": "golden"})
			return err
		}, func(t *testing.T, w *world) {
			if n := len(w.env.Ledger.Images()); n != 1 {
				t.Errorf("%d images recorded, want 1", n)
			}
		}},
		{"CreateTags", func(t *testing.T, w *world) error {
			id, _ := w.image(t, nil)
			_, err := run(t, w, "aws:createTags", map[string]any{"ResourceIds": []any{id}, "Tags": []any{map[string]any{"Key": "k", "Value": "v"}}})
			return err
		}, nil},
		{"TerminateInstances", func(t *testing.T, w *world) error {
			w.launch(t)
			_, err := Cleanup(context.Background(), w.env, CleanupOptions{TerminateInstances: true})
			return err
		}, func(t *testing.T, w *world) {
			for _, r := range w.env.Ledger.Instances() {
				if st := w.cloud.InstanceState(r.ID); st != ec2types.InstanceStateNameTerminated {
					t.Errorf("instance %s is %s", r.ID, st)
				}
			}
		}},
		{"DeregisterImage", func(t *testing.T, w *world) error {
			id, snap := w.image(t, nil)
			w.env.Ledger.RecordImage("us-east-1", id)
			w.env.Ledger.RecordSnapshots(id, []string{snap})
			_, err := Cleanup(context.Background(), w.env, CleanupOptions{DeleteImages: true})
			return err
		}, func(t *testing.T, w *world) {
			if images, snaps := w.cloud.Images(), w.cloud.Snapshots(); len(images)+len(snaps) != 0 {
				t.Errorf("left images %v and snapshots %v", images, snaps)
			}
		}},
		{"DescribeImages", func(t *testing.T, w *world) error {
			_, err := Sweep(context.Background(), w.env, SweepOptions{TagKey: "amibake:bake-key", TagValue: "k", ExecutionTag: "amibake:execution-id", Now: time.Now()})
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			w := newWorld(t)
			w.cloud.Inject(faults.ThrottleStorm(tt.op, 1, stormLength))
			if err := tt.run(t, w); err != nil {
				t.Fatalf("throttling failed the call: %v", err)
			}
			if n := w.cloud.Faults().Injected(); n != stormLength {
				t.Fatalf("the storm was not reached (%d of %d throttles)", n, stormLength)
			}
			if tt.check != nil {
				tt.check(t, w)
			}
		})
	}
}

// TestDiscoverFindsUnrecordedResources: what carries the run's execution id but
// never reached the ledger (an answer lost, no recovery) is found at cleanup.
func TestDiscoverFindsUnrecordedResources(t *testing.T) {
	w := newWorld(t)
	known := w.launch(t)
	mine := map[string]string{"amibake:execution-id": "exec-1"}
	lost := w.put(t, LaunchToken("exec-1", ""), ec2types.InstanceStateNameRunning, mine)
	done := w.put(t, LaunchToken("exec-1", ""), ec2types.InstanceStateNameTerminated, mine)
	other := w.put(t, LaunchToken("exec-2", ""), ec2types.InstanceStateNameRunning, map[string]string{"amibake:execution-id": "exec-2"})
	// Someone tags an instance of theirs with this run's id: a tag is no proof.
	forged := w.put(t, "their-token", ec2types.InstanceStateNameRunning, mine)
	lostImage, lostSnap := w.imageFrom(t, lost, mine)
	otherImage, _ := w.imageFrom(t, other, map[string]string{"amibake:execution-id": "exec-2"})
	forgedImage, _ := w.imageFrom(t, forged, mine)

	found, err := Discover(context.Background(), w.env, "amibake:execution-id")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(found, []string{lostImage}) {
		t.Errorf("found images %v, want [%s] (not %s nor the forged %s)", found, lostImage, otherImage, forgedImage)
	}
	var ids []string
	for _, r := range w.env.Ledger.Instances() {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(sorted(ids), sorted([]string{known, lost})) {
		t.Errorf("ledger instances %v, want %s and %s (not the terminated %s, %s of another run, nor the forged %s)", ids, known, lost, done, other, forged)
	}
	imgs := w.env.Ledger.Images()
	if len(imgs) != 1 || imgs[0].ID != lostImage || !slices.Equal(imgs[0].Snapshots, []string{lostSnap}) {
		t.Errorf("ledger images %+v", imgs)
	}

	// Listing failures are reported, not fatal.
	w.cloud.Inject(faults.FailCalls("DescribeInstances", 1, -1, "UnauthorizedOperation", 403))
	if _, err := Discover(context.Background(), w.env, "amibake:execution-id"); err == nil {
		t.Error("a failed listing is not reported")
	}
}

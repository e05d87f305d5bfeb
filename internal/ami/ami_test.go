package ami

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

func TestFindByID(t *testing.T) {
	c := newCloud()
	c.AddImage(simcloud.Image{ID: "ami-1", Snapshots: []string{"snap-1"}})
	c.AddImage(simcloud.Image{ID: "ami-bad", State: ec2types.ImageStateFailed})
	c.AddImage(simcloud.Image{ID: "ami-gone", State: ec2types.ImageStateDeregistered})
	tests := []struct {
		id        string
		wantState ec2types.ImageState
		notFound  bool
	}{
		{"ami-1", ec2types.ImageStateAvailable, false},
		{"ami-bad", ec2types.ImageStateFailed, false},
		{"ami-gone", ec2types.ImageStateDeregistered, true},
		{"ami-never", "", true},
	}
	for _, batched := range []bool{true, false} {
		clients := clients(c)
		if !batched {
			clients.Images = nil
		}
		for _, tt := range tests {
			t.Run(tt.id, func(t *testing.T) {
				img, err := FindByID(context.Background(), clients, tt.id)
				if tt.notFound {
					var nf *NotFoundError
					if !errors.As(err, &nf) || !IsNotFound(err) || img != nil || nf.ImageID != tt.id {
						t.Fatalf("FindByID = %v, %v; want a NotFoundError", img, err)
					}
					if tt.wantState != "" && (nf.Image == nil || nf.Image.State != tt.wantState) {
						t.Errorf("NotFoundError.Image = %+v, want the %s image AWS still lists", nf.Image, tt.wantState)
					}
					return
				}
				if err != nil || aws.ToString(img.ImageId) != tt.id || img.State != tt.wantState {
					t.Fatalf("FindByID = %+v, %v", img, err)
				}
			})
		}
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name      string
		id        string
		region    string
		snapshots bool
		wantCalls []string
		wantLeft  []string
	}{
		{"with snapshots", "ami-1", "", true, []string{"DeregisterImage ami-1@", "DeleteSnapshot snap-1@"}, nil},
		{"without snapshots", "ami-1", "", false, []string{"DeregisterImage ami-1@"}, []string{"snap-1"}},
		{"already gone", "ami-never", "", true, []string{"DeregisterImage ami-never@"}, []string{"ami-1", "snap-1"}},
		{"in another region", "ami-1", "us-west-2", true, []string{"DeregisterImage ami-1@us-west-2", "DeleteSnapshot snap-1@us-west-2"}, nil},
		{"in the clients' region", "ami-1", home, true, []string{"DeregisterImage ami-1@", "DeleteSnapshot snap-1@"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCloud()
			c.AddImage(simcloud.Image{ID: "ami-1", Region: tt.region, Snapshots: []string{"snap-1"}})
			if err := Delete(context.Background(), clients(c), tt.region, tt.id, tt.snapshots); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			// Each call as "Op id@Region", the Region its options name ("": none).
			var calls []string
			for _, call := range c.Calls("DeregisterImage", "DeleteSnapshot") {
				calls = append(calls, call.Op+" "+subject(call.Input)+"@"+call.Region)
			}
			if !reflect.DeepEqual(calls, tt.wantCalls) {
				t.Errorf("calls %v, want %v", calls, tt.wantCalls)
			}
			if got := left(c); !reflect.DeepEqual(got, tt.wantLeft) {
				t.Errorf("left %v, want %v", got, tt.wantLeft)
			}
		})
	}
}

// TestRemoveKnownSnapshots: an image already deregistered no longer lists its
// snapshots; those known from before are deleted all the same.
func TestRemoveKnownSnapshots(t *testing.T) {
	c := newCloud()
	c.AddImage(simcloud.Image{ID: "ami-1", Snapshots: []string{"snap-1"}})
	c.AddImage(simcloud.Image{ID: "ami-2", Snapshots: []string{"snap-2"}})
	c.Remove("ami-2")
	r := Remove(context.Background(), clients(c), "", "ami-2", []string{"snap-2"})
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	r = Remove(context.Background(), clients(c), "", "ami-1", []string{"snap-0"})
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Snapshots, []string{"snap-0", "snap-1"}) || !reflect.DeepEqual(r.Deregistered, []string{"ami-1"}) ||
		!reflect.DeepEqual(r.DeletedSnapshots, []string{"snap-0", "snap-1"}) {
		t.Errorf("Removal = %+v", r)
	}
	if left := left(c); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}

// TestDeleteSnapshotUsedByAnotherImage: a snapshot another registered image is
// built on is left at once with an error naming that image, instead of waiting
// minutes for a release that will not come.
func TestDeleteSnapshotUsedByAnotherImage(t *testing.T) {
	c := newCloud()
	c.AddImage(simcloud.Image{ID: "ami-1", Snapshots: []string{"snap-1"}})
	c.AddImage(simcloud.Image{ID: "ami-2", Snapshots: []string{"snap-1"}})

	started := time.Now()
	err := Delete(context.Background(), clients(c), "", "ami-1", true)
	if d := time.Since(started); d > time.Second {
		t.Errorf("took %s", d)
	}
	var inUse *SnapshotInUseError
	if !errors.As(err, &inUse) || inUse.SnapshotID != "snap-1" || inUse.ImageID != "ami-2" {
		t.Fatalf("err = %v, want a SnapshotInUseError for snap-1 naming ami-2", err)
	}
	if left := left(c); !reflect.DeepEqual(left, []string{"ami-2", "snap-1"}) {
		t.Errorf("left %v, want ami-2 and the snapshot it uses", left)
	}
	used, rest := SplitSnapshotsInUse(err)
	if !reflect.DeepEqual(used, []string{"snap-1 (used by ami-2)"}) || rest != nil {
		t.Errorf("SplitSnapshotsInUse = %v, %v", used, rest)
	}
}

// TestThrottlingNeverFails: a throttle storm slows a removal down and never
// fails it.
func TestThrottlingNeverFails(t *testing.T) {
	for _, op := range []string{"DescribeImages", "DeregisterImage", "DeleteSnapshot"} {
		t.Run(op, func(t *testing.T) {
			c := newCloud()
			c.AddImage(simcloud.Image{ID: "ami-1", Snapshots: []string{"snap-1"}})
			clients := clients(c)
			clients.Images = nil
			c.Inject(faults.ThrottleStorm(op, 1, 5))
			if err := Delete(context.Background(), clients, "", "ami-1", true); err != nil {
				t.Fatalf("throttling failed the delete: %v", err)
			}
			if n := len(c.Faults().Faults()); n != 5 {
				t.Fatalf("the storm was not reached: %d of 5 throttles", n)
			}
			if left := left(c); len(left) != 0 {
				t.Errorf("left %v", left)
			}
		})
	}
}

func TestExistingSnapshots(t *testing.T) {
	c := newCloud()
	c.AddImage(simcloud.Image{ID: "ami-1", Snapshots: []string{"snap-1"}})
	got, err := ExistingSnapshots(context.Background(), clients(c), []string{"snap-1", "snap-gone"})
	if err != nil || !reflect.DeepEqual(got, []string{"snap-1"}) {
		t.Errorf("ExistingSnapshots = %v, %v", got, err)
	}
	if err := DeleteSnapshots(context.Background(), clients(c), "", []string{"snap-gone"}); err != nil {
		t.Errorf("deleting a snapshot already gone: %v", err)
	}
}

func TestUpdateTags(t *testing.T) {
	c := newCloud()
	c.AddImage(simcloud.Image{ID: "ami-1", Snapshots: []string{"snap-1"}})
	clients := clients(c)
	if err := UpdateTags(context.Background(), clients, "ami-1", map[string]string{"a": "1", "b": "2"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := UpdateTags(context.Background(), clients, "ami-1", map[string]string{"a": "3"}, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "3"}
	if !reflect.DeepEqual(c.Tags("ami-1"), want) || !reflect.DeepEqual(c.Tags("snap-1"), want) {
		t.Errorf("tags: image %v, snapshot %v", c.Tags("ami-1"), c.Tags("snap-1"))
	}
	if err := UpdateTags(context.Background(), clients, "ami-never", map[string]string{"a": "1"}, nil); !IsNotFound(err) {
		t.Errorf("tagging a missing image: %v", err)
	}
}

func TestCheckOwner(t *testing.T) {
	img := &ec2types.Image{ImageId: aws.String("ami-1"), OwnerId: aws.String("801119661308")}
	err := CheckOwner(img, "123456789012")
	var fe *ForeignError
	if !errors.As(err, &fe) || fe.Owner != "801119661308" || fe.Account != "123456789012" {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "owned by account 801119661308") {
		t.Errorf("message %q", err)
	}
	if err := CheckOwner(img, "801119661308"); err != nil {
		t.Errorf("own image refused: %v", err)
	}
	if err := CheckOwner(img, ""); err != nil {
		t.Errorf("unknown account refused: %v", err)
	}
}

func TestImageFacts(t *testing.T) {
	img := ec2types.Image{State: ec2types.ImageStatePending, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
		BlockDeviceMappings: []ec2types.BlockDeviceMapping{
			{Ebs: &ec2types.EbsBlockDevice{SnapshotId: aws.String("snap-1")}}, {VirtualName: aws.String("ephemeral0")},
			{Ebs: &ec2types.EbsBlockDevice{}}, {Ebs: &ec2types.EbsBlockDevice{SnapshotId: aws.String("snap-2")}}}}
	if got := Snapshots(img); !reflect.DeepEqual(got, []string{"snap-1", "snap-2"}) {
		t.Errorf("Snapshots = %v", got)
	}
	if got := TagMap(&img); !reflect.DeepEqual(got, map[string]string{"k": "v"}) {
		t.Errorf("TagMap = %v", got)
	}
	for st, want := range map[ec2types.ImageState]bool{ec2types.ImageStatePending: true, ec2types.ImageStateAvailable: true,
		ec2types.ImageStateFailed: false, ec2types.ImageStateDeregistered: false} {
		if got := Usable(&ec2types.Image{State: st}); got != want {
			t.Errorf("Usable(%s) = %v", st, got)
		}
	}
}

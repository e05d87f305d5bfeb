package ami

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// Failure is a resource that could not be removed: an image or a snapshot
// (an instance, in a run's cleanup report).
type Failure struct {
	Kind   string // "instance", "image", "snapshot"
	ID     string
	Region string
	Err    error
}

func (f Failure) String() string {
	return fmt.Sprintf("%s %s%s: %v", f.Kind, f.ID, f.where(), f.Err)
}

func (f Failure) where() string {
	if f.Region == "" {
		return ""
	}
	return " in " + f.Region
}

// JoinFailures is the error of a removal that left failures, nil when none.
func JoinFailures(failures []Failure) error {
	errs := make([]error, len(failures))
	for i, f := range failures {
		errs[i] = fmt.Errorf("could not remove %s %s%s: %w", f.Kind, f.ID, f.where(), f.Err)
	}
	return errors.Join(errs...)
}

// Removal says what Remove removed and, above all, what it did not.
type Removal struct {
	Deregistered     []string
	DeletedSnapshots []string
	Failures         []Failure
	// Snapshots are all the snapshot ids Remove learned of: the known ones
	// and those the image listed.
	Snapshots []string
}

// Err joins the failures, nil when there are none.
func (r Removal) Err() error { return JoinFailures(r.Failures) }

// Delete deregisters the image in region (the clients' own when empty) and,
// when asked, deletes its snapshots; an image or snapshot already gone is
// success.
func Delete(ctx context.Context, clients *awsx.Clients, region, imageID string, deleteSnapshots bool) error {
	if !deleteSnapshots {
		err := deregister(ctx, clients, region, imageID)
		if err != nil && !awsx.IsNotFound(err) {
			return fmt.Errorf("deregistering image %s: %w", imageID, err)
		}
		return nil
	}
	return Remove(ctx, clients, region, imageID, nil).Err()
}

// Remove deregisters an image in region (the clients' own when empty) and
// deletes its snapshots: those it lists now plus known ones (recorded earlier,
// in case it is already gone). What is already gone counts as removed.
func Remove(ctx context.Context, clients *awsx.Clients, region, imageID string, known []string) Removal {
	if region == "" {
		region = clients.Region
	}
	r := Removal{Snapshots: slices.Clone(known)}
	found, err := describe(ctx, clients, region, []string{imageID})
	if err == nil {
		if img, ok := found[imageID]; ok {
			for _, s := range Snapshots(img) {
				if !slices.Contains(r.Snapshots, s) {
					r.Snapshots = append(r.Snapshots, s)
				}
			}
		}
	}
	// Deregister even if the describe failed: the id is all it needs.
	err = deregister(ctx, clients, region, imageID)
	if err != nil && !awsx.IsNotFound(err) {
		r.Failures = append(r.Failures, Failure{Kind: "image", ID: imageID, Region: region, Err: err})
		return r
	}
	r.Deregistered = append(r.Deregistered, imageID)
	for _, s := range r.Snapshots {
		if err := DeleteSnapshot(ctx, clients, region, s); err != nil {
			r.Failures = append(r.Failures, Failure{Kind: "snapshot", ID: s, Region: region, Err: err})
			continue
		}
		r.DeletedSnapshots = append(r.DeletedSnapshots, s)
	}
	return r
}

func deregister(ctx context.Context, clients *awsx.Clients, region, imageID string) error {
	return awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
		_, err := clients.EC2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(imageID)}, awsx.InRegion(clients, region)...)
		return err
	})
}

// DeleteSnapshots deletes snapshots by id in region (the clients' own when
// empty), once their images are gone; a snapshot already gone is not an error.
func DeleteSnapshots(ctx context.Context, clients *awsx.Clients, region string, ids []string) error {
	if region == "" {
		region = clients.Region
	}
	var failures []Failure
	for _, id := range ids {
		if err := DeleteSnapshot(ctx, clients, region, id); err != nil {
			failures = append(failures, Failure{Kind: "snapshot", ID: id, Region: region, Err: err})
		}
	}
	return JoinFailures(failures)
}

// snapshotReleaseWait bounds how long a snapshot may stay "in use" by the
// image just deregistered.
const snapshotReleaseWait = 2 * time.Minute

// DeleteSnapshot deletes one snapshot in region (the clients' own when empty),
// waiting out the moment after deregistration when AWS still sees it in use.
// One already gone is success; one that another registered image is built on
// is a *SnapshotInUseError at once.
func DeleteSnapshot(ctx context.Context, clients *awsx.Clients, region, id string) error {
	ctx, cancel := context.WithTimeout(ctx, snapshotReleaseWait)
	defer cancel()
	var last error
	err := awsx.Poll(ctx, clients.Policy, func(ctx context.Context) (bool, error) {
		_, err := clients.EC2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)}, awsx.InRegion(clients, region)...)
		switch {
		case err == nil || awsx.IsNotFound(err):
			return true, nil
		case awsx.ErrorCode(err) == "InvalidSnapshot.InUse":
			last = err
			if user := stillUsedBy(ctx, clients, region, err); user != "" {
				// Waiting would only time out: another image is built on it.
				return false, &SnapshotInUseError{SnapshotID: id, ImageID: user, Err: err}
			}
			return false, nil
		}
		return false, err
	})
	if err != nil && last != nil && ctx.Err() != nil {
		return last
	}
	return err
}

// ExistingSnapshots returns those of ids that still exist.
func ExistingSnapshots(ctx context.Context, clients *awsx.Clients, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var res *ec2.DescribeSnapshotsOutput
	err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) (err error) {
		// A filter, not SnapshotIds: one id that is gone would fail the call.
		res, err = clients.EC2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{
			Filters: []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: ids}},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range res.Snapshots {
		out = append(out, aws.ToString(s.SnapshotId))
	}
	return out, nil
}

// SnapshotInUseError is a snapshot that another image, still registered, is
// built on: AWS refuses to delete it until that image is gone, which is not
// for this run or resource to decide.
type SnapshotInUseError struct {
	SnapshotID, ImageID string
	Err                 error
}

func (e *SnapshotInUseError) Error() string {
	return fmt.Sprintf("snapshot %s is in use by image %s, which is still registered: %v", e.SnapshotID, e.ImageID, e.Err)
}

func (e *SnapshotInUseError) Unwrap() error { return e.Err }

// SplitSnapshotsInUse separates, in an error of Delete or DeleteSnapshots, the
// snapshots kept because another registered image is built on them (one line
// each, naming that image) from the other failures (rest, nil if none).
func SplitSnapshotsInUse(err error) (inUse []string, rest error) {
	var others []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var iu *SnapshotInUseError
		if errors.As(e, &iu) {
			inUse = append(inUse, fmt.Sprintf("%s (used by %s)", iu.SnapshotID, iu.ImageID))
			return
		}
		others = append(others, e)
	}
	if err != nil {
		walk(err)
	}
	return inUse, errors.Join(others...)
}

// inUseBy finds the image AWS names in an InvalidSnapshot.InUse message.
var inUseBy = regexp.MustCompile(`\bami-[0-9a-f]+\b`)

// stillUsedBy returns the registered image that an InvalidSnapshot.InUse
// error names, "" when none is (the image just deregistered, not released yet).
func stillUsedBy(ctx context.Context, clients *awsx.Clients, region string, inUse error) string {
	var ae smithy.APIError
	if !errors.As(inUse, &ae) {
		return ""
	}
	user := inUseBy.FindString(ae.ErrorMessage())
	if user == "" {
		return ""
	}
	found, err := describe(ctx, clients, region, []string{user})
	if err != nil {
		return ""
	}
	if img, ok := found[user]; ok && img.State != ec2types.ImageStateDeregistered {
		return user
	}
	return ""
}

package actions

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

// CleanupOptions says what Cleanup removes.
type CleanupOptions struct {
	TerminateInstances bool
	DeleteImages       bool
	// KeepImageIDs are images that must survive (the run's results, in state).
	KeepImageIDs []string
}

// CleanupReport says what was removed and, above all, what was not.
type CleanupReport struct {
	Terminated       []string
	Deregistered     []string
	DeletedSnapshots []string
	Failures         []CleanupFailure
}

// CleanupFailure is one resource that could not be removed.
type CleanupFailure struct {
	Kind   string // "instance", "image", "snapshot"
	ID     string
	Region string
	Err    error
}

func (f CleanupFailure) String() string {
	where := ""
	if f.Region != "" {
		where = " in " + f.Region
	}
	return fmt.Sprintf("%s %s%s: %v", f.Kind, f.ID, where, f.Err)
}

// Leftovers lists the resources left behind, one line each with its id and why.
func (r CleanupReport) Leftovers() []string {
	out := make([]string, len(r.Failures))
	for i, f := range r.Failures {
		out[i] = f.String()
	}
	return out
}

func (r *CleanupReport) merge(o CleanupReport) {
	r.Terminated = append(r.Terminated, o.Terminated...)
	r.Deregistered = append(r.Deregistered, o.Deregistered...)
	r.DeletedSnapshots = append(r.DeletedSnapshots, o.DeletedSnapshots...)
	r.Failures = append(r.Failures, o.Failures...)
}

func (r CleanupReport) err() error {
	if len(r.Failures) == 0 {
		return nil
	}
	errs := make([]error, len(r.Failures))
	for i, f := range r.Failures {
		where := ""
		if f.Region != "" {
			where = " in " + f.Region
		}
		errs[i] = fmt.Errorf("could not remove %s %s%s: %w", f.Kind, f.ID, where, f.Err)
	}
	return errors.Join(errs...)
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
	found, err := describeImagesIn(ctx, clients, region, []string{user})
	if err != nil {
		return ""
	}
	if img, ok := found[user]; ok && img.State != ec2types.ImageStateDeregistered {
		return user
	}
	return ""
}

// Cleanup removes what the ledger says the run created and has not removed:
// instances not yet terminated, and (with DeleteImages) images not kept, with
// their snapshots, in whatever region they were made. ctx should be fresh, not
// the run's possibly cancelled one. Already-gone resources count as removed.
// The error joins the failures listed in the report.
func Cleanup(ctx context.Context, env *Env, o CleanupOptions) (CleanupReport, error) {
	var rep CleanupReport
	if o.TerminateInstances {
		var ids []string
		for _, r := range env.Ledger.Instances() {
			if !r.Terminated {
				ids = append(ids, r.ID)
			}
		}
		rep.merge(terminate(ctx, env, ids))
	}
	if o.DeleteImages {
		for _, img := range env.Ledger.Images() {
			if img.Deleted || slices.Contains(o.KeepImageIDs, img.ID) {
				continue
			}
			r, snaps := removeImage(ctx, env.Clients, img.Region, img.ID, img.Snapshots)
			// Remember what the image listed: once deregistered it no longer
			// tells, and a snapshot that failed to delete is retried by id.
			env.Ledger.RecordSnapshots(img.ID, snaps)
			if len(r.Failures) == 0 {
				env.Ledger.ImageDeleted(img.ID)
			}
			rep.merge(r)
		}
	}
	return rep, rep.err()
}

// terminate terminates ids, marking them in the ledger. One call for all;
// when that fails (one unknown id fails the whole call), one call per id so
// that each gets its own verdict.
func terminate(ctx context.Context, env *Env, ids []string) CleanupReport {
	var rep CleanupReport
	if len(ids) == 0 {
		return rep
	}
	done := func(id string) {
		rep.Terminated = append(rep.Terminated, id)
		env.Ledger.InstanceTerminated(id)
		env.info("terminated instance", map[string]any{"instance_id": id})
	}
	call := func(ids []string) error {
		return awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) error {
			_, err := env.Clients.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
			return err
		})
	}
	if err := call(ids); err == nil {
		for _, id := range ids {
			done(id)
		}
		return rep
	}
	for _, id := range ids {
		err := call([]string{id})
		if err != nil && !awsx.IsNotFound(err) {
			rep.Failures = append(rep.Failures, CleanupFailure{Kind: "instance", ID: id, Region: env.Clients.Region, Err: err})
			continue
		}
		done(id)
	}
	return rep
}

// DeleteImage deregisters an image and, if asked, deletes its snapshots. An
// image or snapshot that is already gone is not an error.
func DeleteImage(ctx context.Context, clients *awsx.Clients, region, imageID string, deleteSnapshots bool) error {
	if !deleteSnapshots {
		err := deregister(ctx, clients, region, imageID)
		if err != nil && !awsx.IsNotFound(err) {
			return fmt.Errorf("deregistering image %s: %w", imageID, err)
		}
		return nil
	}
	rep, _ := removeImage(ctx, clients, region, imageID, nil)
	return rep.err()
}

// DeleteSnapshots deletes snapshots by id in region (the clients' own when
// empty), once their images are gone; a snapshot already gone is not an error.
func DeleteSnapshots(ctx context.Context, clients *awsx.Clients, region string, ids []string) error {
	if region == "" {
		region = clients.Region
	}
	var rep CleanupReport
	for _, id := range ids {
		if err := deleteSnapshot(ctx, clients, region, id); err != nil {
			rep.Failures = append(rep.Failures, CleanupFailure{Kind: "snapshot", ID: id, Region: region, Err: err})
		}
	}
	return rep.err()
}

// SnapshotsExisting returns those of ids that still exist.
func SnapshotsExisting(ctx context.Context, clients *awsx.Clients, ids []string) ([]string, error) {
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

// DescribeImage returns the image, or an error for which awsx.IsNotFound is
// true when it does not exist. A deregistered or failed image is returned
// with its State; judging it is the caller's business. Concurrent callers share
// one DescribeImages.
func DescribeImage(ctx context.Context, clients *awsx.Clients, imageID string) (*ec2types.Image, error) {
	var found map[string]ec2types.Image
	var err error
	if clients.Images != nil {
		found, err = clients.Images.Describe(ctx, []string{imageID})
	} else {
		found, err = describeImagesIn(ctx, clients, "", []string{imageID})
	}
	if err != nil {
		if awsx.IsNotFound(err) {
			return nil, fmt.Errorf("image %s: %w", imageID, awsx.ErrNotFound)
		}
		return nil, err
	}
	img, ok := found[imageID]
	if !ok {
		return nil, fmt.Errorf("image %s: %w", imageID, awsx.ErrNotFound)
	}
	return &img, nil
}

func describeImagesIn(ctx context.Context, clients *awsx.Clients, region string, ids []string) (map[string]ec2types.Image, error) {
	out := map[string]ec2types.Image{}
	var res *ec2.DescribeImagesOutput
	err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) (err error) {
		res, err = clients.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{
			Filters: []ec2types.Filter{{Name: aws.String("image-id"), Values: ids}},
		}, awsx.InRegion(clients, region)...)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, img := range res.Images {
		out[aws.ToString(img.ImageId)] = img
	}
	return out, nil
}

func snapshotsOf(img ec2types.Image) []string {
	var out []string
	for _, bdm := range img.BlockDeviceMappings {
		if bdm.Ebs != nil && aws.ToString(bdm.Ebs.SnapshotId) != "" {
			out = append(out, aws.ToString(bdm.Ebs.SnapshotId))
		}
	}
	return out
}

func deregister(ctx context.Context, clients *awsx.Clients, region, imageID string) error {
	return awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
		_, err := clients.EC2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(imageID)}, awsx.InRegion(clients, region)...)
		return err
	})
}

// snapshotReleaseWait bounds how long a snapshot may stay "in use" by the
// image just deregistered.
const snapshotReleaseWait = 2 * time.Minute

// removeImage deregisters an image and deletes its snapshots: those it lists
// now plus known ones (recorded earlier, in case it is already gone). It also
// returns every snapshot id it learned of.
func removeImage(ctx context.Context, clients *awsx.Clients, region, imageID string, known []string) (CleanupReport, []string) {
	var rep CleanupReport
	if region == "" {
		region = clients.Region
	}
	snaps := slices.Clone(known)
	found, err := describeImagesIn(ctx, clients, region, []string{imageID})
	if err == nil {
		if img, ok := found[imageID]; ok {
			for _, s := range snapshotsOf(img) {
				if !slices.Contains(snaps, s) {
					snaps = append(snaps, s)
				}
			}
		}
	}
	// Deregister even if the describe failed: the id is all it needs.
	err = deregister(ctx, clients, region, imageID)
	if err != nil && !awsx.IsNotFound(err) {
		rep.Failures = append(rep.Failures, CleanupFailure{Kind: "image", ID: imageID, Region: region, Err: err})
		return rep, snaps
	}
	rep.Deregistered = append(rep.Deregistered, imageID)
	for _, s := range snaps {
		if err := deleteSnapshot(ctx, clients, region, s); err != nil {
			rep.Failures = append(rep.Failures, CleanupFailure{Kind: "snapshot", ID: s, Region: region, Err: err})
			continue
		}
		rep.DeletedSnapshots = append(rep.DeletedSnapshots, s)
	}
	return rep, snaps
}

// deleteSnapshot deletes one snapshot, waiting out the moment after
// deregistration when AWS still sees it in use.
func deleteSnapshot(ctx context.Context, clients *awsx.Clients, region, id string) error {
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

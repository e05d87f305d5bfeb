package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// SweepOptions says whose leftovers Sweep looks for.
type SweepOptions struct {
	// TagKey and TagValue select the candidates (the bake key tag). They only
	// narrow the search: nothing is removed on the strength of a tag.
	TagKey, TagValue string
	// ExecutionTag is the tag key that names the run that made a resource.
	ExecutionTag string
	// KeepImageIDs are never removed (images recorded in state).
	KeepImageIDs []string
	// Now is the time leases are judged at.
	Now time.Time
}

// SweepReport is what Sweep removed and what it left alone, and why.
type SweepReport struct {
	CleanupReport
	// Spared lists the candidates left alone, one line each with the reason:
	// a live lease (another run's bake in progress), a kept builder, or no
	// proof that a run of this provider made it.
	Spared []string
}

// Sweep removes what runs that died left behind: the candidates tagged
// TagKey=TagValue that a run proves it created (see ownership.go) and whose
// lease has expired. Instances are terminated; an image is deregistered, with
// the snapshots CreateImage made for it, only when its builder is one of those
// instances; snapshots whose image is already gone are deleted when their
// builder is. The run calling Sweep (env.ExecutionID) is never a candidate.
func Sweep(ctx context.Context, env *Env, o SweepOptions) (SweepReport, error) {
	var rep SweepReport
	tagFilter := ec2types.Filter{Name: aws.String("tag:" + o.TagKey), Values: []string{o.TagValue}}
	spare := func(kind, id, why string) {
		rep.Spared = append(rep.Spared, fmt.Sprintf("%s %s: %s", kind, id, why))
	}
	// A candidate is judged by the run its execution tag names; proof comes
	// from facts AWS set at creation, liveness from that run's lease.
	judge := func(kind, id string, tags []ec2types.Tag, proven func(exec string) bool) bool {
		exec, _ := tagValue(tags, o.ExecutionTag)
		switch {
		case exec == "" || exec == env.ExecutionID:
			return false
		case !proven(exec):
			spare(kind, id, "not provably made by a bake of this provider")
			return false
		}
		switch st := leaseOf(tags, o.Now); st {
		case leaseExpired:
			return true
		case leaseLive:
			spare(kind, id, "its bake is still running (lease live)")
		default:
			spare(kind, id, st.String())
		}
		return false
	}

	// Instances: the dead runs' builders, and the evidence for their images.
	cands, err := describeInstances(ctx, env, []ec2types.Filter{tagFilter, {
		Name:   aws.String("instance-state-name"),
		Values: []string{"pending", "running", "stopping", "stopped"},
	}})
	if err != nil {
		return rep, fmt.Errorf("listing instances tagged %s=%s: %w", o.TagKey, o.TagValue, err)
	}
	dead := map[string]bool{} // builders of dead runs, by id
	var ids []string
	for _, in := range cands {
		id := aws.ToString(in.InstanceId)
		if judge("instance", id, in.Tags, func(exec string) bool { return LaunchedBy(in, exec) }) {
			dead[id] = true
			ids = append(ids, id)
		}
	}
	rep.merge(terminate(ctx, env, ids))

	// Images made from those builders, then orphaned snapshots of theirs.
	imgs, err := describeImagesFiltered(ctx, env, []ec2types.Filter{tagFilter})
	if err != nil {
		return rep, errors.Join(rep.err(), fmt.Errorf("listing images tagged %s=%s: %w", o.TagKey, o.TagValue, err))
	}
	registered := map[string]bool{}
	for _, img := range imgs {
		id := aws.ToString(img.ImageId)
		if img.State == ec2types.ImageStateDeregistered {
			continue
		}
		registered[id] = true
		if slices.Contains(o.KeepImageIDs, id) || hasTag(img.Tags, TagCompleted) {
			continue
		}
		if !judge("image", id, img.Tags, func(string) bool { return dead[aws.ToString(img.SourceInstanceId)] }) {
			continue
		}
		snaps, err := snapshotsMadeFor(ctx, env, img)
		if err != nil {
			rep.Failures = append(rep.Failures, ami.Failure{Kind: "image", ID: id, Region: env.Clients.Region, Err: err})
			continue
		}
		r := ami.Remove(ctx, env.Clients, "", id, snaps)
		if len(r.Failures) == 0 {
			env.info("removed image left by a bake that died", map[string]any{"image_id": id})
		}
		rep.removed(r)
	}

	snaps, err := describeSnapshots(ctx, env, []ec2types.Filter{tagFilter})
	if err != nil {
		return rep, errors.Join(rep.err(), fmt.Errorf("listing snapshots tagged %s=%s: %w", o.TagKey, o.TagValue, err))
	}
	handled := map[string]bool{}
	for _, id := range rep.DeletedSnapshots {
		handled[id] = true
	}
	for _, f := range rep.Failures {
		handled[f.ID] = true
	}
	for _, s := range snaps {
		id := aws.ToString(s.SnapshotId)
		if handled[id] {
			continue
		}
		instance, image, ok := snapshotOrigin(s)
		if ok && registered[image] {
			continue // its image is not a leftover
		}
		if !judge("snapshot", id, s.Tags, func(string) bool { return ok && dead[instance] }) {
			continue
		}
		if err := ami.DeleteSnapshot(ctx, env.Clients, "", id); err != nil {
			rep.Failures = append(rep.Failures, ami.Failure{Kind: "snapshot", ID: id, Region: env.Clients.Region, Err: err})
			continue
		}
		rep.DeletedSnapshots = append(rep.DeletedSnapshots, id)
	}
	sort.Strings(rep.Spared)
	return rep, rep.err()
}

// snapshotsMadeFor returns the snapshots an image lists that CreateImage made
// for it from its source instance; any other snapshot (one registered into the
// image from elsewhere) is not the run's to delete.
func snapshotsMadeFor(ctx context.Context, env *Env, img ec2types.Image) ([]string, error) {
	listed := ami.Snapshots(img)
	if len(listed) == 0 {
		return nil, nil
	}
	found, err := describeSnapshots(ctx, env, []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: listed}})
	if err != nil {
		return nil, fmt.Errorf("describing the snapshots of image %s: %w", aws.ToString(img.ImageId), err)
	}
	var out []string
	for _, s := range found {
		instance, image, ok := snapshotOrigin(s)
		if ok && instance == aws.ToString(img.SourceInstanceId) && image == aws.ToString(img.ImageId) {
			out = append(out, aws.ToString(s.SnapshotId))
		}
	}
	return out, nil
}

// Discover records in the ledger what the run made and the ledger does not
// know: resources created by a call whose answer was lost and that no
// recovery found. Candidates carry the run's execution tag (tagKey=
// env.ExecutionID); only those the run proves it made are taken: instances by
// their client token, images by a source instance the ledger holds. Instances
// not terminated are recorded for termination; images are recorded with their
// snapshots and returned, since no step produced them.
func Discover(ctx context.Context, env *Env, tagKey string) ([]string, error) {
	tagFilter := ec2types.Filter{Name: aws.String("tag:" + tagKey), Values: []string{env.ExecutionID}}
	known := map[string]bool{}
	var errs []error
	ins, err := describeInstances(ctx, env, []ec2types.Filter{tagFilter, {
		Name:   aws.String("instance-state-name"),
		Values: []string{"pending", "running", "stopping", "stopped"},
	}})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing instances tagged %s=%s: %w", tagKey, env.ExecutionID, err))
	}
	for _, r := range env.Ledger.Instances() {
		known[r.ID] = true
	}
	for _, in := range ins {
		id := aws.ToString(in.InstanceId)
		if known[id] {
			continue
		}
		if !LaunchedBy(in, env.ExecutionID) {
			env.info("left alone an instance tagged with this run's id that this run did not launch", map[string]any{"instance_id": id})
			continue
		}
		env.Ledger.RecordInstance(id)
		known[id] = true
		env.info("found an instance of this run that no step recorded", map[string]any{"instance_id": id})
	}
	builders := map[string]bool{}
	for _, r := range env.Ledger.Instances() {
		builders[r.ID] = true
	}
	for _, r := range env.Ledger.Images() {
		known[r.ID] = true
	}
	var found []string
	imgs, err := describeImagesFiltered(ctx, env, []ec2types.Filter{tagFilter})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing images tagged %s=%s: %w", tagKey, env.ExecutionID, err))
	}
	for _, img := range imgs {
		id := aws.ToString(img.ImageId)
		if known[id] || img.State == ec2types.ImageStateDeregistered {
			continue
		}
		if !builders[aws.ToString(img.SourceInstanceId)] {
			env.info("left alone an image tagged with this run's id that this run did not make", map[string]any{"image_id": id})
			continue
		}
		snaps, err := snapshotsMadeFor(ctx, env, img)
		if err != nil {
			errs = append(errs, err)
		}
		env.Ledger.RecordImage(env.Clients.Region, id)
		env.Ledger.RecordSnapshots(id, snaps)
		env.info("found an image of this run that no step recorded", map[string]any{"image_id": id})
		found = append(found, id)
	}
	return found, errors.Join(errs...)
}

// describeInstances lists the instances matching filters, all pages.
func describeInstances(ctx context.Context, env *Env, filters []ec2types.Filter) ([]ec2types.Instance, error) {
	var out []ec2types.Instance
	in := &ec2.DescribeInstancesInput{Filters: filters}
	for {
		var res *ec2.DescribeInstancesOutput
		err := awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) (err error) {
			res, err = env.Clients.EC2.DescribeInstances(ctx, in)
			return err
		})
		if err != nil {
			return out, err
		}
		for _, r := range res.Reservations {
			out = append(out, r.Instances...)
		}
		if aws.ToString(res.NextToken) == "" {
			return out, nil
		}
		in.NextToken = res.NextToken
	}
}

// describeImagesFiltered lists the account's own images matching filters.
func describeImagesFiltered(ctx context.Context, env *Env, filters []ec2types.Filter) ([]ec2types.Image, error) {
	var out []ec2types.Image
	in := &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: filters}
	for {
		var res *ec2.DescribeImagesOutput
		err := awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) (err error) {
			res, err = env.Clients.EC2.DescribeImages(ctx, in)
			return err
		})
		if err != nil {
			return out, err
		}
		out = append(out, res.Images...)
		if aws.ToString(res.NextToken) == "" {
			return out, nil
		}
		in.NextToken = res.NextToken
	}
}

// describeSnapshots lists the account's own snapshots matching filters.
func describeSnapshots(ctx context.Context, env *Env, filters []ec2types.Filter) ([]ec2types.Snapshot, error) {
	var out []ec2types.Snapshot
	in := &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: filters}
	for {
		var res *ec2.DescribeSnapshotsOutput
		err := awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) (err error) {
			res, err = env.Clients.EC2.DescribeSnapshots(ctx, in)
			return err
		})
		if err != nil {
			return out, err
		}
		out = append(out, res.Snapshots...)
		if aws.ToString(res.NextToken) == "" {
			return out, nil
		}
		in.NextToken = res.NextToken
	}
}

func hasTag(tags []ec2types.Tag, key string) bool {
	_, ok := tagValue(tags, key)
	return ok
}

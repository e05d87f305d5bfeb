package actions

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// CleanupOptions says what Cleanup removes.
type CleanupOptions struct {
	TerminateInstances bool
	DeleteImages       bool
	// KeepImageIDs are images that must survive (the run's results, in state).
	KeepImageIDs []string
	// DeleteStacks deletes the CloudFormation stacks the run created (a
	// failed run's).
	DeleteStacks bool
}

// CleanupReport says what was removed and, above all, what was not.
type CleanupReport struct {
	Terminated       []string
	Deregistered     []string
	DeletedSnapshots []string
	DeletedStacks    []string
	Failures         []ami.Failure
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
	r.DeletedStacks = append(r.DeletedStacks, o.DeletedStacks...)
	r.Failures = append(r.Failures, o.Failures...)
}

// removed adds what ami.Remove reports.
func (r *CleanupReport) removed(o ami.Removal) {
	r.merge(CleanupReport{Deregistered: o.Deregistered, DeletedSnapshots: o.DeletedSnapshots, Failures: o.Failures})
}

func (r CleanupReport) err() error { return ami.JoinFailures(r.Failures) }

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
			r := ami.Remove(ctx, env.Clients, img.Region, img.ID, img.Snapshots)
			// Remember what the image listed: once deregistered it no longer
			// tells, and a snapshot that failed to delete is retried by id.
			env.Ledger.RecordSnapshots(img.ID, r.Snapshots)
			if len(r.Failures) == 0 {
				env.Ledger.ImageDeleted(img.ID)
			}
			rep.removed(r)
		}
	}
	if o.DeleteStacks {
		rep.merge(deleteStacks(ctx, env))
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
			rep.Failures = append(rep.Failures, ami.Failure{Kind: "instance", ID: id, Region: env.Clients.Region, Err: err})
			continue
		}
		done(id)
	}
	return rep
}

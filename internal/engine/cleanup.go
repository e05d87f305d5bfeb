package engine

import (
	"context"
	"slices"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/ami"
)

// cleanupFunc and sweepFunc are variables so tests can watch the context they get.
var (
	cleanupFunc       = actions.Cleanup
	sweepFunc         = actions.Sweep
	markCompletedFunc = actions.MarkCompleted
	discoverFunc      = actions.Discover
)

// cleanup removes what the run leaves behind: builder instances always (unless
// kept), images and their snapshots when the run failed, and images no
// successful step produced whatever the outcome. It runs on a context of its
// own, because ctx is often the reason the run ended. With NoCleanup it
// removes nothing.
func (r *runner) cleanup(ctx context.Context, failed bool) *CleanupError {
	if r.o.NoCleanup {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CleanupTimeout)
	defer cancel()
	r.discover(cctx)

	keep := slices.Clone(r.o.KeepImageIDs)
	if !failed {
		for _, im := range r.ledger.Images() {
			if !r.discard[im.ID] {
				keep = append(keep, im.ID)
			}
		}
	}
	opts := actions.CleanupOptions{TerminateInstances: !r.o.KeepBuilderInstances, DeleteImages: true, KeepImageIDs: keep, DeleteStacks: failed}
	if !r.needsCleanup(opts) {
		return nil
	}

	started := r.now()
	var (
		report actions.CleanupReport
		err    error
	)
	if perr := r.protect(func() error {
		report, err = cleanupFunc(cctx, r.env(nil), opts)
		return nil
	}); perr != nil {
		err = perr
	}

	var cerr *CleanupError
	fields := reportFields(report)
	fields["run_failed"] = failed
	if err != nil || len(report.Failures) > 0 {
		cerr = newCleanupError(report, err)
		fields["error"] = cerr.Error()
	}
	r.emit(Event{Kind: EventCleanup, Elapsed: r.now().Sub(started), Fields: fields})
	return cerr
}

// markCompleted tags the images of a successful run so that a later sweep with the
// same bake key (a rebuild with create_before_destroy, say) never removes them.
// A failure is reported, not fatal: the image is already recorded in state.
func (r *runner) markCompleted(ctx context.Context) {
	pending := false
	for _, im := range r.ledger.Images() {
		pending = pending || !im.Deleted
	}
	if !pending {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CleanupTimeout)
	defer cancel()
	var err error
	if perr := r.protect(func() error { err = markCompletedFunc(cctx, r.env(nil)); return nil }); perr != nil {
		err = perr
	}
	if err != nil {
		r.emit(Event{Kind: EventLog, Fields: map[string]any{
			"message": "could not mark the baked images as completed; a later bake with the same key could remove them",
			"error":   errorText(err),
		}})
	}
}

// needsCleanup reports whether the ledger holds anything cleanup would remove.
func (r *runner) needsCleanup(o actions.CleanupOptions) bool {
	if o.TerminateInstances {
		for _, in := range r.ledger.Instances() {
			if !in.Terminated {
				return true
			}
		}
	}
	if o.DeleteImages {
		for _, im := range r.ledger.Images() {
			if !im.Deleted && !slices.Contains(o.KeepImageIDs, im.ID) {
				return true
			}
		}
	}
	if o.DeleteStacks {
		for _, s := range r.ledger.Stacks() {
			if !s.Deleted {
				return true
			}
		}
	}
	return false
}

// discover adds to the ledger what carries the run's execution id and the
// ledger does not know (a create whose answer was lost), so that cleanup sees
// it. A failure is reported; cleanup then works from the ledger alone.
func (r *runner) discover(ctx context.Context) {
	if r.o.Clients == nil || r.o.Clients.EC2 == nil {
		return
	}
	var (
		found []string
		err   error
	)
	if perr := r.protect(func() error {
		found, err = discoverFunc(ctx, r.env(nil), TagExecutionID)
		return nil
	}); perr != nil {
		err = perr
	}
	for _, id := range found {
		r.discard[id] = true
	}
	if err != nil {
		r.emit(Event{Kind: EventLog, Fields: map[string]any{
			"message": "could not list what this run created; cleanup relies on its own records",
			"error":   errorText(err),
		}})
	}
}

// sweep removes what dead runs with the same bake key left behind, as far as
// they provably made it and their lease has expired. Its failure does not stop
// this run: it is reported as an event, with what it spared and why.
func (r *runner) sweep(ctx context.Context) {
	started := r.now()
	var (
		report actions.SweepReport
		err    error
	)
	if perr := r.protect(func() error {
		report, err = sweepFunc(ctx, r.env(nil), actions.SweepOptions{
			TagKey: TagBakeKey, TagValue: r.o.BakeKey, ExecutionTag: TagExecutionID,
			KeepImageIDs: r.o.KeepImageIDs, Now: r.now(),
		})
		return nil
	}); perr != nil {
		err = perr
	}
	fields := reportFields(report.CleanupReport)
	fields["bake_key"] = r.o.BakeKey
	put(fields, "spared", report.Spared)
	if err != nil {
		fields["error"] = errorText(err)
	}
	r.emit(Event{Kind: EventSweep, Elapsed: r.now().Sub(started), Fields: fields})
}

// fillLedger copies what the ledger knows into the result.
func (r *runner) fillLedger(res *Result) {
	for _, in := range r.ledger.Instances() {
		res.Instances = append(res.Instances, in.ID)
	}
	for _, im := range r.ledger.Images() {
		if im.Deleted {
			continue
		}
		res.Images = append(res.Images, im)
	}
}

func reportFields(rep actions.CleanupReport) map[string]any {
	f := map[string]any{}
	put(f, "terminated", rep.Terminated)
	put(f, "deregistered", rep.Deregistered)
	put(f, "deleted_snapshots", rep.DeletedSnapshots)
	put(f, "deleted_stacks", rep.DeletedStacks)
	put(f, "leftovers", failureIDs(rep.Failures))
	return f
}

func put(f map[string]any, k string, ids []string) {
	if len(ids) > 0 {
		f[k] = ids
	}
}

func failureIDs(failures []ami.Failure) []string {
	var ids []string
	for _, f := range failures {
		ids = append(ids, f.ID)
	}
	return ids
}

package ssmexec

import (
	"context"
	"errors"
	"fmt"
	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// What an execution made, and the proof that it made it.
//
// A tag is not proof (anyone allowed to tag can forge one), so an SSM bake
// removes only what facts recorded by AWS itself tie to the execution, as
// the local engine does (internal/actions/ownership.go):
//
//   - an instance is the execution's when its aws:runInstances step lists it
//     in its InstanceIds output (SSM's own record of the execution, which
//     only SSM writes), or when its client token, set by RunInstances and
//     never changed, names the execution (Prepare gives every
//     aws:runInstances step such a token; this covers a launch whose step
//     failed before SSM recorded its output);
//   - an image is the execution's when its aws:createImage or aws:copyImage
//     step lists it in its ImageId output, or when its source instance (set by
//     CreateImage) is one of the execution's instances;
//   - a snapshot is removed with its image, as CreateImage made it for it.
//
// The execution itself is this bake's when it runs this bake's published
// document (whose name is the hash of its content) with this bake's
// parameters: both are fixed when it starts and nobody can change them. Its
// tags only find it.

// ledger builds the cleanup ledger of an execution from its record and
// from what carries its id and provably is its.
func (b *bake) ledger(ctx context.Context, x *ssmtypes.AutomationExecution, failed bool) (*actions.Env, []string, error) {
	id := aws.ToString(x.AutomationExecutionId)
	env := &actions.Env{Clients: b.o.Clients, Ledger: actions.NewLedger(), ExecutionID: id, Log: logger{b}}
	var products []string
	for _, s := range x.StepExecutions {
		switch aws.ToString(s.Action) {
		case "aws:runInstances":
			for _, i := range s.Outputs["InstanceIds"] {
				env.Ledger.RecordInstance(i)
			}
		case "aws:createImage", "aws:copyImage":
			for _, i := range s.Outputs["ImageId"] {
				env.Ledger.RecordImage(b.o.Clients.Region, i)
				if stepStatus(s.StepStatus) == engine.StatusSuccess {
					products = append(products, i)
				}
			}
		}
	}
	var errs []error
	found, err := actions.Discover(ctx, env, engine.TagExecutionID)
	if err != nil {
		errs = append(errs, err)
	}
	products = slices.DeleteFunc(products, func(i string) bool { return slices.Contains(found, i) })
	if failed {
		if err := b.imagesOfInstances(ctx, env); err != nil {
			errs = append(errs, err)
		}
	}
	return env, products, errors.Join(errs...)
}

// imagesOfInstances records the account's images made from the execution's
// instances that the ledger lacks: aws:createImage cannot tag what it makes,
// so an image whose step failed after CreateImage is found by its source
// instance alone. It reads the account's own images (all pages); it runs
// only after a failed execution that launched something.
func (b *bake) imagesOfInstances(ctx context.Context, env *actions.Env) error {
	builders := map[string]bool{}
	for _, r := range env.Ledger.Instances() {
		builders[r.ID] = true
	}
	if len(builders) == 0 {
		return nil
	}
	known := map[string]bool{}
	for _, r := range env.Ledger.Images() {
		known[r.ID] = true
	}
	in := &ec2.DescribeImagesInput{Owners: []string{"self"}}
	for {
		out, err := b.o.Clients.EC2.DescribeImages(ctx, in)
		if err != nil {
			return fmt.Errorf("listing the account's images made from the execution's instances: %w", err)
		}
		for _, img := range out.Images {
			id := aws.ToString(img.ImageId)
			if known[id] || img.State == ec2types.ImageStateDeregistered || !builders[aws.ToString(img.SourceInstanceId)] {
				continue
			}
			env.Ledger.RecordImage(b.o.Clients.Region, id)
			known[id] = true
			b.log("found an image of the execution that its steps did not record", map[string]any{"image_id": id})
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// cleanup removes what the execution left: every builder still there
// (unless kept), whatever the outcome, since SSM leaves a failed
// execution's builder running and a recipe may skip its terminate step; and,
// when the bake failed, every image it made. The product of a successful
// bake is tagged as the local engine tags it.
func (b *bake) cleanup(ctx context.Context, x *ssmtypes.AutomationExecution, failed bool) *engine.CleanupError {
	env, products, lerr := b.ledger(ctx, x, failed)
	if lerr != nil {
		b.log("could not list everything the execution made; cleanup relies on its record", map[string]any{"error": lerr.Error()})
	}
	var ids []string
	for _, r := range env.Ledger.Instances() {
		ids = append(ids, r.ID)
	}
	if len(ids) > 0 {
		alive, err := actions.InstancesNotTerminated(ctx, env, ids)
		if err == nil {
			for _, i := range ids {
				if !slices.Contains(alive, i) {
					env.Ledger.InstanceTerminated(i)
				}
			}
		}
	}
	keep := []string{}
	if !failed {
		keep = products
	}
	if b.o.KeepBuilderInstances {
		var alive []string
		for _, r := range env.Ledger.Instances() {
			if !r.Terminated {
				alive = append(alive, r.ID)
			}
		}
		if err := actions.KeepInstances(ctx, env, alive); err != nil {
			b.log("could not mark the kept builders", map[string]any{"error": err.Error()})
		}
		for _, i := range alive {
			b.res.Kept = append(b.res.Kept, engine.KeptInstance{ID: i})
		}
	}
	rep, err := actions.Cleanup(ctx, env, actions.CleanupOptions{
		TerminateInstances: !b.o.KeepBuilderInstances, DeleteImages: true, KeepImageIDs: keep,
	})
	fields := map[string]any{"execution_id": env.ExecutionID, "run_failed": failed}
	for k, v := range map[string][]string{"terminated": rep.Terminated, "deregistered": rep.Deregistered, "deleted_snapshots": rep.DeletedSnapshots} {
		if len(v) > 0 {
			fields[k] = v
		}
	}
	for _, r := range env.Ledger.Instances() {
		b.res.Instances = append(b.res.Instances, r.ID)
	}
	b.res.Images = nil
	for _, im := range env.Ledger.Images() {
		if im.Deleted {
			continue
		}
		rec := ami.Record{Region: im.Region, ID: im.ID, Snapshots: im.Snapshots}
		if !failed && im.ID == firstString(b.res.Outputs[b.o.ImageOutput]) {
			b.res.Images = append([]ami.Record{rec}, b.res.Images...)
		} else {
			b.res.Images = append(b.res.Images, rec)
		}
	}
	var cerr *engine.CleanupError
	if err != nil || len(rep.Failures) > 0 {
		for _, f := range rep.Failures {
			b.res.Leftovers = append(b.res.Leftovers, f.ID)
		}
		cerr = &engine.CleanupError{Leftovers: slices.Clone(b.res.Leftovers), Failures: rep.Failures, Err: err}
		fields["error"] = cerr.Error()
	}
	b.emit(engine.Event{Kind: engine.EventCleanup, Fields: fields})
	if !failed {
		b.markProducts(ctx, products)
	}
	return cerr
}

// markProducts tags the images of a successful execution as the local
// engine tags its own: the execution, the managed marker, the bake key,
// completed (no sweep removes them), and default_tags.
func (b *bake) markProducts(ctx context.Context, products []string) {
	tags := map[string]string{}
	for k, v := range b.o.Tags {
		tags[k] = v
	}
	tags[engine.TagExecutionID] = b.res.ExecutionID
	tags[engine.TagManaged] = "true"
	tags[actions.TagCompleted] = "true"
	if b.o.BakeKey != "" {
		tags[engine.TagBakeKey] = b.o.BakeKey
	}
	for _, id := range products {
		if err := ami.UpdateTags(ctx, b.o.Clients, id, tags, nil); err != nil {
			b.log("could not tag the baked image", map[string]any{"image_id": id, "error": err.Error()})
		}
	}
}

// logger passes what the cleanup actions report on as log events.
type logger struct{ b *bake }

func (l logger) Info(msg string, fields map[string]any) {
	f := map[string]any{}
	for k, v := range fields {
		f[k] = v
	}
	l.b.log(msg, f)
}

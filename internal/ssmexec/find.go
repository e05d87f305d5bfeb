package ssmexec

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// listBake lists the executions tagged with the bake key, newest first.
func (f *Follower) listBake(ctx context.Context, key string) ([]ssmtypes.AutomationExecutionMetadata, error) {
	in := &ssm.DescribeAutomationExecutionsInput{
		Filters:    []ssmtypes.AutomationExecutionFilter{{Key: ssmtypes.AutomationExecutionFilterKeyTagKey, Values: []string{bakeTag(key)}}},
		MaxResults: aws.Int32(50),
	}
	var out []ssmtypes.AutomationExecutionMetadata
	for {
		var res *ssm.DescribeAutomationExecutionsOutput
		err := f.call(ctx, "DescribeAutomationExecutions", startRetries, func(ctx context.Context) (err error) {
			res, err = f.api.DescribeAutomationExecutions(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, res.AutomationExecutionMetadataList...)
		if aws.ToString(res.NextToken) == "" {
			break
		}
		in.NextToken = res.NextToken
	}
	slices.SortStableFunc(out, func(a, b ssmtypes.AutomationExecutionMetadata) int {
		return aws.ToTime(b.ExecutionStartTime).Compare(aws.ToTime(a.ExecutionStartTime))
	})
	return out, nil
}

// resume deals with the executions that earlier bakes of the same key left
// before this one starts its own, and returns the one to follow, if any:
//
//   - one whose runner's lease is live belongs to a bake still at work (in
//     this process, another apply, another workspace): it is never adopted
//     nor stopped; this bake waits until that runner is done with it or its
//     lease expires, so that there is never a second execution of one bake
//     while the first runs;
//   - one whose lease has expired (its runner died) and that is still
//     running, or that succeeded, is taken over: followed, and its image
//     recorded;
//   - one whose lease has expired and that failed is cleaned up, and this
//     bake starts a new one;
//   - one marked done (recorded or cleaned) or with no lease of this
//     provider is left alone.
//
// Taking one over needs proof that it is this bake's (see cleanup.go).
func (b *bake) resume(ctx context.Context) (string, error) {
	if b.o.BakeKey == "" {
		return "", nil
	}
	waited := false
	for {
		cands, err := b.f.listBake(ctx, b.o.BakeKey)
		if err != nil {
			return "", fmt.Errorf("looking for SSM Automation executions of this bake (tag %s), so as not to start a second one: %w", bakeTag(b.o.BakeKey), err)
		}
		var wait time.Duration
		for _, m := range cands {
			id := aws.ToString(m.AutomationExecutionId)
			tags, err := b.f.tagsOf(ctx, id)
			if err != nil {
				return "", fmt.Errorf("reading the tags of SSM Automation execution %s: %w", id, err)
			}
			now := b.o.Now()
			switch leaseOf(tags, now) {
			case leaseDone:
				continue
			case leaseUnknown:
				b.log("left alone an execution tagged with this bake's key that no runner of this provider holds", map[string]any{"execution_id": id})
				continue
			case leaseLive:
				d := leaseUntil(tags).Sub(now) + time.Second
				if wait == 0 || d < wait {
					wait = d
				}
				if !waited {
					b.log("another runner is baking the same image (same bake key); waiting until it is done or its lease expires",
						map[string]any{"execution_id": id, "status": string(m.AutomationExecutionStatus), "lease_expires": leaseUntil(tags).Format(time.RFC3339)})
				}
				continue
			}
			x, err := b.f.get(ctx, id)
			if err != nil {
				return "", fmt.Errorf("reading SSM Automation execution %s of this bake: %w", id, err)
			}
			if why := b.notOurs(x); why != "" {
				b.log("left alone an execution tagged with this bake's key: "+why, map[string]any{"execution_id": id})
				continue
			}
			if x.AutomationExecutionStatus == ssmtypes.AutomationExecutionStatusCancelling {
				wait = min(max(wait, time.Second), 5*time.Second)
				continue
			}
			won, err := b.f.claim(ctx, id, b.runner, b.o.LeaseDuration)
			if err != nil {
				return "", fmt.Errorf("taking over SSM Automation execution %s: %w", id, err)
			}
			if !won {
				wait = min(max(wait, time.Second), 5*time.Second)
				continue
			}
			if !finished(x.AutomationExecutionStatus) || succeeded(x.AutomationExecutionStatus) {
				b.log("taking over the execution of this bake whose runner died (its lease expired)",
					map[string]any{"execution_id": id, "status": string(x.AutomationExecutionStatus)})
				return id, nil
			}
			b.log("cleaning up after a failed execution of this bake whose runner died", map[string]any{"execution_id": id, "status": string(x.AutomationExecutionStatus)})
			cctx, cancel := b.fresh(ctx)
			cerr := b.cleanup(cctx, x, true)
			b.settle(cctx, id, fmt.Errorf("failed"), cerr)
			cancel()
			b.res.Instances, b.res.Images, b.res.Leftovers, b.res.Kept = nil, nil, nil, nil
			if cerr != nil {
				return "", fmt.Errorf("cleaning up after execution %s of this bake, which failed while its runner was gone: %w", id, cerr)
			}
		}
		if wait == 0 {
			return "", nil
		}
		waited = true
		t := time.NewTimer(min(wait, 5*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("waiting for another runner's bake of the same image: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// notOurs says why an execution cannot be proven this bake's; "" when it
// can: it runs this bake's document with this bake's parameter values.
func (b *bake) notOurs(x *ssmtypes.AutomationExecution) string {
	if name := aws.ToString(x.DocumentName); name != b.pub.Name {
		return fmt.Sprintf("it runs document %s, not this bake's %s", name, b.pub.Name)
	}
	for _, k := range slices.Sorted(maps.Keys(b.values)) {
		if !slices.Equal(x.Parameters[k], b.values[k]) {
			return fmt.Sprintf("its parameter %s is not this bake's value", k)
		}
	}
	return ""
}

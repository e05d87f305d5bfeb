package ssmexec

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// Tags on an execution. The runner that follows an execution holds a lease
// on it, as the local engine holds one on what it creates
// (internal/engine/lease.go): TagLease is the time until which the runner
// vouches for the execution, renewed every third of the lease while it
// lives, and TagRunner says which runner that is. A runner that dies (kill
// -9, a lost CI machine) stops renewing; once the lease has expired, the next
// bake of the same key may take the execution over. When a runner is done
// with an execution it says so in TagLease for good: leaseRecorded (its
// image is in some state) or leaseCleaned (it failed and what it left was
// removed).
const (
	TagRunner = "amibake:runner"
	// bakeTagPrefix + bake key is a tag key of its own, so that
	// DescribeAutomationExecutions' TagKey filter (which matches keys, not
	// values) finds the executions of one bake and no others.
	bakeTagPrefix = "amibake:bake/"

	leaseRecorded = "recorded"
	leaseCleaned  = "cleaned"
)

func bakeTag(key string) string { return bakeTagPrefix + key }

type leaseState int

const (
	leaseUnknown leaseState = iota // no readable lease: not a bake's
	leaseLive
	leaseExpired
	leaseDone // recorded or cleaned: nothing left to do
)

func leaseOf(tags map[string]string, now time.Time) leaseState {
	v, ok := tags[actions.TagLease]
	switch {
	case !ok:
		return leaseUnknown
	case v == leaseRecorded || v == leaseCleaned:
		return leaseDone
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return leaseUnknown
	}
	if now.Before(t) {
		return leaseLive
	}
	return leaseExpired
}

// leaseUntil is when a live lease ends; zero when it has none.
func leaseUntil(tags map[string]string) time.Time {
	t, _ := time.Parse(time.RFC3339, tags[actions.TagLease])
	return t
}

// executionTags are the tags an execution starts with.
func executionTags(o Options, runner string, until time.Time) map[string]string {
	tags := maps.Clone(o.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	tags[engine.TagManaged] = "true"
	if o.BakeKey != "" {
		tags[engine.TagBakeKey] = o.BakeKey
		tags[bakeTag(o.BakeKey)] = "true"
	}
	tags[actions.TagLease] = actions.LeaseValue(until)
	tags[TagRunner] = runner
	return tags
}

func ssmTags(m map[string]string) []ssmtypes.Tag {
	out := make([]ssmtypes.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// tagsOf reads an execution's tags.
func (f *Follower) tagsOf(ctx context.Context, id string) (map[string]string, error) {
	var out *ssm.ListTagsForResourceOutput
	err := f.call(ctx, "ListTagsForResource", startRetries, func(ctx context.Context) (err error) {
		out, err = f.api.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{
			ResourceType: ssmtypes.ResourceTypeForTaggingAutomation, ResourceId: aws.String(id),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(out.TagList))
	for _, t := range out.TagList {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m, nil
}

// setTags sets tags on an execution.
func (f *Follower) setTags(ctx context.Context, id string, tags map[string]string) error {
	return f.call(ctx, "AddTagsToResource", startRetries, func(ctx context.Context) error {
		_, err := f.api.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{
			ResourceType: ssmtypes.ResourceTypeForTaggingAutomation, ResourceId: aws.String(id), Tags: ssmTags(tags),
		})
		return err
	})
}

// holdLease renews the runner's lease on an execution every third of the
// lease until the returned function is called. A renewal that fails is
// tried again at the next tick, within the two thirds left; report hears of
// it.
func (f *Follower) holdLease(ctx context.Context, id, runner string, d time.Duration, report func(error)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			// Renewal outlives a cancelled bake: the stop and cleanup are
			// still at work then.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d/3)
			err := f.setTags(rctx, id, map[string]string{
				actions.TagLease: actions.LeaseValue(f.now().Add(d)), TagRunner: runner,
			})
			cancel()
			if err != nil && report != nil {
				report(err)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// claim takes over an execution whose lease has expired: it writes its own
// lease, then reads the tags back. When two runners claim at once, the one
// whose runner id the tags hold afterwards has it; the other backs off.
func (f *Follower) claim(ctx context.Context, id, runner string, d time.Duration) (bool, error) {
	if err := f.setTags(ctx, id, map[string]string{
		actions.TagLease: actions.LeaseValue(f.now().Add(d)), TagRunner: runner,
	}); err != nil {
		return false, err
	}
	// Give a rival's write the time to land before reading back.
	t := time.NewTimer(time.Second)
	select {
	case <-ctx.Done():
		t.Stop()
		return false, ctx.Err()
	case <-t.C:
	}
	tags, err := f.tagsOf(ctx, id)
	if err != nil {
		return false, err
	}
	return tags[TagRunner] == runner, nil
}

package actions

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// RenewLease sets the lease tag to value on everything the run created that
// still exists: instances not terminated, images not removed and their
// snapshots, except the ids in except. New resources get the lease through
// env.Tags at creation. A run that ends renews with the time it ends: what
// its cleanup could not remove is then a dead run's, for the next sweep.
func RenewLease(ctx context.Context, env *Env, value string, except ...string) error {
	byRegion := map[string][]string{}
	for _, in := range env.Ledger.Instances() {
		if !in.Terminated && !slices.Contains(except, in.ID) {
			byRegion[""] = append(byRegion[""], in.ID)
		}
	}
	for _, img := range env.Ledger.Images() {
		if !img.Deleted && !slices.Contains(except, img.ID) {
			byRegion[img.Region] = append(byRegion[img.Region], img.ID)
			byRegion[img.Region] = append(byRegion[img.Region], img.Snapshots...)
		}
	}
	for region, ids := range byRegion {
		if err := setTag(ctx, env, region, ids, TagLease, value); err != nil {
			return fmt.Errorf("renewing the lease on %v: %w", ids, err)
		}
	}
	return nil
}

// TagCompleted marks the images of a successful bake. Sweep never removes an image
// carrying it: that image is a product (recorded in state), not a dead run's leftover.
const TagCompleted = "amibake:completed"

// MarkCompleted tags every image the run recorded and did not delete with TagCompleted.
func MarkCompleted(ctx context.Context, env *Env) error {
	byRegion := map[string][]string{}
	for _, img := range env.Ledger.Images() {
		if !img.Deleted {
			byRegion[img.Region] = append(byRegion[img.Region], img.ID)
			byRegion[img.Region] = append(byRegion[img.Region], img.Snapshots...)
		}
	}
	for region, ids := range byRegion {
		if err := setTag(ctx, env, region, ids, TagCompleted, "true"); err != nil {
			return fmt.Errorf("marking images %v as completed: %w", ids, err)
		}
	}
	return nil
}

// KeepInstances marks the run's builders that are still there as kept on
// purpose, so that no sweep ever removes them.
func KeepInstances(ctx context.Context, env *Env, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := setTag(ctx, env, "", ids, TagLease, LeaseKept); err != nil {
		return fmt.Errorf("marking builders %v as kept: %w", ids, err)
	}
	return nil
}

// setTag tags resources in region (the clients' own when empty), in calls of
// at most 1000 resources.
func setTag(ctx context.Context, env *Env, region string, ids []string, key, value string) error {
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		batch := ids[:n]
		ids = ids[n:]
		err := awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) error {
			_, err := env.Clients.EC2.CreateTags(ctx, &ec2.CreateTagsInput{
				Resources: batch,
				Tags:      []ec2types.Tag{{Key: aws.String(key), Value: aws.String(value)}},
			}, awsx.InRegion(env.Clients, region)...)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

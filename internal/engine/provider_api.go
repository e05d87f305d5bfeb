package engine

import (
	"context"
	"errors"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// What the provider needs to know about images and documents, without making AWS
// calls or importing the SDK's EC2 types itself.

// CanRun reports whether the engine can run the SSM action locally.
func CanRun(action string) bool {
	_, ok := actions.Lookup(action)
	return ok
}

// Supported lists the SSM actions the engine runs, sorted.
func Supported() []string {
	s := actions.Supported()
	sort.Strings(s)
	return s
}

// IsNotFound reports whether err means the AWS resource does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrImageNotFound) || errors.Is(err, awsx.ErrNotFound) || awsx.IsNotFound(err)
}

// ImageUsable reports whether an image still counts as baked: pending or available.
func ImageUsable(img *ec2types.Image) bool {
	switch img.State {
	case ec2types.ImageStateAvailable, ec2types.ImageStatePending:
		return true
	}
	return false
}

// ImageSnapshots lists the EBS snapshots behind an image, in device order.
func ImageSnapshots(img *ec2types.Image) []string {
	var ids []string
	for _, bdm := range img.BlockDeviceMappings {
		if bdm.Ebs != nil && bdm.Ebs.SnapshotId != nil {
			ids = append(ids, *bdm.Ebs.SnapshotId)
		}
	}
	return ids
}

// ImageTags returns an image's tags as a map.
func ImageTags(img *ec2types.Image) map[string]string {
	m := make(map[string]string, len(img.Tags))
	for _, t := range img.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// TagImage sets tags on an image and its snapshots and removes the keys in remove.
func TagImage(ctx context.Context, clients *awsx.Clients, imageID string, set map[string]string, remove []string) error {
	return actions.TagImage(ctx, clients, imageID, set, remove)
}

// FetchDocument returns the content of an SSM Automation document by name.
func FetchDocument(ctx context.Context, clients *awsx.Clients, name string) (string, error) {
	return actions.FetchDocument(ctx, clients, name)
}

// TerminateKeptBuilders terminates the builders an image resource kept, once
// proven to be the run's own (see actions.TerminateBuilders).
func TerminateKeptBuilders(ctx context.Context, clients *awsx.Clients, executionID string, ids []string) (refused []string, err error) {
	return actions.TerminateBuilders(ctx, &actions.Env{Clients: clients, Ledger: actions.NewLedger(), ExecutionID: executionID}, executionID, ids)
}

// InstancesNotTerminated returns those of ids that still exist and are not
// terminated.
func InstancesNotTerminated(ctx context.Context, clients *awsx.Clients, ids []string) ([]string, error) {
	return actions.InstancesNotTerminated(ctx, &actions.Env{Clients: clients}, ids)
}

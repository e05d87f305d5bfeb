// Package ami is one AMI's lifecycle as the provider, the engine's cleanup and
// the actions see it: find an image (a typed NotFoundError when it is gone),
// its snapshots and tags, its owner, its tags updated, and its removal with its
// snapshots. It knows nothing of runs, documents or Terraform.
package ami

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// Record is what is known of one image: where it is, its snapshots (which an
// image already deregistered no longer lists) and whether it was removed.
type Record struct {
	Region    string
	ID        string
	Snapshots []string
	Deleted   bool
}

// NotFoundError is an image that does not exist, or that AWS still lists as
// deregistered.
type NotFoundError struct {
	ImageID string
	// Image is what AWS still lists under the id (deregistered); nil when it
	// lists nothing.
	Image *ec2types.Image
	// Err is AWS's answer when it said so with an error.
	Err error
}

func (e *NotFoundError) Error() string {
	if e.Image != nil {
		return fmt.Sprintf("image %s: %s", e.ImageID, e.Image.State)
	}
	return fmt.Sprintf("image %s: not found", e.ImageID)
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// IsNotFound reports whether err is (or wraps) a *NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// FindByID returns the image in the clients' region. One that AWS does not
// list, or lists as deregistered, is a *NotFoundError; a failed or pending
// image is returned with its State for the caller to judge. Concurrent callers
// share one DescribeImages.
func FindByID(ctx context.Context, clients *awsx.Clients, id string) (*ec2types.Image, error) {
	return FindIn(ctx, clients, "", id)
}

// FindIn is FindByID in region (the clients' own when empty); concurrent
// callers asking about the same region share one DescribeImages.
func FindIn(ctx context.Context, clients *awsx.Clients, region, id string) (*ec2types.Image, error) {
	found, err := DescribeIn(ctx, clients, region, []string{id})
	switch {
	case awsx.IsNotFound(err):
		return nil, &NotFoundError{ImageID: id, Err: err}
	case err != nil:
		return nil, err
	}
	img, ok := found[id]
	switch {
	case !ok:
		return nil, &NotFoundError{ImageID: id}
	case img.State == ec2types.ImageStateDeregistered:
		return nil, &NotFoundError{ImageID: id, Image: &img}
	}
	return &img, nil
}

// DescribeIn lists the images among ids in region (the clients' own when
// empty), by id; ids AWS does not list are absent. Concurrent callers asking
// about the same region share one DescribeImages.
func DescribeIn(ctx context.Context, clients *awsx.Clients, region string, ids []string) (map[string]ec2types.Image, error) {
	if clients.Images == nil {
		return describe(ctx, clients, region, ids)
	}
	return clients.ImagesIn(region).Describe(ctx, ids)
}

// describe lists the images among ids in region (the clients' own when
// empty), by id.
func describe(ctx context.Context, clients *awsx.Clients, region string, ids []string) (map[string]ec2types.Image, error) {
	out := map[string]ec2types.Image{}
	var res *ec2.DescribeImagesOutput
	err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) (err error) {
		res, err = clients.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{
			// A filter, not ImageIds: an id that is gone would fail the call.
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

// Usable reports whether an image still counts as baked: pending or available.
func Usable(img *ec2types.Image) bool {
	switch img.State {
	case ec2types.ImageStateAvailable, ec2types.ImageStatePending:
		return true
	}
	return false
}

// Snapshots lists the EBS snapshots behind an image, in device order.
func Snapshots(img ec2types.Image) []string {
	var out []string
	for _, bdm := range img.BlockDeviceMappings {
		if bdm.Ebs != nil && aws.ToString(bdm.Ebs.SnapshotId) != "" {
			out = append(out, aws.ToString(bdm.Ebs.SnapshotId))
		}
	}
	return out
}

// TagMap returns an image's tags as a map.
func TagMap(img *ec2types.Image) map[string]string {
	m := make(map[string]string, len(img.Tags))
	for _, t := range img.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

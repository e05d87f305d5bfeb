package engine

import (
	"context"
	"errors"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// ErrImageNotFound is returned (wrapped) by DescribeImage when the image is gone.
var ErrImageNotFound = errors.New("image not found")

// DescribeImage returns the image for the provider's Read; concurrent calls share
// one DescribeImages. An image that does not exist, or that AWS still lists as
// deregistered, gives ErrImageNotFound, so that Read can drop it from state. A
// failed or pending image is returned with its State for the caller to judge.
func DescribeImage(ctx context.Context, clients *awsx.Clients, imageID string) (*ec2types.Image, error) {
	img, err := actions.DescribeImage(ctx, clients, imageID)
	switch {
	case awsx.IsNotFound(err):
		return nil, errors.Join(ErrImageNotFound, err)
	case err != nil:
		return nil, err
	case img.State == ec2types.ImageStateDeregistered:
		return nil, ErrImageNotFound
	}
	return img, nil
}

// DeleteImage deregisters the image in region (the clients' own when empty) and,
// when asked, deletes its snapshots; an image already gone is success.
func DeleteImage(ctx context.Context, clients *awsx.Clients, region, imageID string, deleteSnapshots bool) error {
	return actions.DeleteImage(ctx, clients, region, imageID, deleteSnapshots)
}

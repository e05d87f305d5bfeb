package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// ForeignImageError is an image that belongs to another account than the
// provider's credentials.
type ForeignImageError struct {
	ImageID string
	Owner   string // the image's OwnerId
	Account string // the provider's account
}

func (e *ForeignImageError) Error() string {
	return fmt.Sprintf("image %s is owned by account %s, not by account %s of the provider's credentials", e.ImageID, e.Owner, e.Account)
}

// CheckImageOwner returns a *ForeignImageError when img is owned by another
// account than account; when account is unknown (the provider skipped
// asking STS) there is nothing to compare with and it returns nil.
func CheckImageOwner(img *ec2types.Image, account string) error {
	if img == nil || account == "" {
		return nil
	}
	if owner := aws.ToString(img.OwnerId); owner != account {
		return &ForeignImageError{ImageID: aws.ToString(img.ImageId), Owner: owner, Account: account}
	}
	return nil
}

// DeleteImage deregisters the image in region (the clients' own when empty) and,
// when asked, deletes its snapshots; an image already gone is success.
func DeleteImage(ctx context.Context, clients *awsx.Clients, region, imageID string, deleteSnapshots bool) error {
	return actions.DeleteImage(ctx, clients, region, imageID, deleteSnapshots)
}

// DeleteSnapshots deletes snapshots in region (the clients' own when empty)
// whose images are gone; one already gone is success.
func DeleteSnapshots(ctx context.Context, clients *awsx.Clients, region string, ids []string) error {
	return actions.DeleteSnapshots(ctx, clients, region, ids)
}

// SnapshotsExisting returns those of ids that still exist.
func SnapshotsExisting(ctx context.Context, clients *awsx.Clients, ids []string) ([]string, error) {
	return actions.SnapshotsExisting(ctx, clients, ids)
}

// SplitSnapshotsInUse separates, in an error of DeleteImage or DeleteSnapshots,
// the snapshots kept because another registered image is built on them (one
// line each, naming that image) from the other failures (rest, nil if none).
func SplitSnapshotsInUse(err error) (inUse []string, rest error) {
	var others []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var iu *actions.SnapshotInUseError
		if errors.As(e, &iu) {
			inUse = append(inUse, fmt.Sprintf("%s (used by %s)", iu.SnapshotID, iu.ImageID))
			return
		}
		others = append(others, e)
	}
	if err != nil {
		walk(err)
	}
	return inUse, errors.Join(others...)
}

package ami

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// ForeignError is an image that belongs to another account than the
// provider's credentials.
type ForeignError struct {
	ImageID string
	Owner   string // the image's OwnerId
	Account string // the provider's account
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("image %s is owned by account %s, not by account %s of the provider's credentials", e.ImageID, e.Owner, e.Account)
}

// CheckOwner returns a *ForeignError when img is owned by another account
// than account; when account is unknown (the provider skipped asking STS)
// there is nothing to compare with and it returns nil.
func CheckOwner(img *ec2types.Image, account string) error {
	if img == nil || account == "" {
		return nil
	}
	if owner := aws.ToString(img.OwnerId); owner != account {
		return &ForeignError{ImageID: aws.ToString(img.ImageId), Owner: owner, Account: account}
	}
	return nil
}

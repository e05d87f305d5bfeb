package ami

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// UpdateTags sets tags on an image and its snapshots, and removes the keys in
// remove.
func UpdateTags(ctx context.Context, clients *awsx.Clients, imageID string, set map[string]string, remove []string) error {
	return UpdateTagsIn(ctx, clients, "", imageID, set, remove)
}

// UpdateTagsIn is UpdateTags for an image in region (the clients' own when
// empty).
func UpdateTagsIn(ctx context.Context, clients *awsx.Clients, region, imageID string, set map[string]string, remove []string) error {
	img, err := FindIn(ctx, clients, region, imageID)
	if err != nil {
		return err
	}
	ids := append([]string{imageID}, Snapshots(*img)...)
	if len(set) > 0 {
		err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
			_, err := clients.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: awsx.EC2Tags(set)}, awsx.InRegion(clients, region)...)
			return err
		})
		if err != nil {
			return fmt.Errorf("tagging %v: %w", ids, err)
		}
	}
	if len(remove) > 0 {
		tags := make([]ec2types.Tag, 0, len(remove))
		for _, k := range remove {
			tags = append(tags, ec2types.Tag{Key: aws.String(k)})
		}
		err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
			_, err := clients.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: ids, Tags: tags}, awsx.InRegion(clients, region)...)
			return err
		})
		if err != nil {
			return fmt.Errorf("untagging %v: %w", ids, err)
		}
	}
	return nil
}

package actions

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

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

// TagImage sets tags on an image and its snapshots, and removes the keys in remove.
func TagImage(ctx context.Context, clients *awsx.Clients, imageID string, set map[string]string, remove []string) error {
	img, err := DescribeImage(ctx, clients, imageID)
	if err != nil {
		return err
	}
	ids := append([]string{imageID}, snapshotsOf(*img)...)
	if len(set) > 0 {
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tags := make([]ec2types.Tag, 0, len(keys))
		for _, k := range keys {
			tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(set[k])})
		}
		err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
			_, err := clients.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: tags})
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
			_, err := clients.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: ids, Tags: tags})
			return err
		})
		if err != nil {
			return fmt.Errorf("untagging %v: %w", ids, err)
		}
	}
	return nil
}

// FetchDocument returns the content of an SSM Automation document by name.
func FetchDocument(ctx context.Context, clients *awsx.Clients, name string) (string, error) {
	out, err := clients.SSM.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("GetDocument %s: %w", name, err)
	}
	if out.DocumentType != "" && out.DocumentType != ssmtypes.DocumentTypeAutomation {
		return "", fmt.Errorf("SSM document %s is of type %s, not Automation", name, out.DocumentType)
	}
	return aws.ToString(out.Content), nil
}

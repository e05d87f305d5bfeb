package actions

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// copyImage is aws:copyImage: copy an AMI from SourceRegion into the run's
// region (CopyImage is called in the destination region), record it, wait.
type copyImage struct{}

func init() { register("aws:copyImage", copyImage{}) }

func (copyImage) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	var input ec2.CopyImageInput
	var err error
	for _, r := range []struct {
		key string
		dst **string
	}{{"SourceRegion", &input.SourceRegion}, {"SourceImageId", &input.SourceImageId}, {"ImageName", &input.Name}} {
		var v string
		if v, err = required(in, r.key); err != nil {
			return Result{}, err
		}
		*r.dst = aws.String(v)
	}
	input.Description = strPtr(in, "ImageDescription")
	input.KmsKeyId = strPtr(in, "KmsKeyId")
	input.ClientToken = strPtr(in, "ClientToken")
	if err := bind(&input.Encrypted, in["Encrypted"], "Encrypted"); err != nil {
		return Result{}, fmt.Errorf("input %w", err)
	}
	input.TagSpecifications = withRunTags(nil, env.Tags, ec2types.ResourceTypeImage, ec2types.ResourceTypeSnapshot)

	var res *ec2.CopyImageOutput
	err = awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) (err error) {
		res, err = env.Clients.EC2.CopyImage(ctx, &input)
		return err
	})
	if err != nil {
		recoverImage(ctx, env, step, aws.ToString(input.Name), err, func(img ec2types.Image) bool {
			return aws.ToString(img.SourceImageId) == aws.ToString(input.SourceImageId)
		})
		return Result{}, fmt.Errorf("CopyImage: %w", err)
	}
	id := aws.ToString(res.ImageId)
	env.Ledger.RecordImage(env.Clients.Region, id)
	env.info("copying image", map[string]any{"step": step.Name, "image_id": id, "source_image_id": aws.ToString(input.SourceImageId), "source_region": aws.ToString(input.SourceRegion)})
	return finishImage(ctx, env, step, id)
}

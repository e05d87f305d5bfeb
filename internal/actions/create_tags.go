package actions

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// createTags is aws:createTags: EC2 resources through EC2, managed instances,
// maintenance windows and parameters through Systems Manager.
type createTags struct{}

func init() { register("aws:createTags", createTags{}) }

func (createTags) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	ids := strList(in, "ResourceIds")
	if len(ids) == 0 {
		return Result{}, fmt.Errorf("input ResourceIds is required")
	}
	var tags []ec2types.Tag
	if err := bind(&tags, in["Tags"], "Tags"); err != nil {
		return Result{}, fmt.Errorf("input %w", err)
	}
	if len(tags) == 0 {
		return Result{}, fmt.Errorf("input Tags is required")
	}
	for i, t := range tags {
		if aws.ToString(t.Key) == "" {
			return Result{}, fmt.Errorf("input Tags[%d]: Key is required", i)
		}
	}
	kind := str(in, "ResourceType")
	switch kind {
	case "", "EC2":
		err := awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) error {
			_, err := env.Clients.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: tags})
			return err
		})
		if err != nil {
			return Result{}, fmt.Errorf("CreateTags: %w", err)
		}
	case "ManagedInstance", "MaintenanceWindow", "Parameter":
		st := make([]ssmtypes.Tag, len(tags))
		for i, t := range tags {
			st[i] = ssmtypes.Tag{Key: t.Key, Value: aws.String(aws.ToString(t.Value))}
		}
		for _, id := range ids {
			err := awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) error {
				_, err := env.Clients.SSM.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{
					ResourceType: ssmtypes.ResourceTypeForTagging(kind), ResourceId: aws.String(id), Tags: st,
				})
				return err
			})
			if err != nil {
				return Result{}, fmt.Errorf("AddTagsToResource %s: %w", id, err)
			}
		}
	default:
		return Result{}, fmt.Errorf("input ResourceType: %q is not one of EC2, ManagedInstance, MaintenanceWindow, Parameter", kind)
	}
	env.info("tagged resources", map[string]any{"step": step.Name, "resource_ids": ids})
	return Result{Outputs: map[string]any{}}, nil
}

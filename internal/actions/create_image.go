package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// createImage is aws:createImage: create, record at once, wait until
// available, then tag and record the snapshots.
type createImage struct{}

func init() {
	register("aws:createImage", createImage{})
	requestShape("aws:createImage", ec2.CreateImageInput{})
}

func (createImage) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	instance, err := required(in, "InstanceId")
	if err != nil {
		return Result{}, err
	}
	name, err := required(in, "ImageName")
	if err != nil {
		return Result{}, err
	}
	input := &ec2.CreateImageInput{
		InstanceId:  aws.String(instance),
		Name:        aws.String(name),
		Description: strPtr(in, "ImageDescription"),
		// Snapshot tags are not given here: not every EC2 implementation
		// accepts them on CreateImage; they are added once the image lists
		// its snapshots.
		TagSpecifications: withRunTags(nil, env.Tags, ec2types.ResourceTypeImage),
	}
	if err := bind(&input.NoReboot, in["NoReboot"], "NoReboot"); err != nil {
		return Result{}, fmt.Errorf("input %w", err)
	}
	if err := bind(&input.BlockDeviceMappings, in["BlockDeviceMappings"], "BlockDeviceMappings"); err != nil {
		return Result{}, fmt.Errorf("input %w", err)
	}
	if err := checkBuilders(ctx, env, []string{instance}); err != nil {
		return Result{}, err
	}
	var res *ec2.CreateImageOutput
	err = awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) (err error) {
		res, err = env.Clients.EC2.CreateImage(ctx, input)
		return err
	})
	if err != nil {
		recoverImage(ctx, env, step, name, err, func(img ec2types.Image) bool {
			return aws.ToString(img.SourceInstanceId) == instance
		})
		return Result{}, fmt.Errorf("CreateImage: %w", err)
	}
	id := aws.ToString(res.ImageId)
	env.Ledger.RecordImage(env.Clients.Region, id)
	env.info("creating image", map[string]any{"step": step.Name, "image_id": id, "instance_id": instance})
	return finishImage(ctx, env, step, id)
}

// finishImage waits for a new image, then makes sure it and its snapshots
// carry the run's tags and that the ledger knows the snapshots. Shared by
// createImage and copyImage.
func finishImage(ctx context.Context, env *Env, step *document.Step, id string) (Result, error) {
	out := Result{Outputs: map[string]any{"ImageId": id}}
	got, err := env.Clients.Images.WaitAvailable(ctx, []string{id})
	if err != nil {
		return out, err
	}
	img := got[id]
	out.Outputs["ImageState"] = string(img.State)
	snaps := ami.Snapshots(img)
	env.Ledger.RecordSnapshots(id, snaps)

	targets := snaps
	if missingTags(img.Tags, env.Tags) {
		// TagSpecifications are not honoured everywhere (CopyImage on some
		// implementations): tag the image after the fact.
		targets = append([]string{id}, snaps...)
	}
	if len(targets) > 0 && len(env.Tags) > 0 {
		err := awsx.Poll(ctx, env.Clients.Policy, func(ctx context.Context) (bool, error) {
			_, err := env.Clients.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: targets, Tags: awsx.EC2Tags(env.Tags)})
			return err == nil, err
		})
		if err != nil {
			return out, fmt.Errorf("tagging image %s and its snapshots: %w", id, err)
		}
	}
	env.info("image available", map[string]any{"step": step.Name, "image_id": id, "snapshot_ids": snaps})
	return out, nil
}

// recoverImage looks for an image a failed CreateImage/CopyImage may still
// have made (its answer lost) and records it for cleanup. The requested name
// and this run's execution tag narrow the search; only an image made from
// what the call named (made reports it) is taken, since a name and a tag can
// be put on anyone's image.
func recoverImage(ctx context.Context, env *Env, step *document.Step, name string, callErr error, made func(ec2types.Image) bool) {
	exec, ok := env.Tags[systemTagPrefix+"execution-id"]
	if !ok || refused(callErr) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var res *ec2.DescribeImagesOutput
	err := awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) (err error) {
		res, err = env.Clients.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []ec2types.Filter{
			{Name: aws.String("name"), Values: []string{name}},
			{Name: aws.String("tag:" + systemTagPrefix + "execution-id"), Values: []string{exec}},
		}})
		return err
	})
	if err != nil {
		env.info("could not check for an image made by a failed call", map[string]any{"step": step.Name, "error": err.Error()})
		return
	}
	for _, img := range res.Images {
		if !made(img) {
			continue
		}
		id := aws.ToString(img.ImageId)
		env.Ledger.RecordImage(env.Clients.Region, id)
		env.Ledger.RecordSnapshots(id, ami.Snapshots(img))
		env.info("recorded image made by a failed call", map[string]any{"step": step.Name, "image_id": id})
	}
}

// refused reports whether AWS turned the request down (a 4xx other than a
// throttle), in which case nothing was created.
func refused(err error) bool {
	var status interface{ HTTPStatusCode() int }
	if !errors.As(err, &status) {
		return false
	}
	c := status.HTTPStatusCode()
	return c >= 400 && c < 500 && c != 429
}

func missingTags(have []ec2types.Tag, want map[string]string) bool {
	got := map[string]string{}
	for _, t := range have {
		got[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return true
		}
	}
	return false
}

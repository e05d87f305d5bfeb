package provider

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// The helpers below ask the emulator directly what exists, independently of the provider.

// builderProfile is the instance profile the acceptance recipes launch builders with.
const builderProfile = "amibake-builder"

func testClients(t *testing.T) *awsx.Clients {
	t.Helper()
	c, err := awsx.New(context.Background(), awsx.Config{})
	if err != nil {
		t.Fatalf("AWS clients for the emulator: %v", err)
	}
	return c
}

func testEC2(t *testing.T) *ec2.Client {
	t.Helper()
	c, ok := testClients(t).Raw["ec2"].(*ec2.Client)
	if !ok {
		t.Fatal("no EC2 client in the bundle")
	}
	return c
}

// ensureInstanceProfile creates the builder's instance profile in the emulator's IAM.
func ensureInstanceProfile(t *testing.T, name string) {
	t.Helper()
	c := testClients(t)
	_, err := c.IAM.CreateInstanceProfile(context.Background(), &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name)})
	var exists *iamtypes.EntityAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		t.Fatalf("CreateInstanceProfile %s: %v", name, err)
	}
}

// instancesTagged lists instances carrying tag key=value, in any state.
func instancesTagged(t *testing.T, key, value string) []ec2types.Instance {
	t.Helper()
	out, err := testEC2(t).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + key), Values: []string{value}}},
	})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	var all []ec2types.Instance
	for _, r := range out.Reservations {
		all = append(all, r.Instances...)
	}
	return all
}

// liveInstances are the instances tagged key=value that are not terminated.
func liveInstances(t *testing.T, key, value string) []string {
	var ids []string
	for _, i := range instancesTagged(t, key, value) {
		if i.State == nil || (i.State.Name != ec2types.InstanceStateNameTerminated && i.State.Name != ec2types.InstanceStateNameShuttingDown) {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	return ids
}

// imagesTagged lists the account's images carrying tag key=value.
func imagesTagged(t *testing.T, key, value string) []ec2types.Image {
	t.Helper()
	out, err := testEC2(t).DescribeImages(context.Background(), &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + key), Values: []string{value}}},
	})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	return out.Images
}

// snapshotsTagged lists the account's snapshots carrying tag key=value.
func snapshotsTagged(t *testing.T, key, value string) []string {
	t.Helper()
	out, err := testEC2(t).DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"},
		Filters:  []ec2types.Filter{{Name: aws.String("tag:" + key), Values: []string{value}}},
	})
	if err != nil {
		t.Fatalf("DescribeSnapshots: %v", err)
	}
	var ids []string
	for _, s := range out.Snapshots {
		ids = append(ids, aws.ToString(s.SnapshotId))
	}
	return ids
}

func describeImage(t *testing.T, id string) *ec2types.Image {
	t.Helper()
	out, err := testEC2(t).DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil || len(out.Images) == 0 {
		return nil
	}
	return &out.Images[0]
}

func tagMap(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// stateAttr reads an attribute of a resource from Terraform state.
func stateAttr(s *terraform.State, name, attr string) (string, error) {
	rs, ok := s.RootModule().Resources[name]
	if !ok {
		return "", fmt.Errorf("%s not in state", name)
	}
	v, ok := rs.Primary.Attributes[attr]
	if !ok {
		return "", fmt.Errorf("%s has no attribute %s", name, attr)
	}
	return v, nil
}

// checkBakeClean asserts, by asking the emulator, that the bake of execution id
// left no live builder instance, and that images/snapshots of it exist only if wantImage.
func checkBakeClean(t *testing.T, executionID string, wantImage bool) error {
	if ids := liveInstances(t, engine.TagExecutionID, executionID); len(ids) > 0 {
		return fmt.Errorf("builder instances still running for execution %s: %v", executionID, ids)
	}
	imgs := imagesTagged(t, engine.TagExecutionID, executionID)
	snaps := snapshotsTagged(t, engine.TagExecutionID, executionID)
	if !wantImage && (len(imgs) > 0 || len(snaps) > 0) {
		return fmt.Errorf("execution %s left %d images and snapshots %v", executionID, len(imgs), snaps)
	}
	if wantImage && len(imgs) != 1 {
		return fmt.Errorf("execution %s: want exactly 1 image, found %d", executionID, len(imgs))
	}
	return nil
}

// testRunID distinguishes the resources of one test run from earlier ones in a shared emulator.
func testRunID() int64 { return time.Now().UnixNano() }

package simcloud

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

func inRegion(r string) func(*ec2.Options) { return func(o *ec2.Options) { o.Region = r } }

func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestOneRegionAnswersForAll: without SeparateRegions, a call addressed to
// any Region sees every resource, as before Regions were modelled.
func TestOneRegionAnswersForAll(t *testing.T) {
	c := NewInstant()
	id, _ := c.AddImage(Image{})
	out, err := c.EC2().DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{id}}, inRegion("eu-west-1"))
	if err != nil || len(out.Images) != 1 {
		t.Fatalf("DescribeImages in another Region = %v, %v", out, err)
	}
}

func TestSeparateRegions(t *testing.T) {
	ctx := context.Background()
	c := NewInstant()
	c.SeparateRegions()
	src, snaps := c.AddImage(Image{Tags: map[string]string{"k": "v"}})
	e := c.EC2()
	if _, err := e.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{src}}, inRegion("eu-west-1")); codeOf(err) != "InvalidAMIID.NotFound" {
		t.Errorf("the image seen from another Region: %v", err)
	}
	if _, err := e.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: &snaps[0]}, inRegion("eu-west-1")); codeOf(err) != "InvalidSnapshot.NotFound" {
		t.Errorf("its snapshot deleted from another Region: %v", err)
	}
	copyIn := &ec2.CopyImageInput{SourceImageId: &src, SourceRegion: aws.String(Region), Name: aws.String("copy"),
		ClientToken: aws.String("t1"), Encrypted: aws.Bool(true)}
	first, err := e.CopyImage(ctx, copyIn, inRegion("eu-west-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.CopyImage(ctx, copyIn, inRegion("eu-west-1"))
	if err != nil || aws.ToString(again.ImageId) != aws.ToString(first.ImageId) {
		t.Errorf("the same client token made %v, %v; want %s", again, err, aws.ToString(first.ImageId))
	}
	// The same name in another Region is free; a new token makes a new copy.
	copyIn.ClientToken = aws.String("t2")
	if _, err := e.CopyImage(ctx, copyIn, inRegion("eu-west-1")); codeOf(err) != "InvalidAMIName.Duplicate" {
		t.Errorf("a second copy of the same name in eu-west-1: %v", err)
	}
	copyIn.Name = aws.String(c.images[src].name)
	if _, err := e.CopyImage(ctx, copyIn, inRegion("us-west-2")); err != nil {
		t.Errorf("the source's name in another Region: %v", err)
	}
	cp := aws.ToString(first.ImageId)
	out, err := e.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{cp}}, inRegion("eu-west-1"))
	if err != nil || len(out.Images) != 1 {
		t.Fatalf("the copy in its Region: %v, %v", out, err)
	}
	img := out.Images[0]
	if aws.ToString(img.SourceImageId) != src || aws.ToString(img.SourceImageRegion) != Region || !aws.ToBool(img.BlockDeviceMappings[0].Ebs.Encrypted) {
		t.Errorf("copy %+v", img)
	}
	if c.RegionOf(cp) != "eu-west-1" || c.RegionOf(aws.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId)) != "eu-west-1" || c.RegionOf(src) != Region {
		t.Errorf("Regions: copy %s, source %s", c.RegionOf(cp), c.RegionOf(src))
	}
	if _, err := e.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{cp}, Tags: []ec2types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}); codeOf(err) != "InvalidAMIID.NotFound" {
		t.Errorf("the copy tagged from the home Region: %v", err)
	}
}

func TestRegionKnobs(t *testing.T) {
	ctx := context.Background()
	c := NewInstant()
	c.SeparateRegions()
	src, _ := c.AddImage(Image{})
	c.FailImagesIn("eu-west-1", "Client.InternalError", "no")
	e := c.EC2()
	copyTo := func(region string) ec2types.ImageState {
		out, err := e.CopyImage(ctx, &ec2.CopyImageInput{SourceImageId: &src, Name: aws.String("c-" + region)}, inRegion(region))
		if err != nil {
			t.Fatal(err)
		}
		img, _ := c.Image(aws.ToString(out.ImageId))
		return img.State
	}
	if a, b := copyTo("eu-west-1"), copyTo("us-west-2"); a != ec2types.ImageStateFailed || b != ec2types.ImageStateAvailable {
		t.Errorf("copies end %s in eu-west-1 and %s in us-west-2", a, b)
	}

	c.Inject(faults.FailCalls("DescribeImages", 1, -1, "AuthFailure", 401).Only(AddressedTo("ap-east-1")))
	if _, err := e.DescribeImages(ctx, &ec2.DescribeImagesInput{}, inRegion("ap-east-1")); codeOf(err) != "AuthFailure" {
		t.Errorf("ap-east-1: %v", err)
	}
	if _, err := e.DescribeImages(ctx, &ec2.DescribeImagesInput{}); err != nil {
		t.Errorf("home Region: %v", err)
	}

	for range 3 {
		c.AddImage(Image{})
	}
	c.PageImages(2)
	var pages, n int
	in := &ec2.DescribeImagesInput{}
	for {
		out, err := e.DescribeImages(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		pages, n = pages+1, n+len(out.Images)
		if out.NextToken == nil {
			break
		}
		in = &ec2.DescribeImagesInput{NextToken: out.NextToken}
	}
	if pages != 2 || n != 4 {
		t.Errorf("%d images in %d pages, want 4 in 2", n, pages)
	}
	out, err := e.DescribeImages(ctx, &ec2.DescribeImagesInput{MaxResults: aws.Int32(1)})
	if err != nil || len(out.Images) != 1 || out.NextToken == nil {
		t.Errorf("MaxResults 1: %v, %v", out, err)
	}
}

func TestSharingControls(t *testing.T) {
	c := NewInstant()
	perms := []ec2types.LaunchPermission{{UserId: aws.String("111111111111")}}
	id, snaps := c.AddImage(Image{LaunchPermissions: perms, Protection: "enabled-without-cooldown",
		CreationDate: "yesterday", DeprecationTime: "soon"})
	c.ShareSnapshot(snaps[0], "222222222222", "222222222222")
	if p := c.LaunchPermissions(id); len(p) != 1 || aws.ToString(p[0].UserId) != "111111111111" {
		t.Errorf("LaunchPermissions = %v", p)
	}
	if u := c.SnapshotUsers(snaps[0]); len(u) != 1 || u[0] != "222222222222" {
		t.Errorf("SnapshotUsers = %v", u)
	}
	img, _ := c.Image(id)
	if aws.ToString(img.DeregistrationProtection) != "enabled-without-cooldown" || aws.ToString(img.CreationDate) != "yesterday" ||
		aws.ToString(img.DeprecationTime) != "soon" {
		t.Errorf("image %+v", img)
	}
	add, remove := VolumePermissionChange(&ec2.ModifySnapshotAttributeInput{OperationType: ec2types.OperationTypeRemove, UserIds: []string{"3"},
		CreateVolumePermission: &ec2types.CreateVolumePermissionModifications{Add: []ec2types.CreateVolumePermission{{UserId: aws.String("4")}}}})
	if len(add) != 1 || add[0] != "4" || len(remove) != 1 || remove[0] != "3" {
		t.Errorf("VolumePermissionChange = %v, %v", add, remove)
	}
}

package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// Regions of the copies in TestAccImageDataSource_bakesAndCopies.
const (
	copyRegion   = "us-west-2"
	forgedRegion = "eu-central-1"
)

// dsBake is an amibake_image of the data source tests: the same recipe for
// every name, told apart from other runs by marker (a trigger, so in the bake
// key, and a tag); variant changes the bake key and nothing else.
func dsBake(name, marker, variant string) string {
	return fmt.Sprintf(`
resource "amibake_image" %q {
%s
  triggers = {
    run     = %q
    variant = %q
  }
  tags = {
    golden = %q
  }
}
`, name, launchAndImageSteps("ds"), marker, variant, marker)
}

// TestAccImageDataSource_bakesAndCopies bakes the same recipe twice and a
// variant of it once, and reads them back as another configuration would:
// by bake key the newest bake of that key, by tags the newest of all; then
// the copies of the image found, in a Region holding its copy and a newer
// forgery, and in one holding only a forgery.
func TestAccImageDataSource_bakesAndCopies(t *testing.T) {
	marker := fmt.Sprintf("ds-%d", testRunID())
	var executions []string
	var firstID, secondID, otherID, copyID, forgedID string
	first := dsBake("first", marker, "a")
	second := dsBake("second", marker, "a")
	other := dsBake("other", marker, "b")
	// The data sources read after the bakes of their step, not at plan.
	lookups := func(deps, extra string) string {
		return fmt.Sprintf(`
data "amibake_image" "by_key" {
  bake_key   = amibake_image.first.bake_key
  depends_on = [%s]
%s}

data "amibake_image" "by_tags" {
  tags       = { golden = %q }
  depends_on = [%s]
}
`, deps, extra, marker, deps)
	}
	// moto's CreationDate has whole seconds: each bake in a later second.
	nextSecond := func() { time.Sleep(1100 * time.Millisecond) }
	imageOf := func(name string, into *string) resource.TestCheckFunc {
		return func(s *terraform.State) (err error) {
			*into, err = stateAttr(s, "amibake_image."+name, "image_id")
			return err
		}
	}
	found := func(ds string, want *string) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			got, err := stateAttr(s, "data.amibake_image."+ds, "image_id")
			if err != nil {
				return err
			}
			if got != *want {
				return fmt.Errorf("data.amibake_image.%s found %s, want %s", ds, got, *want)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t); ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{
			{
				Config: config(first + lookups("amibake_image.first", "")),
				Check: resource.ComposeTestCheckFunc(
					rememberExecution("amibake_image.first", &executions),
					imageOf("first", &firstID),
					found("by_key", &firstID),
					found("by_tags", &firstID),
				),
			},
			{
				// A second bake of the same recipe, parameters and triggers:
				// the same bake key, and the newer image.
				PreConfig: nextSecond,
				Config:    config(first + second + lookups("amibake_image.second", "")),
				Check: resource.ComposeTestCheckFunc(
					rememberExecution("amibake_image.second", &executions),
					imageOf("second", &secondID),
					func(*terraform.State) error {
						if secondID == firstID {
							return fmt.Errorf("the second bake has the first's image %s", firstID)
						}
						return nil
					},
					found("by_key", &secondID),
					found("by_tags", &secondID),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs("amibake_image.first", tfjsonpath.New("bake_key"),
						"amibake_image.second", tfjsonpath.New("bake_key"), compare.ValuesSame()),
					statecheck.CompareValuePairs("data.amibake_image.by_key", tfjsonpath.New("execution_id"),
						"amibake_image.second", tfjsonpath.New("execution_id"), compare.ValuesSame()),
					statecheck.CompareValuePairs("data.amibake_image.by_key", tfjsonpath.New("snapshot_ids"),
						"amibake_image.second", tfjsonpath.New("snapshot_ids"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("data.amibake_image.by_key", tfjsonpath.New("region"), knownvalue.StringExact(acctest.Region)),
					statecheck.ExpectKnownValue("data.amibake_image.by_key", tfjsonpath.New("copies"), knownvalue.MapSizeExact(0)),
					statecheck.ExpectKnownValue("data.amibake_image.by_key", tfjsonpath.New("deprecation_time"), knownvalue.Null()),
					statecheck.ExpectKnownValue("data.amibake_image.by_key", tfjsonpath.New("image_tags").AtMapKey("golden"), knownvalue.StringExact(marker)),
					statecheck.ExpectKnownValue("data.amibake_image.by_key", tfjsonpath.New("creation_date"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT`))),
					statecheck.CompareValuePairs("data.amibake_image.by_tags", tfjsonpath.New("bake_key"),
						"amibake_image.second", tfjsonpath.New("bake_key"), compare.ValuesSame()),
				},
			},
			{
				// A variant with another bake key: newest by tags, not by the
				// first two's bake key.
				PreConfig: nextSecond,
				Config:    config(first + second + other + lookups("amibake_image.other", "")),
				Check: resource.ComposeTestCheckFunc(
					rememberExecution("amibake_image.other", &executions),
					imageOf("other", &otherID),
					found("by_key", &secondID),
					found("by_tags", &otherID),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs("data.amibake_image.by_tags", tfjsonpath.New("bake_key"),
						"amibake_image.other", tfjsonpath.New("bake_key"), compare.ValuesSame()),
					statecheck.CompareValuePairs("data.amibake_image.by_key", tfjsonpath.New("bake_key"),
						"data.amibake_image.by_tags", tfjsonpath.New("bake_key"), compare.ValuesDiffer()),
				},
			},
			{
				// The copy of the second image in copyRegion, and a newer
				// image there tagged as its copy that AWS says was made
				// from an instance.
				PreConfig: func() {
					copyID = copyTagged(t, secondID, copyRegion)
					nextSecond()
					forgedID = forgedCopy(t, secondID, copyRegion)
				},
				Config: config(first + second + other + lookups("amibake_image.other", fmt.Sprintf("  copy_regions = [%q]\n", copyRegion))),
				Check: resource.ComposeTestCheckFunc(
					found("by_key", &secondID),
					func(s *terraform.State) error {
						got, err := stateAttr(s, "data.amibake_image.by_key", "copies."+copyRegion)
						if err != nil {
							return err
						}
						if got != copyID || got == forgedID {
							return fmt.Errorf("copies[%s] = %s, want the copy %s (forged: %s)", copyRegion, got, copyID, forgedID)
						}
						return nil
					},
				),
			},
			{
				// A Region with only a forgery: no copy, and the error names
				// the forgery and why it does not count.
				PreConfig: func() { forgedCopy(t, secondID, forgedRegion) },
				Config: config(first + second + other + lookups("amibake_image.other",
					fmt.Sprintf("  copy_regions = [%q, %q]\n", copyRegion, forgedRegion))),
				ExpectError: regexp.MustCompile(`(?s)No Copy Found.*has no copy in ` + forgedRegion + `.*made by CreateImage from\s+instance`),
			},
		},
	})
}

// copyTagged copies image id of the emulator's Region into region and tags
// the copy as the provider's distribution does.
func copyTagged(t *testing.T, id, region string) string {
	t.Helper()
	ctx := context.Background()
	in := func(o *ec2.Options) { o.Region = region }
	c := testEC2(t)
	out, err := c.CopyImage(ctx, &ec2.CopyImageInput{
		SourceImageId: aws.String(id), SourceRegion: aws.String(acctest.Region), Name: aws.String("ds-copy-" + id),
	}, in)
	if err != nil {
		t.Fatalf("CopyImage %s to %s: %v", id, region, err)
	}
	copyID := aws.ToString(out.ImageId)
	tagCopyOf(t, copyID, id, region)
	t.Cleanup(func() { deregisterIn(t, copyID, region) })
	return copyID
}

// forgedCopy makes an image in region from an instance and tags it as a copy
// of image id, which it is not.
func forgedCopy(t *testing.T, id, region string) string {
	t.Helper()
	ctx := context.Background()
	in := func(o *ec2.Options) { o.Region = region }
	c := testEC2(t)
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(sourceAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}, in)
	if err != nil {
		t.Fatalf("RunInstances in %s: %v", region, err)
	}
	instance := aws.ToString(run.Instances[0].InstanceId)
	img, err := c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(instance), Name: aws.String("ds-forged-" + id)}, in)
	if err != nil {
		t.Fatalf("CreateImage in %s: %v", region, err)
	}
	if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instance}}, in); err != nil {
		t.Fatalf("TerminateInstances in %s: %v", region, err)
	}
	forged := aws.ToString(img.ImageId)
	tagCopyOf(t, forged, id, region)
	t.Cleanup(func() { deregisterIn(t, forged, region) })
	return forged
}

func tagCopyOf(t *testing.T, imageID, sourceID, region string) {
	t.Helper()
	_, err := testEC2(t).CreateTags(context.Background(), &ec2.CreateTagsInput{
		Resources: []string{imageID},
		Tags:      []ec2types.Tag{{Key: aws.String(ami.CopyOfTag), Value: aws.String(ami.CopyOf(acctest.Region, sourceID))}},
	}, func(o *ec2.Options) { o.Region = region })
	if err != nil {
		t.Fatalf("CreateTags %s in %s: %v", imageID, region, err)
	}
}

func deregisterIn(t *testing.T, id, region string) {
	_, err := testEC2(t).DeregisterImage(context.Background(), &ec2.DeregisterImageInput{ImageId: aws.String(id)},
		func(o *ec2.Options) { o.Region = region })
	if err != nil {
		t.Errorf("DeregisterImage %s in %s: %v", id, region, err)
	}
}

// TestAccImageDataSource_planTimeErrors: every mistake in the arguments is
// refused at plan, naming the attribute, and a selector no image answers
// fails the read naming the selector.
func TestAccImageDataSource_planTimeErrors(t *testing.T) {
	cases := []struct{ body, want string }{
		{`region = "us-east-1"`, `(?s)At least one of these attributes must be configured:\s+\[bake_key,tags\]`},
		{`bake_key = "not-a-key"`, `(?s)bake_key.*32 hexadecimal digits`},
		{`tags = {}`, `(?s)tags.*at least 1`},
		{`tags = { "amibake:bake-key" = "0123456789abcdef0123456789abcdef" }`, `(?s)Use bake_key.*with the bake_key argument`},
		{`tags = { "amibake:managed" = "true" }`, `Reserved Tag Key`},
		{"tags = { a = \"b\" }\n  region = \"Ireland\"", `(?s)region.*AWS Region code`},
		{"tags = { a = \"b\" }\n  copy_regions = [\"us-west-2\", \"us-west-2\"]", `(?s)Duplicate List Value.*copy_regions`},
		{"tags = { a = \"b\" }\n  copy_regions = [\"eu west 1\"]", `(?s)copy_regions\[0\].*AWS Region code`},
		{`bake_key = "00000000000000000000000000000000"`, `(?s)No Baked Image Found.*Your query returned no results.*amibake:bake-key\s+=\s+"00000000000000000000000000000000"`},
	}
	var steps []resource.TestStep
	for _, tc := range cases {
		steps = append(steps, resource.TestStep{
			Config:      config(fmt.Sprintf("data \"amibake_image\" \"x\" {\n  %s\n}\n", tc.body)),
			ExpectError: regexp.MustCompile(tc.want),
		})
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps:                    steps,
	})
}

// TestAccImageDataSource_ssmExecutor: an image baked on SSM Automation is
// found like one baked locally, with its execution.
func TestAccImageDataSource_ssmExecutor(t *testing.T) {
	testAccPreCheck(t)
	emu := testEmulator(t)
	marker := fmt.Sprintf("ds-ssm-%d", testRunID())
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config(ssmProvider(emu, marker, "") + fmt.Sprintf(`
resource "amibake_image" "ssm" {
%s
  tags = {
    golden = %q
  }
}

data "amibake_image" "by_key" {
  bake_key   = amibake_image.ssm.bake_key
  depends_on = [amibake_image.ssm]
}

data "amibake_image" "by_tags" {
  tags       = { golden = %q }
  depends_on = [amibake_image.ssm]
}
`, launchAndImageSteps("ds-ssm"), marker, marker)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.CompareValuePairs("data.amibake_image.by_key", tfjsonpath.New("image_id"),
					"amibake_image.ssm", tfjsonpath.New("image_id"), compare.ValuesSame()),
				statecheck.CompareValuePairs("data.amibake_image.by_key", tfjsonpath.New("execution_id"),
					"amibake_image.ssm", tfjsonpath.New("execution_id"), compare.ValuesSame()),
				statecheck.CompareValuePairs("data.amibake_image.by_tags", tfjsonpath.New("image_id"),
					"amibake_image.ssm", tfjsonpath.New("image_id"), compare.ValuesSame()),
			},
		}},
	})
}

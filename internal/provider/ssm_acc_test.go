package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// The SSM executor's acceptance tests run against moto and the project's
// SSM Automation emulator, started as its own process: the provider's SSM
// endpoint is the emulator, every other service moto.

// testEmulator is the emulator shared by the package's tests.
func testEmulator(t *testing.T) *acctest.SSMEmulator {
	t.Helper()
	return acctest.SharedSSMEmulator(t, testMoto)
}

// ssmProvider is a provider block that bakes on SSM Automation through emu,
// tagging everything with matrixTag=marker; extra goes into the block.
func ssmProvider(emu *acctest.SSMEmulator, marker, extra string) string {
	return fmt.Sprintf(`provider "amibake" {
  executor = "ssm"
%s
  endpoints {
    ssm = %q
  }
  default_tags {
    tags = { %s = %q }
  }
}
`, extra, emu.Endpoint(), matrixTag, marker)
}

// emulatorSSM is an SSM client talking to the emulator.
func emulatorSSM(t *testing.T, emu *acctest.SSMEmulator) *ssm.Client {
	t.Helper()
	c, err := awsx.New(context.Background(), awsx.Config{Endpoints: awsx.Endpoints{SSM: emu.Endpoint()}})
	if err != nil {
		t.Fatalf("AWS clients for the emulator: %v", err)
	}
	return c.Raw["ssm"].(*ssm.Client)
}

// executionsOfBake lists, through the emulator, every execution started for
// a bake key: each StartAutomationExecution that started something.
func executionsOfBake(t *testing.T, emu *acctest.SSMEmulator, key string) []ssmtypes.AutomationExecutionMetadata {
	t.Helper()
	c := emulatorSSM(t, emu)
	in := &ssm.DescribeAutomationExecutionsInput{Filters: []ssmtypes.AutomationExecutionFilter{
		{Key: ssmtypes.AutomationExecutionFilterKeyTagKey, Values: []string{"amibake:bake/" + key}},
	}, MaxResults: aws.Int32(50)}
	var all []ssmtypes.AutomationExecutionMetadata
	for {
		var out *ssm.DescribeAutomationExecutionsOutput
		err := awsx.Poll(context.Background(), awsx.DefaultPolicy(), func(ctx context.Context) (bool, error) {
			var err error
			out, err = c.DescribeAutomationExecutions(ctx, in)
			return !awsx.IsThrottle(err), err
		})
		if err != nil {
			t.Fatalf("DescribeAutomationExecutions: %v", err)
		}
		all = append(all, out.AutomationExecutionMetadataList...)
		if aws.ToString(out.NextToken) == "" {
			return all
		}
		in.NextToken = out.NextToken
	}
}

// checkSSMBake asks moto and the emulator about the bake in state: one
// execution for its key, which succeeded, its image exists, and no builder
// tagged marker is left.
func checkSSMBake(t *testing.T, emu *acctest.SSMEmulator, name, marker string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		id, err := stateAttr(s, name, "image_id")
		if err != nil {
			return err
		}
		key, err := stateAttr(s, name, "bake_key")
		if err != nil {
			return err
		}
		if describeImage(t, id) == nil {
			return fmt.Errorf("image %s does not exist", id)
		}
		execs := executionsOfBake(t, emu, key)
		if len(execs) != 1 || execs[0].AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusSuccess {
			return fmt.Errorf("want one successful execution for bake %s, found %d: %+v", key, len(execs), execs)
		}
		if exec, _ := stateAttr(s, name, "execution_id"); exec != aws.ToString(execs[0].AutomationExecutionId) {
			return fmt.Errorf("execution_id %s is not the execution %s", exec, aws.ToString(execs[0].AutomationExecutionId))
		}
		if ids := liveInstances(t, matrixTag, marker); len(ids) != 0 {
			return fmt.Errorf("builders still running: %v", ids)
		}
		return nil
	}
}

func TestAccImageSSM_sixStepPipeline(t *testing.T) {
	testAccPreCheck(t)
	emu := testEmulator(t)
	marker := fmt.Sprintf("ssm-six-%d", testRunID())
	cfg := func(executor, tags string) string {
		return config(fmt.Sprintf(`%s
resource "amibake_image" "patch" {
%s
  %s
  parameters = {
    sourceAMIid = %q
  }
  tags = %s
}
`, ssmProvider(emu, marker, ""), patchPipelineHCL(builderProfile), executor, sourceAMI, tags))
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if imgs := imagesTagged(t, matrixTag, marker); len(imgs) != 0 {
				return fmt.Errorf("destroy left %d images", len(imgs))
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg("", `{ team = "platform" }`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("amibake_image.patch", tfjsonpath.New("steps"), sixStepsSucceeded),
					statecheck.ExpectKnownValue("amibake_image.patch", tfjsonpath.New("image_id"), knownvalue.StringRegexp(regexp.MustCompile(`^ami-`))),
					statecheck.ExpectKnownValue("amibake_image.patch", tfjsonpath.New("step_outputs").AtMapKey("createImage.ImageId"), knownvalue.StringRegexp(regexp.MustCompile(`^ami-`))),
					statecheck.ExpectKnownValue("amibake_image.patch", tfjsonpath.New("snapshot_ids"), knownvalue.ListSizeExact(1)),
				},
				Check: resource.ComposeTestCheckFunc(
					checkSSMBake(t, emu, "amibake_image.patch", marker),
					resource.TestCheckResourceAttrPair("amibake_image.patch", "id", "amibake_image.patch", "image_id"),
				),
			},
			{
				// Switching the executor does not rebuild the image; tags change in place.
				Config: cfg(`executor = "local"`, `{ team = "platform", tier = "gold" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("amibake_image.patch", plancheck.ResourceActionUpdate)},
				},
			},
		},
	})
}

// ssmLeaks is what the bakes tagged marker left: builders not terminated,
// and images made from any of their builders (aws:createImage cannot tag an
// image, so they are found by their source instance) that are still
// registered and not in keep.
func ssmLeaks(t *testing.T, marker string, keep ...string) (instances, images []string) {
	t.Helper()
	builders := map[string]bool{}
	for _, in := range instancesTagged(t, matrixTag, marker) {
		builders[aws.ToString(in.InstanceId)] = true
	}
	instances = liveInstances(t, matrixTag, marker)
	out, err := testEC2(t).DescribeImages(context.Background(), &ec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	for _, img := range out.Images {
		id := aws.ToString(img.ImageId)
		if builders[aws.ToString(img.SourceInstanceId)] && img.State != ec2types.ImageStateDeregistered && !slices.Contains(keep, id) {
			images = append(images, id)
		}
	}
	return instances, images
}

// failingRecipe launches a builder, images it, then fails its check step
// (Abort) before the terminate step: SSM leaves the builder and the image.
func failingRecipe(name string) string {
	return fmt.Sprintf(`
resource "amibake_image" %q {
  document = jsonencode({
    schemaVersion = "0.3"
    mainSteps = [
      { name = "launch", action = "aws:runInstances", inputs = { ImageId = %q, IamInstanceProfileName = %q } },
      { name = "image", action = "aws:createImage", inputs = { InstanceId = "{{ launch.InstanceIds }}", ImageName = "ssm-fail-{{ automation:EXECUTION_ID }}" } },
      { name = "check", action = "aws:assertAwsResourceProperty", inputs = {
          Service = "ec2", Api = "DescribeInstances", InstanceIds = ["{{ launch.InstanceIds }}"],
          PropertySelector = "$.Reservations[0].Instances[0].State.Name", DesiredValues = ["never"] } },
      { name = "terminate", action = "aws:changeInstanceState", inputs = { InstanceIds = ["{{ launch.InstanceIds }}"], DesiredState = "terminated" } },
    ]
    outputs = ["image.ImageId"]
  })
}
`, name, sourceAMI, builderProfile)
}

func TestAccImageSSM_failingStep(t *testing.T) {
	testAccPreCheck(t)
	emu := testEmulator(t)
	marker := fmt.Sprintf("ssm-fail-%d", testRunID())
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      config(ssmProvider(emu, marker, "") + failingRecipe("bad")),
			ExpectError: regexp.MustCompile(`(?s)Bake Failed.*step "check" \(aws:assertAwsResourceProperty\) failed`),
		}},
	})
	instances, images := ssmLeaks(t, marker)
	if len(instances) > 0 || len(images) > 0 {
		t.Errorf("the failed bake left builders %v and images %v", instances, images)
	}
	if len(instancesTagged(t, matrixTag, marker)) != 1 {
		t.Errorf("the recipe should have launched one builder tagged %s", marker)
	}
}

// A recipe with actions only SSM's engine runs plans under executor "ssm",
// set on the resource or on the provider; under "local" it is refused.
func TestAccImageSSM_planOnlyActions(t *testing.T) {
	testAccPreCheck(t)
	emu := testEmulator(t)
	recipe := func(executor string) string {
		return fmt.Sprintf(`
resource "amibake_image" "script" {
  %s
  document = jsonencode({
    schemaVersion = "0.3"
    mainSteps = [
      { name = "launch", action = "aws:runInstances", inputs = { ImageId = %q } },
      { name = "approve", action = "aws:approve", inputs = { Approvers = ["arn:aws:iam::123456789012:role/approver"] } },
      { name = "script", action = "aws:executeScript", inputs = { Runtime = "python3.11", Handler = "handler", Script = "def handler(events, context):\n  return {}" } },
      { name = "image", action = "aws:createImage", inputs = { InstanceId = "{{ launch.InstanceIds }}", ImageName = "script-{{ automation:EXECUTION_ID }}" } },
    ]
  })
}
`, executor, sourceAMI)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(ssmProvider(emu, "plan", "") + recipe("")), PlanOnly: true, ExpectNonEmptyPlan: true},
			{Config: config(ssmProvider(emu, "plan", "") + recipe(`executor = "ssm"`)), PlanOnly: true, ExpectNonEmptyPlan: true},
			{
				Config:      config(ssmProvider(emu, "plan", "") + recipe(`executor = "local"`)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Action Not Supported by amibake_image`),
			},
		},
	})
}

// sensitive_parameters are refused under SSM at plan time, with the safe way.
func TestAccImageSSM_sensitiveRefused(t *testing.T) {
	testAccPreCheck(t)
	emu := testEmulator(t)
	body := `
resource "amibake_image" "secret" {
  %s
  parameter {
    name = "token"
    type = "String"
  }
  step {
    name = "launch"
    run_instances {
      image_id = "ami-12c6146b"
    }
  }
  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "secret-{{ automation:EXECUTION_ID }}"
    }
  }
  sensitive_parameters = { token = "hunter2" }
}
`
	want := regexp.MustCompile(`(?s)Sensitive Parameter Under SSM Automation.*\{\{ssm:/path/to/secret\}\}`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(ssmProvider(emu, "plan", "") + fmt.Sprintf(body, "")), PlanOnly: true, ExpectError: want},
			{Config: config(ownCredentials + fmt.Sprintf(body, `executor = "ssm"`)), PlanOnly: true, ExpectError: want},
		},
	})
}

// pauseRecipe launches a builder, images it, sleeps, and terminates it.
func pauseRecipe(name, pause, more string) string {
	return fmt.Sprintf(`
resource "amibake_image" %q {
%s  step {
    name = "pause"
    sleep {
      duration = %q
    }
  }
  step {
    name = "terminate"
    change_instance_state {
      instance_ids  = ["{{ launch.InstanceIds }}"]
      desired_state = "terminated"
    }
  }
  outputs = ["image.ImageId"]
%s
}
`, name, launchAndImageSteps("ssm"), pause, more)
}

// timeouts.create stops the execution, waits for it to end, and cleans up.
func TestAccImageSSM_timeout(t *testing.T) {
	testAccPreCheck(t)
	emu := testEmulator(t)
	marker := fmt.Sprintf("ssm-timeout-%d", testRunID())
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      config(ssmProvider(emu, marker, "") + pauseRecipe("slow", "PT10M", `  timeouts { create = "10s" }`)),
			ExpectError: regexp.MustCompile(`(?s)step "pause" \(aws:sleep\) was cancelled.*timeouts.create`),
		}},
	})
	instances, images := ssmLeaks(t, marker)
	if len(instances)+len(images) > 0 {
		t.Errorf("the timed-out bake left builders %v and images %v", instances, images)
	}
	for _, x := range executionsTagged(t, emu, marker) {
		if st := x.AutomationExecutionStatus; st != ssmtypes.AutomationExecutionStatusCancelled {
			t.Errorf("execution %s is %s, want Cancelled", aws.ToString(x.AutomationExecutionId), st)
		}
	}
}

// executionsTagged lists the executions whose default tags carry marker.
func executionsTagged(t *testing.T, emu *acctest.SSMEmulator, marker string) []ssmtypes.AutomationExecutionMetadata {
	t.Helper()
	c := emulatorSSM(t, emu)
	out, err := c.DescribeAutomationExecutions(context.Background(), &ssm.DescribeAutomationExecutionsInput{
		Filters:    []ssmtypes.AutomationExecutionFilter{{Key: ssmtypes.AutomationExecutionFilterKeyTagKey, Values: []string{matrixTag}}},
		MaxResults: aws.Int32(50),
	})
	if err != nil {
		t.Fatalf("DescribeAutomationExecutions: %v", err)
	}
	var mine []ssmtypes.AutomationExecutionMetadata
	for _, x := range out.AutomationExecutionMetadataList {
		tags, err := c.ListTagsForResource(context.Background(), &ssm.ListTagsForResourceInput{
			ResourceType: ssmtypes.ResourceTypeForTaggingAutomation, ResourceId: x.AutomationExecutionId,
		})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		for _, tg := range tags.TagList {
			if aws.ToString(tg.Key) == matrixTag && aws.ToString(tg.Value) == marker {
				mine = append(mine, x)
			}
		}
	}
	if len(mine) == 0 {
		t.Errorf("no execution tagged %s=%s", matrixTag, marker)
	}
	return mine
}

// A recipe without a terminate step succeeds on SSM, which leaves its
// builder running; the provider terminates it.
func TestAccImageSSM_noTerminateStep(t *testing.T) {
	testAccPreCheck(t)
	emu := testEmulator(t)
	marker := fmt.Sprintf("ssm-noterm-%d", testRunID())
	var image string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config(ssmProvider(emu, marker, "") + fmt.Sprintf(`
resource "amibake_image" "noterm" {
%s}
`, launchAndImageSteps("ssm-noterm"))),
			Check: func(s *terraform.State) error {
				image, _ = stateAttr(s, "amibake_image.noterm", "image_id")
				if n := len(instancesTagged(t, matrixTag, marker)); n != 1 {
					return fmt.Errorf("want one builder tagged %s, found %d", marker, n)
				}
				if instances, images := ssmLeaks(t, marker, image); len(instances)+len(images) > 0 {
					return fmt.Errorf("builders %v and images %v left after a successful bake", instances, images)
				}
				return nil
			},
		}},
	})
}

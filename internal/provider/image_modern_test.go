package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// The features of newer CLIs: resource identity (Terraform and OpenTofu 1.12)
// and write-only arguments (1.11). Each test says which CLI it needs and is
// skipped, with that reason, under older ones; `make testacc-tofu` runs them
// all under OpenTofu 1.12.

// outsideImage is an AMI of the emulator's account made without the
// provider, as a console or another tool would; it is removed at the end of
// the test unless something else removed it first.
func outsideImage(t *testing.T, e *ec2.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	run, err := e.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(sourceAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	instance := aws.ToString(run.Instances[0].InstanceId)
	img, err := e.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(instance), Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instance}}); err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(img.ImageId)
	snap := snapshotOf(t, id)
	t.Cleanup(func() {
		_, _ = e.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id)})
		_, _ = e.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
	})
	return id
}

// versionCheck is a TerraformVersionCheck written as a function.
type versionCheck func(context.Context, tfversion.CheckTerraformVersionRequest, *tfversion.CheckTerraformVersionResponse)

func (f versionCheck) CheckTerraformVersion(ctx context.Context, req tfversion.CheckTerraformVersionRequest, resp *tfversion.CheckTerraformVersionResponse) {
	f(ctx, req, resp)
}

// skipWriteOnlyCapable skips a test under CLIs with write-only arguments
// (1.11 and later); tfversion.SkipAbove(1.10.0) would also skip 1.10.1 and
// later patch releases, which lack them.
func skipWriteOnlyCapable() tfversion.TerraformVersionCheck {
	return versionCheck(func(_ context.Context, req tfversion.CheckTerraformVersionRequest, resp *tfversion.CheckTerraformVersionResponse) {
		if !req.TerraformVersion.Core().LessThan(tfversion.Version1_11_0) {
			resp.Skip = fmt.Sprintf("CLI version %s supports write-only arguments (1.11 and later): this test is for older CLIs", req.TerraformVersion)
		}
	})
}

// expectImporting is a plan check: the plan imports address.
func expectImporting(address string) plancheck.PlanCheck { return importingCheck(address) }

type importingCheck string

func (c importingCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address == string(c) {
			if rc.Change == nil || rc.Change.Importing == nil {
				resp.Error = fmt.Errorf("%s is planned without an import", c)
			}
			return
		}
	}
	resp.Error = fmt.Errorf("no planned change for %s", c)
}

// importBlock is an import block for amibake_image.<to> by identity.
func importBlock(to, identity string) string {
	return fmt.Sprintf("\nimport {\n  to       = amibake_image.%s\n  identity = {\n%s  }\n}\n", to, identity)
}

// TestAccImageModern_importByIdentity: an AMI made outside Terraform is
// imported with an `import` block naming its identity (account, Region, AMI
// id); the plan imports it and adopts the recipe in place, the next plan is
// empty. An identity of another account or another Region is refused at plan
// time (an image of another Region is imported through a provider for that
// Region: TestAccImageModern_identityCLI, since this harness serves all
// provider configurations from one provider instance). Once the image is deregistered outside Terraform, refresh drops the
// resource (its identity notwithstanding) and the next plan bakes anew.
func TestAccImageModern_importByIdentity(t *testing.T) {
	testAccPreCheck(t)
	ensureInstanceProfile(t, builderProfile)
	clients := testClients(t)
	amiID := outsideImage(t, testEC2(t), fmt.Sprintf("identity-%d", testRunID()))
	var rebaked string

	resourceBlock := fmt.Sprintf("resource \"amibake_image\" \"adopted\" {\n%s\n}\n", launchAndImageSteps("identity"))
	full := fmt.Sprintf("    account_id = %q\n    region     = %q\n    image_id   = %q\n", clients.AccountID, clients.Region, amiID)
	adopted := config(resourceBlock + importBlock("adopted", full))
	other := func(identity string) string {
		return adopted + fmt.Sprintf("\nresource \"amibake_image\" \"other\" {\n%s\n}\n", launchAndImageSteps("other")) + importBlock("other", identity)
	}

	resource.Test(t, resource.TestCase{
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{
			// import blocks take an identity from Terraform 1.12 and OpenTofu 1.12 on.
			tfversion.SkipBelow(tfversion.Version1_12_0),
		},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			for _, id := range []string{amiID, rebaked} {
				if id != "" && describeImage(t, id) != nil {
					return fmt.Errorf("image %s is still registered after destroy", id)
				}
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: adopted,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						expectImporting("amibake_image.adopted"),
						plancheck.ExpectResourceAction("amibake_image.adopted", plancheck.ResourceActionUpdate),
					},
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("amibake_image.adopted", "image_id", amiID),
					resource.TestCheckResourceAttr("amibake_image.adopted", "account_id", clients.AccountID),
					resource.TestCheckResourceAttr("amibake_image.adopted", "region", clients.Region),
				),
			},
			{
				Config: adopted,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Only image_id is required; the account and Region default to the provider's.
				Config:             other(fmt.Sprintf("    image_id = %q\n", amiID)),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config:      other(fmt.Sprintf("    account_id = \"210987654321\"\n    image_id   = %q\n", amiID)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Image Owned by Another Account.*Refusing to import image ` + amiID + `: it is owned by\s+account\s+210987654321`),
			},
			{
				Config:      other(fmt.Sprintf("    region   = \"eu-west-3\"\n    image_id = %q\n", amiID)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Image in Another Region.*provider = amibake.eu_west_3`),
			},
			{
				Config:      other("    image_id = \"i-0123456789abcdef0\"\n"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Invalid Import Identity`),
			},
			{
				// Deregistered outside Terraform, with its snapshot: refresh
				// drops the resource, the plan bakes a new image.
				PreConfig: func() {
					snap := snapshotOf(t, amiID)
					e := testEC2(t)
					if _, err := e.DeregisterImage(context.Background(), &ec2.DeregisterImageInput{ImageId: aws.String(amiID)}); err != nil {
						t.Fatal(err)
					}
					if _, err := e.DeleteSnapshot(context.Background(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)}); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(resourceBlock),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("amibake_image.adopted", plancheck.ResourceActionCreate),
					},
				},
				Check: func(s *terraform.State) error {
					rebaked, _ = stateAttr(s, "amibake_image.adopted", "image_id")
					if rebaked == "" || rebaked == amiID {
						return fmt.Errorf("image_id after the rebake = %q", rebaked)
					}
					return nil
				},
			},
		},
	})
}

// writeOnlyRecipe is an image whose parameter token is given in
// sensitive_parameters_wo; more goes into the resource.
func writeOnlyRecipe(name, more string) string {
	return fmt.Sprintf(`
resource "amibake_image" %q {
  parameter {
    name            = "token"
    type            = "String"
    allowed_pattern = "^[0-9a-f]+$"
  }
%s%s
}
`, name, launchAndImageSteps(name), more)
}

// TestAccImageModern_writeOnlyChecks: the plan-time checks of
// sensitive_parameters hold for sensitive_parameters_wo: rules reported
// without the value, exposure, the same key given twice, the refusal under
// executor "ssm"; and a version is required with the values.
func TestAccImageModern_writeOnlyChecks(t *testing.T) {
	testAccPreCheck(t)
	const secret = "Zq7-not-hex"
	wo := fmt.Sprintf("  sensitive_parameters_wo = { token = %q }\n  sensitive_parameters_wo_version = 1\n", secret)
	tagStep := `  step {
    name = "tag"
    create_tags {
      resource_ids = ["{{ image.ImageId }}"]
      tags         = [{ Key = "token", Value = "{{ token }}" }]
    }
  }
`
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{
			// Write-only arguments from Terraform 1.11 and OpenTofu 1.11 on.
			tfversion.SkipBelow(tfversion.Version1_11_0),
		},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config(writeOnlyRecipe("rule", wo)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Parameter Value.*parameter "token": value does not match\s+allowedPattern`),
			},
			{
				Config:      config(writeOnlyRecipe("exposed", strings.Replace(wo, secret, "abc123", 1)+tagStep)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Sensitive Value Where Others Can Read It.*step "tag": inputs.Tags`),
			},
			{
				Config:      config(writeOnlyRecipe("twice", `  parameters = { token = "abc" }`+"\n"+strings.Replace(wo, secret, "abc123", 1))),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Duplicate Parameter.*given in both parameters and\s+sensitive_parameters_wo`),
			},
			{
				Config:      config(writeOnlyRecipe("unversioned", `  sensitive_parameters_wo = { token = "abc123" }`)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)sensitive_parameters_wo_version.*must be specified`),
			},
			{
				Config:      config(writeOnlyRecipe("ssm", `  executor = "ssm"`+"\n"+strings.Replace(wo, secret, "abc123", 1))),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Sensitive Parameter Under SSM Automation.*\{\{ssm:/path/to/secret\}\}`),
			},
			{
				Config:             config(writeOnlyRecipe("fine", strings.Replace(wo, secret, "abc123", 1))),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

// TestAccImageModern_writeOnlyOnOlderCLI: Terraform before 1.11 (and
// OpenTofu before 1.11) load the provider's schema with its write-only
// argument; a configuration that sets it is refused at plan time, one
// that uses sensitive_parameters plans as before.
func TestAccImageModern_writeOnlyOnOlderCLI(t *testing.T) {
	testAccPreCheck(t)
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{
			// Newer CLIs accept write-only arguments (TestAccImageModern_writeOnlyChecks).
			skipWriteOnlyCapable(),
		},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config(writeOnlyRecipe("wo", "  sensitive_parameters_wo = { token = \"abc123\" }\n  sensitive_parameters_wo_version = 1\n")),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)WriteOnly Attribute Not Allowed.*Terraform 1.11`),
			},
			{
				Config:             config(writeOnlyRecipe("classic", "  sensitive_parameters = { token = \"abc123\" }\n")),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

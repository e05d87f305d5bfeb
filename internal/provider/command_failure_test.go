package provider

import (
	"context"
	"regexp"
	"strings"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// failingCommands makes every command invocation end as a real failed
// script does on an instance: moto reports every command a success with no
// output, so the test setup turns the answer of GetCommandInvocation into
// AWS's answer for a script that exited 3 after printing to both streams.
func failingCommands() func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("amibake.FailCommands",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if err != nil || awsmiddleware.GetOperationName(ctx) != "GetCommandInvocation" {
					return out, md, err
				}
				if res, ok := out.Result.(*ssm.GetCommandInvocationOutput); ok {
					var stderr, stdout strings.Builder
					for i := 1; i <= 60; i++ {
						stdout.WriteString("installing package " + strings.Repeat("x", i%7) + "\n")
					}
					stderr.WriteString("Error: Failed to download metadata for repo 'appstream'\n")
					stderr.WriteString("yum: update failed: exit status 3\n")
					res.Status = ssmtypes.CommandInvocationStatusFailed
					res.StatusDetails = stringPtr("Failed")
					res.ResponseCode = 3
					res.StandardOutputContent = stringPtr(stdout.String())
					res.StandardErrorContent = stringPtr(stderr.String())
				}
				return out, md, err
			}), middleware.After)
	}
}

func stringPtr(s string) *string { return &s }

// TestAccImage_failedCommandShowsItsOutput: the apply error of a bake whose
// command fails names the step and carries the exit code and the end of the
// command's output, and the bake leaves nothing.
func TestAccImage_failedCommandShowsItsOutput(t *testing.T) {
	p := NewWithOptions("test", Options{APIOptions: []func(*middleware.Stack) error{failingCommands()}})
	factories := map[string]func() (tfprotov6.ProviderServer, error){"amibake": NewProtocol6WithError(p())}
	marker := "cmdfail-" + strings.ReplaceAll(t.Name(), "/", "-")
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t); ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{{
			Config: cliConfig(marker, "", `
resource "amibake_image" "fails" {
  step {
    name = "launch"
    run_instances {
      image_id                  = "`+sourceAMI+`"
      iam_instance_profile_name = "`+builderProfile+`"
    }
  }
  step {
    name = "update"
    run_command {
      document_name = "AWS-RunShellScript"
      instance_ids  = ["{{ launch.InstanceIds }}"]
      parameters = {
        commands = ["yum -y update"]
      }
    }
  }
  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "cmdfail-{{ automation:EXECUTION_ID }}"
    }
  }
  outputs = ["image.ImageId"]
}
`),
			ExpectError: regexp.MustCompile(`(?s)step "update" \(aws:runCommand\).*exit code 3.*\[stderr\].*appstream.*yum: update failed.*\[stdout\].*installing package`),
		}},
	})
	if l := leftAfter(t, marker, nil); !l.empty() {
		t.Errorf("the failed bake left %s", l)
	}
}

package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// Mistakes in an amibake_image configuration are reported at plan time, naming the
// step or parameter, before anything is created.
func TestAccImage_planTimeErrors(t *testing.T) {
	recipe := `
  parameter {
    name           = "size"
    type           = "String"
    allowed_values = ["t3.micro", "t3.small"]
  }
  parameter {
    name            = "source"
    type            = "String"
    allowed_pattern = "^ami-[0-9a-f]+$"
  }
  parameter {
    name    = "count"
    type    = "Integer"
    default = "1"
  }
  step {
    name = "launch"
    run_instances {
      image_id      = "{{ source }}"
      instance_type = "{{ size }}"
    }
  }
  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "x-{{ automation:EXECUTION_ID }}"
    }
  }
`
	cases := []struct {
		name, body, want string
	}{
		{"value not allowed", recipe + `parameters = { size = "m5.24xlarge", source = "ami-12c6146b" }`, `(?s)size.*m5\.24xlarge`},
		{"pattern mismatch", recipe + `parameters = { size = "t3.micro", source = "not-an-ami" }`, `(?s)source.*not-an-ami`},
		{"required parameter missing", recipe + `parameters = { size = "t3.micro" }`, `source`},
		{"unknown parameter", recipe + `parameters = { size = "t3.micro", source = "ami-12c6146b", colour = "blue" }`, `colour`},
		{"wrong type", recipe + `parameters = { size = "t3.micro", source = "ami-12c6146b", count = "many" }`, `(?s)count.*many`},
		{"image output names no step", recipe + `
  parameters   = { size = "t3.micro", source = "ami-12c6146b" }
  image_output = "nosuch.ImageId"`, `nosuch`},
		{"action that needs a person", `
  step {
    name   = "approval"
    action = "aws:approve"
    inputs = jsonencode({ Approvers = ["arn:aws:iam::123456789012:role/release"] })
  }
  image_output = "approval.ApprovalStatus"`, `(?s)approval.*aws:approve.*cannot run locally.*executor = "ssm"`},
		{"secondary automation over targets", `
  step {
    name   = "fleet"
    action = "aws:executeAutomation"
    inputs = jsonencode({ DocumentName = "Child", Targets = [{ Key = "tag:Role", Values = ["web"] }], TargetParameterName = "InstanceId" })
  }
  image_output = "fleet.ExecutionId"`, `(?s)fleet.*aws:executeAutomation.*Targets.*executor = "ssm"`},
		{"recipe in both forms", `
  document = "{}"
  step {
    name = "wait"
    sleep {
      duration = "PT1S"
    }
  }`, `either`},
		{"document with a syntax error", `document = "{\"schemaVersion\": \"0.3\",\n \"mainSteps\": [}"`, `line 2`},
		{"sensitive value breaks a rule", recipe + `
  parameters           = { size = "t3.micro" }
  sensitive_parameters = { source = "not-an-ami" }`, `(?s)parameter "source": value does not match allowedPattern.*\(the value is sensitive and not shown\)`},
		{"sensitive value in the image name", secretRecipe(`
  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "golden-{{ label }}"
    }
  }`), `(?s)step "image": inputs\.ImageName: would let others read the value of\s+parameter\s+"label",\s+whose\s+default\s+uses\s+sensitive\s+parameter\s+"password".*ec2:DescribeImages`},
		{"sensitive value in a tag", secretRecipe(`
  step {
    name = "tag"
    create_tags {
      resource_ids = ["{{ launch.InstanceIds }}"]
      tags         = [{ Key = "pw", Value = "{{ password }}" }]
    }
  }`), `(?s)step "tag": inputs\.Tags: would let others read the value of\s+sensitive\s+parameter\s+"password".*ec2:DescribeTags`},
		{"sensitive value in command parameters", secretRecipe(`
  step {
    name = "configure"
    run_command {
      document_name = "AWS-RunShellScript"
      instance_ids  = ["{{ launch.InstanceIds }}"]
      parameters    = { commands = ["echo {{ password }} > /etc/app"] }
    }
  }`), `(?s)step "configure": inputs\.Parameters: would let others read the value\s+of\s+sensitive\s+parameter\s+"password".*ssm:ListCommands.*SecureString.*get-parameter\s+--with-decryption`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { testAccPreCheck(t) },
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      config(fmt.Sprintf("resource \"amibake_image\" \"bad\" {\n%s\n}\n", tc.body)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

// secretRecipe is a recipe with a sensitive parameter, password, and a
// parameter whose default uses it, label; step is its third step.
func secretRecipe(step string) string {
	return `
  parameter {
    name = "password"
    type = "String"
  }
  parameter {
    name    = "label"
    type    = "String"
    default = "app-{{ password }}"
  }
  step {
    name = "launch"
    run_instances {
      image_id  = "ami-12c6146b"
      user_data = "{{ password }}"
    }
  }
  step {
    name = "image0"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "x-{{ automation:EXECUTION_ID }}"
    }
  }` + step + `
  image_output         = "image0.ImageId"
  sensitive_parameters = { password = "hunter2" }
`
}

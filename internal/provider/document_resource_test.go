package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

var sixSteps = knownvalue.ListExact([]knownvalue.Check{
	knownvalue.StringExact("startInstances"),
	knownvalue.StringExact("installMissingWindowsUpdates"),
	knownvalue.StringExact("stopInstance"),
	knownvalue.StringExact("createImage"),
	knownvalue.StringExact("createTags"),
	knownvalue.StringExact("terminateInstance"),
})

func TestAccDocument_hclEqualsPublishedJSON(t *testing.T) {
	jsonPath := repoFile(t, "examples/documents/patch-ami.json")
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(fmt.Sprintf(`
resource "amibake_document" "hcl" {
%s
}

resource "amibake_document" "json" {
  content = file(%q)
}
`, patchPipelineHCL(publishedProfile), jsonPath)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("amibake_document.hcl", tfjsonpath.New("step_names"), sixSteps),
					statecheck.ExpectKnownValue("amibake_document.json", tfjsonpath.New("step_names"), sixSteps),
					statecheck.ExpectKnownValue("amibake_document.hcl", tfjsonpath.New("json"),
						knownvalue.StringRegexp(regexp.MustCompile(`"action": "aws:createImage"`))),
					statecheck.CompareValuePairs(
						"amibake_document.hcl", tfjsonpath.New("content_sha256"),
						"amibake_document.json", tfjsonpath.New("content_sha256"),
						compare.ValuesSame()),
					statecheck.CompareValuePairs(
						"amibake_document.hcl", tfjsonpath.New("json"),
						"amibake_document.json", tfjsonpath.New("json"),
						compare.ValuesSame()),
				},
			},
		},
	})
}

// TestAccDocument_import adopts a document from its file. (A separate test: two
// equal recipes share one id, which would confuse ImportStateVerify's matching.)
func TestAccDocument_import(t *testing.T) {
	jsonPath := repoFile(t, "examples/documents/patch-ami.json")
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(fmt.Sprintf(`
resource "amibake_document" "json" {
  content = file(%q)
}
`, jsonPath)),
			},
			{
				ResourceName:      "amibake_document.json",
				ImportState:       true,
				ImportStateId:     "file:" + jsonPath,
				ImportStateVerify: true,
			},
		},
	})
}

func TestAccDocument_publishedWithErrorsFailsAtPlan(t *testing.T) {
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config(fmt.Sprintf(`
resource "amibake_document" "published" {
  content = file(%q)
}
`, repoFile(t, "internal/provider/testdata/patch-ami-as-published.json"))),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`line 76`),
		}},
	})
}

func TestAccDocument_update(t *testing.T) {
	cfg := func(state string) string {
		return config(fmt.Sprintf(`
resource "amibake_document" "stop" {
  parameter {
    name = "instance"
    type = "String"
  }
  step {
    name = "change"
    change_instance_state {
      instance_ids  = ["{{ instance }}"]
      desired_state = %q
    }
  }
}
`, state))
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg("stopped"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("amibake_document.stop", tfjsonpath.New("json"),
						knownvalue.StringRegexp(regexp.MustCompile(`"DesiredState": "stopped"`))),
				},
			},
			{
				Config: cfg("running"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("amibake_document.stop", tfjsonpath.New("json"),
						knownvalue.StringRegexp(regexp.MustCompile(`"DesiredState": "running"`))),
				},
			},
		},
	})
}

func TestAccDocument_planTimeErrors(t *testing.T) {
	cases := []struct {
		name, body string
		want       string
	}{
		{"misspelt action", `
  step {
    name   = "a"
    action = "aws:runInstance"
    inputs = jsonencode({ ImageId = "ami-12c6146b" })
  }`, `did you mean\s+"?aws:runInstances`},
		{"missing required input", `
  step {
    name = "launch"
    run_instances {
      instance_type = "t3.micro"
    }
  }`, `(?s)launch.*ImageId`},
		{"unknown parameter", `
  step {
    name = "launch"
    run_instances {
      image_id = "{{ nosuch }}"
    }
  }`, `nosuch`},
		// One error, with the fix: the step's name where step:NAME belongs.
		{"on_failure names a step", `
  step {
    name       = "launch"
    on_failure = "terminate"
    run_instances {
      image_id = "ami-12c6146b"
    }
  }
  step {
    name = "terminate"
    sleep {
      duration = "PT1S"
    }
  }`, `(?s)on_failure = "terminate".*write\s+"step:terminate"`},
		{"two actions in one step", `
  step {
    name = "launch"
    run_instances {
      image_id = "ami-12c6146b"
    }
    sleep {
      duration = "PT1S"
    }
  }`, `Conflicting Step Actions`},
		{"bad enum", `
  step {
    name = "stop"
    change_instance_state {
      instance_ids  = ["i-1"]
      desired_state = "stop"
    }
  }`, `(?s)stop.*DesiredState|desired_state`},
		{"a boolean that is neither true, false nor a template", `
  step {
    name = "image"
    create_image {
      instance_id = "i-1"
      image_name  = "typed"
      no_reboot   = "maybe"
    }
  }`, `(?s)no_reboot\s+= "maybe".*step "image".*NoReboot must be true or false`},
		{"an object where AWS takes a list", `
  step {
    name = "launch"
    run_instances {
      image_id              = "ami-12c6146b"
      block_device_mappings = jsonencode({ DeviceName = "/dev/xvda", Ebs = { VolumeSize = 16 } })
    }
  }`, `(?s)block_device_mappings.*step "launch".*must\s+be\s+a\s+list,\s+but\s+it\s+is\s+an\s+object.*jsonencode\(\[\{\s*DeviceName`},
		{"jump to missing step", `
  step {
    name       = "wait"
    on_failure = "step:nowhere"
    sleep {
      duration = "PT1S"
    }
  }`, `nowhere`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { testAccPreCheck(t) },
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      config("resource \"amibake_document\" \"bad\" {" + tc.body + "\n}\n"),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

func TestAccDocumentDataSource(t *testing.T) {
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config(fmt.Sprintf(`
data "amibake_document" "patch" {
  content = file(%q)
}
`, repoFile(t, "examples/documents/patch-ami.json"))),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.amibake_document.patch", tfjsonpath.New("step_names"), sixSteps),
				statecheck.ExpectKnownValue("data.amibake_document.patch", tfjsonpath.New("parameters"),
					knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"name": knownvalue.StringExact("sourceAMIid"), "required": knownvalue.Bool(true),
						}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"name":     knownvalue.StringExact("targetAMIname"),
							"required": knownvalue.Bool(false),
							"default":  knownvalue.StringExact("patchedAMI-{{global:DATE_TIME}}"),
						}),
					})),
				statecheck.ExpectKnownValue("data.amibake_document.patch", tfjsonpath.New("outputs"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("createImage.ImageId")})),
			},
		}},
	})
}

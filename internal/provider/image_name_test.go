package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// An AMI name EC2 would refuse fails before anything is launched: at plan
// time when the document spells it out, when the run starts when a parameter
// gives it. The emulator takes any name, so only this check stands between
// such a name and a builder launched for nothing.
func TestAccImage_refusedImageNameLaunchesNothing(t *testing.T) {
	marker := fmt.Sprintf("refused-name-%d", time.Now().UnixNano())
	doc := func(imageName string) string {
		return fmt.Sprintf(`jsonencode({
    schemaVersion = "0.3"
    parameters    = { Name = { type = "String", default = "golden-1" } }
    mainSteps = [
      { name = "launch", action = "aws:runInstances", inputs = {
          ImageId = %q
          TagSpecifications = [{ ResourceType = "instance", Tags = [{ Key = "amibake-test", Value = %q }] }]
      } },
      { name = "createImage", action = "aws:createImage", inputs = { InstanceId = "{{ launch.InstanceIds }}", ImageName = %q } },
      { name = "terminate", action = "aws:changeInstanceState", inputs = { InstanceIds = "{{ launch.InstanceIds }}", DesiredState = "terminated" } },
    ]
  })`, sourceAMI, marker, imageName)
	}
	noInstances := func() {
		if n := len(instancesTagged(t, "amibake-test", marker)); n != 0 {
			t.Errorf("%d instances were launched for a name EC2 refuses", n)
		}
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Spelt out in the document: refused at plan time.
				Config: config(fmt.Sprintf(`%s
resource "amibake_image" "bad" {
  document = %s
}
`, ownCredentials, doc("golden:2024"))),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`AMI\s+name\s+"golden:2024"\s+has\s+':'\s+at\s+position\s+7`),
			},
			{
				// Given by a parameter: refused when the run starts.
				Config: config(fmt.Sprintf(`%s
resource "amibake_image" "bad" {
  document   = %s
  parameters = { Name = "golden:2024" }
}
`, ownCredentials, doc("{{ Name }}"))),
				ExpectError: regexp.MustCompile(`(?s)step\s+"createImage"\s+\(aws:createImage\)\s+did\s+not\s+run:.*AMI\s+name\s+"golden:2024".*before\s+anything\s+was\s+created`),
			},
		},
	})
	noInstances()
}

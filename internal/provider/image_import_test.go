package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestAccImage_importAdoptsWithoutRebuild: an AMI baked elsewhere (here: by a resource
// that kept it on destroy) is imported by its id with the tags it carries (not the
// provider's own); the next plan adopts the recipe in place without touching the
// tags, never replaces the image, and after that apply the plan is empty.
func TestAccImage_importAdoptsWithoutRebuild(t *testing.T) {
	var executions []string
	var amiID string
	recipe := launchAndImageSteps("adopt")
	adopted := config(fmt.Sprintf("resource \"amibake_image\" \"adopted\" {\n%s\n  tags = { owner = \"platform\" }\n}\n", recipe))
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t); ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{
			{
				Config: config(fmt.Sprintf("resource \"amibake_image\" \"original\" {\n%s\n  deregister_on_destroy = false\n  tags = { owner = \"platform\" }\n}\n", recipe)),
				Check: resource.ComposeTestCheckFunc(
					rememberExecution("amibake_image.original", &executions),
					func(s *terraform.State) error {
						amiID, _ = stateAttr(s, "amibake_image.original", "image_id")
						return nil
					},
				),
			},
			{
				// The resource goes; deregister_on_destroy = false keeps the AMI.
				Config: config(`# nothing managed`),
				Check: func(*terraform.State) error {
					if describeImage(t, amiID) == nil {
						return fmt.Errorf("image %s was deregistered although deregister_on_destroy = false", amiID)
					}
					return nil
				},
			},
			{
				Config:             adopted,
				ResourceName:       "amibake_image.adopted",
				ImportState:        true,
				ImportStateIdFunc:  func(*terraform.State) (string, error) { return amiID, nil },
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 {
						return fmt.Errorf("imported %d resources, want 1", len(states))
					}
					attrs := states[0].Attributes
					if attrs["tags.%"] != "1" || attrs["tags.owner"] != "platform" {
						return fmt.Errorf("imported tags = %v, want only owner = platform", tagAttrs(attrs))
					}
					return nil
				},
			},
			{
				Config: adopted,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("amibake_image.adopted", plancheck.ResourceActionUpdate),
						expectUnchanged("amibake_image.adopted", "tags"),
					},
				},
				Check: func(s *terraform.State) error {
					id, _ := stateAttr(s, "amibake_image.adopted", "image_id")
					if id != amiID {
						return fmt.Errorf("import rebuilt the image: %s, want %s", id, amiID)
					}
					img := describeImage(t, id)
					if img == nil || tagMap(img.Tags)["owner"] != "platform" {
						return fmt.Errorf("adopted image %s did not get the configured tags", id)
					}
					return nil
				},
			},
			{
				Config: adopted,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// tagAttrs are the flattened tags.* attributes of an instance state.
func tagAttrs(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		if strings.HasPrefix(k, "tags.") {
			out[k] = v
		}
	}
	return out
}

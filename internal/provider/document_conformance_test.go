package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// What SSM accepts by converting it is a warning, not an error.
func TestAddProblemsWarnings(t *testing.T) {
	doc, err := document.ParseText(`{"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:sleep", "isEnd": "true", "inputs": {"Duration": "PT1S"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	var diags diag.Diagnostics
	at := path.Root("content")
	addProblems(&diags, doc, document.Validate(doc), &at)
	if diags.HasError() || diags.WarningsCount() != 1 {
		t.Fatalf("want one warning and no error, got %v", diags)
	}
	if d := diags.Warnings()[0]; d.Summary() != "Step Accepted with a Conversion" {
		t.Errorf("warning %q: %s", d.Summary(), d.Detail())
	}
}

// Published documents that SSM accepts are accepted, those with conversions
// with warnings.
func TestAccDocument_publishedRunbooks(t *testing.T) {
	for _, file := range []string{
		"valid/awslabs-aws-systems-manager/CreateEKSClusterWithNodegroup--aws-CreateEKSClusterWithNodegroup.yml",
		"valid/awslabs-aws-systems-manager/ASGChangeStandbyState--aws-ASGChangeStandbyState.json",
		"valid/automated-security-response-on-aws/EncryptRDSSnapshot.yaml",
	} {
		t.Run(file, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { testAccPreCheck(t) },
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: config(fmt.Sprintf(`
resource "amibake_document" "published" {
  content = file(%q)
}
`, repoFile(t, "internal/document/testdata/conformance/"+file))),
					Check: resource.TestCheckResourceAttrSet("amibake_document.published", "json"),
				}},
			})
		})
	}
}

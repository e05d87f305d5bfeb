package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccDocumentDataSource_byName reads an Automation document registered in SSM and
// gets the same canonical form as the file it was registered from.
func TestAccDocumentDataSource_byName(t *testing.T) {
	path := repoFile(t, "examples/documents/patch-ami.json")
	resource.Test(t, resource.TestCase{
		PreCheck: func() {
			testAccPreCheck(t)
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, ok := testClients(t).Raw["ssm"].(*ssm.Client)
			if !ok {
				t.Fatal("no SSM client in the bundle")
			}
			_, err = c.CreateDocument(context.Background(), &ssm.CreateDocumentInput{
				Name:           aws.String("Amibake-PatchAmi"),
				Content:        aws.String(string(content)),
				DocumentType:   ssmtypes.DocumentTypeAutomation,
				DocumentFormat: ssmtypes.DocumentFormatJson,
			})
			var exists *ssmtypes.DocumentAlreadyExists
			if err != nil && !errors.As(err, &exists) {
				t.Fatalf("CreateDocument: %v", err)
			}
		},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config(fmt.Sprintf(`
data "amibake_document" "registered" {
  name = "Amibake-PatchAmi"
}

data "amibake_document" "file" {
  content = file(%q)
}
`, path)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.amibake_document.registered", tfjsonpath.New("step_names"), sixSteps),
				statecheck.CompareValuePairs(
					"data.amibake_document.registered", tfjsonpath.New("content_sha256"),
					"data.amibake_document.file", tfjsonpath.New("content_sha256"),
					compare.ValuesSame()),
			},
		}},
	})
}

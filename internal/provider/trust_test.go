package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// TestAccImage_silentEndpointFailsWithinCreateTimeout: with endpoints that accept
// connections and never answer, an apply with timeouts.create = "5s" fails in
// about 5 s, naming the endpoint and the bound, instead of hanging.
func TestAccImage_silentEndpointFailsWithinCreateTimeout(t *testing.T) {
	endpoint := acctest.SilentEndpoint(t)
	start := time.Now()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config(fmt.Sprintf(`
provider "amibake" {
  endpoints {
    sts = %[1]q
    ec2 = %[1]q
  }
}

resource "amibake_image" "silent" {
%[2]s
  timeouts {
    create = "5s"
  }
}
`, endpoint, launchAndImageSteps("silent"))),
			ExpectError: wrapped("AWS Did Not Answer in Time", "did not finish within timeouts.create (5s)",
				"STS GetCallerIdentity at "+endpoint, "or raise timeouts.create"),
		}},
	})
	elapsed := time.Since(start)
	t.Logf("the apply failed after %s (timeouts.create = 5s)", elapsed.Round(100*time.Millisecond))
	if elapsed > 60*time.Second {
		t.Errorf("the apply took %s to fail with timeouts.create = 5s", elapsed)
	}
}

// wrapped matches the texts in order in Terraform's output, which wraps long
// lines wherever a space is.
func wrapped(texts ...string) *regexp.Regexp {
	parts := make([]string, len(texts))
	for i, s := range texts {
		parts[i] = strings.Join(strings.Fields(regexp.QuoteMeta(s)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}

// ensureRole creates an IAM role in the emulator and returns its ARN.
func ensureRole(t *testing.T, name string) string {
	t.Helper()
	c := testClients(t)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`
	out, err := c.IAM.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
	var exists *iamtypes.EntityAlreadyExistsException
	switch {
	case errors.As(err, &exists):
		got, err := c.IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			t.Fatalf("GetRole %s: %v", name, err)
		}
		return aws.ToString(got.Role.Arn)
	case err != nil:
		t.Fatalf("CreateRole %s: %v", name, err)
	}
	return aws.ToString(out.Role.Arn)
}

// whoAmIRecipe bakes an image and asks STS, from inside the bake, who it is.
func whoAmIRecipe(prefix string) string {
	return fmt.Sprintf(`  parameter {
    name    = "AutomationAssumeRole"
    type    = "String"
    default = ""
  }
  assume_role = "{{ AutomationAssumeRole }}"

%s
  step {
    name = "whoami"
    execute_aws_api {
      service = "sts"
      api     = "GetCallerIdentity"
    }
    output {
      name     = "Arn"
      selector = "$.Arn"
      type     = "String"
    }
  }
`, launchAndImageSteps(prefix))
}

// TestAccImage_runsAsDocumentRole: a document whose assumeRole names a role
// bakes as that role, execute_aws_api steps included, as SSM Automation would;
// with use_document_assume_role = false it bakes with the provider's credentials.
func TestAccImage_runsAsDocumentRole(t *testing.T) {
	testAccPreCheck(t)
	var executions []string
	// The configurations below are written before any step runs.
	role := ensureRole(t, "amibake-bake-role")
	cfg := func(provider string) string {
		return config(fmt.Sprintf(`%s
resource "amibake_image" "role" {
%s
  parameters = { AutomationAssumeRole = %q }
}
`, provider, whoAmIRecipe("as-role"), role))
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{
			{
				Config: cfg(""),
				Check: resource.ComposeTestCheckFunc(
					rememberExecution("amibake_image.role", &executions),
					func(s *terraform.State) error {
						exec, _ := stateAttr(s, "amibake_image.role", "execution_id")
						arn, _ := stateAttr(s, "amibake_image.role", "step_outputs.whoami.Arn")
						if want := "arn:aws:sts::123456789012:assumed-role/amibake-bake-role/amibake-" + exec; arn != want {
							return fmt.Errorf("the bake called STS as %q, want the document's role %q", arn, want)
						}
						return nil
					},
				),
			},
			{
				Config: cfg("provider \"amibake\" {\n  use_document_assume_role = false\n}\n"),
				// The provider setting is not part of the recipe: nothing to rebuild.
				PlanOnly: true,
			},
			{
				Config: cfg("provider \"amibake\" {\n  use_document_assume_role = false\n}\n"),
				Taint:  []string{"amibake_image.role"},
				Check: resource.ComposeTestCheckFunc(
					rememberExecution("amibake_image.role", &executions),
					resource.TestCheckResourceAttr("amibake_image.role", "step_outputs.whoami.Arn", "arn:aws:sts::123456789012:user/moto"),
				),
			},
		},
	})
}

// fakeSTS answers STS calls: GetCallerIdentity for account 123456789012, or
// with the error of code when rejectCallers is set; every AssumeRole is refused
// with AccessDenied, as STS does for a role whose trust policy does not name
// the caller.
func fakeSTS(t *testing.T, rejectCallers string) string {
	t.Helper()
	fail := func(w http.ResponseWriter, code, msg string) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>`+code+`</Code><Message>`+msg+
			`</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "text/xml")
		switch {
		case form.Get("Action") == "GetCallerIdentity" && rejectCallers != "":
			fail(w, rejectCallers, "The security token included in the request is invalid.")
		case form.Get("Action") == "GetCallerIdentity":
			_, _ = io.WriteString(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account>`+
				`<Arn>arn:aws:iam::123456789012:user/moto</Arn><UserId>U</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>`)
		default:
			fail(w, "AccessDenied", "User: arn:aws:iam::123456789012:user/moto is not authorized to perform: sts:AssumeRole")
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAccImage_rejectedKeysSayWhichAndWhy: static keys that STS refuses are
// reported as found and rejected, with the key's ends and STS's code, not as
// missing credentials.
func TestAccImage_rejectedKeysSayWhichAndWhy(t *testing.T) {
	sts := fakeSTS(t, "InvalidClientTokenId")
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config(fmt.Sprintf(`
provider "amibake" {
  access_key = "AKIAIOSFODNN7EXAMPLE"
  secret_key = "not-the-secret"
  endpoints {
    sts = %q
  }
}

resource "amibake_image" "rejected" {
%s}
`, sts, launchAndImageSteps("rejected"))),
			ExpectError: wrapped("AWS Credentials Rejected",
				"static credentials from the provider's access_key (AKIA…MPLE) were rejected by STS GetCallerIdentity at "+sts+
					": InvalidClientTokenId: The security token included in the request is invalid.",
				"Check that the access key is active"),
		}},
	})
}

// TestAccImage_documentRoleNotAssumed: a role that cannot be assumed fails the
// bake before it launches anything, naming the role and STS's error code.
func TestAccImage_documentRoleNotAssumed(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/not-for-you"
	var before int
	resource.Test(t, resource.TestCase{
		PreCheck: func() {
			testAccPreCheck(t)
			ensureInstanceProfile(t, builderProfile)
			before = len(instancesTagged(t, "amibake:managed", "true"))
		},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config(fmt.Sprintf(`
provider "amibake" {
  endpoints {
    sts = %q
  }
}

resource "amibake_image" "denied" {
%s
  parameters = { AutomationAssumeRole = %q }
}
`, fakeSTS(t, ""), whoAmIRecipe("denied"), role)),
			ExpectError: wrapped("cannot run as the document's assumeRole "+role, "AccessDenied", "Nothing was created",
				"use_document_assume_role = false"),
		}},
		CheckDestroy: func(*terraform.State) error {
			if after := len(instancesTagged(t, "amibake:managed", "true")); after != before {
				return fmt.Errorf("%d builder instances were launched although the role could not be assumed", after-before)
			}
			return nil
		},
	})
}

// TestAccImage_importOfAnotherAccountsImageRefused: the emulator's public
// ami-12c6146b belongs to account 801119661308; importing it is refused, as
// Read refuses any image of another account that state names.
func TestAccImage_importOfAnotherAccountsImageRefused(t *testing.T) {
	cfg := config(fmt.Sprintf("resource \"amibake_image\" \"foreign\" {\n%s}\n", launchAndImageSteps("foreign")))
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:        cfg,
			ResourceName:  "amibake_image.foreign",
			ImportState:   true,
			ImportStateId: "ami-12c6146b",
			ExpectError: wrapped("Image Owned by Another Account",
				"Refusing to read image ami-12c6146b: it is owned by account 801119661308, and the provider's credentials are in account 123456789012"),
		}},
	})
}

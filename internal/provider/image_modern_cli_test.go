//go:build unix

package provider

import (
	"archive/zip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// TestAccImageModern_writeOnlyCLI bakes with a secret given in
// sensitive_parameters_wo from an ephemeral variable, through the CLI as a
// user runs it (plan -out, apply of the saved plan, show, destroy), with
// TRACE logs on. A failed probe step quotes the secret, so it goes through
// the engine's redaction. The secret is found nowhere: not in the plan
// output, the saved plan file, `show -json` of the plan or the state, the
// apply output, the state file or the TRACE log. Bumping
// sensitive_parameters_wo_version replaces the image with a bake that uses
// the new value. Under CLIs with resource identity the state file holds the
// image's identity. Needs Terraform or OpenTofu 1.11 or later.
func TestAccImageModern_writeOnlyCLI(t *testing.T) {
	testAccPreCheck(t)
	version := cliVersion(t)
	if versionLess(version, [3]int{1, 11, 0}) {
		t.Skipf("CLI version %d.%d.%d has no write-only arguments (Terraform and OpenTofu 1.11 and later): skipping test", version[0], version[1], version[2])
	}
	t.Parallel()
	ensureInstanceProfile(t, builderProfile)
	pluginDir := buildProvider(t)

	marker := fmt.Sprintf("cli-wo-%d", testRunID())
	// Hex, so that "i-<secret>" is a well-formed instance id whose NotFound
	// error quotes it.
	first := fmt.Sprintf("%017x", testRunID())[:17]
	second := fmt.Sprintf("%017x", testRunID()^0x5a5a5a5a5a)[:17]
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	recipe := func(version int) string {
		return cliConfig(marker, "", fmt.Sprintf(`
variable "token" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "amibake_image" "wo" {
  parameter {
    name = "token"
    type = "String"
  }
%s  step {
    name       = "probeToken"
    on_failure = "Continue"
    change_instance_state {
      instance_ids  = ["i-{{ token }}"]
      desired_state = "stopped"
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

  sensitive_parameters_wo         = { token = var.token }
  sensitive_parameters_wo_version = %d
}
`, launchAndImageSteps("wo"), version))
	}
	c := newCLI(t, pluginDir, recipe(1), "TF_VAR_token="+first, "TF_LOG=TRACE", "TF_LOG_PATH="+logPath)
	places := map[string]string{}

	places["plan output"] = c.mustRun("plan", "-input=false", "-out=first.tfplan")
	places["saved plan"] = planFileText(t, filepath.Join(c.dir, "first.tfplan"))
	places["show -json of the plan"] = c.mustRun("show", "-json", "first.tfplan")
	out := c.mustRun("apply", "-input=false", "first.tfplan")
	if !strings.Contains(out, "Bake Continued Past Failed Steps") || !strings.Contains(out, "(sensitive value)") {
		t.Errorf("the apply does not warn about the failed probe with the value hidden:\n%s", out)
	}
	places["apply output"] = out
	st := c.stateResources()["amibake_image.wo"]
	imageID, _ := st["image_id"].(string)
	if imageID == "" {
		t.Fatalf("no image in state: %v", st)
	}
	if v, ok := st["sensitive_parameters_wo"]; !ok || v != nil {
		t.Errorf("state holds sensitive_parameters_wo = %v, want null", v)
	}
	if v := st["sensitive_parameters_wo_version"]; v != float64(1) {
		t.Errorf("state holds sensitive_parameters_wo_version = %v, want 1", v)
	}
	if !strings.Contains(fmt.Sprint(st["steps"]), "(sensitive value)") {
		t.Errorf("the steps in state show no redaction: did the probe quote the secret? %v", st["steps"])
	}
	if !versionLess(version, [3]int{1, 12, 0}) {
		clients := testClients(t)
		want := map[string]any{"account_id": clients.AccountID, "region": clients.Region, "image_id": imageID}
		if got := c.stateIdentity("amibake_image.wo"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("identity in state = %v, want %v", got, want)
		}
	}
	places["state after the first bake"] = readText(t, filepath.Join(c.dir, "terraform.tfstate"))
	places["show -json"] = c.mustRun("show", "-json")

	// Same version, another value: nothing to do (the values are not kept,
	// so there is nothing to compare with).
	c.env = append(c.env, "TF_VAR_token="+second)
	out = c.mustRun("plan", "-input=false", "-detailed-exitcode")
	places["plan output, new value"] = out

	// A new version: the image is baked again, with the new value.
	c.write(recipe(2))
	out = c.mustRun("plan", "-input=false", "-out=second.tfplan")
	if !strings.Contains(out, "must be replaced") || !strings.Contains(out, "sensitive_parameters_wo_version = 1 -> 2 # forces replacement") {
		t.Errorf("a new sensitive_parameters_wo_version does not plan a replacement:\n%s", out)
	}
	places["plan output, new version"] = out
	places["saved plan, new version"] = planFileText(t, filepath.Join(c.dir, "second.tfplan"))
	places["show -json of the plan, new version"] = c.mustRun("show", "-json", "second.tfplan")
	places["apply output, new version"] = c.mustRun("apply", "-input=false", "second.tfplan")
	st = c.stateResources()["amibake_image.wo"]
	if id, _ := st["image_id"].(string); id == "" || id == imageID {
		t.Errorf("image_id after the new version = %q, want a new image (was %s)", id, imageID)
	}
	places["state after the second bake"] = readText(t, filepath.Join(c.dir, "terraform.tfstate"))

	places["destroy output"] = c.mustRun("destroy", "-auto-approve", "-input=false")
	places["TRACE log"] = readText(t, logPath)
	if !strings.Contains(places["TRACE log"], "(sensitive value)") {
		t.Error("the TRACE log shows no redaction: was the failed probe logged?")
	}
	for what, secret := range map[string]string{"first value": first, "second value": second} {
		findNoSecret(t, places, what, secret)
	}
	if l := leftAfter(t, marker, nil); !l.empty() {
		t.Errorf("after destroy: %s", l)
	}

	// The same recipe with sensitive_parameters: the CLI could keep the
	// secret out of the state, and the plan says so.
	old := newCLI(t, pluginDir, cliConfig(marker, "", fmt.Sprintf(`
resource "amibake_image" "classic" {
  parameter {
    name = "token"
    type = "String"
  }
%s
  sensitive_parameters = { token = "abc123" }
}
`, launchAndImageSteps("classic"))))
	if out := old.mustRun("plan", "-input=false"); !strings.Contains(out, "Secrets Stored in State") || !strings.Contains(out, "sensitive_parameters_wo") {
		t.Errorf("the plan does not suggest sensitive_parameters_wo:\n%s", out)
	}
}

// cliVersion is the version of the CLI under test.
func cliVersion(t *testing.T) [3]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &cli{t: t, dir: t.TempDir(), env: append(os.Environ(), "CHECKPOINT_DISABLE=1")}
	out, err := c.command(ctx, "version", "-json").Output()
	if err != nil {
		t.Fatalf("version -json: %v", err)
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		t.Fatalf("version -json: %v\n%s", err, out)
	}
	return parseVersion(v.Version)
}

// stateIdentity is the identity the state file records for a resource.
func (c *cli) stateIdentity(address string) map[string]any {
	c.t.Helper()
	var st struct {
		Resources []struct {
			Type, Name string
			Instances  []struct {
				Identity map[string]any `json:"identity"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(readText(c.t, filepath.Join(c.dir, "terraform.tfstate"))), &st); err != nil {
		c.t.Fatalf("parsing state: %v", err)
	}
	for _, r := range st.Resources {
		if r.Type+"."+r.Name == address && len(r.Instances) == 1 {
			return r.Instances[0].Identity
		}
	}
	return nil
}

// planFileText is the text of every file in a saved plan (a zip archive).
func planFileText(t *testing.T, path string) string {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("saved plan %s: %v", path, err)
	}
	defer z.Close()
	var b strings.Builder
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatalf("saved plan %s, %s: %v", path, f.Name, err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("saved plan %s, %s: %v", path, f.Name, err)
		}
		fmt.Fprintf(&b, "== %s\n%s\n", f.Name, data)
	}
	if b.Len() == 0 {
		t.Fatalf("saved plan %s holds no files", path)
	}
	return b.String()
}

func readText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// findNoSecret fails the test for each place that holds secret as it is or
// base64-encoded.
func findNoSecret(t *testing.T, places map[string]string, what, secret string) {
	t.Helper()
	needles := map[string]string{"as it is": secret}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		needles["base64 "+enc.EncodeToString([]byte(secret))] = enc.EncodeToString([]byte(secret))
	}
	for where, text := range places {
		for form, needle := range needles {
			if i := strings.Index(text, needle); i >= 0 {
				lo, hi := max(0, i-200), min(len(text), i+len(needle)+100)
				t.Errorf("the %s (%s) appears in the %s: ...%s...", what, form, where, text[lo:hi])
			}
		}
	}
}

// TestAccImageModern_identityCLI imports, through the CLI, two AMIs made
// outside Terraform with `import` blocks naming their identities: one in the
// provider's Region, one in another Region through a provider configured
// for it (each provider configuration is its own plugin process here, as
// for users; the in-process harness of resource.Test shares one). The state
// file records both identities; the next plan is empty; removing the second
// from the configuration deregisters it in its own Region. Needs Terraform or
// OpenTofu 1.12 or later.
func TestAccImageModern_identityCLI(t *testing.T) {
	testAccPreCheck(t)
	version := cliVersion(t)
	if versionLess(version, [3]int{1, 12, 0}) {
		t.Skipf("CLI version %d.%d.%d has no import by identity (Terraform and OpenTofu 1.12 and later): skipping test", version[0], version[1], version[2])
	}
	t.Parallel()
	ensureInstanceProfile(t, builderProfile)
	pluginDir := buildProvider(t)

	const otherRegion = "eu-west-3"
	home := testClients(t)
	other, err := awsx.New(context.Background(), awsx.Config{Region: otherRegion})
	if err != nil {
		t.Fatal(err)
	}
	otherEC2 := other.Raw["ec2"].(*ec2.Client)
	marker := fmt.Sprintf("cli-identity-%d", testRunID())
	homeAMI := outsideImage(t, testEC2(t), marker+"-home")
	otherAMI := outsideImage(t, otherEC2, marker+"-paris")

	adopted := fmt.Sprintf(`
resource "amibake_image" "home" {
%s
}

import {
  to = amibake_image.home
  identity = {
    account_id = %q
    region     = %q
    image_id   = %q
  }
}
`, launchAndImageSteps("home"), home.AccountID, home.Region, homeAMI)
	parisProvider := fmt.Sprintf(`
provider "amibake" {
  alias  = "eu_west_3"
  region = %q
}
`, otherRegion)
	paris := parisProvider + fmt.Sprintf(`
resource "amibake_image" "paris" {
  provider = amibake.eu_west_3
%s
}

import {
  provider = amibake.eu_west_3
  to       = amibake_image.paris
  identity = {
    region   = %q
    image_id = %q
  }
}
`, launchAndImageSteps("paris"), otherRegion, otherAMI)

	c := newCLI(t, pluginDir, cliConfig(marker, "", adopted+paris))
	out := c.mustRun("plan", "-input=false", "-out=import.tfplan")
	for _, want := range []string{
		"amibake_image.home: Preparing import...", "amibake_image.paris: Preparing import...",
		"2 to import, 0 to add, 2 to change, 0 to destroy",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks %q:\n%s", want, out)
		}
	}
	c.mustRun("apply", "-input=false", "import.tfplan")
	for address, want := range map[string]map[string]any{
		"amibake_image.home":  {"account_id": home.AccountID, "region": home.Region, "image_id": homeAMI},
		"amibake_image.paris": {"account_id": other.AccountID, "region": otherRegion, "image_id": otherAMI},
	} {
		if got := c.stateIdentity(address); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("identity of %s in state = %v, want %v", address, got, want)
		}
		if got := c.stateResources()[address]["image_id"]; got != want["image_id"] {
			t.Errorf("%s.image_id = %v, want %v", address, got, want["image_id"])
		}
	}
	c.mustRun("plan", "-input=false", "-detailed-exitcode")

	// The paris image leaves the configuration: it is destroyed in its Region.
	c.write(cliConfig(marker, "", adopted+parisProvider))
	out = c.mustRun("apply", "-auto-approve", "-input=false")
	if !strings.Contains(out, "amibake_image.paris: Destruction complete") {
		t.Errorf("the apply does not destroy amibake_image.paris:\n%s", out)
	}
	if img, err := otherEC2.DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{otherAMI}}); err == nil &&
		len(img.Images) > 0 && img.Images[0].State != ec2types.ImageStateDeregistered {
		t.Errorf("image %s of %s is still registered after its resource was destroyed", otherAMI, otherRegion)
	}
	c.mustRun("destroy", "-auto-approve", "-input=false")
	if describeImage(t, homeAMI) != nil {
		t.Errorf("image %s is still registered after destroy", homeAMI)
	}
}

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// How much a plan prints, for the same six-step recipe written inline, as a
// JSON document through amibake_document (amibake_document.json →
// amibake_image.document), as HCL blocks of amibake_document, as a JSON file
// read by the amibake_document data source, and as a JSON file given to
// amibake_image: the first plan, a one-line edit of the build script, and a
// tags-only change. The
// counts are logged (and appended to AMIBAKE_PLAN_LINES when set); the
// test holds what must stay true of them.
func TestAccPlanLines(t *testing.T) {
	testAccPreCheck(t)
	ensureInstanceProfile(t, builderProfile)
	pluginDir := buildProvider(t)

	recipe := func(scriptLine string) string {
		return fmt.Sprintf(`{
  "schemaVersion": "0.3",
  "description": "Golden Linux image",
  "parameters": {
    "SourceAmiId": {"type": "String", "description": "AMI to start from"},
    "ImageName": {"type": "String", "default": "golden-{{global:DATE_TIME}}"}
  },
  "mainSteps": [
    {"name": "launch", "action": "aws:runInstances", "maxAttempts": 1, "onFailure": "Abort",
     "inputs": {"ImageId": "{{ SourceAmiId }}", "InstanceType": "t3.micro", "IamInstanceProfileName": %q}},
    {"name": "update", "action": "aws:runCommand", "onFailure": "Abort",
     "inputs": {"DocumentName": "AWS-RunShellScript", "InstanceIds": ["{{ launch.InstanceIds }}"],
                "Parameters": {"commands": ["set -euo pipefail", "dnf -y upgrade", "dnf -y install amazon-cloudwatch-agent", %q, "rm -rf /var/cache/dnf"]}}},
    {"name": "stop", "action": "aws:changeInstanceState",
     "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "stopped"}},
    {"name": "image", "action": "aws:createImage",
     "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "{{ ImageName }}", "NoReboot": true}},
    {"name": "tag", "action": "aws:createTags",
     "inputs": {"ResourceIds": ["{{ image.ImageId }}"], "Tags": [{"Key": "Source", "Value": "{{ SourceAmiId }}"}]}},
    {"name": "terminate", "action": "aws:changeInstanceState",
     "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "terminated"}}
  ],
  "outputs": ["image.ImageId"]
}
`, builderProfile, scriptLine)
	}
	const before, after = "systemctl enable amazon-cloudwatch-agent", "systemctl enable --now amazon-cloudwatch-agent"
	imageArgs := func(tags string) string {
		return fmt.Sprintf("  parameters = { SourceAmiId = %q }\n  tags       = { team = %q }\n", sourceAMI, tags)
	}
	inline := func(script, tags string) (string, map[string]string) {
		doc, err := document.ParseText(recipe(script))
		if err != nil {
			t.Fatal(err)
		}
		body, err := recipeHCL(doc)
		if err != nil {
			t.Fatal(err)
		}
		return config("resource \"amibake_image\" \"golden\" {\n" + body + imageArgs(tags) + "}\n"), nil
	}
	viaDocument := func(script, tags string) (string, map[string]string) {
		return config(`resource "amibake_document" "golden" {
  content = file("golden.json")
}

resource "amibake_image" "golden" {
  document   = amibake_document.golden.json
` + imageArgs(tags) + "}\n"), map[string]string{"golden.json": recipe(script)}
	}
	hclDocument := func(script, tags string) (string, map[string]string) {
		doc, err := document.ParseText(recipe(script))
		if err != nil {
			t.Fatal(err)
		}
		body, err := recipeHCL(doc)
		if err != nil {
			t.Fatal(err)
		}
		return config("resource \"amibake_document\" \"golden\" {\n" + body + `}

resource "amibake_image" "golden" {
  document   = amibake_document.golden.json
` + imageArgs(tags) + "}\n"), nil
	}
	viaDataSource := func(script, tags string) (string, map[string]string) {
		return config(`data "amibake_document" "golden" {
  content = file("golden.json")
}

resource "amibake_image" "golden" {
  document   = data.amibake_document.golden.json
` + imageArgs(tags) + "}\n"), map[string]string{"golden.json": recipe(script)}
	}
	direct := func(script, tags string) (string, map[string]string) {
		return config(`resource "amibake_image" "golden" {
  document   = file("golden.json")
` + imageArgs(tags) + "}\n"), map[string]string{"golden.json": recipe(script)}
	}
	var report []string
	for _, form := range []struct {
		name   string
		config func(script, tags string) (string, map[string]string)
	}{{"inline", inline}, {"json-document", viaDocument}, {"hcl-document", hclDocument}, {"json-data-source", viaDataSource}, {"json-file", direct}} {
		t.Run(form.name, func(t *testing.T) {
			c := newCLI(t, pluginDir, "")
			use := func(script, tags string) {
				main, files := form.config(script, tags)
				c.write(main)
				for name, text := range files {
					writeFile(t, filepath.Join(c.dir, name), text)
				}
			}
			plan := func() string {
				// From "Terraform used the selected providers" (or
				// "OpenTofu used ..."), after the refresh lines.
				out := c.mustRun("plan")
				i := strings.Index(out, " used the selected providers")
				if i < 0 {
					t.Fatalf("no plan in the output:\n%s", out)
				}
				return out[strings.LastIndex(out[:i], "\n")+1:]
			}
			use(before, "platform")
			create := plan()
			c.mustRun("apply", "-auto-approve")
			t.Cleanup(func() { _, _ = c.run("destroy", "-auto-approve") })
			use(after, "platform")
			edit := plan()
			use(before, "images")
			tags := plan()
			line := fmt.Sprintf("%s: create %d lines; one-line script edit %d lines, the edited line shown %d times; tags-only change %d lines",
				form.name, lines(create), lines(edit), strings.Count(edit, after), lines(tags))
			t.Log(line)
			if os.Getenv("AMIBAKE_PLAN_SHOW") != "" {
				t.Logf("create:\n%s\nedit:\n%s\ntags:\n%s", create, edit, tags)
			}
			report = append(report, line)
			// The recipe is printed once, whatever its form: the edit shows
			// the edited line once, and the first plan the script once.
			if n := strings.Count(edit, after); n != 1 {
				t.Errorf("a one-line script edit shows the edited line %d times, want 1:\n%s", n, edit)
			}
			if n := strings.Count(create, before); n != 1 {
				t.Errorf("the first plan shows the script %d times, want 1:\n%s", n, create)
			}
			// A bake without keep_builder_instances keeps none: known at plan.
			if strings.Contains(edit, "kept_instance_ids") {
				t.Errorf("a replacement plans kept_instance_ids as unknown though no builder is kept:\n%s", edit)
			}
			if !strings.Contains(edit, "# forces replacement") {
				t.Errorf("the edit plan does not say what forces the replacement:\n%s", edit)
			}
			if strings.Contains(tags, "known after apply") {
				t.Errorf("a tags-only change plans values as (known after apply):\n%s", tags)
			}
		})
	}
	if file := os.Getenv("AMIBAKE_PLAN_LINES"); file != "" {
		writeFile(t, file, strings.Join(report, "\n")+"\n")
	}
}

func lines(s string) int { return strings.Count(strings.TrimRight(s, "\n"), "\n") + 1 }

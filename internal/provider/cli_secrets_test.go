//go:build unix

package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// testCLISecretEncodings: a sensitive value with characters that JSON, Go's
// %q, URLs and HTML all escape, and a SecureString that a step reads with
// aws:executeAwsApi, reach plan-time errors, step errors (continued and
// fatal), step outputs, events and AWS error messages; none of their
// encodings appears in the plan output, the apply outputs, the state,
// `terraform show -json`, the TRACE log, or the tags and names of what the
// bake created.
func testCLISecretEncodings(t *testing.T, pluginDir string) {
	marker := fmt.Sprintf("cli-enc-%d", testRunID())
	// Each secret holds a unique hex word: every encoding but base64 keeps
	// it as it is, so finding it anywhere finds a leak.
	secretID := fmt.Sprintf("%x", testRunID())
	storedID := fmt.Sprintf("%x", testRunID()^0x3c3c3c3c3c)
	secret := `Pw"` + secretID + `&<b>\ é€😀`
	stored := `Db"` + storedID + `&<i>\ ñ☃`
	storedParam := "/amibake-test/" + marker + "/db"
	putParameter(t, storedParam, stored, true)

	logPath := filepath.Join(t.TempDir(), "terraform.log")
	vars := `
variable "secret" {
  type      = string
  sensitive = true
}
`
	// Every rule broken, and an exposure: plan-time errors about the value.
	bad := fmt.Sprintf(`
resource "amibake_image" "bad" {
  parameter {
    name            = "pattern"
    type            = "String"
    allowed_pattern = "^[a-z]+$"
  }
  parameter {
    name           = "choice"
    type           = "String"
    allowed_values = ["Pw", "Db"]
  }
  parameter {
    name      = "short"
    type      = "String"
    max_chars = 3
  }
  parameter {
    name = "count"
    type = "Integer"
  }
  parameter {
    name = "plain"
    type = "String"
  }
%s  step {
    name = "tag"
    create_tags {
      resource_ids = ["{{ image.ImageId }}"]
      tags         = [{ Key = "p", Value = "{{ plain }}" }]
    }
  }
  sensitive_parameters = { pattern = var.secret, choice = var.secret, short = var.secret, count = var.secret, plain = var.secret }
}
`, launchAndImageSteps("enc"))
	// A bake that succeeds past failed steps whose errors quote the secrets.
	ok := fmt.Sprintf(`
resource "amibake_image" "ok" {
  parameter {
    name            = "secret"
    type            = "String"
    allowed_pattern = "^Pw"
  }
  step {
    name = "fetch"
    execute_aws_api {
      service    = "ssm"
      api        = "GetParameter"
      api_inputs = jsonencode({ Name = %q, WithDecryption = true })
    }
    output {
      name     = "Value"
      selector = "$.Parameter.Value"
      type     = "String"
    }
  }
%s  step {
    name       = "probeParameter"
    on_failure = "Continue"
    sleep {
      duration = "{{ secret }}"
    }
  }
  step {
    name       = "probeFetched"
    on_failure = "Continue"
    sleep {
      duration = "{{ fetch.Value }}"
    }
  }
  step {
    name       = "probeEC2"
    on_failure = "Continue"
    change_instance_state {
      instance_ids  = ["i-{{ secret }}", "i-{{ fetch.Value }}"]
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
  outputs              = ["image.ImageId"]
  sensitive_parameters = { secret = var.secret }
}
`, storedParam, launchAndImageSteps("enc"))
	// A bake that fails on a step whose error quotes both.
	fails := fmt.Sprintf(`
resource "amibake_image" "fails" {
  parameter {
    name = "secret"
    type = "String"
  }
  step {
    name = "fetch"
    execute_aws_api {
      service    = "ssm"
      api        = "GetParameter"
      api_inputs = jsonencode({ Name = %q, WithDecryption = true })
    }
    output {
      name     = "Value"
      selector = "$.Parameter.Value"
      type     = "String"
    }
  }
  step {
    name = "probe"
    sleep {
      duration = "{{ secret }}/{{ fetch.Value }}"
    }
  }
  step {
    name = "image"
    create_image {
      instance_id = "i-0123456789abcdef0"
      image_name  = "never"
    }
  }
  sensitive_parameters = { secret = var.secret }
}
`, storedParam)

	c := newCLI(t, pluginDir, cliConfig(marker, "", vars+bad), "TF_VAR_secret="+secret, "TF_LOG=TRACE", "TF_LOG_PATH="+logPath)
	places := map[string]string{}

	out, err := c.run("plan", "-input=false")
	if err == nil {
		t.Fatalf("plan of the broken rules succeeded:\n%s", out)
	}
	for _, want := range []string{
		`parameter "pattern": value does not match allowedPattern`,
		`parameter "choice": value is not one of the allowed values "Pw", "Db"`,
		`parameter "short": value is longer than maxChars 3`,
		`parameter "count": value is not a whole number`,
		`step "tag": inputs.Tags: would let others read the value of`,
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	places["plan output"] = out

	c.write(cliConfig(marker, "", vars+ok))
	out = c.mustRun("apply", "-auto-approve", "-input=false")
	if !strings.Contains(out, "Bake Continued Past Failed Steps") || strings.Count(out, "(sensitive value)") < 3 {
		t.Errorf("the apply does not warn about the three probes with the values hidden:\n%s", out)
	}
	places["apply output"] = out
	st := c.stateResources()["amibake_image.ok"]
	if outs, _ := st["step_outputs"].(map[string]any); outs["fetch.Value"] != "(sensitive value)" {
		t.Errorf("step_outputs = %v: the fetched secret should show as (sensitive value)", st["step_outputs"])
	}
	raw, err := os.ReadFile(filepath.Join(c.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	places["state"] = stateWithoutSensitive(t, raw)
	places["terraform show -json"] = showWithoutSensitive(t, c.mustRun("show", "-json"))

	var seen []string
	for _, img := range imagesTagged(t, matrixTag, marker) {
		seen = append(seen, aws.ToString(img.Name), aws.ToString(img.Description))
		for _, tg := range img.Tags {
			seen = append(seen, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
	}
	for _, in := range instancesTagged(t, matrixTag, marker) {
		for _, tg := range in.Tags {
			seen = append(seen, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
	}
	snaps, err := testEC2(t).DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + matrixTag), Values: []string{marker}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps.Snapshots {
		for _, tg := range s.Tags {
			seen = append(seen, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
	}
	if len(seen) == 0 {
		t.Error("no names or tags found to check")
	}
	places["AMI names and tags"] = strings.Join(seen, "\n")

	c.write(cliConfig(marker, "", vars+ok+fails))
	out, err = c.run("apply", "-auto-approve", "-input=false")
	if err == nil || !strings.Contains(out, "Bake Failed") || !strings.Contains(out, `step "probe" (aws:sleep) failed`) ||
		!strings.Contains(out, "(sensitive value)") {
		t.Errorf("want the bake to fail on the probe, with the values hidden (err %v):\n%s", err, out)
	}
	places["failed apply output"] = out

	places["destroy output"] = c.mustRun("destroy", "-auto-approve", "-input=false")
	logText, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logText), "(sensitive value)") {
		t.Error("the TRACE log shows no redaction: were the failing steps logged?")
	}
	places["TRACE log"] = string(logText)

	for what, s := range map[string]string{"sensitive parameter": secret, "fetched SecureString": stored} {
		id := secretID
		if what != "sensitive parameter" {
			id = storedID
		}
		needles := map[string]string{"the value's unique part": id}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			needles["base64 "+enc.EncodeToString([]byte(s))] = enc.EncodeToString([]byte(s))
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
	if l := leftAfter(t, marker, nil); !l.empty() {
		t.Errorf("after destroy: %s", l)
	}
}

// showWithoutSensitive is `terraform show -json` without the attributes
// declared sensitive, where secrets belong.
func showWithoutSensitive(t *testing.T, out string) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("terraform show -json: %v\n%s", err, out)
	}
	values, _ := doc["values"].(map[string]any)
	root, _ := values["root_module"].(map[string]any)
	resources, _ := root["resources"].([]any)
	if len(resources) == 0 {
		t.Fatalf("terraform show -json lists no resources:\n%s", out)
	}
	for _, r := range resources {
		if vals, ok := r.(map[string]any)["values"].(map[string]any); ok {
			delete(vals, "sensitive_parameters")
		}
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

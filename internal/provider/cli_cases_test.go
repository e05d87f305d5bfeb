//go:build unix

package provider

import (
	"context"
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

// quickBake is a CLI working directory with one applied bake that does not pause.
func quickBake(t *testing.T, pluginDir, marker, more string) (*cli, string, []string) {
	t.Helper()
	putParameter(t, "/amibake-test/"+marker+"/pause", "PT0S", false)
	c := newCLI(t, pluginDir, cliConfig(marker, "", pausingRecipe("bake", marker, more)))
	c.mustRun("apply", "-auto-approve", "-input=false")
	st := c.stateResources()["amibake_image.bake"]
	id, _ := st["image_id"].(string)
	var snaps []string
	for _, s := range st["snapshot_ids"].([]any) {
		snaps = append(snaps, s.(string))
	}
	if id == "" || len(snaps) != 1 {
		t.Fatalf("bake recorded image %q, snapshots %v", id, snaps)
	}
	return c, id, snaps
}

func deregister(t *testing.T, id string) {
	t.Helper()
	if _, err := testEC2(t).DeregisterImage(context.Background(), &ec2.DeregisterImageInput{ImageId: aws.String(id)}); err != nil {
		t.Fatalf("DeregisterImage %s: %v", id, err)
	}
}

func deleteSnapshotsByHand(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, _ = testEC2(t).DeleteSnapshot(context.Background(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
	}
}

func testCLIDestroyEdges(t *testing.T, pluginDir string) {
	t.Run("image already gone, destroy without refresh", func(t *testing.T) {
		marker := fmt.Sprintf("cli-gone-%d", testRunID())
		c, id, snaps := quickBake(t, pluginDir, marker, "")
		deregister(t, id)
		c.mustRun("destroy", "-auto-approve", "-input=false", "-refresh=false")
		if left := snapshotsByID(t, snaps[0]); len(left) > 0 {
			t.Errorf("destroy left snapshot %s of the image deregistered before it", snaps[0])
		}
		if l := leftAfter(t, marker, nil); !l.empty() {
			t.Errorf("after destroy: %s", l)
		}
	})

	t.Run("image already gone, destroy with refresh", func(t *testing.T) {
		marker := fmt.Sprintf("cli-gone-refresh-%d", testRunID())
		c, id, snaps := quickBake(t, pluginDir, marker, "")
		deregister(t, id)
		out := c.mustRun("destroy", "-auto-approve", "-input=false")
		if res := c.mustRun("state", "list"); strings.TrimSpace(res) != "" {
			t.Errorf("state still holds %q:\n%s", res, out)
		}
		// The refresh finds the image gone and drops it from state; the
		// snapshot that AWS keeps after a deregistration is the deregistering
		// user's to delete.
		t.Logf("snapshot %s after the AMI was deregistered outside Terraform and destroyed with refresh: %d left", snaps[0], len(snapshotsByID(t, snaps[0])))
		deleteSnapshotsByHand(t, snaps...)
	})

	t.Run("deregister_on_destroy false keeps the image and says so", func(t *testing.T) {
		marker := fmt.Sprintf("cli-keep-%d", testRunID())
		c, id, snaps := quickBake(t, pluginDir, marker, "  deregister_on_destroy = false")
		out := c.mustRun("destroy", "-auto-approve", "-input=false")
		if !strings.Contains(out, "Warning: Image Kept") || !strings.Contains(out, "deregister_on_destroy is false") || !strings.Contains(out, id) {
			t.Errorf("destroy does not warn that %s is kept:\n%s", id, out)
		}
		if img := describeImage(t, id); img == nil || len(snapshotsByID(t, snaps[0])) != 1 {
			t.Errorf("image %s or its snapshot is gone although deregister_on_destroy is false", id)
		}
		deregister(t, id)
		deleteSnapshotsByHand(t, snaps...)
	})

	t.Run("snapshot in use by another image", func(t *testing.T) {
		marker := fmt.Sprintf("cli-inuse-%d", testRunID())
		c, id, snaps := quickBake(t, pluginDir, marker, "")
		other, err := testEC2(t).RegisterImage(context.Background(), &ec2.RegisterImageInput{
			Name:           aws.String("other-" + marker),
			RootDeviceName: aws.String("/dev/sda1"),
			BlockDeviceMappings: []ec2types.BlockDeviceMapping{{
				DeviceName: aws.String("/dev/sda1"), Ebs: &ec2types.EbsBlockDevice{SnapshotId: aws.String(snaps[0])},
			}},
		})
		if err != nil {
			t.Fatalf("RegisterImage from %s: %v", snaps[0], err)
		}
		otherID := aws.ToString(other.ImageId)
		out, err := c.run("destroy", "-auto-approve", "-input=false")
		// AWS refuses to delete a snapshot another AMI uses; the emulator does
		// not. Either way our AMI must be gone and destroy must not hang.
		t.Logf("destroy with the snapshot used by %s: err=%v, snapshot left: %d, other image left: %v\n%s",
			otherID, err, len(snapshotsByID(t, snaps[0])), describeImage(t, otherID) != nil, out)
		if describeImage(t, id) != nil {
			t.Errorf("destroy left the image %s", id)
		}
		deregister(t, otherID)
		deleteSnapshotsByHand(t, snaps...)
	})

	t.Run("copy already gone", func(t *testing.T) {
		marker := fmt.Sprintf("cli-copy-%d", testRunID())
		putParameter(t, "/amibake-test/"+marker+"/pause", "PT0S", false)
		c := newCLI(t, pluginDir, cliConfig(marker, "", fmt.Sprintf(`
resource "amibake_image" "bake" {
%s  step {
    name = "copy"
    copy_image {
      source_region   = "us-east-1"
      source_image_id = "{{ image.ImageId }}"
      image_name      = "cli-copy-{{ automation:EXECUTION_ID }}"
    }
  }
  outputs = ["image.ImageId"]
}
`, launchAndImageSteps("cli"))))
		c.mustRun("apply", "-auto-approve", "-input=false")
		st := c.stateResources()["amibake_image.bake"]
		id, _ := st["image_id"].(string)
		copyID, _ := st["copies"].(map[string]any)["us-east-1"].(string)
		if copyID == "" {
			t.Fatalf("no copy in state: %v", st["copies"])
		}
		copySnap := snapshotOf(t, copyID)
		deregister(t, copyID)
		c.mustRun("destroy", "-auto-approve", "-input=false")
		if describeImage(t, id) != nil {
			t.Errorf("destroy left image %s", id)
		}
		left := leftAfter(t, marker, nil)
		t.Logf("after destroy with the copy deregistered outside Terraform: %s (copy snapshot %s)", left, copySnap)
		if len(left.instances)+len(left.images) > 0 {
			t.Errorf("after destroy: %s", left)
		}
		deleteSnapshotsByHand(t, left.snapshots...)
	})
}

// testCLISecrets: sensitive parameter values, SecureString parameter defaults
// and the provider's credentials appear nowhere: not in the TRACE log, the
// CLI's output, the state (outside sensitive_parameters), or tags.
func testCLISecrets(t *testing.T, pluginDir string) {
	marker := fmt.Sprintf("cli-secret-%d", testRunID())
	// Hex, so that "i-<secret>" is a well-formed instance id whose NotFound
	// error quotes it.
	token := fmt.Sprintf("%017x", testRunID())[:17]
	dbPassword := fmt.Sprintf("%017x", testRunID()^0x5a5a5a5a5a)[:17]
	accessKey := "AKIAAMIBAKE" + strings.ToUpper(token[:9])
	secretKey := "amibake/Secret+Key" + dbPassword
	secretParam := "/amibake-test/" + marker + "/db-password"
	putParameter(t, secretParam, dbPassword, true)

	logPath := filepath.Join(t.TempDir(), "terraform.log")
	c := newCLI(t, pluginDir, cliConfig(marker, fmt.Sprintf("  access_key = %q\n  secret_key = %q", accessKey, secretKey), fmt.Sprintf(`
resource "amibake_image" "bake" {
  parameter {
    name = "token"
    type = "String"
  }
  parameter {
    name    = "dbPassword"
    type    = "String"
    default = "{{ssm:%s}}"
  }
  step {
    name = "launch"
    run_instances {
      image_id                  = %q
      iam_instance_profile_name = %q
    }
  }
  step {
    name = "configure"
    run_command {
      document_name = "AWS-RunShellScript"
      instance_ids  = ["{{ launch.InstanceIds }}"]
      parameters    = { commands = ["echo {{ dbPassword }} > /etc/app.db"] }
    }
  }
  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "secret-{{ automation:EXECUTION_ID }}"
    }
  }
  step {
    name       = "probeToken"
    on_failure = "Continue"
    change_instance_state {
      instance_ids  = ["i-{{ token }}"]
      desired_state = "stopped"
    }
  }
  step {
    name       = "probeDatabase"
    on_failure = "Continue"
    change_instance_state {
      instance_ids  = ["i-{{ dbPassword }}"]
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

  sensitive_parameters = { token = %q }
}
`, secretParam, sourceAMI, builderProfile, token)), "TF_LOG=TRACE", "TF_LOG_PATH="+logPath)

	applyOut := c.mustRun("apply", "-auto-approve", "-input=false")
	// The probes failed with errors that quote the secret: the test would
	// prove nothing if they had not.
	if !strings.Contains(applyOut, "Bake Continued Past Failed Steps") || !strings.Contains(applyOut, "(sensitive value)") {
		t.Errorf("the apply does not warn about the failed probes with the value hidden:\n%s", applyOut)
	}
	rawState, err := os.ReadFile(filepath.Join(c.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]string{"apply output": applyOut, "state": stateWithoutSensitive(t, rawState)}
	if !strings.Contains(places["state"], "(sensitive value)") {
		t.Errorf("the steps in state show no redaction: were the probes recorded?")
	}
	// Tags on everything the bake created.
	var tags []string
	addTags := func(ts []ec2types.Tag) {
		for _, tg := range ts {
			tags = append(tags, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
	}
	for _, in := range instancesTagged(t, matrixTag, marker) {
		addTags(in.Tags)
	}
	for _, img := range imagesTagged(t, matrixTag, marker) {
		addTags(img.Tags)
	}
	snaps, err := testEC2(t).DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + matrixTag), Values: []string{marker}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps.Snapshots {
		addTags(s.Tags)
	}
	if len(tags) == 0 {
		t.Errorf("no tags found to check")
	}
	places["tags"] = strings.Join(tags, "\n")

	places["destroy output"] = c.mustRun("destroy", "-auto-approve", "-input=false")
	logText, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logText), "(sensitive value)") {
		t.Errorf("the TRACE log shows no redaction: were the failing steps logged?")
	}
	places["TRACE log"] = string(logText)

	for what, secret := range map[string]string{"sensitive parameter": token, "SecureString default": dbPassword, "access_key": accessKey, "secret_key": secretKey} {
		for where, text := range places {
			if i := strings.Index(text, secret); i >= 0 {
				lo, hi := max(0, i-200), min(len(text), i+len(secret)+100)
				t.Errorf("the %s appears in the %s: ...%s...", what, where, text[lo:hi])
			}
		}
	}
	if l := leftAfter(t, marker, nil); !l.empty() {
		t.Errorf("after destroy: %s", l)
	}
}

// stateWithoutSensitive is the state file's text without the attributes
// declared sensitive, where secrets belong.
func stateWithoutSensitive(t *testing.T, raw []byte) string {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st["resources"].([]any) {
		for _, in := range r.(map[string]any)["instances"].([]any) {
			attrs := in.(map[string]any)["attributes"].(map[string]any)
			delete(attrs, "sensitive_parameters")
			delete(in.(map[string]any), "sensitive_attributes")
		}
	}
	out, _ := json.Marshal(st)
	return string(out)
}

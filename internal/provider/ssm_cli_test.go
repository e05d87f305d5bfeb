//go:build unix

package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// The SSM executor through the Terraform CLI, with a provider binary built
// from this tree: signals reach the real plugin process, and executions run
// in the emulator's own process, so they outlive a killed Terraform.

func TestAccSSMTerraformCLI(t *testing.T) {
	testAccPreCheck(t)
	t.Parallel()
	ensureInstanceProfile(t, builderProfile)
	emu := testEmulator(t)
	pluginDir := buildProvider(t)

	t.Run("interrupt", func(t *testing.T) { testSSMInterrupt(t, pluginDir, emu) })
	t.Run("kill-and-reattach", func(t *testing.T) { testSSMKillReattach(t, pluginDir, emu, false) })
	t.Run("adopt-finished", func(t *testing.T) { testSSMKillReattach(t, pluginDir, emu, true) })
	t.Run("two-workspaces", func(t *testing.T) { testSSMTwoWorkspaces(t, pluginDir, emu) })
	t.Run("failed-while-dead", func(t *testing.T) { testSSMFailedWhileDead(t, pluginDir, emu) })
}

// testSSMFailedWhileDead: Terraform is killed, and the execution then fails
// (its check step rejects the image) with its builder and image left, as
// SSM leaves them. The next apply, the check now passing, removes what the
// failed execution left and bakes anew: two executions, one image, no
// builder.
func testSSMFailedWhileDead(t *testing.T, pluginDir string, emu *acctest.SSMEmulator) {
	marker := fmt.Sprintf("ssm-faildead-%d", testRunID())
	putParameter(t, "/amibake-test/"+marker+"/pause", "PT3S", false)
	putParameter(t, "/amibake-test/"+marker+"/want", "ami-never", false)
	extra := fmt.Sprintf("  executor = %q\n%s\n  endpoints {\n    ssm = %q\n  }", "ssm", shortLease, emu.Endpoint())
	recipe := fmt.Sprintf(`
resource "amibake_image" "bake" {
  document = jsonencode({
    schemaVersion = "0.3"
    parameters = {
      pause = { type = "String", default = "{{ssm:/amibake-test/%[1]s/pause}}" }
      want  = { type = "String", default = "{{ssm:/amibake-test/%[1]s/want}}" }
    }
    mainSteps = [
      { name = "launch", action = "aws:runInstances", inputs = { ImageId = %[2]q, IamInstanceProfileName = %[3]q } },
      { name = "image", action = "aws:createImage", inputs = { InstanceId = "{{ launch.InstanceIds }}", ImageName = "faildead-{{ automation:EXECUTION_ID }}" } },
      { name = "pause", action = "aws:sleep", inputs = { Duration = "{{ pause }}" } },
      { name = "check", action = "aws:assertAwsResourceProperty", inputs = {
          Service = "ec2", Api = "DescribeImages", ImageIds = [%[2]q],
          PropertySelector = "$.Images[0].ImageId", DesiredValues = ["{{ want }}"] } },
      { name = "terminate", action = "aws:changeInstanceState", inputs = { InstanceIds = ["{{ launch.InstanceIds }}"], DesiredState = "terminated" } },
    ]
    outputs = ["image.ImageId"]
  })
}
`, marker, sourceAMI, builderProfile)
	c := newCLI(t, pluginDir, cliConfig(marker, extra, recipe), "TF_LOG_PROVIDER=INFO")
	apply := c.start("apply", "-auto-approve", "-input=false")
	id := waitInSSMPause(t, apply)
	apply.signal(t, syscall.SIGKILL)
	if _, ended := apply.wait(30 * time.Second); !ended {
		t.Fatal("terraform survived SIGKILL")
	}
	deadline := time.Now().Add(2 * time.Minute)
	for executionStatus(t, emu, id) != ssmtypes.AutomationExecutionStatusFailed {
		if time.Now().After(deadline) {
			t.Fatalf("execution %s did not fail on its own", id)
		}
		time.Sleep(time.Second)
	}
	if instances, images := ssmLeaks(t, marker); len(instances) != 1 || len(images) != 1 {
		t.Fatalf("the failed execution should have left its builder and image (as SSM does), found %v and %v", instances, images)
	}

	putParameter(t, "/amibake-test/"+marker+"/want", sourceAMI, false)
	out := c.mustRun("apply", "-auto-approve", "-input=false")
	state := c.stateResources()["amibake_image.bake"]
	image, _ := state["image_id"].(string)
	if state["execution_id"] == id {
		t.Errorf("the failed execution %s was recorded\n%s", id, out)
	}
	if execs := executionsOfBake(t, emu, state["bake_key"].(string)); len(execs) != 2 {
		t.Errorf("want the failed execution and a new one, found %d executions", len(execs))
	}
	if instances, images := ssmLeaks(t, marker, image); len(instances)+len(images) > 0 {
		t.Errorf("after the second apply: builders %v, images besides %s: %v", instances, image, images)
	}
	c.mustRun("destroy", "-auto-approve", "-input=false")
}

// testSSMTwoWorkspaces: two workspaces apply the same image (same bake key)
// at once. The second finds the first's execution with a live lease: it
// neither adopts nor stops it, waits until the first has recorded it, then
// bakes its own. Two executions, two images, each in its own state.
func testSSMTwoWorkspaces(t *testing.T, pluginDir string, emu *acctest.SSMEmulator) {
	marker := fmt.Sprintf("ssm-two-%d", testRunID())
	a := ssmCLI(t, pluginDir, emu, marker, "PT10S")
	b := ssmCLI(t, pluginDir, emu, marker, "PT10S")
	first := a.start("apply", "-auto-approve", "-input=false")
	id := waitInSSMPause(t, first)
	second := b.start("apply", "-auto-approve", "-input=false")
	waitUntil(t, second, time.Minute, "the second workspace to wait for the first", func() bool {
		return strings.Contains(second.out.String(), "another runner is baking the same image")
	})
	for _, r := range []*running{first, second} {
		err, ended := r.wait(3 * time.Minute)
		if !ended || err != nil {
			t.Fatalf("apply did not succeed (%v, ended %v):\n%s", err, ended, r.out.String())
		}
	}
	sa, sb := a.stateResources()["amibake_image.bake"], b.stateResources()["amibake_image.bake"]
	if sa["execution_id"] != id {
		t.Errorf("the first workspace recorded execution %v, want its own %s", sa["execution_id"], id)
	}
	if sa["execution_id"] == sb["execution_id"] || sa["image_id"] == sb["image_id"] {
		t.Errorf("the second workspace adopted the first's bake: %v %v, %v %v", sa["execution_id"], sa["image_id"], sb["execution_id"], sb["image_id"])
	}
	if st := executionStatus(t, emu, id); st != ssmtypes.AutomationExecutionStatusSuccess {
		t.Errorf("the first workspace's execution is %s: the second stopped it", st)
	}
	if execs := executionsOfBake(t, emu, sa["bake_key"].(string)); len(execs) != 2 {
		t.Errorf("want two executions for the bake key, found %d", len(execs))
	}
	imgA, _ := sa["image_id"].(string)
	imgB, _ := sb["image_id"].(string)
	if instances, images := ssmLeaks(t, marker, imgA, imgB); len(instances)+len(images) > 0 {
		t.Errorf("builders %v and images %v left", instances, images)
	}
	a.mustRun("destroy", "-auto-approve", "-input=false")
	b.mustRun("destroy", "-auto-approve", "-input=false")
}

// ssmCLI is a working directory whose recipe pauses for the duration held in
// an SSM parameter (resolved by SSM when the execution starts), baked on SSM
// Automation with a short lease.
func ssmCLI(t *testing.T, pluginDir string, emu *acctest.SSMEmulator, marker, pause string) *cli {
	putParameter(t, "/amibake-test/"+marker+"/pause", pause, false)
	extra := fmt.Sprintf("  executor = %q\n%s\n  endpoints {\n    ssm = %q\n  }", "ssm", shortLease, emu.Endpoint())
	return newCLI(t, pluginDir, cliConfig(marker, extra, pausingRecipe("bake", marker, "")), "TF_LOG_PROVIDER=INFO")
}

var startedExecution = regexp.MustCompile(`started SSM Automation execution.*execution_id=([0-9a-f-]{36})`)

// waitInSSMPause waits until the bake's execution runs its pause step and
// returns the execution's id.
func waitInSSMPause(t *testing.T, r *running) string {
	t.Helper()
	var id string
	waitUntil(t, r, 2*time.Minute, "the execution to start", func() bool {
		m := startedExecution.FindStringSubmatch(r.out.String())
		if m != nil {
			id = m[1]
		}
		return m != nil
	})
	inPause := regexp.MustCompile(`step start.*step=pause`)
	waitUntil(t, r, 2*time.Minute, "the pause step to start", func() bool { return inPause.MatchString(r.out.String()) })
	return id
}

func executionStatus(t *testing.T, emu *acctest.SSMEmulator, id string) ssmtypes.AutomationExecutionStatus {
	t.Helper()
	for {
		out, err := emulatorSSM(t, emu).GetAutomationExecution(context.Background(), &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
		if err == nil {
			return out.AutomationExecution.AutomationExecutionStatus
		}
		if !strings.Contains(err.Error(), "ThrottlingException") {
			t.Fatalf("GetAutomationExecution %s: %v", id, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// testSSMInterrupt: Ctrl-C while the execution runs stops it (Cancelled),
// removes its builder and image, and the CLI exits within
// maxExitAfterInterrupt.
func testSSMInterrupt(t *testing.T, pluginDir string, emu *acctest.SSMEmulator) {
	marker := fmt.Sprintf("ssm-int-%d", testRunID())
	c := ssmCLI(t, pluginDir, emu, marker, "PT10M")
	apply := c.start("apply", "-auto-approve", "-input=false")
	id := waitInSSMPause(t, apply)
	if ids := liveInstances(t, matrixTag, marker); len(ids) != 1 {
		t.Fatalf("want the running builder, found %v", ids)
	}
	sent := time.Now()
	apply.signal(t, syscall.SIGINT)
	err, ended := apply.wait(2 * maxExitAfterInterrupt)
	took := time.Since(sent)
	if !ended {
		apply.signal(t, syscall.SIGKILL)
		t.Fatalf("terraform still running %s after SIGINT:\n%s", 2*maxExitAfterInterrupt, apply.out.String())
	}
	t.Logf("terraform exited %s after SIGINT", took.Round(time.Millisecond))
	out := apply.out.String()
	if took > maxExitAfterInterrupt {
		t.Errorf("terraform took %s to exit after SIGINT, want at most %s", took, maxExitAfterInterrupt)
	}
	if err == nil {
		t.Errorf("an interrupted apply succeeded:\n%s", out)
	}
	if !regexp.MustCompile(`(?s)Bake Failed.*step "pause" \(aws:sleep\) was cancelled`).MatchString(out) {
		t.Errorf("the error does not say the pause step was cancelled:\n%s", out)
	}
	if st := executionStatus(t, emu, id); st != ssmtypes.AutomationExecutionStatusCancelled {
		t.Errorf("execution %s is %s, want Cancelled", id, st)
	}
	if instances, images := ssmLeaks(t, marker); len(instances)+len(images) > 0 {
		t.Errorf("the interrupted bake left builders %v and images %v", instances, images)
	}
	if res := c.mustRun("state", "list"); strings.TrimSpace(res) != "" {
		t.Errorf("state holds %q after an interrupted create", res)
	}
}

// testSSMKillReattach: kill -9 of Terraform and the provider while the
// execution runs; the execution goes on in SSM. The next apply finds it by
// its bake key once the dead runner's lease has expired, and records its
// image: exactly one execution in all, one image, no builder. With finished,
// the execution ends before the next apply, which adopts it.
func testSSMKillReattach(t *testing.T, pluginDir string, emu *acctest.SSMEmulator, finished bool) {
	marker := fmt.Sprintf("ssm-kill-%d", testRunID())
	pause := "PT20S"
	if finished {
		pause = "PT3S"
	}
	c := ssmCLI(t, pluginDir, emu, marker, pause)
	apply := c.start("apply", "-auto-approve", "-input=false")
	id := waitInSSMPause(t, apply)
	apply.signal(t, syscall.SIGKILL)
	if _, ended := apply.wait(30 * time.Second); !ended {
		t.Fatal("terraform survived SIGKILL")
	}
	if finished {
		deadline := time.Now().Add(2 * time.Minute)
		for executionStatus(t, emu, id) != ssmtypes.AutomationExecutionStatusSuccess {
			if time.Now().After(deadline) {
				t.Fatalf("execution %s did not succeed on its own", id)
			}
			time.Sleep(time.Second)
		}
		// The image exists, the builder is terminated by the recipe; the
		// next apply must not bake again.
	} else if st := executionStatus(t, emu, id); st != ssmtypes.AutomationExecutionStatusInprogress {
		t.Fatalf("execution %s is %s after Terraform died, want InProgress", id, st)
	}

	started := time.Now()
	out := c.mustRun("apply", "-auto-approve", "-input=false")
	t.Logf("the second apply took %s", time.Since(started).Round(time.Millisecond))
	state := c.stateResources()["amibake_image.bake"]
	image, _ := state["image_id"].(string)
	key, _ := state["bake_key"].(string)
	if state["execution_id"] != id {
		t.Errorf("execution_id in state is %v, want the first apply's execution %s\n%s", state["execution_id"], id, out)
	}
	if execs := executionsOfBake(t, emu, key); len(execs) != 1 {
		t.Errorf("want exactly one StartAutomationExecution for the bake, found %d executions", len(execs))
	}
	if instances, images := ssmLeaks(t, marker, image); len(instances)+len(images) > 0 {
		t.Errorf("after the second apply: builders %v, images besides %s: %v", instances, image, images)
	}
	if describeImage(t, image) == nil {
		t.Errorf("the image in state %s does not exist", image)
	}
	c.mustRun("destroy", "-auto-approve", "-input=false")
	if instances, images := ssmLeaks(t, marker); len(instances)+len(images) > 0 {
		t.Errorf("after destroy: builders %v, images %v", instances, images)
	}
}

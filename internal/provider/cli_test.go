//go:build unix

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// These tests drive the Terraform CLI itself, as a user does, against a
// provider binary built from this tree and installed through dev_overrides:
// signals reach a real plugin process, and logs and state are the real files.

// maxExitAfterInterrupt is how soon after Ctrl-C the CLI must be gone, its
// bake cleaned up.
const maxExitAfterInterrupt = 30 * time.Second

// buildProvider builds the provider binary into a temporary directory.
func buildProvider(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build the provider with: %v", err)
	}
	dir := t.TempDir()
	started := time.Now()
	cmd := exec.Command(goBin, "build", "-o", filepath.Join(dir, "terraform-provider-amibake"), ".")
	cmd.Dir = repoFile(t, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the provider: %v\n%s", err, out)
	}
	t.Logf("provider built in %s", time.Since(started).Round(time.Second))
	return dir
}

// cli is one Terraform working directory.
type cli struct {
	t   *testing.T
	dir string
	env []string
}

func newCLI(t *testing.T, pluginDir, mainTF string, extraEnv ...string) *cli {
	t.Helper()
	dir := t.TempDir()
	rc := filepath.Join(dir, "dev.tfrc")
	writeFile(t, rc, fmt.Sprintf(`provider_installation {
  dev_overrides {
    "registry.terraform.io/amibake/amibake" = %q
    "registry.opentofu.org/amibake/amibake" = %q
  }
  direct {}
}
`, pluginDir, pluginDir))
	c := &cli{t: t, dir: dir}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_LOG") && !strings.HasPrefix(kv, "TF_CLI_CONFIG_FILE=") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env, "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	c.env = append(c.env, extraEnv...)
	c.write(mainTF)
	return c
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (c *cli) write(mainTF string) { writeFile(c.t, filepath.Join(c.dir, "main.tf"), mainTF) }

func (c *cli) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, acctest.TerraformPath(), args...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	// Its own process group, like a job in a terminal: a signal to the group
	// reaches Terraform and the provider, as Ctrl-C does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// run runs a Terraform command to its end and returns its output.
func (c *cli) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := c.command(ctx, append(args, "-no-color")...).CombinedOutput()
	return string(out), err
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// running is a Terraform command in the background.
type running struct {
	cmd  *exec.Cmd
	out  *acctest.SyncBuffer
	done chan error
}

func (c *cli) start(args ...string) *running {
	c.t.Helper()
	r := &running{out: &acctest.SyncBuffer{}, done: make(chan error, 1)}
	r.cmd = c.command(context.Background(), append(args, "-no-color")...)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	c.t.Cleanup(func() {
		select {
		case err := <-r.done:
			_ = err // the test already judged how the command ended
		default:
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done //nolint:errcheck // the process was killed; its exit error says nothing
		}
	})
	return r
}

func (r *running) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(-r.cmd.Process.Pid, sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits at most d for the command to end.
func (r *running) wait(d time.Duration) (error, bool) {
	select {
	case err := <-r.done:
		r.done <- err
		return err, true
	case <-time.After(d):
		return nil, false
	}
}

// waitUntil polls cond until it holds; it fails the test if r ends first or
// after limit.
func waitUntil(t *testing.T, r *running, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if err, ended := r.wait(0); ended {
			t.Fatalf("terraform ended (%v) before %s:\n%s", err, what, r.out.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s:\n%s", what, limit, r.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func putParameter(t *testing.T, name, value string, secure bool) {
	t.Helper()
	typ := ssmtypes.ParameterTypeString
	if secure {
		typ = ssmtypes.ParameterTypeSecureString
	}
	_, err := testClients(t).Raw["ssm"].(*ssm.Client).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("PutParameter %s: %v", name, err)
	}
}

// cliConfig is a configuration for the CLI: the provider tags everything with
// marker; extra goes into the provider block.
func cliConfig(marker, extra, resources string) string {
	return fmt.Sprintf(`%s
provider "amibake" {
%s
  default_tags {
    tags = { %s = %q }
  }
}
%s`, acctest.RequiredProviders, extra, matrixTag, marker, resources)
}

// pausingRecipe launches a builder, images it, then sleeps for the duration
// held in an SSM parameter (read when the bake runs, so that it is not part of
// the bake key), then terminates the builder.
func pausingRecipe(name, marker, more string) string {
	return fmt.Sprintf(`
resource "amibake_image" %q {
  parameter {
    name    = "pause"
    type    = "String"
    default = "{{ssm:/amibake-test/%s/pause}}"
  }
%s  step {
    name = "pause"
    sleep {
      duration = "{{ pause }}"
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
%s
}
`, name, marker, launchAndImageSteps("cli"), more)
}

// stateResources reads the local state file: resource name -> attributes.
func (c *cli) stateResources() map[string]map[string]any {
	c.t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.dir, "terraform.tfstate"))
	if err != nil {
		c.t.Fatalf("reading state: %v", err)
	}
	var st struct {
		Resources []struct {
			Type, Name string
			Instances  []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		c.t.Fatalf("parsing state: %v", err)
	}
	out := map[string]map[string]any{}
	for _, r := range st.Resources {
		for _, in := range r.Instances {
			out[r.Type+"."+r.Name] = in.Attributes
		}
	}
	return out
}

// leftAfter is what the emulator still holds for marker, all snapshots scanned.
func leftAfter(t *testing.T, marker string, tracked map[string]bool) leaks {
	t.Helper()
	c := testEC2(t)
	return findLeaks(t, c, marker, false, tracked, accountSnapshots(t, c))
}

// waitInPause waits until the bake tagged marker is in its pause step: its
// snapshot exists and the provider has logged the start of the pause step
// (the CLI runs with TF_LOG_PROVIDER=INFO, see pausingCLI).
func waitInPause(t *testing.T, r *running, marker string) {
	t.Helper()
	waitUntil(t, r, 3*time.Minute, "snapshot of the running bake", func() bool { return len(snapshotsTagged(t, matrixTag, marker)) == 1 })
	started := regexp.MustCompile(`step start.*step=pause`)
	waitUntil(t, r, time.Minute, "the pause step to start", func() bool { return started.MatchString(r.out.String()) })
}

// pausingCLI is a working directory whose recipe pauses, with provider logs
// on; extra goes into the provider block.
func pausingCLI(t *testing.T, pluginDir, marker, extra string) *cli {
	return newCLI(t, pluginDir, cliConfig(marker, extra, pausingRecipe("bake", marker, "")), "TF_LOG_PROVIDER=INFO")
}

// shortLease makes a killed bake's leftovers sweepable within seconds.
const shortLease = `  lease_duration = "3s"`

// interruptExit is how long Terraform took to exit after SIGINT; reported in
// the test log.
var interruptExit time.Duration

func TestAccTerraformCLI(t *testing.T) {
	testAccPreCheck(t)
	t.Parallel()
	ensureInstanceProfile(t, builderProfile)
	pluginDir := buildProvider(t)

	t.Run("interrupt", func(t *testing.T) { testCLIInterrupt(t, pluginDir) })
	t.Run("crash", func(t *testing.T) { testCLICrashRecovery(t, pluginDir) })
	t.Run("destroy", func(t *testing.T) { testCLIDestroyEdges(t, pluginDir) })
	t.Run("secrets", func(t *testing.T) { testCLISecrets(t, pluginDir) })
	t.Run("secretEncodings", func(t *testing.T) { testCLISecretEncodings(t, pluginDir) })
	t.Run("two-workspaces", func(t *testing.T) { testCLITwoWorkspaces(t, pluginDir) })
	t.Run("kept-builder", func(t *testing.T) { testCLIKeptBuilder(t, pluginDir) })
	t.Run("forged-tags", func(t *testing.T) { testCLIForgedTags(t, pluginDir) })
	t.Run("not-whole", func(t *testing.T) { testCLINotWhole(t, pluginDir) })
}

// testCLIInterrupt: Ctrl-C while a step runs ends the apply within
// maxExitAfterInterrupt, with the builder terminated and the image removed.
func testCLIInterrupt(t *testing.T, pluginDir string) {
	marker := fmt.Sprintf("cli-int-%d", testRunID())
	putParameter(t, "/amibake-test/"+marker+"/pause", "PT10M", false)
	c := pausingCLI(t, pluginDir, marker, "")

	apply := c.start("apply", "-auto-approve", "-input=false")
	waitInPause(t, apply, marker)
	if ids := liveInstances(t, matrixTag, marker); len(ids) != 1 {
		t.Fatalf("want the running builder, found %v", ids)
	}

	sent := time.Now()
	apply.signal(t, syscall.SIGINT)
	err, ended := apply.wait(2 * maxExitAfterInterrupt)
	interruptExit = time.Since(sent)
	if !ended {
		apply.signal(t, syscall.SIGKILL)
		t.Fatalf("terraform still running %s after SIGINT:\n%s", 2*maxExitAfterInterrupt, apply.out.String())
	}
	t.Logf("terraform exited %s after SIGINT", interruptExit.Round(time.Millisecond))
	out := apply.out.String()
	if interruptExit > maxExitAfterInterrupt {
		t.Errorf("terraform took %s to exit after SIGINT, want at most %s", interruptExit, maxExitAfterInterrupt)
	}
	if err == nil {
		t.Errorf("an interrupted apply succeeded:\n%s", out)
	}
	if !regexp.MustCompile(`(?s)Bake Failed.*step "pause" \(aws:sleep\) was cancelled`).MatchString(out) {
		t.Errorf("the error does not say the pause step was cancelled:\n%s", out)
	}
	if l := leftAfter(t, marker, nil); !l.empty() {
		t.Errorf("the interrupted bake left %s\n%s", l, out)
	}
	if res := c.mustRun("state", "list"); strings.TrimSpace(res) != "" {
		t.Errorf("state holds %q after an interrupted create", res)
	}
}

// testCLICrashRecovery: kill -9 of Terraform and the provider mid-bake leaves
// a builder and an image; once their lease has expired, the next apply (same
// bake key) removes both, and ends with exactly one image. A later bake with
// the same key never removes a product.
func testCLICrashRecovery(t *testing.T, pluginDir string) {
	marker := fmt.Sprintf("cli-crash-%d", testRunID())
	param := "/amibake-test/" + marker + "/pause"
	putParameter(t, param, "PT10M", false)
	c := pausingCLI(t, pluginDir, marker, shortLease)

	apply := c.start("apply", "-auto-approve", "-input=false")
	waitInPause(t, apply, marker)
	apply.signal(t, syscall.SIGKILL)
	if _, ended := apply.wait(30 * time.Second); !ended {
		t.Fatal("terraform survived SIGKILL")
	}
	deadInstances := liveInstances(t, matrixTag, marker)
	deadImages := imagesTagged(t, matrixTag, marker)
	if len(deadInstances) != 1 || len(deadImages) != 1 {
		t.Fatalf("the killed bake should have left its builder and its image, found instances %v and %d images", deadInstances, len(deadImages))
	}
	deadImage := aws.ToString(deadImages[0].ImageId)
	deadSnapshots := ami.Snapshots(deadImages[0])
	if tagMap(deadImages[0].Tags)[engine.TagBakeKey] == "" {
		t.Fatalf("the image carries no bake key: %v", tagMap(deadImages[0].Tags))
	}

	putParameter(t, param, "PT0S", false)
	time.Sleep(4 * time.Second) // the killed bake's lease (3s) runs out
	out := c.mustRun("apply", "-auto-approve", "-input=false")
	state := c.stateResources()["amibake_image.bake"]
	product, _ := state["image_id"].(string)
	if ids := liveInstances(t, matrixTag, marker); len(ids) != 0 {
		t.Errorf("builders still running after the recovering apply: %v\n%s", ids, out)
	}
	if describeImage(t, deadImage) != nil {
		t.Errorf("the dead bake's image %s survived the recovering apply", deadImage)
	}
	for _, s := range deadSnapshots {
		if len(snapshotsByID(t, s)) > 0 {
			t.Errorf("the dead bake's snapshot %s survived the recovering apply", s)
		}
	}
	if imgs := imagesTagged(t, matrixTag, marker); len(imgs) != 1 || aws.ToString(imgs[0].ImageId) != product {
		t.Errorf("want exactly the image in state (%s), found %d images", product, len(imgs))
	}
	if l := leftAfter(t, marker, map[string]bool{product: true, snapshotOf(t, product): true}); !l.empty() {
		t.Errorf("after the recovering apply: %s", l)
	}

	// A second bake with the same key (same recipe and parameters) runs its
	// sweep after the first finished: the first image is a product and stays.
	c.write(cliConfig(marker, shortLease, pausingRecipe("bake", marker, "")+pausingRecipe("again", marker, "  depends_on = [amibake_image.bake]")))
	c.mustRun("apply", "-auto-approve", "-input=false")
	res := c.stateResources()
	again, _ := res["amibake_image.again"]["image_id"].(string)
	if res["amibake_image.again"]["bake_key"] != state["bake_key"] {
		t.Fatalf("the second bake has another key (%v, %v): the test proves nothing", res["amibake_image.again"]["bake_key"], state["bake_key"])
	}
	if describeImage(t, product) == nil {
		t.Errorf("the second bake's sweep removed the first bake's product %s", product)
	}
	if imgs := imagesTagged(t, matrixTag, marker); len(imgs) != 2 || describeImage(t, again) == nil {
		t.Errorf("want both products, found %d images", len(imgs))
	}

	c.mustRun("destroy", "-auto-approve", "-input=false")
	if l := leftAfter(t, marker, nil); !l.empty() {
		t.Errorf("after destroy: %s", l)
	}
}

func snapshotsByID(t *testing.T, id string) []ec2types.Snapshot {
	t.Helper()
	out, err := testEC2(t).DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{
		Filters: []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: []string{id}}},
	})
	if err != nil {
		t.Fatalf("DescribeSnapshots: %v", err)
	}
	return out.Snapshots
}

func snapshotOf(t *testing.T, imageID string) string {
	t.Helper()
	img := describeImage(t, imageID)
	if img == nil {
		return ""
	}
	if s := ami.Snapshots(*img); len(s) > 0 {
		return s[0]
	}
	return ""
}

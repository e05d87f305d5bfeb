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
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// Trust: what one bake does never touches another's work, whoever shares the
// account, and a bake that is not whole never reaches state.

// trustRecipe launches a builder and pauses for the duration held in an SSM
// parameter, either before imaging it (afterImage false) or after; then it
// stops the builder (before) or terminates it (after).
func trustRecipe(name, marker string, afterImage bool, more string) string {
	pause := `  step {
    name = "pause"
    sleep {
      duration = "{{ pause }}"
    }
  }
`
	stop := `  step {
    name = "stop"
    change_instance_state {
      instance_ids  = ["{{ launch.InstanceIds }}"]
      desired_state = "stopped"
    }
  }
`
	steps := fmt.Sprintf(`  step {
    name = "launch"
    run_instances {
      image_id                  = %q
      iam_instance_profile_name = %q
    }
  }
`, sourceAMI, builderProfile)
	image := `  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "trust-{{ automation:EXECUTION_ID }}"
    }
  }
`
	if afterImage {
		steps += image + pause + `  step {
    name = "terminate"
    change_instance_state {
      instance_ids  = ["{{ launch.InstanceIds }}"]
      desired_state = "terminated"
    }
  }
`
	} else {
		steps += pause + stop + image
	}
	return fmt.Sprintf(`
resource "amibake_image" %q {
  parameter {
    name    = "pause"
    type    = "String"
    default = "{{ssm:/amibake-test/%s/pause}}"
  }
%s  outputs = ["image.ImageId"]
%s
}
`, name, marker, steps, more)
}

var pauseStarted = regexp.MustCompile(`step start.*step=pause`)

// testCLITwoWorkspaces: two working directories bake the same recipe with the
// same parameters (one bake key), the second starting while the first is in a
// long step, once right after the launch and once right after the image. Both
// succeed with their own image; neither touches the other's work.
func testCLITwoWorkspaces(t *testing.T, pluginDir string) {
	for _, v := range []struct {
		name       string
		afterImage bool
	}{{"pause-after-launch", false}, {"pause-after-image", true}} {
		t.Run(v.name, func(t *testing.T) {
			marker := fmt.Sprintf("cli-two-%d", testRunID())
			putParameter(t, "/amibake-test/"+marker+"/pause", "PT15S", false)
			cfg := cliConfig(marker, "", trustRecipe("bake", marker, v.afterImage, ""))
			a := newCLI(t, pluginDir, cfg, "TF_LOG_PROVIDER=INFO")
			b := newCLI(t, pluginDir, cfg, "TF_LOG_PROVIDER=INFO")

			applyA := a.start("apply", "-auto-approve", "-input=false")
			waitUntil(t, applyA, 3*time.Minute, "the first bake's pause", func() bool { return pauseStarted.MatchString(applyA.out.String()) })
			applyB := b.start("apply", "-auto-approve", "-input=false")
			errA, endA := applyA.wait(3 * time.Minute)
			errB, endB := applyB.wait(3 * time.Minute)
			if !endA || !endB {
				applyA.signal(t, syscall.SIGKILL)
				applyB.signal(t, syscall.SIGKILL)
				t.Fatal("an apply did not end")
			}
			if errA != nil || errB != nil {
				t.Fatalf("both applies must succeed: %v, %v\n--- first:\n%s\n--- second:\n%s", errA, errB, applyA.out.String(), applyB.out.String())
			}
			stA, stB := a.stateResources()["amibake_image.bake"], b.stateResources()["amibake_image.bake"]
			if stA["bake_key"] != stB["bake_key"] {
				t.Fatalf("the two bakes have different keys (%v, %v): the test proves nothing", stA["bake_key"], stB["bake_key"])
			}
			idA, _ := stA["image_id"].(string)
			idB, _ := stB["image_id"].(string)
			for _, id := range []string{idA, idB} {
				img := describeImage(t, id)
				if img == nil || img.State != ec2types.ImageStateAvailable {
					t.Errorf("image %s in state is not available: %+v", id, img)
				}
			}
			if idA == idB {
				t.Errorf("both workspaces recorded image %s", idA)
			}
			// The second bake's sweep saw the first one's live work and left it.
			if !strings.Contains(applyB.out.String(), "its bake is still running (lease live)") {
				t.Errorf("the second bake's sweep does not report sparing the first one's live bake:\n%s", applyB.out.String())
			}
			if ids := liveInstances(t, matrixTag, marker); len(ids) != 0 {
				t.Errorf("builders left running: %v", ids)
			}
			if imgs := imagesTagged(t, matrixTag, marker); len(imgs) != 2 {
				t.Errorf("want the two products, found %d images", len(imgs))
			}
			a.mustRun("destroy", "-auto-approve", "-input=false")
			b.mustRun("destroy", "-auto-approve", "-input=false")
			if l := leftAfter(t, marker, nil); !l.empty() {
				t.Errorf("after both destroys: %s", l)
			}
		})
	}
}

// testCLIKeptBuilder: a builder kept with keep_builder_instances is reported
// with its real state, recorded in state, survives the next apply of the same
// recipe from another directory (once every lease has expired), is named in
// that apply's output, and is terminated by destroy.
func testCLIKeptBuilder(t *testing.T, pluginDir string) {
	marker := fmt.Sprintf("cli-kept-%d", testRunID())
	putParameter(t, "/amibake-test/"+marker+"/pause", "PT0S", false)
	a := newCLI(t, pluginDir, cliConfig(marker, shortLease, trustRecipe("bake", marker, false, "  keep_builder_instances = true")))
	out := a.mustRun("apply", "-auto-approve", "-input=false")
	ids := liveInstances(t, matrixTag, marker)
	if len(ids) != 1 {
		t.Fatalf("want the kept builder, found %v", ids)
	}
	kept := ids[0]
	if !strings.Contains(out, "Builder Instances Kept") || !strings.Contains(out, kept+" (stopped)") {
		t.Errorf("the apply does not report the kept builder as stopped:\n%s", out)
	}
	if got := fmt.Sprint(a.stateResources()["amibake_image.bake"]["kept_instance_ids"]); got != "["+kept+"]" {
		t.Errorf("kept_instance_ids = %s, want [%s]", got, kept)
	}

	time.Sleep(4 * time.Second) // every lease of the first bake has expired
	b := newCLI(t, pluginDir, cliConfig(marker, shortLease, trustRecipe("bake", marker, false, "")), "TF_LOG_PROVIDER=INFO")
	outB := b.mustRun("apply", "-auto-approve", "-input=false")
	if a.stateResources()["amibake_image.bake"]["bake_key"] != b.stateResources()["amibake_image.bake"]["bake_key"] {
		t.Fatal("the two bakes have different keys: the test proves nothing")
	}
	if st := instanceState(t, kept); st != ec2types.InstanceStateNameStopped {
		t.Errorf("the next bake of the same recipe left the kept builder %s %s, want stopped", kept, st)
	}
	if !strings.Contains(outB, "instance "+kept+": kept") {
		t.Errorf("the next apply does not name the kept builder it spared:\n%s", outB)
	}

	a.mustRun("destroy", "-auto-approve", "-input=false")
	if st := instanceState(t, kept); st != ec2types.InstanceStateNameTerminated {
		t.Errorf("destroy left the kept builder %s %s", kept, st)
	}
	b.mustRun("destroy", "-auto-approve", "-input=false")
	if l := leftAfter(t, marker, nil); !l.empty() {
		t.Errorf("after both destroys: %s", l)
	}
}

// testCLIForgedTags: an instance and an image made outside the provider and
// tagged with a real bake key, a real execution id and an expired lease are
// never touched by the next bake of that recipe: a tag is not proof.
func testCLIForgedTags(t *testing.T, pluginDir string) {
	marker := fmt.Sprintf("cli-forged-%d", testRunID())
	putParameter(t, "/amibake-test/"+marker+"/pause", "PT0S", false)
	c := newCLI(t, pluginDir, cliConfig(marker, shortLease, trustRecipe("bake", marker, true, "")), "TF_LOG_PROVIDER=INFO")
	c.mustRun("apply", "-auto-approve", "-input=false")
	st := c.stateResources()["amibake_image.bake"]
	key, _ := st["bake_key"].(string)
	exec, _ := st["execution_id"].(string)

	ctx := context.Background()
	e := testEC2(t)
	tags := []ec2types.Tag{
		{Key: aws.String(engine.TagBakeKey), Value: aws.String(key)},
		{Key: aws.String(engine.TagExecutionID), Value: aws.String(exec)},
		{Key: aws.String(engine.TagManaged), Value: aws.String("true")},
		{Key: aws.String(actions.TagLease), Value: aws.String(actions.LeaseValue(time.Now().Add(-time.Hour)))},
		{Key: aws.String(matrixTag), Value: aws.String(marker + "-victim")},
	}
	run, err := e.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(sourceAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	victim := aws.ToString(run.Instances[0].InstanceId)
	img, err := e.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(victim), Name: aws.String("victim-" + marker)})
	if err != nil {
		t.Fatal(err)
	}
	victimImage := aws.ToString(img.ImageId)
	victimSnap := snapshotOf(t, victimImage)
	if _, err := e.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{victim, victimImage, victimSnap}, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = e.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{victim}})
		_, _ = e.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(victimImage)})
		_, _ = e.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(victimSnap)})
	})

	// A second bake of the same recipe: its sweep looks at the victims.
	c.write(cliConfig(marker, shortLease, trustRecipe("bake", marker, true, "")+trustRecipe("again", marker, true, "  depends_on = [amibake_image.bake]")))
	out := c.mustRun("apply", "-auto-approve", "-input=false")
	if st := instanceState(t, victim); st != ec2types.InstanceStateNameRunning {
		t.Errorf("the forged-tag instance %s is %s, want running", victim, st)
	}
	if describeImage(t, victimImage) == nil {
		t.Errorf("the forged-tag image %s was removed", victimImage)
	}
	if len(snapshotsByID(t, victimSnap)) == 0 {
		t.Errorf("the forged-tag snapshot %s was deleted", victimSnap)
	}
	if !strings.Contains(out, "instance "+victim+": not provably made by a bake of this provider") {
		t.Errorf("the sweep does not say why it left %s alone:\n%s", victim, out)
	}
	c.mustRun("destroy", "-auto-approve", "-input=false")
	if l := leftAfter(t, marker, nil); !l.empty() {
		t.Errorf("after destroy: %s", l)
	}
}

// testCLINotWhole: a builder terminated by someone else mid-bake fails the
// bake at once, naming it; an image deregistered before Create returns fails
// the apply. Nothing dead reaches state, nothing is left.
func testCLINotWhole(t *testing.T, pluginDir string) {
	t.Run("builder-terminated", func(t *testing.T) {
		marker := fmt.Sprintf("cli-gone-%d", testRunID())
		putParameter(t, "/amibake-test/"+marker+"/pause", "PT8S", false)
		c := newCLI(t, pluginDir, cliConfig(marker, "", trustRecipe("bake", marker, false, "")), "TF_LOG_PROVIDER=INFO")
		apply := c.start("apply", "-auto-approve", "-input=false")
		waitUntil(t, apply, 3*time.Minute, "the pause", func() bool { return pauseStarted.MatchString(apply.out.String()) })
		ids := liveInstances(t, matrixTag, marker)
		if len(ids) != 1 {
			t.Fatalf("want one builder, found %v", ids)
		}
		if _, err := testEC2(t).TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		err, ended := apply.wait(time.Minute)
		if !ended {
			apply.signal(t, syscall.SIGKILL)
			t.Fatalf("the bake went on for a minute after its builder was terminated:\n%s", apply.out.String())
		}
		t.Logf("the apply failed %s after the builder was terminated (the pause had up to 8s to run)", time.Since(killed).Round(time.Millisecond))
		out := apply.out.String()
		if err == nil || !strings.Contains(out, "instance "+ids[0]+" was terminated outside this bake") {
			t.Errorf("want a failed apply naming %s as terminated outside this bake:\n%s", ids[0], out)
		}
		if res := c.mustRun("state", "list"); strings.TrimSpace(res) != "" {
			t.Errorf("state holds %q", res)
		}
		if l := leftAfter(t, marker, nil); !l.empty() {
			t.Errorf("left %s", l)
		}
	})
	t.Run("image-deregistered", func(t *testing.T) {
		marker := fmt.Sprintf("cli-dereg-%d", testRunID())
		putParameter(t, "/amibake-test/"+marker+"/pause", "PT8S", false)
		c := newCLI(t, pluginDir, cliConfig(marker, "", trustRecipe("bake", marker, true, "")), "TF_LOG_PROVIDER=INFO")
		apply := c.start("apply", "-auto-approve", "-input=false")
		waitUntil(t, apply, 3*time.Minute, "the pause", func() bool { return pauseStarted.MatchString(apply.out.String()) })
		imgs := imagesTagged(t, matrixTag, marker)
		if len(imgs) != 1 {
			t.Fatalf("want one image, found %d", len(imgs))
		}
		id := aws.ToString(imgs[0].ImageId)
		deregister(t, id)
		err, ended := apply.wait(time.Minute)
		if !ended {
			apply.signal(t, syscall.SIGKILL)
			t.Fatal("the apply did not end")
		}
		out := apply.out.String()
		if err == nil || !strings.Contains(out, "the baked image "+id+" no longer exists") {
			t.Errorf("want a failed apply saying %s no longer exists:\n%s", id, out)
		}
		if res := c.mustRun("state", "list"); strings.TrimSpace(res) != "" {
			t.Errorf("state holds %q", res)
		}
		if l := leftAfter(t, marker, nil); !l.empty() {
			t.Errorf("left %s", l)
		}
	})
}

func instanceState(t *testing.T, id string) ec2types.InstanceStateName {
	t.Helper()
	out, err := testEC2(t).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeInstances %s: %v", id, err)
	}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			if in.State != nil {
				return in.State.Name
			}
		}
	}
	return ""
}

// TestAccImage_timeoutNamesItsLimit: a bake that runs out of time says which
// limit it ran into, its value and how to raise it, and leaves nothing.
func TestAccImage_timeoutNamesItsLimit(t *testing.T) {
	marker := fmt.Sprintf("timeout-%d", testRunID())
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t); ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: cliConfig(marker, "", fmt.Sprintf(`
resource "amibake_image" "slow" {
%s  step {
    name = "pause"
    sleep {
      duration = "PT2M"
    }
  }
  outputs = ["image.ImageId"]
  timeouts {
    create = "20s"
  }
}
`, launchAndImageSteps("slow"))),
			ExpectError: regexp.MustCompile(`(?s)timeouts\.create \(20s\).*timeouts \{ create = "2h" \}.*pause`),
		}},
	})
	if l := leftAfter(t, marker, nil); !l.empty() {
		t.Errorf("the timed-out bake left %s", l)
	}
}

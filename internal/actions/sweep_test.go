package actions

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestSweep: only what a dead run provably made is removed. Live leases,
// kept builders, this run's own resources and anything a tag alone points at
// survive, and the report says why.
func TestSweep(t *testing.T) {
	w := newWorld(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	expired, live := LeaseValue(now.Add(-time.Minute)), LeaseValue(now.Add(time.Minute))
	tags := func(exec, lease string) map[string]string {
		m := map[string]string{"amibake:bake-key": "k1", "amibake:execution-id": exec}
		if lease != "" {
			m[TagLease] = lease
		}
		return m
	}
	// A run that died: builder, image and an orphan snapshot of an image
	// its cleanup had deregistered.
	deadTags := tags("exec-dead", expired)
	dead := w.put(t, LaunchToken("exec-dead", ""), ec2types.InstanceStateNameStopped, deadTags)
	deadImage, deadSnap := w.imageFrom(t, dead, deadTags)
	goneImage, orphan := w.imageFrom(t, dead, deadTags)
	w.cloud.Remove(goneImage) // its snapshot keeps AWS's description

	// Another workspace's bake of the same recipe, alive: builder and image.
	liveTags := tags("exec-live", live)
	alive := w.put(t, LaunchToken("exec-live", ""), ec2types.InstanceStateNameRunning, liveTags)
	liveImage, liveSnap := w.imageFrom(t, alive, liveTags)
	// A builder kept on purpose, long ago.
	kept := w.put(t, LaunchToken("exec-kept", ""), ec2types.InstanceStateNameStopped, tags("exec-kept", LeaseKept))
	// A resource of a run from before leases: not provably dead.
	legacy := w.put(t, LaunchToken("exec-old", ""), ec2types.InstanceStateNameRunning, tags("exec-old", ""))
	// Someone else's instance and image, tagged with a real key, execution
	// id and an expired lease: tags are no proof.
	forged := w.put(t, "", ec2types.InstanceStateNameRunning, deadTags)
	forgedImage, forgedSnap := w.imageFrom(t, forged, deadTags)
	// An image of theirs carrying the dead run's tags, made from the dead
	// run's builder's id? No: from their own instance; and one of theirs
	// tagged as if made from nothing.
	strayImage, straySnap := w.image(t, maps.Clone(deadTags))
	// A completed product and one recorded in state.
	done, doneSnap := w.imageFrom(t, dead, map[string]string{"amibake:bake-key": "k1", "amibake:execution-id": "exec-dead", TagLease: expired, TagCompleted: "true"})
	inState, inStateSnap := w.imageFrom(t, dead, deadTags)
	// This run's own builder.
	own := w.put(t, LaunchToken("exec-1", ""), ec2types.InstanceStateNameRunning, tags("exec-1", expired))

	rep, err := Sweep(context.Background(), w.env, SweepOptions{
		TagKey: "amibake:bake-key", TagValue: "k1", ExecutionTag: "amibake:execution-id",
		KeepImageIDs: []string{inState}, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	state := w.cloud.InstanceState
	if state(dead) != ec2types.InstanceStateNameTerminated {
		t.Errorf("dead run's builder is %s, want terminated", state(dead))
	}
	for _, id := range []string{alive, kept, legacy, forged, own} {
		if st := state(id); st == ec2types.InstanceStateNameTerminated {
			t.Errorf("instance %s was terminated", id)
		}
	}
	for _, id := range []string{deadImage} {
		if w.has(id) {
			t.Errorf("dead run's image %s not removed", id)
		}
	}
	for _, id := range []string{liveImage, forgedImage, strayImage, done, inState} {
		if !w.has(id) {
			t.Errorf("image %s was removed", id)
		}
	}
	for _, s := range []string{deadSnap, orphan} {
		if w.has(s) {
			t.Errorf("dead run's snapshot %s not removed", s)
		}
	}
	for _, s := range []string{liveSnap, forgedSnap, straySnap, doneSnap, inStateSnap} {
		if !w.has(s) {
			t.Errorf("snapshot %s was removed", s)
		}
	}
	if !slices.Equal(rep.Terminated, []string{dead}) || !slices.Equal(rep.Deregistered, []string{deadImage}) {
		t.Errorf("report %+v", rep.CleanupReport)
	}
	spared := strings.Join(rep.Spared, "\n")
	for _, want := range []string{
		"instance " + alive + ": its bake is still running (lease live)",
		"instance " + kept + ": kept",
		"instance " + legacy + ": no readable lease",
		"instance " + forged + ": not provably made by a bake of this provider",
		"image " + forgedImage + ": not provably made",
		"image " + strayImage + ": not provably made",
	} {
		if !strings.Contains(spared, want) {
			t.Errorf("spared list lacks %q:\n%s", want, spared)
		}
	}
	if strings.Contains(spared, own) {
		t.Errorf("the sweeping run's own builder is listed: %s", spared)
	}
}

func TestLaunchToken(t *testing.T) {
	exec := "0b7e6a4e-8a55-4c43-9d36-7d1f0e2b8a11"
	a, b := LaunchToken(exec, ""), LaunchToken(exec, "")
	if a == b || len(a) > 64 || !strings.HasPrefix(a, "amibake-"+exec+"-") {
		t.Errorf("tokens %q, %q: want distinct, at most 64 characters, naming the run", a, b)
	}
	first, again := LaunchToken(exec, "mine"), LaunchToken(exec, "mine")
	if first != again || first == LaunchToken("other", "mine") {
		t.Error("a document's token must give the same launch token within a run, and another across runs")
	}
	in := ec2types.Instance{ClientToken: &a}
	if !LaunchedBy(in, exec) || LaunchedBy(in, "0b7e6a4e") || LaunchedBy(in, "") {
		t.Error("LaunchedBy must match the whole execution id only")
	}
}

package actions

import (
	"errors"
	"testing"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestBuilderTerminatedOutside: a step working on a builder that someone else
// terminated fails at once naming it, instead of asking again until its
// timeout (AWS answers IncorrectInstanceState forever; lenient emulators
// bring the instance back).
func TestBuilderTerminatedOutside(t *testing.T) {
	for _, tt := range []struct {
		action string
		in     func(id string) map[string]any
	}{
		{"aws:changeInstanceState", func(id string) map[string]any {
			return map[string]any{"InstanceIds": []any{id}, "DesiredState": "stopped"}
		}},
		{"aws:changeInstanceState", func(id string) map[string]any {
			return map[string]any{"InstanceIds": []any{id}, "DesiredState": "running"}
		}},
		{"aws:createImage", func(id string) map[string]any {
			return map[string]any{"InstanceId": id, "ImageName": "img"}
		}},
		{"aws:runCommand", func(id string) map[string]any {
			return map[string]any{"InstanceIds": []any{id}, "DocumentName": "AWS-RunShellScript"}
		}},
	} {
		t.Run(tt.action, func(t *testing.T) {
			w := newWorld(t)
			id := w.launch(t)
			w.cloud.SetInstanceState(id, ec2types.InstanceStateNameTerminated, "")
			_, err := run(t, w, tt.action, tt.in(id))
			var bg *BuilderGoneError
			if !errors.As(err, &bg) || bg.InstanceID != id {
				t.Fatalf("err = %v, want a *BuilderGoneError naming %s", err, id)
			}
			if want := "instance " + id + " was terminated outside this bake (state terminated)"; err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
			if n := w.cloud.Count("StopInstances") + w.cloud.Count("StartInstances") + w.cloud.Count("CreateImage"); n != 0 {
				t.Errorf("%d state changes or images asked of a terminated builder", n)
			}
		})
	}

	// Terminating what the run itself terminated is not someone else's doing.
	w := newWorld(t)
	id := w.launch(t)
	if _, err := run(t, w, "aws:changeInstanceState", map[string]any{"InstanceIds": []any{id}, "DesiredState": "terminated"}); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, w, "aws:changeInstanceState", map[string]any{"InstanceIds": []any{id}, "DesiredState": "terminated"}); err != nil {
		t.Errorf("terminating twice: %v", err)
	}
}

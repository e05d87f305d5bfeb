package provider

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

func TestRecordBake(t *testing.T) {
	img := func(region, id string, snaps ...string) ami.Record {
		return ami.Record{Region: region, ID: id, Snapshots: snaps}
	}
	tests := []struct {
		name          string
		res           *engine.Result
		err           error
		wantImage     string
		wantCopies    map[string]string
		wantSnapshots []string
		wantErr       string
	}{
		{
			name: "success: the output is the image, the rest are copies",
			res: &engine.Result{Outputs: map[string]any{"image.ImageId": "ami-1"},
				Images: []ami.Record{img("us-east-1", "ami-1", "snap-1"), img("us-east-1", "ami-2", "snap-2"), img("eu-west-1", "ami-3")}},
			wantImage:     "ami-1",
			wantCopies:    map[string]string{"us-east-1": "ami-2", "eu-west-1": "ami-3"},
			wantSnapshots: []string{},
		},
		{
			name: "two copies in one region are both kept",
			res: &engine.Result{Outputs: map[string]any{"image.ImageId": "ami-1"},
				Images: []ami.Record{img("us-east-1", "ami-1"), img("us-east-1", "ami-2"), img("us-east-1", "ami-3")}},
			wantImage:     "ami-1",
			wantCopies:    map[string]string{"us-east-1": "ami-2", "us-east-1/ami-3": "ami-3"},
			wantSnapshots: []string{},
		},
		{
			name: "failure keeps every image cleanup left, with the snapshots",
			res: &engine.Result{Outputs: map[string]any{},
				Images: []ami.Record{img("us-east-1", "ami-1", "snap-1"), img("us-east-1", "ami-2", "snap-2", "snap-1")}},
			err:           errors.New(`step "tag" (aws:createTags) failed`),
			wantImage:     "ami-1",
			wantCopies:    map[string]string{"us-east-1": "ami-2"},
			wantSnapshots: []string{"snap-1", "snap-2"},
			wantErr:       `step "tag"`,
		},
		{
			name:          "failure with nothing left",
			res:           &engine.Result{},
			err:           errors.New("boom"),
			wantCopies:    map[string]string{},
			wantSnapshots: []string{},
			wantErr:       "boom",
		},
		{
			name: "a success without the image output is a failure",
			res: &engine.Result{Outputs: map[string]any{"image.ImageId": ""},
				Images: []ami.Record{img("us-east-1", "ami-9", "snap-9")}},
			wantImage:     "ami-9",
			wantCopies:    map[string]string{},
			wantSnapshots: []string{"snap-9"},
			wantErr:       "image output image.ImageId is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := recordBake(tt.res, tt.err, "image.ImageId")
			if rec.imageID != tt.wantImage || !reflect.DeepEqual(rec.copies, tt.wantCopies) || !reflect.DeepEqual(rec.snapshots, tt.wantSnapshots) {
				t.Errorf("got image %q copies %v snapshots %v", rec.imageID, rec.copies, rec.snapshots)
			}
			if (rec.err == nil) != (tt.wantErr == "") || rec.err != nil && !strings.Contains(rec.err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", rec.err, tt.wantErr)
			}
		})
	}
}

func TestContinuedFailures(t *testing.T) {
	res := &engine.Result{Steps: []engine.StepResult{
		{Name: "launch", Action: "aws:runInstances", Status: engine.StatusSuccess},
		{Name: "patch", Action: "aws:runCommand", Status: engine.StatusFailed, Message: "command c-1 ended Failed with token s3cret\nmore"},
		{Name: "wait", Action: "aws:sleep", Status: engine.StatusTimedOut, Message: "no result within timeoutSeconds (5)"},
	}}
	summary, detail := continuedFailures(res, engine.NewRedactor("s3cret"))
	if summary == "" {
		t.Fatal("no warning")
	}
	for _, want := range []string{`step "patch" (aws:runCommand) failed: command c-1 ended Failed with token (sensitive value)`, `step "wait" (aws:sleep) timed out: no result`} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, detail)
		}
	}
	if strings.Contains(detail, "s3cret") || strings.Contains(detail, "more") {
		t.Errorf("detail shows the secret or more than the first line:\n%s", detail)
	}
	if s, _ := continuedFailures(&engine.Result{Steps: res.Steps[:1]}, nil); s != "" {
		t.Errorf("warning for a clean run: %s", s)
	}
}

func TestBakeErrorDetailBuilders(t *testing.T) {
	err := errors.New(`step "x" (aws:createTags) failed: boom`)
	for _, tt := range []struct {
		name      string
		leftovers []string
		kept      []engine.KeptInstance
		want      string
	}{
		{"terminated", nil, nil, "i-1 (all terminated)"},
		// Reported with the state it was left in, not as "running".
		{"kept on request", nil, []engine.KeptInstance{{ID: "i-1", State: "stopped"}}, "i-1 (kept, as keep_builder_instances asks: i-1 stopped)"},
		{"image left, builder terminated", []string{"ami-1"}, nil, "i-1 (all terminated)"},
		{"builder left", []string{"i-1"}, nil, "Not removed (clean up by hand if a later apply does not): i-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := bakeErrorDetail(err, &engine.Result{Instances: []string{"i-1"}, Leftovers: tt.leftovers, Kept: tt.kept})
			if !strings.Contains(got, tt.want) {
				t.Errorf("detail lacks %q:\n%s", tt.want, got)
			}
			if tt.name == "builder left" && strings.Contains(got, "all terminated") {
				t.Errorf("claims all terminated:\n%s", got)
			}
		})
	}
}

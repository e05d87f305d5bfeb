package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

func imageDoc(name string) *document.Document {
	d := doc(
		step("launch", "aws:runInstances", inputs(map[string]any{"ImageId": "ami-1"})),
		step("stop", "aws:changeInstanceState", inputs(map[string]any{"InstanceIds": "{{ launch.InstanceIds }}", "DesiredState": "stopped"})),
		step("createImage", "aws:createImage", inputs(map[string]any{"InstanceId": "{{ launch.InstanceIds }}", "ImageName": name})),
	)
	d.Parameters = []document.Parameter{{Name: "Name", Type: "String", Default: "golden-1", HasDefault: true}}
	return d
}

// A name EC2 would refuse ends the run before anything is created: no step
// runs and no sweep removes anything.
func TestRunRefusesAnImageNameBeforeLaunching(t *testing.T) {
	swept := 0
	withSweep(t, func(context.Context, *actions.Env, actions.SweepOptions) (actions.SweepReport, error) {
		swept++
		return actions.SweepReport{}, nil
	})
	for name, c := range map[string]struct {
		imageName string
		params    map[string]string
		want      string
	}{
		"given parameter":         {"{{ Name }}", map[string]string{"Name": "golden:2024"}, `has ':' at position 7`},
		"default too short":       {"{{ Name }}", map[string]string{"Name": "ab"}, "is 2 characters long"},
		"literal around a global": {"golden, {{ global:REGION }}", nil, `has ','`},
		"too long with the date":  {strings.Repeat("a", 110) + "-{{ global:DATE_TIME }}", nil, "is 130 characters long"},
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{behaviour: map[string]fakeAction{"launch": recordInstance("i-1")}}
			o := options(s, nil)
			o.BakeKey = "bk"
			res, err := Run(context.Background(), imageDoc(c.imageName), c.params, o)
			var se *StepError
			if !errors.As(err, &se) || se.Step != "createImage" || se.Status != StatusSkipped {
				t.Fatalf("want a StepError of createImage that did not run, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "before anything was created") {
				t.Errorf("error %q lacks %q", err, c.want)
			}
			if ran := s.ran(); len(ran) != 0 {
				t.Errorf("steps ran: %v", ran)
			}
			if len(res.Instances) != 0 || len(res.Steps) != 0 {
				t.Errorf("result %+v", res)
			}
		})
	}
	if swept != 0 {
		t.Errorf("swept %d times before refusing the name", swept)
	}
}

// A name made of step outputs is checked right before its step calls EC2.
func TestRunChecksAnImageNameFromOutputsBeforeTheCall(t *testing.T) {
	s := &script{behaviour: map[string]fakeAction{
		"launch": func(ctx context.Context, env *actions.Env, st *document.Step, in map[string]any) (actions.Result, error) {
			return actions.Result{Outputs: map[string]any{"InstanceIds": []any{"i-1"}, "InstanceStates": []any{"a:b"}}}, nil
		},
	}}
	res, err := Run(context.Background(), imageDoc("img-{{ launch.InstanceStates }}"), nil, options(s, nil))
	var se *StepError
	if !errors.As(err, &se) || se.Step != "createImage" || !strings.Contains(err.Error(), "checked before calling EC2") {
		t.Fatalf("want createImage to fail on its name, got %v", err)
	}
	if ran := s.ran(); strings.Join(ran, ",") != "launch,stop" {
		t.Errorf("steps called: %v, want launch and stop only", ran)
	}
	if got := statuses(res); strings.Join(got, ",") != "launch:Success,stop:Success,createImage:Failed" {
		t.Errorf("statuses %v", got)
	}
}

func TestRunAcceptsGoodImageNames(t *testing.T) {
	for _, name := range []string{"{{ Name }}", "golden-{{ Name }}-{{ global:DATE_TIME }}", "img-{{ launch.InstanceIds }}", "x-{{ automation:EXECUTION_ID }}"} {
		s := &script{behaviour: map[string]fakeAction{"launch": outputs(map[string]any{"InstanceIds": []any{"i-1"}})}}
		if _, err := Run(context.Background(), imageDoc(name), nil, options(s, nil)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if ran := s.ran(); len(ran) != 3 {
			t.Errorf("%s: steps called %v", name, ran)
		}
	}
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

// bakeImage makes image id (with snapshot snap-<id>) in the cloud.
func bakeImage(f cloud, id string) {
	f.bake(id, "snap-"+id)
}

// TestRunImageOutput: a run that goes on past the step that makes the image
// (onFailure Continue) ends without one; with ImageOutput set it fails naming
// that step, and cleanup removes what the step left.
func TestRunImageOutput(t *testing.T) {
	f := newCloud()
	s := bakeScript(f, outputs(nil))
	s.behaviour["image"] = func(_ context.Context, env *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
		bakeImage(f, "ami-half")
		env.Ledger.RecordImage(env.Clients.Region, "ami-half")
		return actions.Result{}, errors.New("image ami-half is failed: out of capacity")
	}
	d := doc(
		step("launch", "aws:runInstances", inputs(map[string]any{"ImageId": "ami-base"})),
		step("image", "aws:createImage", onFailure("Continue"), inputs(map[string]any{"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "baked"})),
		step("last", "aws:createTags"),
	)
	o := options(s, nil)
	o.Clients = f.clients()

	// Without ImageOutput the run succeeds, as SSM would report it.
	if _, err := Run(context.Background(), d, nil, o); err != nil {
		t.Fatalf("without ImageOutput: %v", err)
	}

	f = newCloud()
	s = bakeScript(f, outputs(nil))
	s.behaviour["image"] = func(_ context.Context, env *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
		bakeImage(f, "ami-half")
		env.Ledger.RecordImage(env.Clients.Region, "ami-half")
		return actions.Result{}, errors.New("image ami-half is failed: out of capacity")
	}
	o = options(s, nil)
	o.Clients = f.clients()
	o.ImageOutput = "image.ImageId"
	res, err := Run(context.Background(), d, nil, o)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "image" || se.Status != StatusFailed || !strings.Contains(err.Error(), "out of capacity") {
		t.Fatalf("err = %v, want a StepError for step image with its cause", err)
	}
	if f.has("ami-half") || len(res.Images) != 0 {
		t.Errorf("the failed step's image survived: cloud %v, result %+v", f.Images(), res.Images)
	}

	// A step that never ran (a branch went around it).
	o.ImageOutput = "never.ImageId"
	d.MainSteps = append(d.MainSteps, step("never", "aws:createImage", inputs(map[string]any{"InstanceId": "i-1", "ImageName": "x"})))
	d.MainSteps[2].IsEnd = ptr(true)
	s.behaviour["image"] = outputs(map[string]any{"ImageId": "ami-1"})
	_, err = Run(context.Background(), d, nil, o)
	if !errors.As(err, &se) || se.Step != "never" || !strings.Contains(err.Error(), `step "never" (aws:createImage) did not run`) {
		t.Fatalf("err = %v", err)
	}
}

// TestRunDiscardsImagesOfFailedAttempts: an attempt that fails after making an
// image leaves no product behind; a retry that succeeds is the product.
func TestRunDiscardsImagesOfFailedAttempts(t *testing.T) {
	f := newCloud()
	attempt := 0
	s := bakeScript(f, outputs(nil))
	s.behaviour["image"] = func(_ context.Context, env *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
		attempt++
		id := fmt.Sprintf("ami-%d", attempt)
		bakeImage(f, id)
		env.Ledger.RecordImage(env.Clients.Region, id)
		if attempt == 1 {
			return actions.Result{}, errors.New("timed out waiting for the image")
		}
		return actions.Result{Outputs: map[string]any{"ImageId": id}}, nil
	}
	d := bakeDoc()
	d.MainSteps[1].MaxAttempts = ptr(int64(2))
	o := options(s, nil)
	o.Clients = f.clients()
	o.ImageOutput = "image.ImageId"
	res, err := Run(context.Background(), d, nil, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if f.has("ami-1") || f.has("snap-ami-1") {
		t.Error("the failed attempt's image or snapshot survived a successful run")
	}
	if !f.has("ami-2") {
		t.Fatal("the product was removed")
	}
	if len(res.Images) != 1 || res.Images[0].ID != "ami-2" {
		t.Errorf("Images = %+v, want only the product", res.Images)
	}
}

// TestRunCleanupFindsWhatTheLedgerMissed: cleanup asks AWS what carries the
// run's execution id; an image found that way is no product and goes even
// when the run succeeds.
func TestRunCleanupFindsWhatTheLedgerMissed(t *testing.T) {
	f := newCloud()
	bakeImage(f, "ami-lost")
	f.launch("i-lost")
	var asked []string
	old := discoverFunc
	discoverFunc = func(ctx context.Context, env *actions.Env, key string) ([]string, error) {
		asked = append(asked, key+"="+env.ExecutionID)
		env.Ledger.RecordInstance("i-lost")
		env.Ledger.RecordImage(env.Clients.Region, "ami-lost")
		return []string{"ami-lost"}, nil
	}
	t.Cleanup(func() { discoverFunc = old })

	o := options(bakeScript(f, outputs(nil)), nil)
	o.Clients = f.clients()
	o.ImageOutput = "image.ImageId"
	res, err := Run(context.Background(), bakeDoc(), nil, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := []string{TagExecutionID + "=" + o.ExecutionID}; !reflect.DeepEqual(asked, want) {
		t.Errorf("discovery asked for %v, want %v", asked, want)
	}
	if st := f.InstanceState("i-lost"); st != "terminated" {
		t.Errorf("i-lost is %s", st)
	}
	if f.has("ami-lost") {
		t.Error("ami-lost survived")
	}
	if len(res.Images) != 1 || res.Images[0].ID != "ami-1" {
		t.Errorf("Images = %+v, want only the product ami-1", res.Images)
	}

	// A discovery that fails is reported; cleanup goes on from the ledger.
	discoverFunc = func(context.Context, *actions.Env, string) ([]string, error) {
		return nil, errors.New("UnauthorizedOperation")
	}
	f = newCloud()
	ev := &events{}
	o = options(bakeScript(f, fails("boom")), ev)
	o.Clients = f.clients()
	if _, err := Run(context.Background(), bakeDoc(), nil, o); err == nil {
		t.Fatal("want the step's error")
	}
	if st := f.InstanceState("i-1"); st != "terminated" {
		t.Errorf("i-1 is %s", st)
	}
	found := false
	for _, e := range ev.of(EventLog) {
		found = found || strings.Contains(fmt.Sprint(e.Fields["error"]), "UnauthorizedOperation")
	}
	if !found {
		t.Error("the failed discovery was not reported")
	}
}

// TestRunRedactsSecrets: sensitive values given in Options.Secrets and
// SecureString defaults never reach events or step messages, and the run
// reports the values to hide.
func TestRunRedactsSecrets(t *testing.T) {
	const given, stored = "given-s3cret", "stored-s3cret"
	d := doc(
		step("use", "aws:runInstances", inputs(map[string]any{"ImageId": "{{ password }}", "KeyName": "{{ token }}"})),
		step("leak", "aws:createTags", onFailure("Continue"), inputs(map[string]any{"ResourceIds": []any{"{{ token }}"}})),
	)
	d.Parameters = []document.Parameter{
		{Name: "token", Type: "String"},
		{Name: "password", Type: "String", Default: "{{ssm:/app/password}}", HasDefault: true},
	}
	s := &script{behaviour: map[string]fakeAction{
		"use": func(_ context.Context, env *actions.Env, _ *document.Step, in map[string]any) (actions.Result, error) {
			env.Log.Info("launching from "+in["ImageId"].(string), map[string]any{"key": in["KeyName"], "ids": []any{in["ImageId"]}})
			return actions.Result{Outputs: map[string]any{"InstanceIds": []any{"i-1"}}}, nil
		},
		"leak": func(_ context.Context, _ *actions.Env, _ *document.Step, in map[string]any) (actions.Result, error) {
			return actions.Result{}, fmt.Errorf("InvalidID: %v and %s do not exist", in["ResourceIds"], stored)
		},
	}}
	ev := &events{}
	o := options(s, ev)
	c := simcloud.NewInstant()
	c.PutParameter("/app/password", stored, true)
	o.Clients = c.Clients(awsx.Policy{})
	o.Secrets = []string{given}
	res, err := Run(context.Background(), d, map[string]string{"token": given}, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := s.input("use"); got["ImageId"] != stored || got["KeyName"] != given {
		t.Fatalf("the action must see the real values, got %v", got)
	}
	if !reflect.DeepEqual(res.Secrets, []string{given, stored}) {
		t.Errorf("Secrets = %v", res.Secrets)
	}
	var text strings.Builder
	for _, e := range ev.all {
		fmt.Fprintf(&text, "%s %v\n", e.Kind, e.Fields)
	}
	for _, sr := range res.Steps {
		text.WriteString(sr.Message + "\n")
	}
	for _, secret := range []string{given, stored} {
		if strings.Contains(text.String(), secret) {
			t.Errorf("%q appears in events or step messages:\n%s", secret, text.String())
		}
	}
	if !strings.Contains(text.String(), RedactedValue) {
		t.Errorf("nothing was redacted:\n%s", text.String())
	}
}

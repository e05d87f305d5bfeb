package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// A secret a step learns (a decrypted SSM parameter read by
// aws:executeAwsApi) becomes a secret of the run: hidden in later step
// messages and events, in every encoding, and handed to the caller.
func TestRunSecretsLearnedBySteps(t *testing.T) {
	const learned = `db"pa&ss<>\é`
	s := &script{behaviour: map[string]fakeAction{
		"get": func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
			return actions.Result{Outputs: map[string]any{"Value": learned, "Version": int64(3)}, Secrets: []string{learned}}, nil
		},
		"use": func(_ context.Context, env *actions.Env, _ *document.Step, in map[string]any) (actions.Result, error) {
			env.Log.Info("using "+fmt.Sprint(in["Password"]), map[string]any{"password": in["Password"]})
			return actions.Result{}, fmt.Errorf("password %q rejected", in["Password"])
		},
		// A failed attempt reports what it learned with its error.
		"assert": func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
			return actions.Result{Secrets: []string{"t0ken&"}}, errors.New(`$.Value is "t0ken&", not one of x`)
		},
	}}
	ev := &events{}
	d := doc(
		step("get", "aws:executeAwsApi"),
		step("use", "aws:runCommand", onFailure("Continue"), inputs(map[string]any{"Password": "{{ get.Value }}"})),
		step("assert", "aws:assertAwsResourceProperty", onFailure("Continue")),
	)
	res, err := Run(context.Background(), d, nil, options(s, ev))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.input("use")["Password"]; got != learned {
		t.Errorf("the next step got %v: steps must see the real value", got)
	}
	if res.Outputs["get.Value"] != learned {
		t.Errorf("outputs = %v: the caller redacts them, with Secrets", res.Outputs)
	}
	if !slices.Contains(res.Secrets, learned) || !slices.Contains(res.Secrets, "t0ken&") {
		t.Errorf("Secrets = %q", res.Secrets)
	}
	var shown []string
	for _, st := range res.Steps {
		shown = append(shown, st.Message)
	}
	for _, e := range ev.all {
		shown = append(shown, fmt.Sprint(e.Fields))
	}
	text := strings.Join(shown, "\n")
	for _, leak := range []string{"pa&ss", `pa\u0026ss`, "t0ken"} {
		if strings.Contains(text, leak) {
			t.Errorf("%q shown:\n%s", leak, text)
		}
	}
	if !strings.Contains(text, `password "(sensitive value)" rejected`) {
		t.Errorf("the %%q-quoted secret is not replaced:\n%s", text)
	}
}

// A sensitive parameter's value that does not fit is not quoted in the
// run's error.
func TestRunSensitiveParameterError(t *testing.T) {
	d := doc(step("use", "aws:sleep"))
	d.Parameters = []document.Parameter{{Name: "token", Type: "String", AllowedPattern: "^[a-z]+$"}}
	o := options(&script{}, nil)
	o.SensitiveParameters = []string{"token"}
	_, err := Run(context.Background(), d, map[string]string{"token": "Sup3r-Secret"}, o)
	if err == nil || strings.Contains(err.Error(), "Sup3r") || !strings.Contains(err.Error(), "does not match allowedPattern") {
		t.Errorf("err = %v", err)
	}
}

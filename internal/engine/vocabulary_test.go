package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// controlActions run for real in these tests: they steer the engine itself.
var controlActions = []string{"aws:loop", "aws:updateVariable", "aws:executeAutomation"}

// mixed runs the control actions for real and every other action through s.
func (s *script) mixed(name string) (actions.Action, bool) {
	for _, c := range controlActions {
		if c == name {
			return actions.Lookup(name)
		}
	}
	return s.lookup(name)
}

// echo outputs Out = the step's input V.
func echo(ctx context.Context, env *actions.Env, step *document.Step, in map[string]any) (actions.Result, error) {
	return actions.Result{Outputs: map[string]any{"Out": in["V"]}}, nil
}

func parse(t *testing.T, text string) *document.Document {
	t.Helper()
	d, err := document.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if errs := document.Errors(document.Validate(d)); len(errs) > 0 {
		t.Fatalf("document not valid: %v", errs)
	}
	return d
}

func inputsOf(s *script, step string) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []any
	for _, c := range s.calls {
		if c.step == step {
			out = append(out, c.in["V"])
		}
	}
	return out
}

func TestRun_variables(t *testing.T) {
	d := parse(t, `{
  "schemaVersion": "0.3",
  "variables": {
    "Label": {"type": "String", "default": "first"},
    "Count": {"type": "Integer", "default": 1}
  },
  "mainSteps": [
    {"name": "before", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages", "V": "{{ variable:Label }}/{{ Label }}/{{ variable:Count }}"}, "outputs": [{"Name": "Out", "Selector": "$.Out", "Type": "String"}]},
    {"name": "set", "action": "aws:updateVariable", "inputs": {"Name": "variable:Label", "Value": "second-{{ before.Out }}"}},
    {"name": "count", "action": "aws:updateVariable", "inputs": {"Name": "variable:Count", "Value": "7"}},
    {"name": "after", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages", "V": "{{ variable:Label }}/{{ variable:Count }}"}, "outputs": [{"Name": "Out", "Selector": "$.Out", "Type": "String"}]}
  ]
}`)
	s := &script{behaviour: map[string]fakeAction{"before": echo, "after": echo}}
	res, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	if got := inputsOf(s, "before"); len(got) != 1 || got[0] != "first/first/1" {
		t.Errorf("before saw %v", got)
	}
	if got := inputsOf(s, "after"); len(got) != 1 || got[0] != "second-first/first/1/7" {
		t.Errorf("after saw %v", got)
	}
	if res.Outputs["after.Out"] != "second-first/first/1/7" {
		t.Errorf("outputs %v", res.Outputs)
	}
}

func TestRun_updateVariableWrongType(t *testing.T) {
	d := parse(t, `{
  "schemaVersion": "0.3",
  "variables": {"Count": {"type": "Integer", "default": 1}},
  "mainSteps": [
    {"name": "count", "action": "aws:updateVariable", "inputs": {"Name": "variable:Count", "Value": "many"}},
    {"name": "never", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}
  ]
}`)
	s := &script{}
	_, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "count" || !strings.Contains(err.Error(), "Integer") {
		t.Fatalf("err = %v", err)
	}
	if len(s.ran()) != 0 {
		t.Errorf("ran %v after the failure", s.ran())
	}
}

func TestRun_loopForEach(t *testing.T) {
	d := parse(t, `{
  "schemaVersion": "0.3",
  "parameters": {"Items": {"type": "StringList", "default": ["a", "b", "c"]}},
  "mainSteps": [
    {"name": "each", "action": "aws:loop", "inputs": {
      "Iterators": "{{ Items }}",
      "Steps": [
        {"name": "work", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages", "V": "{{ each.CurrentIteratorValue }}#{{ each.CurrentIteration }}"}, "outputs": [{"Name": "Out", "Selector": "$.Out", "Type": "String"}]}
      ]}},
    {"name": "after", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages", "V": "{{ work.Out }}"}, "outputs": [{"Name": "Out", "Selector": "$.Out", "Type": "String"}]}
  ]
}`)
	s := &script{behaviour: map[string]fakeAction{"work": echo, "after": echo}}
	res, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed})
	if err != nil {
		t.Fatal(err)
	}
	if got := inputsOf(s, "work"); strings.Join(anyStrings(got), ",") != "a#1,b#2,c#3" {
		t.Errorf("iterations saw %v", got)
	}
	if got := inputsOf(s, "after"); len(got) != 1 || got[0] != "c#3" {
		t.Errorf("after the loop: %v", got)
	}
	if res.Outputs["each.CurrentIteration"] != int64(3) || res.Outputs["each.CurrentIteratorValue"] != "c" {
		t.Errorf("loop outputs: %v", res.Outputs)
	}
	var names []string
	for _, st := range res.Steps {
		names = append(names, st.Name)
	}
	if strings.Join(names, ",") != "work,work,work,each,after" {
		t.Errorf("steps reported: %v", names)
	}
}

func anyStrings(l []any) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i], _ = v.(string)
	}
	return out
}

func TestRun_loopDoWhile(t *testing.T) {
	d := parse(t, `{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "poll", "action": "aws:loop", "inputs": {
      "MaxIterations": 10,
      "LoopCondition": {"Variable": "{{ probe.Done }}", "BooleanEquals": false},
      "Steps": [
        {"name": "probe", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages"},
         "outputs": [{"Name": "Done", "Selector": "$.Done", "Type": "Boolean"}]}
      ]}}
  ]
}`)
	calls := 0
	s := &script{behaviour: map[string]fakeAction{"probe": func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
		calls++
		return actions.Result{Outputs: map[string]any{"Done": calls == 3}}, nil
	}}}
	res, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || res.Outputs["poll.CurrentIteration"] != int64(3) {
		t.Errorf("probe ran %d times; outputs %v", calls, res.Outputs)
	}

	// MaxIterations ends a loop whose condition stays true.
	calls = -100
	if _, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed}); err != nil {
		t.Fatal(err)
	}
	if calls != -90 {
		t.Errorf("probe ran %d times, want MaxIterations (10)", calls+100)
	}
}

func TestRun_loopNestedJumps(t *testing.T) {
	text := `{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "each", "action": "aws:loop", "inputs": {
      "Iterators": ["x", "y"],
      "Steps": [
        {"name": "first", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}, "onFailure": "step:third"},
        {"name": "second", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
        {"name": "third", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}, "isCritical": false}
      ]}},
    {"name": "done", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}
  ]
}`
	s := &script{behaviour: map[string]fakeAction{"first": fails("boom")}}
	d := parse(t, text)
	_, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed})
	// first fails and jumps to third within the iteration, twice; the failed
	// critical step then fails the loop.
	if got := strings.Join(s.ran(), ","); got != "first,third" {
		t.Errorf("ran %s", got)
	}
	if err == nil || !strings.Contains(err.Error(), "iteration 1") {
		t.Errorf("err = %v", err)
	}

	// A nested step that jumps out of its loop fails the loop.
	d2 := parse(t, strings.Replace(text, `"onFailure": "step:third"`, `"nextStep": "done"`, 1))
	s2 := &script{}
	_, err = Run(context.Background(), d2, nil, Options{Lookup: s2.mixed})
	if err == nil || !strings.Contains(err.Error(), "not among the steps of its loop") {
		t.Errorf("err = %v", err)
	}
}

func TestRun_loopBoundedByStepExecutions(t *testing.T) {
	d := parse(t, `{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "each", "action": "aws:loop", "onFailure": "Continue", "isCritical": false, "inputs": {
      "Iterators": ["1","2","3","4","5","6","7","8","9","10"],
      "Steps": [{"name": "work", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}},
    {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}
  ]
}`)
	s := &script{}
	_, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed, MaxStepExecutions: 5})
	if !errors.Is(err, ErrTooManySteps) {
		t.Fatalf("err = %v, want ErrTooManySteps even past onFailure Continue", err)
	}
	if n := len(s.ran()); n != 4 {
		t.Errorf("ran %d nested steps, want 4 (the loop step counts too)", n)
	}
}

// childSSM serves Automation documents by name.
type childSSM struct {
	awsx.SSMAPI
	docs map[string]string
}

func (f *childSSM) GetDocument(_ context.Context, in *ssm.GetDocumentInput, _ ...func(*ssm.Options)) (*ssm.GetDocumentOutput, error) {
	text, ok := f.docs[aws.ToString(in.Name)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "InvalidDocument", Message: "Document " + aws.ToString(in.Name) + " does not exist."}
	}
	return &ssm.GetDocumentOutput{Name: in.Name, Content: aws.String(text), DocumentType: ssmtypes.DocumentTypeAutomation}, nil
}

const childDoc = `{
  "schemaVersion": "0.3",
  "parameters": {"Name": {"type": "String"}, "Sizes": {"type": "StringList", "default": []}},
  "mainSteps": [
    {"name": "inner", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages", "V": "{{ Name }}:{{ automation:EXECUTION_ID }}"}, "outputs": [{"Name": "Out", "Selector": "$.Out", "Type": "String"}]}
  ],
  "outputs": ["inner.Out"]
}`

func TestRun_executeAutomation(t *testing.T) {
	d := parse(t, `{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "child", "action": "aws:executeAutomation", "inputs": {"DocumentName": "Child", "RuntimeParameters": {"Name": "pkg", "Sizes": ["a", "b"]}}},
    {"name": "after", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages", "V": "{{ child.Status }} {{ child.Output }}"}, "outputs": [{"Name": "Out", "Selector": "$.Out", "Type": "String"}]}
  ]
}`)
	s := &script{behaviour: map[string]fakeAction{"inner": echo, "after": echo}}
	clients := &awsx.Clients{SSM: &childSSM{docs: map[string]string{"Child": childDoc}}, Region: "eu-west-1"}
	res, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed, Clients: clients})
	if err != nil {
		t.Fatal(err)
	}
	childID, _ := res.Outputs["child.ExecutionId"].(string)
	if childID == "" || childID == res.ExecutionID {
		t.Errorf("secondary execution id %q (run %s)", childID, res.ExecutionID)
	}
	if got := inputsOf(s, "after"); len(got) != 1 || got[0] != "Success pkg:"+childID {
		t.Errorf("after saw %v", got)
	}
	// The secondary run's actions act for the run at the top.
	s.mu.Lock()
	env := s.calls[0].env
	s.mu.Unlock()
	if env.ExecutionID != res.ExecutionID || env.Tags[TagExecutionID] != res.ExecutionID {
		t.Errorf("secondary step ran with execution id %q and tags %v", env.ExecutionID, env.Tags)
	}
	var names []string
	for _, st := range res.Steps {
		names = append(names, st.Name)
	}
	if strings.Join(names, ",") != "child/inner,child,after" {
		t.Errorf("steps %v", names)
	}
}

func TestRun_executeAutomationFailures(t *testing.T) {
	cases := []struct {
		name, inputs, want string
		behaviour          map[string]fakeAction
	}{
		{"missing document", `{"DocumentName": "Nope"}`, "InvalidDocument", nil},
		{"missing parameter", `{"DocumentName": "Child"}`, `"Name" is required`, nil},
		{"secondary step fails", `{"DocumentName": "Child", "RuntimeParameters": {"Name": "x"}}`, "secondary automation Child", map[string]fakeAction{"inner": fails("no luck")}},
		{"targets", `{"DocumentName": "Child", "Targets": [{"Key": "tag:a", "Values": ["b"]}], "TargetParameterName": "Name"}`, `executor = "ssm"`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := parse(t, `{"schemaVersion": "0.3", "mainSteps": [
  {"name": "child", "action": "aws:executeAutomation", "inputs": `+tc.inputs+`},
  {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`)
			s := &script{behaviour: tc.behaviour}
			clients := &awsx.Clients{SSM: &childSSM{docs: map[string]string{"Child": childDoc}}}
			_, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed, Clients: clients})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if slicesContains(s.ran(), "after") {
				t.Error("the run went on")
			}
		})
	}
}

func slicesContains(l []string, v string) bool {
	for _, e := range l {
		if e == v {
			return true
		}
	}
	return false
}

// A secondary runbook that starts itself stops at the run's bound.
func TestRun_executeAutomationRecursion(t *testing.T) {
	self := `{"schemaVersion": "0.3", "mainSteps": [{"name": "again", "action": "aws:executeAutomation", "inputs": {"DocumentName": "Self"}}]}`
	d := parse(t, self)
	clients := &awsx.Clients{SSM: &childSSM{docs: map[string]string{"Self": self}}}
	s := &script{}
	_, err := Run(context.Background(), d, nil, Options{Lookup: s.mixed, Clients: clients, MaxStepExecutions: 20})
	if !errors.Is(err, ErrTooManySteps) {
		t.Fatalf("err = %v", err)
	}
}

func TestLocalRefusals(t *testing.T) {
	d := parse(t, `{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "ok", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
    {"name": "approve", "action": "aws:approve", "inputs": {"Approvers": ["arn:aws:iam::123456789012:role/r"]}},
    {"name": "each", "action": "aws:loop", "inputs": {"Iterators": ["a"], "Steps": [
      {"name": "hold", "action": "aws:pause", "inputs": {}}]}},
    {"name": "fleet", "action": "aws:executeAutomation", "inputs": {"DocumentName": "C", "TargetLocations": [{"Accounts": ["123456789012"], "Regions": ["eu-west-1"]}]}},
    {"name": "local", "action": "aws:executeAutomation", "inputs": {"DocumentName": "C"}},
    {"name": "sfn", "action": "aws:executeStateMachine", "inputs": {"stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:x"}}
  ]
}`)
	got := LocalRefusals(d)
	want := []struct {
		index      int
		step, part string
	}{
		{1, "approve", "approve or reject"},
		{2, "each/hold", "resume"},
		{3, "fleet", "TargetLocations"},
	}
	if len(got) != len(want) {
		t.Fatalf("refusals %v", got)
	}
	for i, w := range want {
		g := got[i]
		if g.Index != w.index || g.Step != w.step || !strings.Contains(g.Error(), w.part) || !strings.Contains(g.Error(), `executor = "ssm"`) {
			t.Errorf("refusal %d = %+v (%s)", i, g, g.Error())
		}
	}
}

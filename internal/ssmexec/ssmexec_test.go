package ssmexec

import (
	"context"
	"strings"
	"testing"
	"time"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

const recipe = `{
  "schemaVersion": "0.3",
  "assumeRole": "{{ AutomationAssumeRole }}",
  "parameters": {
    "AutomationAssumeRole": {"type": "String", "default": ""},
    "Packages": {"type": "StringList", "default": []},
    "Count": {"type": "Integer", "default": 1}
  },
  "mainSteps": [
    {"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "ami-12c6146b",
      "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "builder"}, {"Key": "amibake:managed", "Value": "forged"}]}]}},
    {"name": "templated", "action": "aws:runInstances", "inputs": {"ImageId": "ami-12c6146b", "ClientToken": "mine", "TagSpecifications": "{{ Packages }}"}},
    {"name": "image", "action": "aws:createImage", "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "x-{{ automation:EXECUTION_ID }}"}}
  ],
  "outputs": ["image.ImageId"]
}`

func parse(t *testing.T, text string) *document.Document {
	t.Helper()
	d, err := document.ParseText(text)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPrepare(t *testing.T) {
	doc := parse(t, recipe)
	p, err := Prepare(doc, PrepareOptions{Tags: map[string]string{"team": "platform"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Name, DocumentPrefix) || len(p.Name) != len(DocumentPrefix)+40 {
		t.Errorf("name %q is not content-addressed", p.Name)
	}
	again, _ := Prepare(parse(t, recipe), PrepareOptions{Tags: map[string]string{"team": "platform"}})
	if again.Name != p.Name || again.Content != p.Content {
		t.Error("the same recipe publishes differently")
	}
	other, _ := Prepare(doc, PrepareOptions{Tags: map[string]string{"team": "other"}})
	if other.Name == p.Name {
		t.Error("other default tags give the same document name")
	}
	if doc.MainSteps[0].Inputs["ClientToken"] != nil {
		t.Error("Prepare changed the caller's document")
	}
	launch := p.Doc.MainSteps[0].Inputs
	if tok, _ := launch["ClientToken"].(string); !strings.HasPrefix(tok, "amibake-{{automation:EXECUTION_ID}}-") || len(tok) != len("amibake-{{automation:EXECUTION_ID}}-")+8 {
		t.Errorf("ClientToken %q", launch["ClientToken"])
	}
	specs, _ := launch["TagSpecifications"].([]any)
	if len(specs) != 2 {
		t.Fatalf("want instance and volume specifications, got %v", launch["TagSpecifications"])
	}
	tags := map[string]string{}
	for _, e := range specs[0].(map[string]any)["Tags"].([]any) {
		m := e.(map[string]any)
		tags[m["Key"].(string)] = m["Value"].(string)
	}
	want := map[string]string{"Name": "builder", "team": "platform", engine.TagManaged: "true", engine.TagExecutionID: "{{automation:EXECUTION_ID}}"}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("instance tag %s = %q, want %q (%v)", k, tags[k], v, tags)
		}
	}
	if len(tags) != len(want) {
		t.Errorf("instance tags %v, want %v", tags, want)
	}
	templated := p.Doc.MainSteps[1].Inputs
	if templated["TagSpecifications"] != "{{ Packages }}" {
		t.Errorf("a templated TagSpecifications was rewritten: %v", templated["TagSpecifications"])
	}
	if templated["ClientToken"] == launch["ClientToken"] {
		t.Error("two steps share a client token")
	}
	if _, ok := p.Doc.MainSteps[2].Inputs["TagSpecifications"]; ok {
		t.Error("aws:createImage got an input SSM does not have")
	}
	if p.Doc.AssumeRole != "{{ AutomationAssumeRole }}" {
		t.Errorf("assumeRole changed without a role: %q", p.Doc.AssumeRole)
	}
	role, _ := Prepare(doc, PrepareOptions{RoleARN: "arn:aws:iam::123456789012:role/bake"})
	if role.Doc.AssumeRole != "arn:aws:iam::123456789012:role/bake" {
		t.Errorf("assumeRole %q, want the automation role", role.Doc.AssumeRole)
	}
	// What SSM runs validates as the recipe does.
	if probs := document.Validate(p.Doc); len(probs) > 0 {
		t.Errorf("the published document does not validate: %v", probs)
	}
}

func TestPrepareTooLarge(t *testing.T) {
	big := strings.Replace(recipe, `"ImageName": "x-`, `"ImageDescription": "`+strings.Repeat("d", document.MaxDocumentBytes-1500)+`", "ImageName": "x-`, 1)
	if _, err := Prepare(parse(t, big), PrepareOptions{}); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("want a size error, got %v", err)
	}
}

func TestParameters(t *testing.T) {
	doc := parse(t, recipe)
	for _, tc := range []struct {
		given map[string]string
		want  map[string][]string
	}{
		{map[string]string{}, map[string][]string{}},
		{map[string]string{"Packages": `["a","b"]`, "Count": " 3 "}, map[string][]string{"Packages": {"a", "b"}, "Count": {"3"}}},
		{map[string]string{"Packages": "a, b"}, map[string][]string{"Packages": {"a", "b"}}},
		{map[string]string{"AutomationAssumeRole": "{{ssm:/role}}"}, map[string][]string{"AutomationAssumeRole": {"{{ssm:/role}}"}}},
	} {
		got, err := Parameters(doc, tc.given)
		if err != nil {
			t.Fatalf("%v: %v", tc.given, err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%v: got %v, want %v", tc.given, got, tc.want)
		}
		for k, v := range tc.want {
			if strings.Join(got[k], "|") != strings.Join(v, "|") {
				t.Errorf("%v: %s = %q, want %q", tc.given, k, got[k], v)
			}
		}
	}
	if _, err := Parameters(doc, map[string]string{"Count": "many"}); err == nil {
		t.Error("a bad Integer was accepted")
	}
}

func TestStatuses(t *testing.T) {
	done := map[ssmtypes.AutomationExecutionStatus]bool{
		"Success": true, "Failed": true, "TimedOut": true, "Cancelled": true, "Rejected": true,
		"CompletedWithSuccess": true, "CompletedWithFailure": true, "Exited": true, "ChangeCalendarOverrideRejected": true,
	}
	for _, s := range ssmtypes.AutomationExecutionStatus("").Values() {
		if finished(s) != done[s] {
			t.Errorf("finished(%s) = %v", s, finished(s))
		}
	}
	if finished("SomethingNew") {
		t.Error("an unknown status counts as finished")
	}
	if !succeeded("Success") || succeeded("Failed") || succeeded("CompletedWithFailure") {
		t.Error("succeeded is wrong")
	}
	for s, want := range map[ssmtypes.AutomationExecutionStatus]string{
		"Success": engine.StatusSuccess, "Failed": engine.StatusFailed, "TimedOut": engine.StatusTimedOut,
		"Cancelled": engine.StatusCancelled, "InProgress": engine.StatusCancelled, "Pending": "",
	} {
		if got := stepStatus(s); got != want {
			t.Errorf("stepStatus(%s) = %q, want %q", s, got, want)
		}
	}
}

func TestLease(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want leaseState
	}{
		{"", leaseUnknown},
		{"garbage", leaseUnknown},
		{actions.LeaseValue(now.Add(time.Minute)), leaseLive},
		{actions.LeaseValue(now.Add(-time.Second)), leaseExpired},
		{leaseRecorded, leaseDone},
		{leaseCleaned, leaseDone},
	} {
		tags := map[string]string{}
		if tc.v != "" {
			tags[actions.TagLease] = tc.v
		}
		if got := leaseOf(tags, now); got != tc.want {
			t.Errorf("lease %q: %v, want %v", tc.v, got, tc.want)
		}
	}
	tags := executionTags(Options{BakeKey: "k1", Tags: map[string]string{"team": "x"}}, "runner-1", now)
	if tags[bakeTag("k1")] != "true" || tags[engine.TagBakeKey] != "k1" || tags[TagRunner] != "runner-1" || tags["team"] != "x" {
		t.Errorf("execution tags %v", tags)
	}
}

func TestLimiterSlowsAndRecovers(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(10, func() time.Time { return now })
	for range 10 {
		l.throttled()
	}
	if l.gap != l.base*maxSlowdown {
		t.Errorf("gap %s after a storm, want %s", l.gap, l.base*maxSlowdown)
	}
	for range 200 {
		l.answered()
	}
	if l.gap != l.base {
		t.Errorf("gap %s after answers, want %s", l.gap, l.base)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.next = now.Add(time.Hour)
	if err := l.wait(ctx); err == nil {
		t.Error("wait ignores its context")
	}
}

func TestOutputValue(t *testing.T) {
	if v := outputValue("aws:runInstances", "InstanceIds", []string{"i-1"}); len(v.([]any)) != 1 {
		t.Errorf("InstanceIds %v is not a list", v)
	}
	if v := outputValue("aws:createImage", "ImageId", []string{"ami-1"}); v != "ami-1" {
		t.Errorf("ImageId %v", v)
	}
	if v := outputValue("aws:executeAwsApi", "Custom", []string{"a", "b"}); len(v.([]any)) != 2 {
		t.Errorf("a two-value output %v", v)
	}
}

package document

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func goodFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/good/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good documents: %v", err)
	}
	return files
}

// model returns d as the canonical form sees it: positions dropped and the
// documented input normalizations applied.
func model(d *Document) *Document {
	c := *d
	c.fieldPos = nil
	c.Parameters = append([]Parameter(nil), d.Parameters...)
	for i := range c.Parameters {
		p := &c.Parameters[i]
		p.Pos = Pos{}
		if p.HasDefault {
			p.Default = canonicalDefault(p.Type, p.Default)
		}
	}
	c.Variables = append([]Variable(nil), d.Variables...)
	for i := range c.Variables {
		c.Variables[i].Pos = Pos{}
	}
	c.MainSteps = append([]Step(nil), d.MainSteps...)
	for i := range c.MainSteps {
		s := &c.MainSteps[i]
		s.Pos, s.fieldPos = Pos{}, nil
		s.Inputs = canonicalInputs(s.Action, s.Inputs)
	}
	return &c
}

func TestCanonicalRoundTrip(t *testing.T) {
	for _, f := range goodFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			c1, err := d.CanonicalJSON()
			if err != nil {
				t.Fatal(err)
			}
			d2, err := Parse(c1)
			if err != nil {
				t.Fatalf("canonical JSON does not parse: %v\n%s", err, c1)
			}
			c2, err := d2.CanonicalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c1, c2) {
				t.Errorf("canonical JSON is not a fixed point:\n%s\n---\n%s", c1, c2)
			}
			// Canonical ordering sorts parameters; compare them by name.
			m1, m2 := model(d), model(d2)
			sortParams(m1)
			sortParams(m2)
			if !reflect.DeepEqual(m1, m2) {
				t.Errorf("Parse(CanonicalJSON(Parse(x))) differs from Parse(x):\n%#v\n%#v", m1, m2)
			}
			if ps := Validate(d2); len(ps) != 0 {
				t.Errorf("canonical form does not validate: %v", ps)
			}
		})
	}
}

func sortParams(d *Document) {
	ps := d.Parameters
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Name < ps[j-1].Name; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// TestCanonicalSemanticallyEqualsInput decodes the input and the canonical JSON
// with other decoders and compares them after the documented normalizations.
func TestCanonicalSemanticallyEqualsInput(t *testing.T) {
	for _, f := range goodFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var raw any
			if strings.HasSuffix(f, ".json") {
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.UseNumber()
				err = dec.Decode(&raw)
			} else {
				err = yaml.Unmarshal(b, &raw)
			}
			if err != nil {
				t.Fatal(err)
			}
			want := expectedCanonical(t, NormalizeValue(raw))
			d, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			c, err := d.CanonicalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var got any
			dec := json.NewDecoder(bytes.NewReader(c))
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got = NormalizeValue(got); !reflect.DeepEqual(got, want) {
				gj, _ := json.MarshalIndent(got, "", " ")
				wj, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("canonical JSON differs from the input:\n%s\n---\n%s", gj, wj)
			}
		})
	}
}

// expectedCanonical applies the normalizations CanonicalJSON documents to a
// generically decoded document.
func expectedCanonical(t *testing.T, v any) any {
	doc, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("document is %T", v)
	}
	dropEmpty(doc, "description", "assumeRole")
	if ps, ok := doc["parameters"].(map[string]any); ok {
		for _, p := range ps {
			dropEmpty(p.(map[string]any), "type", "description", "allowedPattern", "displayType")
		}
	}
	steps, _ := doc["mainSteps"].([]any)
	for _, s := range steps {
		step := s.(map[string]any)
		dropEmpty(step, "description", "onFailure", "onCancel", "nextStep")
		in, ok := step["inputs"].(map[string]any)
		if !ok {
			in = map[string]any{}
		}
		spec, _ := LookupAction(step["action"].(string))
		for k, val := range in {
			is, ok := spec.Input(k)
			if !ok {
				continue
			}
			switch is.Type {
			case TypeStringList:
				in[k] = listOfText(val)
			case TypeStringListMap:
				if m, ok := val.(map[string]any); ok {
					for mk, mv := range m {
						m[mk] = listOfText(mv)
					}
				}
			}
		}
		step["inputs"] = in
	}
	return doc
}

func dropEmpty(m map[string]any, keys ...string) {
	for _, k := range keys {
		if m[k] == "" {
			delete(m, k)
		}
	}
}

func listOfText(v any) any {
	l, ok := v.([]any)
	if !ok {
		l = []any{v}
	}
	out := make([]any, len(l))
	for i, e := range l {
		if s, ok := scalarText(e); ok && e != nil {
			out[i] = s
		} else {
			out[i] = e
		}
	}
	return out
}

func TestCanonicalLayout(t *testing.T) {
	text := `{
  "mainSteps": [{"inputs": {"Duration": "PT1M"}, "action": "aws:sleep", "name": "nap", "description": "", "onFailure": "Continue", "maxAttempts": 2}],
  "parameters": {"b": {"type": "String", "default": "<b> & \u2028"}, "a": {"default": 1, "type": "Integer", "description": ""}},
  "schemaVersion": "0.3",
  "description": ""
}`
	d, err := ParseJSON([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "schemaVersion": "0.3",
  "parameters": {
    "a": {
      "type": "Integer",
      "default": 1
    },
    "b": {
      "type": "String",
      "default": "<b> & \u2028"
    }
  },
  "mainSteps": [
    {
      "name": "nap",
      "action": "aws:sleep",
      "maxAttempts": 2,
      "onFailure": "Continue",
      "inputs": {
        "Duration": "PT1M"
      }
    }
  ]
}
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestCanonicalNormalizations(t *testing.T) {
	cases := []struct {
		name   string
		action string
		in     map[string]any
		want   map[string]any
	}{
		{"runCommand Parameters scalars become lists of strings", "aws:runCommand",
			map[string]any{"Parameters": map[string]any{"UpdateLevel": "Important", "executionTimeout": int64(7200), "commands": []any{"a", int64(1)}}},
			map[string]any{"Parameters": map[string]any{"UpdateLevel": []any{"Important"}, "executionTimeout": []any{"7200"}, "commands": []any{"a", "1"}}}},
		{"runCommand Parameters template stays whole", "aws:runCommand",
			map[string]any{"Parameters": "{{ Params }}"},
			map[string]any{"Parameters": "{{ Params }}"}},
		{"StringList given as one value", "aws:changeInstanceState",
			map[string]any{"InstanceIds": "{{ launch.InstanceIds }}", "DesiredState": "stopped"},
			map[string]any{"InstanceIds": []any{"{{ launch.InstanceIds }}"}, "DesiredState": "stopped"}},
		{"Go types from HCL", "aws:runInstances",
			map[string]any{"SecurityGroupIds": []string{"sg-1"}, "MinInstanceCount": 1, "Placement": map[string]string{"Tenancy": "default"}},
			map[string]any{"SecurityGroupIds": []any{"sg-1"}, "MinInstanceCount": int64(1), "Placement": map[string]any{"Tenancy": "default"}}},
		{"JSON inputs untouched", "aws:createImage",
			map[string]any{"BlockDeviceMappings": []any{map[string]any{"DeviceName": "/dev/xvda", "Ebs": map[string]any{"VolumeSize": 2.0}}}},
			map[string]any{"BlockDeviceMappings": []any{map[string]any{"DeviceName": "/dev/xvda", "Ebs": map[string]any{"VolumeSize": int64(2)}}}}},
		{"unknown action keeps inputs", "aws:nothing",
			map[string]any{"InstanceIds": "i-1"},
			map[string]any{"InstanceIds": "i-1"}},
		{"nil inputs", "aws:pause", nil, map[string]any{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := canonicalInputs(tc.action, tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestCanonicalSameRecipeFromHCL builds the corrected patch-AMI recipe the way
// the provider builds it from HCL and expects the hash of the JSON document.
func TestCanonicalSameRecipeFromHCL(t *testing.T) {
	b, err := os.ReadFile("testdata/good/patch-ami.json")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	one, abort, cont := int64(1), "Abort", "Continue"
	timeout := int64(1200)
	ids := []string{"{{ startInstances.InstanceIds }}"}
	hcl := &Document{
		SchemaVersion: "0.3",
		Description:   "Systems Manager Automation Demo - Patch and Create a New AMI",
		AssumeRole:    "the role ARN you created",
		Parameters: []Parameter{
			{Name: "targetAMIname", Type: "String", Description: "Name of new AMI", Default: "patchedAMI-{{global:DATE_TIME}}", HasDefault: true},
			{Name: "sourceAMIid", Type: "String", Description: "AMI to patch"},
		},
		MainSteps: []Step{
			{Name: "startInstances", Action: "aws:runInstances", TimeoutSeconds: &timeout, MaxAttempts: &one, OnFailure: abort, Inputs: map[string]any{
				"ImageId": "{{ sourceAMIid }}", "InstanceType": "m3.large", "MinInstanceCount": 1, "MaxInstanceCount": 1,
				"IamInstanceProfileName": "the name of the IAM role you created"}},
			{Name: "installMissingWindowsUpdates", Action: "aws:runCommand", MaxAttempts: &one, OnFailure: cont, Inputs: map[string]any{
				"DocumentName": "AWS-InstallMissingWindowsUpdates", "InstanceIds": ids,
				"Parameters": map[string][]string{"UpdateLevel": {"Important"}}}},
			{Name: "stopInstance", Action: "aws:changeInstanceState", MaxAttempts: &one, OnFailure: cont, Inputs: map[string]any{
				"InstanceIds": ids, "DesiredState": "stopped"}},
			{Name: "createImage", Action: "aws:createImage", MaxAttempts: &one, OnFailure: cont, Inputs: map[string]any{
				"InstanceId": "{{ startInstances.InstanceIds }}", "ImageName": "{{ targetAMIname }}", "NoReboot": true,
				"ImageDescription": "AMI created by EC2 Automation"}},
			{Name: "createTags", Action: "aws:createTags", MaxAttempts: &one, OnFailure: cont, Inputs: map[string]any{
				"ResourceType": "EC2", "ResourceIds": []string{"{{createImage.ImageId}}"},
				"Tags": []map[string]string{
					{"Key": "Generated By Automation", "Value": "{{automation:EXECUTION_ID}}"},
					{"Key": "From Source AMI", "Value": "{{sourceAMIid}}"},
				}}},
			{Name: "terminateInstance", Action: "aws:changeInstanceState", MaxAttempts: &one, OnFailure: cont, Inputs: map[string]any{
				"InstanceIds": ids, "DesiredState": "terminated"}},
		},
		Outputs: []string{"createImage.ImageId"},
	}
	h1, err := parsed.SHA256()
	if err != nil {
		t.Fatal(err)
	}
	h2, err := hcl.SHA256()
	if err != nil {
		t.Fatal(err)
	}
	if h1 != h2 {
		c1, _ := parsed.CanonicalJSON()
		c2, _ := hcl.CanonicalJSON()
		t.Errorf("hashes differ:\n%s\n---\n%s", c1, c2)
	}
	if len(h1) != 64 {
		t.Errorf("SHA256 = %q, want 64 hex digits", h1)
	}
	// A real change must change the hash.
	two := int64(2)
	hcl.MainSteps[0].MaxAttempts = &two
	if h3, _ := hcl.SHA256(); h3 == h1 {
		t.Error("changing maxAttempts did not change the hash")
	}
}

func TestCanonicalParameterDefaults(t *testing.T) {
	cases := []struct {
		typ  string
		in   any
		want any
	}{
		{"Integer", "5", int64(5)},
		{"Integer", 5, int64(5)},
		{"Integer", "{{ ssm:/count }}", "{{ ssm:/count }}"},
		{"Integer", "five", "five"},
		{"Boolean", "true", true},
		{"Boolean", "False", false},
		{"String", "5", "5"},
		{"StringList", []string{"a"}, []any{"a"}},
	}
	for _, tc := range cases {
		if got := canonicalDefault(tc.typ, tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("canonicalDefault(%s, %#v) = %#v, want %#v", tc.typ, tc.in, got, tc.want)
		}
	}
	a := &Document{SchemaVersion: "0.3", Parameters: []Parameter{{Name: "n", Type: "Integer", Default: "2", HasDefault: true}}}
	b := &Document{SchemaVersion: "0.3", Parameters: []Parameter{{Name: "n", Type: "Integer", Default: int64(2), HasDefault: true}}}
	ha, _ := a.SHA256()
	hb, _ := b.SHA256()
	if ha != hb {
		t.Error("an Integer default written as text hashes differently")
	}
}

func TestCanonicalInvalidUTF8IsFixedPoint(t *testing.T) {
	d := &Document{SchemaVersion: "0.3", Description: "bad \xff byte", MainSteps: []Step{{Name: "a", Action: "aws:sleep", Inputs: map[string]any{"Duration": "PT1M"}}}}
	c1, err := d.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := ParseJSON(c1)
	if err != nil {
		t.Fatal(err)
	}
	if d2.Description != "bad \uFFFD byte" {
		t.Errorf("description = %q", d2.Description)
	}
	if c2, _ := d2.CanonicalJSON(); !bytes.Equal(c1, c2) {
		t.Errorf("not a fixed point:\n%s\n%s", c1, c2)
	}
}

func TestCanonicalRejectsNaN(t *testing.T) {
	d := &Document{SchemaVersion: "0.3", MainSteps: []Step{{Name: "a", Action: "aws:sleep", Inputs: map[string]any{"x": math.NaN()}}}}
	if _, err := d.CanonicalJSON(); err == nil {
		t.Error("want an error for NaN")
	}
	if _, err := d.SHA256(); err == nil {
		t.Error("want an error for NaN")
	}
}

package document

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRefsIn(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want []Ref
		err  string
	}{
		{"none", "plain text }} {", nil, ""},
		{"parameter", "{{ AmiId }}", []Ref{{Kind: RefParameter, Name: "AmiId", Raw: "{{ AmiId }}"}}, ""},
		{"no spaces", "{{AmiId}}", []Ref{{Kind: RefParameter, Name: "AmiId", Raw: "{{AmiId}}"}}, ""},
		{"step output", "{{ launch.InstanceIds }}", []Ref{{Kind: RefStepOutput, Step: "launch", Output: "InstanceIds", Raw: "{{ launch.InstanceIds }}"}}, ""},
		{"global", "x-{{global:DATE_TIME}}", []Ref{{Kind: RefGlobal, Name: "DATE_TIME", Raw: "{{global:DATE_TIME}}"}}, ""},
		{"automation", "{{ automation:EXECUTION_ID }}", []Ref{{Kind: RefAutomation, Name: "EXECUTION_ID", Raw: "{{ automation:EXECUTION_ID }}"}}, ""},
		{"ssm path", "{{ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64}}",
			[]Ref{{Kind: RefSSM, Name: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64", Raw: "{{ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64}}"}}, ""},
		{"ssm name", "{{ssm:latestAmi}}", []Ref{{Kind: RefSSM, Name: "latestAmi", Raw: "{{ssm:latestAmi}}"}}, ""},
		{"variable", "{{ variable:Counter }}", []Ref{{Kind: RefParameter, Name: "Counter", Raw: "{{ variable:Counter }}"}}, ""},
		{"several in text", "a {{ A }} b {{ s.O }}", []Ref{
			{Kind: RefParameter, Name: "A", Raw: "{{ A }}"},
			{Kind: RefStepOutput, Step: "s", Output: "O", Raw: "{{ s.O }}"}}, ""},
		{"nested values in key order", map[string]any{
			"b": []any{"{{ B }}", int64(1), map[string]any{"c": "{{ C }}"}},
			"a": "{{ A }}",
		}, []Ref{
			{Kind: RefParameter, Name: "A", Raw: "{{ A }}"},
			{Kind: RefParameter, Name: "B", Raw: "{{ B }}"},
			{Kind: RefParameter, Name: "C", Raw: "{{ C }}"}}, ""},
		{"go types", []string{"{{ A }}"}, []Ref{{Kind: RefParameter, Name: "A", Raw: "{{ A }}"}}, ""},
		{"unclosed", "ami-{{ AmiId", nil, `unclosed template: "{{ AmiId" has no closing }}`},
		{"empty", "{{}}", nil, "it names nothing"},
		{"nested braces", "{{ {{ A }} }}", nil, "braces do not nest"},
		{"space inside name", "{{ a b }}", nil, "cannot appear in a name"},
		{"unknown prefix", "{{ env:HOME }}", nil, `unknown prefix "env:"`},
		{"prefix without name", "{{ global: }}", nil, `"global:" is followed by no name`},
		{"bad step output", "{{ .Output }}", nil, "a step output is written {{ stepName.OutputName }}"},
		{"slash outside ssm", "{{ a/b }}", nil, "/ belongs only in {{ ssm:/name }}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RefsIn(tc.in)
			if tc.err != "" {
				var te *TemplateError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &te) {
					t.Fatalf("error = %v, want a TemplateError containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestRefIsVariable(t *testing.T) {
	refs, _ := RefsIn([]any{"{{ variable:X }}", "{{ X }}"})
	if !refs[0].IsVariable() || refs[1].IsVariable() {
		t.Errorf("IsVariable: %v %v", refs[0].IsVariable(), refs[1].IsVariable())
	}
	if RefStepOutput.String() != "step output" {
		t.Errorf("String = %q", RefStepOutput.String())
	}
}

// mapScope resolves refs from a map keyed by the template body.
type mapScope map[string]any

func (m mapScope) Lookup(ref Ref) (any, error) {
	key := ref.Name
	switch ref.Kind {
	case RefStepOutput:
		key = ref.Step + "." + ref.Output
	case RefGlobal:
		key = "global:" + ref.Name
	case RefAutomation:
		key = "automation:" + ref.Name
	case RefSSM:
		key = "ssm:" + ref.Name
	}
	v, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("no value for %s", key)
	}
	return v, nil
}

func TestResolve(t *testing.T) {
	scope := mapScope{
		"AmiId":                   "ami-123",
		"Count":                   int64(3),
		"Flag":                    true,
		"launch.InstanceIds":      []any{"i-1"},
		"many.Ids":                []string{"i-1", "i-2"},
		"none.Ids":                []any{},
		"global:DATE_TIME":        "2024-05-01_12.00.00",
		"automation:EXECUTION_ID": "0c4b7b3e-1f2a-4c1b-9d6e-123456789abc",
		"Tags":                    map[string]any{"a": "b"},
		"Ratio":                   0.5,
	}
	cases := []struct {
		name string
		in   any
		want any
		err  string
	}{
		{"plain", "abc", "abc", ""},
		{"whole template keeps type", "{{ Count }}", int64(3), ""},
		{"whole template keeps list", "{{ launch.InstanceIds }}", []any{"i-1"}, ""},
		{"whole template keeps map", "{{Tags}}", map[string]any{"a": "b"}, ""},
		{"one-element list in text", "id={{ launch.InstanceIds }}", "id=i-1", ""},
		{"scalars in text", "{{AmiId}}-{{ Count }}-{{Flag}}-{{Ratio}}-{{global:DATE_TIME}}", "ami-123-3-true-0.5-2024-05-01_12.00.00", ""},
		{"map in text is JSON", `{"tags": {{ Tags }}}`, `{"tags": {"a":"b"}}`, ""},
		{"list of two in text", "ids={{ many.Ids }}", nil, "is a list of 2 values and cannot be placed inside text"},
		{"empty list in text", "ids={{ none.Ids }}", nil, "is a list of 0 values"},
		{"splice in list", []any{"{{ many.Ids }}", "i-3"}, []any{"i-1", "i-2", "i-3"}, ""},
		{"splice empty list", []any{"{{ none.Ids }}"}, []any{}, ""},
		{"scalar template in list", []any{"{{ AmiId }}"}, []any{"ami-123"}, ""},
		{"text template in list", []any{"x-{{ AmiId }}"}, []any{"x-ami-123"}, ""},
		{"nested", map[string]any{"Tags": []any{map[string]any{"Key": "run", "Value": "{{ automation:EXECUTION_ID }}"}}},
			map[string]any{"Tags": []any{map[string]any{"Key": "run", "Value": "0c4b7b3e-1f2a-4c1b-9d6e-123456789abc"}}}, ""},
		{"non-strings untouched", []any{int64(1), true, nil}, []any{int64(1), true, nil}, ""},
		{"lookup error names the template", "{{ Missing }}", nil, "{{ Missing }}: no value for Missing"},
		{"malformed", "{{ AmiId", nil, "unclosed template"},
		{"malformed in list", []any{"{{"}, nil, "unclosed template"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.in, scope)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	if _, err := Resolve("{{ A }}", nil); err == nil {
		t.Error("want an error without a scope")
	}
}

func TestCoerce(t *testing.T) {
	cases := []struct {
		in   any
		typ  InputType
		want any
		err  string
	}{
		{[]any{"i-1"}, TypeString, "i-1", ""},
		{"m5.large", TypeString, "m5.large", ""},
		{int64(5), TypeString, "5", ""},
		{[]any{"i-1", "i-2"}, TypeString, nil, "expected a single value, got a list of 2 values"},
		{map[string]any{}, TypeString, "{}", ""},
		{map[string]any{"k": []any{"v"}}, TypeString, `{"k":["v"]}`, ""},
		{[]any{[]any{"a"}}, TypeString, nil, "expected a string"},
		{"5", TypeInteger, int64(5), ""},
		{int64(5), TypeInteger, int64(5), ""},
		{5.0, TypeInteger, int64(5), ""},
		{[]any{"7"}, TypeInteger, int64(7), ""},
		{5.5, TypeInteger, nil, "expected a whole number"},
		{"five", TypeInteger, nil, "expected an integer"},
		{"true", TypeBoolean, true, ""},
		{"False", TypeBoolean, false, ""},
		{true, TypeBoolean, true, ""},
		{"yes", TypeBoolean, nil, "expected true or false"},
		{"i-1", TypeStringList, []any{"i-1"}, ""},
		{[]any{"a", int64(2)}, TypeStringList, []any{"a", "2"}, ""},
		{[]string{"a"}, TypeStringList, []any{"a"}, ""},
		{[]any{map[string]any{}}, TypeStringList, nil, "element 1 is an object"},
		{map[string]any{"a": "b"}, TypeStringMap, map[string]any{"a": "b"}, ""},
		{`{"a": 1}`, TypeStringMap, map[string]any{"a": int64(1)}, ""},
		{"x", TypeStringMap, nil, "expected a StringMap"},
		{[]any{map[string]any{"Key": "k"}}, TypeMapList, []any{map[string]any{"Key": "k"}}, ""},
		{map[string]any{"Key": "k"}, TypeMapList, []any{map[string]any{"Key": "k"}}, ""},
		{`[{"Key": "k"}]`, TypeMapList, []any{map[string]any{"Key": "k"}}, ""},
		{[]any{"x"}, TypeMapList, nil, "element 1 is the string"},
		{map[string]any{"commands": "echo hi", "n": []any{"a", int64(1)}}, TypeStringListMap,
			map[string]any{"commands": []any{"echo hi"}, "n": []any{"a", "1"}}, ""},
		{map[string]any{"bad": map[string]any{}}, TypeStringListMap, nil, "bad: expected a list of strings"},
		{map[string]any{"x": []any{int64(1)}}, TypeJSON, map[string]any{"x": []any{int64(1)}}, ""},
		{"x", InputType("Nope"), nil, "unknown input type"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v to %s", tc.in, tc.typ), func(t *testing.T) {
			got, err := Coerce(tc.in, tc.typ)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestGlobalValue(t *testing.T) {
	c := GlobalContext{
		Now:       time.Date(2024, 5, 1, 14, 3, 9, 0, time.FixedZone("CEST", 2*3600)),
		Region:    "eu-west-1",
		AccountID: "123456789012",
		Partition: "aws-us-gov",
	}
	cases := map[string]any{
		"DATE_TIME":        "2024-05-01_12.03.09",
		"global:DATE_TIME": "2024-05-01_12.03.09",
		"DATE":             "2024-05-01",
		"REGION":           "eu-west-1",
		"ACCOUNT_ID":       "123456789012",
		"AWS_PARTITION":    "aws-us-gov",
	}
	for name, want := range cases {
		got, ok := GlobalValue(name, c)
		if !ok || got != want {
			t.Errorf("GlobalValue(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	if _, ok := GlobalValue("TIME", c); ok {
		t.Error("TIME is not a global")
	}
	if got, _ := GlobalValue("AWS_PARTITION", GlobalContext{}); got != "aws" {
		t.Errorf("default partition = %v", got)
	}
	for _, g := range Globals {
		if _, ok := GlobalValue(g, c); !ok {
			t.Errorf("Globals lists %s but GlobalValue does not know it", g)
		}
	}
}

func TestParseISODuration(t *testing.T) {
	cases := map[string]time.Duration{
		"PT10M":     10 * time.Minute,
		"PT1H30M":   90 * time.Minute,
		"PT0.5S":    500 * time.Millisecond,
		"P1D":       24 * time.Hour,
		"P1DT2H":    26 * time.Hour,
		"P1W":       7 * 24 * time.Hour,
		"PT604799S": 604799 * time.Second,
	}
	for in, want := range cases {
		got, err := ParseISODuration(in)
		if err != nil || got != want {
			t.Errorf("ParseISODuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "P", "PT", "10m", "-PT1M", "PT1.5M", "P99999999999999999999Y"} {
		if _, err := ParseISODuration(bad); err == nil {
			t.Errorf("ParseISODuration(%q) succeeded", bad)
		}
	}
	for _, good := range []string{"2024-05-01T12:00:00Z", "2024-05-01T12:00:00+02:00", "2024-05-01T12:00:00", "2024-05-01"} {
		if _, err := ParseISOTimestamp(good); err != nil {
			t.Errorf("ParseISOTimestamp(%q): %v", good, err)
		}
	}
	if _, err := ParseISOTimestamp("tomorrow"); err == nil {
		t.Error("tomorrow is not a timestamp")
	}
}

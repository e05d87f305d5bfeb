package document

import (
	"reflect"
	"strings"
	"testing"
)

const paramsDoc = `
schemaVersion: '0.3'
parameters:
  SourceAmiId:
    type: String
    allowedPattern: ^ami-[0-9a-f]+$
  InstanceType:
    type: String
    default: t3.micro
    allowedValues: [t3.micro, t3.small]
  TargetAmiName:
    type: String
    default: "golden-{{ SourceAmiId }}-{{ global:DATE_TIME }}"
  Count:
    type: Integer
    default: 1
  Reboot:
    type: Boolean
    default: false
  Ids:
    type: StringList
    default: []
    maxItems: 3
  Tags:
    type: MapList
    default: [{Key: team, Value: platform}]
  Extra:
    type: StringMap
    default: {}
  Short:
    type: String
    default: ab
    minChars: 2
    maxChars: 4
mainSteps:
- name: nap
  action: aws:sleep
  inputs: {Duration: PT1S}
`

func TestParameterValues(t *testing.T) {
	d, err := ParseYAML([]byte(paramsDoc))
	if err != nil {
		t.Fatal(err)
	}
	if ps := Validate(d); len(ps) != 0 {
		t.Fatalf("document problems: %v", ps)
	}
	cases := []struct {
		name  string
		given map[string]string
		want  map[string]any // checked entries
		msgs  []string       // expected problems, by substring
	}{
		{"defaults applied, templates kept", map[string]string{"SourceAmiId": "ami-0abc"}, map[string]any{
			"SourceAmiId":   "ami-0abc",
			"InstanceType":  "t3.micro",
			"TargetAmiName": "golden-{{ SourceAmiId }}-{{ global:DATE_TIME }}",
			"Count":         int64(1),
			"Reboot":        false,
			"Ids":           []any{},
			"Tags":          []any{map[string]any{"Key": "team", "Value": "platform"}},
			"Extra":         map[string]any{},
		}, nil},
		{"typed values", map[string]string{
			"SourceAmiId": "ami-1", "Count": " 4 ", "Reboot": "TRUE", "Ids": "i-1, i-2",
			"Tags": `[{"Key": "a", "Value": "b"}]`, "Extra": `{"k": "v"}`,
		}, map[string]any{
			"Count": int64(4), "Reboot": true, "Ids": []any{"i-1", "i-2"},
			"Tags": []any{map[string]any{"Key": "a", "Value": "b"}}, "Extra": map[string]any{"k": "v"},
		}, nil},
		{"StringList as JSON", map[string]string{"SourceAmiId": "ami-1", "Ids": `["i-1", "i-2"]`}, map[string]any{"Ids": []any{"i-1", "i-2"}}, nil},
		{"required parameter missing", map[string]string{}, nil, []string{`parameter "SourceAmiId" is required: it has no default and no value was given`}},
		{"unknown parameter", map[string]string{"SourceAmiId": "ami-1", "InstanceTyp": "t3.micro"}, nil,
			[]string{`unknown parameter "InstanceTyp"; did you mean "InstanceType"?`}},
		{"not allowed value", map[string]string{"SourceAmiId": "ami-1", "InstanceType": "t3.large"}, nil,
			[]string{`parameter "InstanceType": value "t3.large" is not one of the allowed values "t3.micro", "t3.small"`}},
		{"pattern mismatch", map[string]string{"SourceAmiId": "img-1"}, nil,
			[]string{`parameter "SourceAmiId": value "img-1" does not match allowedPattern ^ami-[0-9a-f]+$`}},
		{"bad integer", map[string]string{"SourceAmiId": "ami-1", "Count": "many"}, nil, []string{`parameter "Count": value "many" is not a whole number`}},
		{"bad boolean", map[string]string{"SourceAmiId": "ami-1", "Reboot": "yes"}, nil, []string{`parameter "Reboot": value "yes" is not true or false`}},
		{"bad map list", map[string]string{"SourceAmiId": "ami-1", "Tags": "team=platform"}, nil, []string{`parameter "Tags": value "team=platform" is not a JSON list of objects`}},
		{"bad string map", map[string]string{"SourceAmiId": "ami-1", "Extra": "[]"}, nil, []string{`parameter "Extra": value "[]" is not a JSON object`}},
		{"too many items", map[string]string{"SourceAmiId": "ami-1", "Ids": "a,b,c,d"}, nil, []string{`value has 4 items, more than maxItems 3`}},
		{"too long", map[string]string{"SourceAmiId": "ami-1", "Short": "abcdef"}, nil, []string{`value "abcdef" is longer than maxChars 4`}},
		{"too short", map[string]string{"SourceAmiId": "ami-1", "Short": "a"}, nil, []string{`value "a" is shorter than minChars 2`}},
		{"long value clipped", map[string]string{"SourceAmiId": "img-" + strings.Repeat("x", 200)}, nil,
			[]string{`value "img-` + strings.Repeat("x", 56) + `…" does not match allowedPattern`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values, problems := ParameterValues(d, tc.given)
			if len(problems) != len(tc.msgs) {
				t.Fatalf("want %d problems, got %v", len(tc.msgs), problems)
			}
			for i, msg := range tc.msgs {
				p := problems[i]
				if !strings.Contains(p.Message, msg) || p.StepIndex != -1 || len(p.Path) != 2 || p.Path[0] != "parameters" {
					t.Errorf("problem %v does not contain %q (path %v)", p, msg, p.Path)
				}
			}
			for k, want := range tc.want {
				if got := values[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

func TestParameterValuesSSMDefault(t *testing.T) {
	d := &Document{Parameters: []Parameter{{Name: "Ami", Type: "String", Default: "{{ssm:/aws/service/ami}}", HasDefault: true}}}
	values, problems := ParameterValues(d, nil)
	if len(problems) != 0 || values["Ami"] != "{{ssm:/aws/service/ami}}" {
		t.Errorf("got %v %v", values, problems)
	}
}

// A sensitive value that breaks a rule is reported by the rule alone: not the
// value, not a part of it, not a "did you mean" that hints at it.
func TestParameterValuesSensitive(t *testing.T) {
	d, err := ParseYAML([]byte(paramsDoc))
	if err != nil {
		t.Fatal(err)
	}
	const secret = `t3.mic"r&<o>\ é😀`
	cases := []struct {
		name, param, value, want string
	}{
		{"allowedValues", "InstanceType", secret, `parameter "InstanceType": value is not one of the allowed values "t3.micro", "t3.small" (the value is sensitive and not shown)`},
		{"allowedValues, near miss", "InstanceType", "t3.micra", `parameter "InstanceType": value is not one of the allowed values "t3.micro", "t3.small" (the value is sensitive and not shown)`},
		{"allowedPattern", "SourceAmiId", secret, `parameter "SourceAmiId": value does not match allowedPattern ^ami-[0-9a-f]+$ (the value is sensitive and not shown)`},
		{"maxChars", "Short", secret, `parameter "Short": value is longer than maxChars 4 (the value is sensitive and not shown)`},
		{"minChars", "Short", "é", `parameter "Short": value is shorter than minChars 2 (the value is sensitive and not shown)`},
		{"Integer", "Count", secret, `parameter "Count": value is not a whole number (the value is sensitive and not shown)`},
		{"Boolean", "Reboot", secret, `parameter "Reboot": value is not true or false (the value is sensitive and not shown)`},
		{"StringList JSON", "Ids", `["a", ` + secret + `]`, `parameter "Ids": value is not a JSON list of strings (the value is sensitive and not shown)`},
		{"StringMap", "Extra", secret, `parameter "Extra": value is not a JSON object (the value is sensitive and not shown)`},
		{"MapList", "Tags", secret, `parameter "Tags": value is not a JSON list of objects (the value is sensitive and not shown)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			given := map[string]string{"SourceAmiId": "ami-1", tc.param: tc.value}
			_, problems := ParameterValues(d, given, SensitiveParameters(tc.param))
			if len(problems) != 1 {
				t.Fatalf("want 1 problem, got %v", problems)
			}
			if got := problems[0].Error(); got != "parameters."+tc.param+": "+tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			// Without the option the value is quoted, so the test would see it.
			_, plain := ParameterValues(d, given)
			if len(plain) != 1 || plain[0].Message == problems[0].Message {
				t.Errorf("not sensitive: %v", plain)
			}
		})
	}
	// A list: which element broke the rule, not what it holds.
	d.Parameters = append(d.Parameters, Parameter{Name: "Zones", Type: "StringList", AllowedPattern: "^[a-z]+$"})
	_, problems := ParameterValues(d, map[string]string{"SourceAmiId": "ami-1", "Zones": "abc," + secret}, SensitiveParameters("Zones"))
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "value element 2 does not match allowedPattern") || strings.Contains(problems[0].Message, "abc") {
		t.Errorf("got %v", problems)
	}
}

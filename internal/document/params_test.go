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
		{"bad integer", map[string]string{"SourceAmiId": "ami-1", "Count": "many"}, nil, []string{`parameter "Count": "many" is not a whole number`}},
		{"bad boolean", map[string]string{"SourceAmiId": "ami-1", "Reboot": "yes"}, nil, []string{`parameter "Reboot": "yes" is not true or false`}},
		{"bad map list", map[string]string{"SourceAmiId": "ami-1", "Tags": "team=platform"}, nil, []string{`parameter "Tags": "team=platform" is not a JSON list of objects`}},
		{"bad string map", map[string]string{"SourceAmiId": "ami-1", "Extra": "[]"}, nil, []string{`parameter "Extra": "[]" is not a JSON object`}},
		{"too many items", map[string]string{"SourceAmiId": "ami-1", "Ids": "a,b,c,d"}, nil, []string{`value has 4 items, more than maxItems 3`}},
		{"too long", map[string]string{"SourceAmiId": "ami-1", "Short": "abcdef"}, nil, []string{`value "abcdef" is longer than maxChars 4`}},
		{"too short", map[string]string{"SourceAmiId": "ami-1", "Short": "a"}, nil, []string{`value "a" is shorter than minChars 2`}},
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

package actions

import (
	"strings"
	"testing"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

func TestJSONInputProblems(t *testing.T) {
	cases := []struct {
		name   string
		action string
		inputs map[string]any
		want   []string // parts of the one message; none when the shape fits
	}{
		{"a list of mappings", "aws:createImage", map[string]any{
			"BlockDeviceMappings": []any{map[string]any{"DeviceName": "/dev/xvda", "Ebs": map[string]any{"VolumeSize": "{{ Size }}", "VolumeType": "gp3"}}},
		}, nil},
		{"a template for the whole value", "aws:runInstances", map[string]any{"BlockDeviceMappings": "{{ Mappings }}"}, nil},
		{"field names in any case", "aws:runInstances", map[string]any{"MetadataOptions": map[string]any{"httpTokens": "required"}}, nil},
		{"an object where a list belongs", "aws:createImage", map[string]any{
			"BlockDeviceMappings": map[string]any{"DeviceName": "/dev/xvda"},
		}, []string{"BlockDeviceMappings must be a list, but it is an object", "jsonencode([{ DeviceName = string, Ebs = {", "NoDevice = string"}},
		{"a list where an object belongs", "aws:runInstances", map[string]any{
			"MetadataOptions": []any{map[string]any{"HttpTokens": "required"}},
		}, []string{"MetadataOptions must be an object, but it is a list", "jsonencode({ HttpEndpoint = string"}},
		{"an unknown field", "aws:runInstances", map[string]any{
			"TagSpecifications": []any{map[string]any{"ResourceType": "instance", "Tag": []any{}}},
		}, []string{`TagSpecifications[0] has no field "Tag" (its fields: ResourceType, Tags)`}},
		{"a nested unknown field", "aws:runCommand", map[string]any{
			"CloudWatchOutputConfig": map[string]any{"CloudWatchOutputEnabled": true, "LogGroup": "g"},
		}, []string{`CloudWatchOutputConfig has no field "LogGroup" (its fields: CloudWatchLogGroupName, CloudWatchOutputEnabled)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := &document.Document{MainSteps: []document.Step{{Name: "s", Action: tc.action, Inputs: tc.inputs}}}
			ps := JSONInputProblems(doc)
			if len(tc.want) == 0 {
				if len(ps) > 0 {
					t.Fatalf("want no problem, got %v", ps)
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("want one problem, got %v", ps)
			}
			for _, part := range tc.want {
				if !strings.Contains(ps[0].Message, part) {
					t.Errorf("message %q lacks %q", ps[0].Message, part)
				}
			}
			if ps[0].Step != "s" || ps[0].StepIndex != 0 || len(ps[0].Path) != 2 || ps[0].Path[0] != "inputs" {
				t.Errorf("problem at %s %d %v", ps[0].Step, ps[0].StepIndex, ps[0].Path)
			}
		})
	}
}

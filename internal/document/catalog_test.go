package document

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestActionsCoverTheWholeVocabulary checks that the catalogue knows every
// action of SSM Automation's vocabulary (schemaVersion 0.3) as published when
// the catalogue was written. It is a floor: an action added to the catalogue
// needs no change here.
func TestActionsCoverTheWholeVocabulary(t *testing.T) {
	published := []string{
		"aws:approve", "aws:assertAwsResourceProperty", "aws:branch", "aws:changeInstanceState", "aws:copyImage",
		"aws:createImage", "aws:createStack", "aws:createTags", "aws:deleteImage", "aws:deleteStack",
		"aws:executeAutomation", "aws:executeAwsApi", "aws:executeScript", "aws:executeStateMachine",
		"aws:invokeLambdaFunction", "aws:invokeWebhook", "aws:loop", "aws:pause", "aws:runCommand",
		"aws:runInstances", "aws:sleep", "aws:updateVariable", "aws:waitForAwsResourceProperty",
	}
	for _, name := range published {
		if _, ok := LookupAction(name); !ok {
			t.Errorf("the catalogue does not know %s", name)
		}
	}
	var got []string
	for _, a := range Actions() {
		got = append(got, a.Name)
		if !strings.HasPrefix(a.Name, "aws:") {
			t.Errorf("%s is not an aws: action name", a.Name)
		}
	}
	if !sort.StringsAreSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("Actions() is not sorted and unique: %v", got)
	}
	// Callers get a copy.
	first := got[0]
	Actions()[0].Name = "changed"
	if Actions()[0].Name != first {
		t.Error("Actions() exposes the catalog")
	}
}

// TestActionBlocks checks every catalogue entry: an HCL block, when there is
// one, is named after the action (aws:runInstances -> run_instances), and
// inputs and groups are complete.
func TestActionBlocks(t *testing.T) {
	for _, a := range Actions() {
		if a.Block != "" && a.Block != SnakeCase(strings.TrimPrefix(a.Name, "aws:")) {
			t.Errorf("%s: Block %q is not the snake case of the action", a.Name, a.Block)
		}
		if a.Description == "" {
			t.Errorf("%s has no description", a.Name)
		}
		seen := map[string]bool{}
		for _, in := range a.Inputs {
			if in.Description == "" || in.Type == "" || seen[in.Name] {
				t.Errorf("%s: input %+v is incomplete or repeated", a.Name, in)
			}
			seen[in.Name] = true
		}
		for _, g := range append(append([][]string(nil), a.RequireOneOf...), a.Exclusive...) {
			for _, n := range g {
				if _, ok := a.Input(n); !ok {
					t.Errorf("%s: group names unknown input %q", a.Name, n)
				}
			}
		}
	}
}

func TestActionDetails(t *testing.T) {
	type check struct {
		action, input string
		typ           InputType
		required      bool
		enum          []string
	}
	checks := []check{
		{"aws:runInstances", "ImageId", TypeString, true, nil},
		{"aws:runInstances", "MinInstanceCount", TypeInteger, false, nil},
		{"aws:runInstances", "BlockDeviceMappings", TypeJSON, false, nil},
		{"aws:runInstances", "TagSpecifications", TypeJSON, false, nil},
		{"aws:runInstances", "MetadataOptions", TypeJSON, false, nil},
		{"aws:runInstances", "SecurityGroupIds", TypeStringList, false, nil},
		{"aws:runCommand", "DocumentName", TypeString, true, nil},
		{"aws:runCommand", "Parameters", TypeStringListMap, false, nil},
		{"aws:runCommand", "Targets", TypeJSON, false, nil},
		{"aws:runCommand", "DocumentHashType", TypeString, false, []string{"Sha256", "Sha1"}},
		{"aws:changeInstanceState", "DesiredState", TypeString, true, []string{"running", "stopped", "terminated"}},
		{"aws:changeInstanceState", "CheckStateOnly", TypeBoolean, false, nil},
		{"aws:createImage", "NoReboot", TypeBoolean, false, nil},
		{"aws:createTags", "Tags", TypeMapList, true, nil},
		{"aws:createTags", "ResourceType", TypeString, false, []string{"EC2", "ManagedInstance", "MaintenanceWindow", "Parameter"}},
		{"aws:invokeLambdaFunction", "InvocationType", TypeString, false, []string{"RequestResponse", "Event", "DryRun"}},
		{"aws:invokeLambdaFunction", "LogType", TypeString, false, []string{"None", "Tail"}},
		{"aws:invokeLambdaFunction", "InputPayload", TypeJSON, false, nil},
		{"aws:branch", "Choices", TypeJSON, true, nil},
		{"aws:copyImage", "SourceRegion", TypeString, true, nil},
		{"aws:waitForAwsResourceProperty", "DesiredValues", TypeStringList, true, nil},
		{"aws:assertAwsResourceProperty", "PropertySelector", TypeString, true, nil},
		{"aws:executeAwsApi", "Api", TypeString, true, nil},
		{"aws:executeStateMachine", "stateMachineArn", TypeString, true, nil},
		{"aws:approve", "Approvers", TypeStringList, true, nil},
		{"aws:updateVariable", "Value", TypeJSON, true, nil},
	}
	for _, c := range checks {
		a, ok := LookupAction(c.action)
		if !ok {
			t.Fatalf("no %s", c.action)
		}
		in, ok := a.Input(c.input)
		if !ok || in.Type != c.typ || in.Required != c.required || !reflect.DeepEqual(in.Enum, c.enum) {
			t.Errorf("%s.%s = %+v, want type %s required %v enum %v", c.action, c.input, in, c.typ, c.required, c.enum)
		}
	}
	outputs := map[string][]string{
		"aws:runInstances":         {"InstanceIds", "InstanceStates"},
		"aws:runCommand":           {"CommandId", "Status", "ResponseCode", "Output"},
		"aws:createImage":          {"ImageId", "ImageState"},
		"aws:copyImage":            {"ImageId", "ImageState"},
		"aws:invokeLambdaFunction": {"StatusCode", "FunctionError", "LogResult", "Payload"},
		"aws:executeAwsApi":        nil,
		"aws:changeInstanceState":  nil,
	}
	for name, want := range outputs {
		a, _ := LookupAction(name)
		var got []string
		for _, o := range a.Outputs {
			got = append(got, o.Name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s outputs = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"aws:executeAwsApi", "aws:waitForAwsResourceProperty", "aws:assertAwsResourceProperty"} {
		a, _ := LookupAction(name)
		if !a.OpenInputs {
			t.Errorf("%s must accept the API's own inputs", name)
		}
	}
	if a, _ := LookupAction("aws:executeAwsApi"); !a.UserOutputs {
		t.Error("aws:executeAwsApi must take user outputs")
	}
	if a, _ := LookupAction("aws:runCommand"); !reflect.DeepEqual(a.RequireOneOf, [][]string{{"InstanceIds", "Targets"}}) {
		t.Errorf("runCommand RequireOneOf = %v", a.RequireOneOf)
	}
	if a, _ := LookupAction("aws:sleep"); !reflect.DeepEqual(a.RequireOneOf, [][]string{{"Duration", "Timestamp"}}) {
		t.Errorf("sleep RequireOneOf = %v", a.RequireOneOf)
	}
	if _, ok := LookupAction("aws:RunInstances"); ok {
		t.Error("LookupAction must match exactly")
	}
	if _, ok := (ActionSpec{}).Output("x"); ok {
		t.Error("empty spec has no outputs")
	}
}

func TestSnakeCase(t *testing.T) {
	cases := map[string]string{
		"IamInstanceProfileName":     "iam_instance_profile_name",
		"ImageId":                    "image_id",
		"DesiredState":               "desired_state",
		"NotificationARNs":           "notification_arns",
		"RoleARN":                    "role_arn",
		"TemplateURL":                "template_url",
		"OutputS3BucketName":         "output_s3_bucket_name",
		"OutputS3KeyPrefix":          "output_s3_key_prefix",
		"KmsKeyId":                   "kms_key_id",
		"Api":                        "api",
		"stateMachineArn":            "state_machine_arn",
		"runInstances":               "run_instances",
		"waitForAwsResourceProperty": "wait_for_aws_resource_property",
		"EbsOptimized":               "ebs_optimized",
		"DocumentHashType":           "document_hash_type",
		"CloudWatchOutputConfig":     "cloud_watch_output_config",
		"name":                       "name",
		"":                           "",
	}
	for in, want := range cases {
		if got := SnakeCase(in); got != want {
			t.Errorf("SnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
	// Every input of the catalog gets a distinct attribute name.
	for _, a := range Actions() {
		seen := map[string]string{}
		for _, in := range a.Inputs {
			sc := SnakeCase(in.Name)
			if prev, dup := seen[sc]; dup {
				t.Errorf("%s: %s and %s both become %s", a.Name, prev, in.Name, sc)
			}
			seen[sc] = in.Name
		}
	}
}

func TestSuggestions(t *testing.T) {
	cands := []string{"aws:runInstances", "aws:runCommand", "aws:sleep"}
	cases := map[string]string{
		"aws:runInstance": "aws:runInstances",
		"AWS:RUNCOMMAND":  "aws:runCommand",
		"aws:slep":        "aws:sleep",
		"aws:createImage": "",
		"":                "",
	}
	for in, want := range cases {
		got, ok := closest(in, cands)
		if want == "" && ok {
			t.Errorf("closest(%q) = %q, want none", in, got)
		}
		if want != "" && got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
	if got, _ := closest("stop", []string{"running", "stopped", "terminated"}); got != "stopped" {
		t.Errorf("prefix suggestion = %q", got)
	}
	if levenshtein("kitten", "sitting") != 3 || levenshtein("", "abc") != 3 || levenshtein("ä", "a") != 1 {
		t.Error("levenshtein is wrong")
	}
}

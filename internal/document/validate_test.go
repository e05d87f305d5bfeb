package document

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jdoc builds a JSON document around the given steps, with parameters the
// cases refer to.
func jdoc(steps ...string) string {
	return `{
  "schemaVersion": "0.3",
  "parameters": ` + baseParams + `,
  "mainSteps": [
    ` + strings.Join(steps, ",\n    ") + `
  ]
}`
}

const baseParams = `{
    "AmiId": {"type": "String"},
    "Env": {"type": "String", "default": "dev", "allowedValues": ["dev", "prod"]}
  }`

// withParams replaces the parameters of a jdoc document.
func withParams(doc, params string) string {
	return strings.Replace(doc, baseParams, params, 1)
}

const (
	launch    = `{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "{{ AmiId }}"}}`
	stop      = `{"name": "stop", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "stopped"}}`
	image     = `{"name": "createImage", "action": "aws:createImage", "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "x-{{ global:DATE_TIME }}"}}`
	terminate = `{"name": "terminate", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "terminated"}}`
)

func withOutputs(doc, outputs string) string {
	return strings.TrimSuffix(doc, "\n}") + ",\n  \"outputs\": " + outputs + "\n}"
}

func withField(doc, field string) string {
	return strings.Replace(doc, `"schemaVersion": "0.3",`, `"schemaVersion": "0.3", `+field+`,`, 1)
}

func TestValidateBaseDocumentIsClean(t *testing.T) {
	d, err := ParseJSON([]byte(withOutputs(jdoc(launch, stop, image, terminate), `["createImage.ImageId"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if ps := Validate(d); len(ps) != 0 {
		t.Fatalf("want no problems, got %v", ps)
	}
}

// TestValidateBadDocuments is the corpus of bad documents: each case asserts the
// problem's step, attribute path and message, and that it is the only problem.
func TestValidateBadDocuments(t *testing.T) {
	cases := []struct {
		name  string
		text  string
		step  string // "" for document-level problems
		path  string // Path joined with "."
		msg   string
		count int // expected number of problems; 0 means 1
	}{
		{"unknown action", jdoc(`{"name": "s1", "action": "aws:frobnicate", "inputs": {}}`),
			"s1", "action", `unknown action "aws:frobnicate"`, 0},
		{"misspelt action", jdoc(`{"name": "s1", "action": "aws:runInstance", "inputs": {"ImageId": "ami-1"}}`),
			"s1", "action", `unknown action "aws:runInstance"; did you mean "aws:runInstances"?`, 0},
		{"action without prefix", jdoc(`{"name": "s1", "action": "runInstances", "inputs": {"ImageId": "ami-1"}}`),
			"s1", "action", `did you mean "aws:runInstances"?`, 0},
		{"wrong case of action", jdoc(`{"name": "s1", "action": "aws:RunInstances", "inputs": {"ImageId": "ami-1"}}`),
			"s1", "action", `did you mean "aws:runInstances"?`, 0},
		{"missing action", jdoc(`{"name": "s1", "inputs": {}}`),
			"s1", "action", "the step has no action", 0},
		{"missing required input", jdoc(`{"name": "launch", "action": "aws:runInstances", "inputs": {"InstanceType": "t3.micro"}}`),
			"launch", "inputs.ImageId", `missing required input "ImageId" for aws:runInstances`, 0},
		{"unknown input", jdoc(`{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageID": "ami-1"}}`),
			"launch", "inputs.ImageID", `unknown input "ImageID" for aws:runInstances; did you mean "ImageId"?`, 2},
		{"input of an action without inputs", jdoc(`{"name": "wait", "action": "aws:pause", "inputs": {"Duration": "PT1M"}}`),
			"wait", "inputs.Duration", "it takes no inputs", 0},
		{"duplicate step", jdoc(launch, `{"name": "launch", "action": "aws:sleep", "inputs": {"Duration": "PT1M"}}`),
			"launch", "name", `duplicate step name "launch": step 1 already has it`, 0},
		{"bad step name", jdoc(`{"name": "launch-instance", "action": "aws:sleep", "inputs": {"Duration": "PT1M"}}`),
			"launch-instance", "name", "may contain only letters, digits and underscores", 0},
		{"step without name", jdoc(`{"action": "aws:sleep", "inputs": {"Duration": "PT1M"}}`),
			"", "name", "the step has no name", 0},
		{"reference to unknown parameter", jdoc(`{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "{{ AmiID }}"}}`),
			"launch", "inputs.ImageId", `{{ AmiID }} names no parameter; did you mean "AmiId"?`, 0},
		{"reference to later step output", jdoc(stop, launch),
			"stop", "inputs.InstanceIds.0", `refers to step "launch", which comes later (step 2)`, 0},
		{"reference to unknown step", jdoc(launch, strings.ReplaceAll(stop, "launch.", "lunch.")),
			"stop", "inputs.InstanceIds.0", `{{ lunch.InstanceIds }} names step "lunch", which does not exist; did you mean "launch"?`, 0},
		{"wrong output name", jdoc(launch, strings.ReplaceAll(stop, "InstanceIds }}", "InstanceId }}")),
			"stop", "inputs.InstanceIds.0", `step "launch" (aws:runInstances) has no output "InstanceId"; did you mean "InstanceIds"?`, 0},
		{"reference to own output", jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "{{ img.ImageId }}"}}`),
			"img", "inputs.ImageName", "refers to an output of this same step", 0},
		{"step name used as parameter", jdoc(launch, `{"name": "stop", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": ["{{ launch }}"], "DesiredState": "stopped"}}`),
			"stop", "inputs.InstanceIds.0", `{{ launch }} names step "launch" but no output`, 0},
		{"onFailure jumps to missing step", jdoc(`{"name": "launch", "action": "aws:runInstances", "onFailure": "step:cleanup", "inputs": {"ImageId": "ami-1"}}`),
			"launch", "onFailure", `onFailure jumps to step "cleanup", which does not exist`, 0},
		{"onFailure bad syntax", jdoc(`{"name": "launch", "action": "aws:runInstances", "onFailure": "abort", "inputs": {"ImageId": "ami-1"}}`),
			"launch", "onFailure", `onFailure must be Abort, Continue or step:NAME, not "abort"; did you mean "Abort"?`, 0},
		{"onFailure names a step without step:", jdoc(`{"name": "launch", "action": "aws:runInstances", "onFailure": "launch", "inputs": {"ImageId": "ami-1"}}`),
			"launch", "onFailure", `onFailure must be Abort, Continue or step:NAME, not "launch"; to jump to step "launch", write "step:launch"`, 0},
		{"onFailure step without name", jdoc(`{"name": "launch", "action": "aws:runInstances", "onFailure": "step:", "inputs": {"ImageId": "ami-1"}}`),
			"launch", "onFailure", "onFailure names no step", 0},
		{"onCancel Continue", jdoc(`{"name": "launch", "action": "aws:runInstances", "onCancel": "Continue", "inputs": {"ImageId": "ami-1"}}`),
			"launch", "onCancel", "onCancel cannot be Continue", 0},
		{"onCancel jumps to missing step", jdoc(`{"name": "launch", "action": "aws:runInstances", "onCancel": "step:gone", "inputs": {"ImageId": "ami-1"}}`),
			"launch", "onCancel", `onCancel jumps to step "gone", which does not exist`, 0},
		{"nextStep to missing step", jdoc(`{"name": "launch", "action": "aws:runInstances", "nextStep": "stopp", "inputs": {"ImageId": "ami-1"}}`, stop),
			"launch", "nextStep", `nextStep jumps to step "stopp", which does not exist; did you mean "stop"?`, 0},
		{"isEnd with nextStep", jdoc(`{"name": "launch", "action": "aws:runInstances", "isEnd": true, "nextStep": "stop", "inputs": {"ImageId": "ami-1"}}`, stop),
			"launch", "nextStep", "isEnd is true and nextStep is \"stop\"", 0},
		{"branch NextStep to missing step", jdoc(launch, `{"name": "choose", "action": "aws:branch", "inputs": {"Choices": [{"NextStep": "nowhere", "Variable": "{{ Env }}", "StringEquals": "dev"}]}}`),
			"choose", "inputs.Choices.0.NextStep", `choice 1 jumps to step "nowhere", which does not exist`, 0},
		{"branch Default to missing step", jdoc(launch, `{"name": "choose", "action": "aws:branch", "inputs": {"Choices": [{"NextStep": "launch", "Variable": "{{ Env }}", "StringEquals": "dev"}], "Default": "fallback"}}`),
			"choose", "inputs.Default", `Default jumps to step "fallback", which does not exist`, 0},
		{"branch unknown operator", jdoc(launch, `{"name": "choose", "action": "aws:branch", "inputs": {"Choices": [{"NextStep": "launch", "Variable": "{{ Env }}", "StringEqual": "dev"}]}}`),
			"choose", "inputs.Choices.0.StringEqual", `unknown operator "StringEqual"; did you mean "StringEquals"?`, 0},
		{"branch choice without Variable", jdoc(launch, `{"name": "choose", "action": "aws:branch", "inputs": {"Choices": [{"NextStep": "launch", "StringEquals": "dev"}]}}`),
			"choose", "inputs.Choices.0", "the comparison needs a Variable", 0},
		{"branch Not holding a list", jdoc(launch, `{"name": "choose", "action": "aws:branch", "inputs": {"Choices": [{"NextStep": "launch", "Not": [{"Variable": "{{ Env }}", "StringEquals": "dev"}]}]}}`),
			"choose", "inputs.Choices.0.Not", "Not must hold one condition (an object)", 0},
		{"bad enum", jdoc(launch, `{"name": "stop", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "stop"}}`),
			"stop", "inputs.DesiredState", `bad value "stop" for DesiredState; did you mean "stopped"? (allowed values: running, stopped, terminated)`, 0},
		{"bad enum in createTags", jdoc(`{"name": "tag", "action": "aws:createTags", "inputs": {"ResourceIds": ["ami-1"], "Tags": [{"Key": "k", "Value": "v"}], "ResourceType": "Ec2"}}`),
			"tag", "inputs.ResourceType", `bad value "Ec2" for ResourceType; did you mean "EC2"?`, 0},
		{"InstanceIds as number", jdoc(`{"name": "stop", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": 5, "DesiredState": "stopped"}}`),
			"stop", "inputs.InstanceIds", "InstanceIds must be a list of strings", 0},
		{"InstanceIds as plain string", jdoc(`{"name": "stop", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": "i-1", "DesiredState": "stopped"}}`),
			"stop", "inputs.InstanceIds", `InstanceIds must be a list of strings, e.g. ["a", "b"], but it is the string "i-1"`, 0},
		{"string input given a list", jdoc(`{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": ["ami-1"]}}`),
			"launch", "inputs.ImageId", "ImageId must be a single value, not a list", 0},
		{"integer input given text", jdoc(`{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "ami-1", "MinInstanceCount": "one"}}`),
			"launch", "inputs.MinInstanceCount", `MinInstanceCount must be a whole number, but it is the string "one"`, 0},
		{"boolean input given text", jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "img-1", "NoReboot": "yes"}}`),
			"img", "inputs.NoReboot", "NoReboot must be true or false", 0},
		{"tags not a list of objects", jdoc(`{"name": "tag", "action": "aws:createTags", "inputs": {"ResourceIds": ["ami-1"], "Tags": ["k=v"]}}`),
			"tag", "inputs.Tags", "Tags must be a list of objects, but element 1 is the string \"k=v\"", 0},
		{"runCommand parameters not a map", jdoc(`{"name": "run", "action": "aws:runCommand", "inputs": {"DocumentName": "AWS-RunShellScript", "InstanceIds": ["i-1"], "Parameters": ["echo"]}}`),
			"run", "inputs.Parameters", "Parameters must be an object whose values are lists of strings", 0},
		{"runCommand without targets", jdoc(`{"name": "run", "action": "aws:runCommand", "inputs": {"DocumentName": "AWS-RunShellScript"}}`),
			"run", "inputs", "one of the inputs InstanceIds, Targets is required for aws:runCommand", 0},
		{"runCommand with both targets", jdoc(`{"name": "run", "action": "aws:runCommand", "inputs": {"DocumentName": "AWS-RunShellScript", "InstanceIds": ["i-1"], "Targets": [{"Key": "tag:a", "Values": ["b"]}]}}`),
			"run", "inputs.Targets", "inputs InstanceIds and Targets cannot be used together", 0},
		{"sleep without duration", jdoc(`{"name": "nap", "action": "aws:sleep", "inputs": {}}`),
			"nap", "inputs", "one of the inputs Duration, Timestamp is required", 0},
		{"sleep bad duration", jdoc(`{"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "10 minutes"}}`),
			"nap", "inputs.Duration", `"10 minutes" is not an ISO 8601 duration`, 0},
		{"empty mainSteps", `{"schemaVersion": "0.3", "mainSteps": []}`,
			"", "mainSteps", "mainSteps is empty: a document needs at least one step", 0},
		{"missing mainSteps", `{"schemaVersion": "0.3"}`,
			"", "mainSteps", "mainSteps is missing", 0},
		{"bad schemaVersion", strings.Replace(jdoc(launch), `"0.3"`, `"2.2"`, 1),
			"", "schemaVersion", `schemaVersion "2.2" is not supported`, 0},
		{"missing schemaVersion", strings.Replace(jdoc(launch), `"schemaVersion": "0.3",`, ``, 1),
			"", "schemaVersion", "schemaVersion is missing", 0},
		{"ssm outside defaults", jdoc(`{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "{{ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64}}"}}`),
			"launch", "inputs.ImageId", "{{ssm:...}} is only allowed in parameter defaults", 0},
		{"unbalanced template", jdoc(`{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "{{ AmiId"}}`),
			"launch", "inputs.ImageId", `unclosed template: "{{ AmiId" has no closing }}`, 0},
		{"empty template", jdoc(`{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "ami-{{ }}"}}`),
			"launch", "inputs.ImageId", "it names nothing", 0},
		{"template with spaces in name", jdoc(`{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "{{ Ami Id }}"}}`),
			"launch", "inputs.ImageId", `' ' cannot appear in a name`, 0},
		{"unknown global", jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "x-{{global:TIME}}"}}`),
			"img", "inputs.ImageName", `{{global:TIME}} names an unknown global`, 0},
		{"misspelt global", jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "x-{{global:DATETIME}}"}}`),
			"img", "inputs.ImageName", `did you mean "global:DATE_TIME"?`, 0},
		{"unknown automation variable", jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "x-{{automation:RUN_ID}}"}}`),
			"img", "inputs.ImageName", "the only one is automation:EXECUTION_ID", 0},
		{"unknown template prefix", jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "x-{{env:HOME}}"}}`),
			"img", "inputs.ImageName", `unknown prefix "env:"`, 0},
		{"maxAttempts 0", jdoc(`{"name": "launch", "action": "aws:runInstances", "maxAttempts": 0, "inputs": {"ImageId": "ami-1"}}`),
			"launch", "maxAttempts", "maxAttempts must be at least 1, not 0", 0},
		{"timeoutSeconds 0", jdoc(`{"name": "launch", "action": "aws:runInstances", "timeoutSeconds": 0, "inputs": {"ImageId": "ami-1"}}`),
			"launch", "timeoutSeconds", "timeoutSeconds must be at least 1", 0},
		{"outputs entry to missing step", withOutputs(jdoc(launch, image), `["createImg.ImageId"]`),
			"", "outputs.0", `outputs entry "createImg.ImageId" names step "createImg", which does not exist; did you mean "createImage"?`, 0},
		{"outputs entry with wrong output", withOutputs(jdoc(launch, image), `["createImage.AmiId"]`),
			"", "outputs.0", `step "createImage" (aws:createImage) has no output "AmiId"`, 0},
		{"outputs entry without dot", withOutputs(jdoc(launch, image), `["createImage"]`),
			"", "outputs.0", "must be written step.Output", 0},
		{"outputs entry of a step without outputs", withOutputs(jdoc(launch, stop), `["stop.State"]`),
			"", "outputs.0", `step "stop" (aws:changeInstanceState) has no outputs`, 0},
		{"bad allowedPattern", withParams(jdoc(launch), `{"AmiId": {"type": "String", "allowedPattern": "^ami-([a-f0-9]+$"}}`),
			"", "parameters.AmiId.allowedPattern", "allowedPattern \"^ami-([a-f0-9]+$\" does not compile: missing closing )", 0},
		{"default not in allowedValues", withParams(jdoc(launch), `{"AmiId": {"type": "String"}, "Env": {"type": "String", "default": "qa", "allowedValues": ["dev", "prod"]}}`),
			"", "parameters.Env.default", `default "qa" is not one of the allowed values "dev", "prod"`, 0},
		{"default not matching allowedPattern", withParams(jdoc(launch), `{"AmiId": {"type": "String", "default": "img-1", "allowedPattern": "^ami-[a-f0-9]+$"}}`),
			"", "parameters.AmiId.default", `default "img-1" does not match allowedPattern ^ami-[a-f0-9]+$`, 0},
		{"default of the wrong type", withParams(jdoc(launch), `{"AmiId": {"type": "String"}, "Count": {"type": "Integer", "default": "many"}}`),
			"", "parameters.Count.default", `default must be a whole number, but it is the string "many"`, 0},
		{"StringList default not a list", withParams(jdoc(launch), `{"AmiId": {"type": "String"}, "Ids": {"type": "StringList", "default": {"a": 1}}}`),
			"", "parameters.Ids.default", "default must be a list of strings", 0},
		{"unknown parameter type", withParams(jdoc(launch), `{"AmiId": {"type": "Str"}}`),
			"", "parameters.AmiId.type", `unknown type "Str"; did you mean "String"?`, 0},
		{"parameter without type", withParams(jdoc(launch), `{"AmiId": {"description": "x"}}`),
			"", "parameters.AmiId.type", `parameter "AmiId" has no type`, 0},
		{"step output in a parameter default", withParams(jdoc(launch), `{"AmiId": {"type": "String", "default": "{{ launch.InstanceIds }}"}}`),
			"", "parameters.AmiId.default", "step outputs cannot be used in a parameter default", 0},
		{"default refers to itself", withParams(jdoc(launch), `{"AmiId": {"type": "String", "default": "{{ AmiId }}"}}`),
			"", "parameters.AmiId.default", "a default cannot refer to its own parameter", 0},
		{"step output in assumeRole", withField(jdoc(launch), `"assumeRole": "{{ launch.InstanceIds }}"`),
			"", "assumeRole", "step outputs cannot be used in assumeRole", 0},
		{"ssm in assumeRole", withField(jdoc(launch), `"assumeRole": "{{ ssm:/roles/automation }}"`),
			"", "assumeRole", "only allowed in parameter defaults", 0},
		{"undeclared variable", withField(jdoc(`{"name": "set", "action": "aws:updateVariable", "inputs": {"Name": "variable:Count", "Value": 2}}`), `"variables": {"Counter": {"type": "Integer", "default": 1}}`),
			"set", "inputs.Name", `Name names variable "Count", which is not declared in variables; did you mean "Counter"?`, 0},
		{"variable template to unknown variable", withField(jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "{{ variable:Nme }}"}}`), `"variables": {"Name": {"type": "String", "default": "n"}}`),
			"img", "inputs.ImageName", `{{ variable:Nme }} names no variable declared in variables; did you mean "Name"?`, 0},
		{"variable named like a parameter", withField(jdoc(launch), `"variables": {"AmiId": {"type": "String"}}`),
			"", "variables.AmiId", "has the name of a parameter", 0},
		{"bad output declaration", jdoc(`{"name": "api", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages"}, "outputs": [{"Name": "State", "Selector": "Images[0].State", "Type": "String"}]}`),
			"api", "outputs.0.Selector", "must be a JSONPath starting with $", 0},
		{"bad output type", jdoc(`{"name": "api", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages"}, "outputs": [{"Name": "State", "Selector": "$.Images[0].State", "Type": "string"}]}`),
			"api", "outputs.0.Type", `did you mean "String"?`, 0},
		{"executeAwsApi without Api", jdoc(`{"name": "api", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "ImageIds": ["ami-1"]}}`),
			"api", "inputs.Api", `missing required input "Api" for aws:executeAwsApi`, 0},
		{"wait without DesiredValues", jdoc(`{"name": "wait", "action": "aws:waitForAwsResourceProperty", "inputs": {"Service": "ec2", "Api": "DescribeImages", "PropertySelector": "$.Images[0].State"}}`),
			"wait", "inputs.DesiredValues", `missing required input "DesiredValues"`, 0},
		{"loop nested step with unknown action", jdoc(`{"name": "each", "action": "aws:loop", "inputs": {"Iterators": ["a", "b"], "Steps": [{"name": "inner", "action": "aws:slep", "inputs": {"Duration": "PT1S"}}]}}`),
			"each", "inputs.Steps.0.action", `nested step "inner": unknown action "aws:slep"; did you mean "aws:sleep"?`, 0},
		{"loop with both iterators and condition", jdoc(`{"name": "each", "action": "aws:loop", "inputs": {"Iterators": ["a"], "LoopCondition": {"Variable": "{{ Env }}", "StringEquals": "dev"}, "Steps": [{"name": "inner", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}}`),
			"each", "inputs.LoopCondition", "inputs Iterators and LoopCondition cannot be used together", 0},
		{"AMI name too short", jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "ab"}}`),
			"img", "inputs.ImageName", `AMI name "ab" is 2 characters long; EC2 takes 3 to 128`, 0},
		{"AMI name with a character EC2 refuses", jdoc(`{"name": "copy", "action": "aws:copyImage", "inputs": {"SourceRegion": "eu-west-1", "SourceImageId": "ami-1", "ImageName": "golden:2024"}}`),
			"copy", "inputs.ImageName", `AMI name "golden:2024" has ':' at position 7, which EC2 refuses`, 0},
		{"AMI name with a refused character around templates", jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "golden, {{ Env }}"}}`),
			"img", "inputs.ImageName", `has ',' outside its templates`, 0},
		{"AMI name whose literal text is too long", jdoc(`{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "` + strings.Repeat("a", 129) + `{{ Env }}"}}`),
			"img", "inputs.ImageName", `is already 129 characters long; EC2 takes at most 128`, 0},
		{"onCancel to a createImage step", jdoc(launch, `{"name": "stop", "action": "aws:changeInstanceState", "onCancel": "step:createImage", "inputs": {"InstanceIds": "{{ launch.InstanceIds }}", "DesiredState": "stopped"}}`, image),
			"stop", "onCancel", `onCancel jumps to step "createImage", a aws:createImage step; a cancelled run cannot go on to`, 0},
		{"allowedPattern with a brace Java refuses", withParams(jdoc(launch), `{"AmiId": {"type": "String"}, "P": {"type": "String", "allowedPattern": "^{{.*}}$"}}`),
			"", "parameters.P.allowedPattern", `{ at position 2 does not begin a repeat count`, 0},
		{"allowedPattern with an escape no engine reads", withParams(jdoc(launch), `{"AmiId": {"type": "String"}, "P": {"type": "String", "allowedPattern": "^\\y$"}}`),
			"", "parameters.P.allowedPattern", `does not compile: unrecognized escape sequence \y`, 0},
		{"AWS resource type for a variable", withField(jdoc(launch), `"variables": {"Role": {"type": "AWS::IAM::Role::Arn"}}`),
			"", "variables.Role.type", `unknown type "AWS::IAM::Role::Arn"`, 0},
		{"AWS resource type default of the wrong kind", withParams(jdoc(launch), `{"AmiId": {"type": "String"}, "Ids": {"type": "List<AWS::EC2::Instance::Id>", "default": {"a": "b"}}}`),
			"", "parameters.Ids.default", `must be a list of strings`, 0},
	}
	if len(cases) < 30 {
		t.Fatalf("the corpus must hold at least 30 bad documents, it has %d", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseJSON([]byte(tc.text))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			ps := Validate(d)
			want := max(tc.count, 1)
			if len(ps) != want {
				t.Errorf("want %d problem(s), got %d: %v", want, len(ps), ps)
			}
			for _, p := range ps {
				if p.Step == tc.step && strings.Join(p.Path, ".") == tc.path && strings.Contains(p.Message, tc.msg) {
					if p.Step != "" && (p.StepIndex < 0 || d.MainSteps[p.StepIndex].Name != p.Step) {
						t.Errorf("StepIndex %d does not point at step %q", p.StepIndex, p.Step)
					}
					if p.Step == "" && tc.path != "name" && p.StepIndex != -1 {
						t.Errorf("document problem has StepIndex %d, want -1", p.StepIndex)
					}
					if p.Pos.Line == 0 {
						t.Errorf("problem has no position: %v", p)
					}
					return
				}
			}
			t.Errorf("no problem with step %q, path %q and message containing %q; got:\n%v", tc.step, tc.path, tc.msg, problemsText(ps))
		})
	}
}

func problemsText(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.Error() + "  [path " + strings.Join(p.Path, ".") + "]\n")
	}
	return b.String()
}

func TestProblemPositionAndError(t *testing.T) {
	text := jdoc(launch, `{"name": "stop", "action": "aws:changeInstanceState",
      "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "stop"}}`)
	d, err := ParseJSON([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ps := Validate(d)
	if len(ps) != 1 {
		t.Fatalf("want 1 problem, got %v", ps)
	}
	want := `line 10, column 63: step "stop": inputs.DesiredState: bad value "stop" for DesiredState; did you mean "stopped"? (allowed values: running, stopped, terminated)`
	if got := ps[0].Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if ps[0].StepIndex != 1 {
		t.Errorf("StepIndex = %d, want 1", ps[0].StepIndex)
	}
}

func TestProblemErrorWithoutPosition(t *testing.T) {
	p := Problem{Step: "s", StepIndex: 0, Path: []string{"inputs", "ImageId"}, Message: "bad"}
	if got, want := p.Error(), `step "s": inputs.ImageId: bad`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	p = Problem{StepIndex: -1, Path: []string{"schemaVersion"}, Message: "bad"}
	if got, want := p.Error(), `schemaVersion: bad`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidateGoodDocuments(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*")
	if err != nil || len(files) < 7 {
		t.Fatalf("want the good documents in testdata/good, got %v (%v)", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(b)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if ps := Validate(d); len(ps) != 0 {
				t.Errorf("want no problems, got:\n%s", problemsText(ps))
			}
		})
	}
}

// TestValidateLoopDocument checks that steps nested in aws:loop may use each
// other's outputs and the loop's own.
func TestValidateLoopDocument(t *testing.T) {
	text := `
schemaVersion: '0.3'
parameters:
  Ids: {type: StringList}
mainSteps:
- name: stopAll
  action: aws:loop
  inputs:
    Iterators: "{{ Ids }}"
    IteratorDataType: String
    Steps:
    - name: stopOne
      action: aws:changeInstanceState
      inputs:
        InstanceIds: ["{{ stopAll.CurrentIteratorValue }}"]
        DesiredState: stopped
    - name: nap
      action: aws:sleep
      inputs: {Duration: PT10S}
- name: retry
  action: aws:loop
  inputs:
    Steps:
    - name: invoke
      action: aws:invokeLambdaFunction
      inputs: {FunctionName: f}
      outputs:
      - {Name: ShouldRetry, Selector: $.Retry, Type: Boolean}
    LoopCondition:
      Variable: "{{ invoke.ShouldRetry }}"
      BooleanEquals: true
    MaxIterations: 3
- name: after
  action: aws:sleep
  inputs:
    Duration: PT1S
  nextStep: nap
`
	d, err := ParseYAML([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if ps := Validate(d); len(ps) != 0 {
		t.Errorf("want no problems, got:\n%s", problemsText(ps))
	}
}

func TestValidateNilAndHCLDocuments(t *testing.T) {
	if ps := Validate(nil); len(ps) != 1 {
		t.Errorf("Validate(nil) = %v", ps)
	}
	// A document built in Go, as the provider builds it from HCL: native Go
	// types inside inputs, no positions.
	d := &Document{
		SchemaVersion: "0.3",
		Parameters:    []Parameter{{Name: "AmiId", Type: "String"}},
		MainSteps: []Step{
			{Name: "launch", Action: "aws:runInstances", Inputs: map[string]any{"ImageId": "{{ AmiId }}", "MinInstanceCount": 1}},
			{Name: "stop", Action: "aws:changeInstanceState", Inputs: map[string]any{"InstanceIds": []string{"{{ launch.InstanceIds }}"}, "DesiredState": "halted"}},
		},
	}
	ps := Validate(d)
	if len(ps) != 1 || ps[0].Step != "stop" || strings.Join(ps[0].Path, ".") != "inputs.DesiredState" || ps[0].Pos != (Pos{}) {
		t.Fatalf("got %v", ps)
	}
}

// TestBadFiles checks the bad documents kept as files: each fails to parse or
// to validate, at the expected line, with the expected words.
func TestBadFiles(t *testing.T) {
	cases := map[string]struct {
		line int
		msg  string
	}{
		"patch-ami-as-published.json": {76, `"inputs" of step "createTags" must be an object ({ ... })`},
		"trailing-comma.json":         {7, "a comma (,) before } is not allowed in JSON"},
		"later-step-output.json":      {8, `refers to step "launch", which comes later (step 2)`},
		"bad-indentation.yaml":        {5, "check the indentation of this line"},
		"inputs-as-list.yaml":         {9, `"inputs" of step "tagImage" must be a mapping (key: value lines), but it is a list`},
		"unknown-action.yaml":         {4, `unknown action "aws:runInstance"; did you mean "aws:runInstances"?`},
	}
	files, _ := filepath.Glob("testdata/bad/*")
	if len(files) != len(cases) {
		t.Errorf("testdata/bad has %d files, the table %d", len(files), len(cases))
	}
	for _, f := range files {
		tc, ok := cases[filepath.Base(f)]
		if !ok {
			t.Errorf("no expectation for %s", f)
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Parse(b)
		var msg string
		var line int
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%s: %v is not a SyntaxError", f, err)
			}
			msg, line = err.Error(), se.Line
		} else if ps := Validate(d); len(ps) > 0 {
			msg, line = ps[0].Error(), ps[0].Pos.Line
		}
		if line != tc.line || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: got line %d %q; want line %d and %q", filepath.Base(f), line, msg, tc.line, tc.msg)
		}
	}
}

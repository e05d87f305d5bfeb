package document

import (
	"strings"
	"testing"
)

// What SSM accepts and the document model once refused: each document here
// validates with no errors, and with exactly the warnings listed.
func TestValidateAcceptsWhatSSMAccepts(t *testing.T) {
	cases := []struct {
		name     string
		text     string
		warnings []string // "path: message part", in order
	}{
		{"AWS resource parameter types", `
schemaVersion: '0.3'
assumeRole: '{{ Role }}'
parameters:
  Role: {type: 'AWS::IAM::Role::Arn', default: ''}
  Bucket: {type: 'AWS::S3::Bucket::Name', default: my-bucket}
  Instance: {type: 'AWS::EC2::Instance::Id'}
  Instances: {type: 'List<AWS::EC2::Instance::Id>', default: [i-1, i-2]}
  Roles: {type: 'List<AWS::IAM::Role::Arn>', default: []}
  Buckets: {type: 'List<AWS::S3::Bucket::Name>', maxItems: 2}
mainSteps:
- name: stop
  action: aws:changeInstanceState
  inputs: {InstanceIds: '{{ Instances }}', DesiredState: stopped}
`, nil},
		{"allowedPattern in Java's syntax", `
schemaVersion: '0.3'
parameters:
  Long: {type: String, allowedPattern: '^[a-z0-9-]{1,2048}$', default: abc}
  Ahead: {type: String, allowedPattern: '(?=^.{3,63}$)(?!^(\d+\.)+\d+$)^[a-z0-9.-]+$', default: my.bucket}
  Behind: {type: String, allowedPattern: '^(?!.*--)[a-z][a-z0-9-]{0,62}(?<!-)$', default: cluster-1}
  Again: {type: String, allowedPattern: '^(\w)\1$', default: aa}
  Possessive: {type: String, allowedPattern: '^a*+b$', default: aab}
  Quoted: {type: String, allowedPattern: '^\Q1.0\E$', default: '1.0'}
  Posix: {type: String, allowedPattern: '^\p{Lower}[\p{Alnum}_]*$', default: a_1}
mainSteps:
- {name: wait, action: aws:sleep, inputs: {Duration: PT1S}}
`, nil},
		{"a Java property the local check cannot read", `
schemaVersion: '0.3'
parameters:
  Name: {type: String, allowedPattern: '^\p{javaLowerCase}+$', default: abc}
mainSteps:
- {name: wait, action: aws:sleep, inputs: {Duration: PT1S}}
`, []string{`parameters.Name.allowedPattern: are not checked against allowedPattern "^\\p{javaLowerCase}+$" before the run: it uses the character property javaLowerCase`}},
		{"scalars written as text", `
schemaVersion: '0.3'
parameters:
  Count: {type: Integer, default: '2'}
  Reboot: {type: Boolean, default: 'True'}
mainSteps:
- name: launch
  action: aws:runInstances
  maxAttempts: '3'
  timeoutSeconds: '600'
  isCritical: 'true'
  inputs: {ImageId: ami-1, MinInstanceCount: '1', EbsOptimized: 'false'}
- name: img
  action: aws:createImage
  isEnd: 'TRUE'
  inputs: {InstanceId: '{{ launch.InstanceIds }}', ImageName: golden-1, NoReboot: '{{ Reboot }}'}
`, []string{
			`maxAttempts: "maxAttempts" of step "launch" is the text "3", where a number belongs; SSM reads it as the number 3`,
			`timeoutSeconds: is the text "600"`,
			`isCritical: "isCritical" of step "launch" is the text "true", where a boolean belongs; SSM reads it as true`,
			`isEnd: is the text "TRUE"`,
			`parameters.Count.default: default is the string "2", text where a number belongs; SSM reads it as the number 2`,
			`parameters.Reboot.default: default is the string "True", text where a boolean belongs; SSM reads it as true`,
			`inputs.EbsOptimized: EbsOptimized is the string "false", text where a boolean belongs`,
			`inputs.MinInstanceCount: MinInstanceCount is the string "1", text where a number belongs`,
		}},
		{"an object for a String input", `{
  "schemaVersion": "0.3",
  "mainSteps": [{"name": "call", "action": "aws:invokeLambdaFunction", "inputs": {"FunctionName": "f", "Payload": {}}}]
}`, []string{`inputs.Payload: Payload is an object where a string belongs; SSM passes it as its JSON text`}},
		{"an output without Type", `{
  "schemaVersion": "0.3",
  "mainSteps": [{"name": "get", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeVpcs"},
    "outputs": [{"Name": "VpcId", "Selector": "$.Vpcs[0].VpcId"}]}],
  "outputs": ["get.VpcId"]
}`, []string{`outputs.0.Type: output "VpcId" has no Type; SSM reads it as a String`}},
		{"a Maintenance Windows pseudo parameter", `{
  "schemaVersion": "0.3",
  "parameters": {"InstanceId": {"type": "String", "default": "{{TARGET_ID}}"}},
  "mainSteps": [{"name": "run", "action": "aws:runCommand", "inputs": {"DocumentName": "AWS-RunShellScript", "InstanceIds": ["{{ RESOURCE_ID }}"], "Parameters": {"commands": ["{{ InstanceId }}"]}}}]
}`, []string{
			`parameters.InstanceId.default: {{TARGET_ID}} is a Maintenance Windows pseudo parameter`,
			`inputs.InstanceIds.0: {{ RESOURCE_ID }} is a Maintenance Windows pseudo parameter`,
		}},
		{"Boolean allowedValues written in YAML's capitals", `
schemaVersion: '0.3'
parameters:
  ApplyImmediately: {type: Boolean, default: False, allowedValues: [True, False]}
mainSteps:
- {name: wait, action: aws:sleep, inputs: {Duration: PT1S}}
`, nil},
		{"a valid literal AMI name with every character EC2 takes", `{
  "schemaVersion": "0.3",
  "mainSteps": [{"name": "img", "action": "aws:createImage", "inputs": {"InstanceId": "i-1", "ImageName": "Golden (v1) [x86_64] ./-'@_ build"}}]
}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(strings.TrimLeft(tc.text, "\n")))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			ps := Validate(d)
			if errs := Errors(ps); len(errs) > 0 {
				t.Fatalf("want no errors, got:\n%s", problemsText(errs))
			}
			ws := Warnings(ps)
			if len(ws) != len(tc.warnings) {
				t.Fatalf("want %d warnings, got %d:\n%s", len(tc.warnings), len(ws), problemsText(ws))
			}
			for i, want := range tc.warnings {
				path, msg, _ := strings.Cut(want, ": ")
				got := ws[i]
				if strings.Join(got.Path, ".") != path || !strings.Contains(got.Message, msg) {
					t.Errorf("warning %d = %v (path %s), want path %s and message containing %q", i+1, got, strings.Join(got.Path, "."), path, msg)
				}
				if got.Pos.Line == 0 {
					t.Errorf("warning %d has no position: %v", i+1, got)
				}
				if !got.IsWarning() {
					t.Errorf("warning %d is not marked as one", i+1)
				}
			}
		})
	}
}

func TestParameterValuesOfAWSResourceTypes(t *testing.T) {
	d, err := Parse([]byte(`
schemaVersion: '0.3'
parameters:
  Instance: {type: 'AWS::EC2::Instance::Id'}
  Instances: {type: 'List<AWS::EC2::Instance::Id>', maxItems: 2}
  Bucket: {type: 'AWS::S3::Bucket::Name', allowedPattern: '^[a-z0-9.-]{3,63}$'}
mainSteps:
- {name: wait, action: aws:sleep, inputs: {Duration: PT1S}}
`))
	if err != nil {
		t.Fatal(err)
	}
	values, ps := ParameterValues(d, map[string]string{"Instance": "i-1", "Instances": "i-1, i-2", "Bucket": "my-bucket"})
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	if values["Instance"] != "i-1" {
		t.Errorf("Instance = %#v", values["Instance"])
	}
	if l, ok := values["Instances"].([]any); !ok || len(l) != 2 || l[1] != "i-2" {
		t.Errorf("Instances = %#v, want a list of 2", values["Instances"])
	}
	_, ps = ParameterValues(d, map[string]string{"Instance": "i-1", "Instances": "i-1,i-2,i-3", "Bucket": "Not_A_Bucket"})
	text := problemsText(ps)
	for _, want := range []string{"has 3 items, more than maxItems 2", `"Not_A_Bucket" does not match allowedPattern`} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
}

func TestAllowedPatternCannotHang(t *testing.T) {
	d, err := Parse([]byte(`
schemaVersion: '0.3'
parameters:
  Name: {type: String, allowedPattern: '^(a+)+$'}
mainSteps:
- {name: wait, action: aws:sleep, inputs: {Duration: PT1S}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, ps := ParameterValues(d, map[string]string{"Name": strings.Repeat("a", 64) + "!"})
	if len(Errors(ps)) != 0 || len(Warnings(ps)) != 1 || !strings.Contains(ps[0].Message, "was not checked against allowedPattern") {
		t.Fatalf("want one warning that the value was not checked, got %v", ps)
	}
}

func TestJavaPatternSyntax(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		ok      bool // compiles and values are checked
		warn    bool // accepted, values unchecked
	}{
		{`^[a-z]{0,1024}$`, true, false},
		{`a{2,}`, true, false},
		{`[{}]`, true, false},
		{`\{x\}`, true, false},
		{`\Q{x}\E`, true, false},
		{`\p{Alpha}\P{Digit}\h`, true, false},
		{`[\P{Digit}]`, false, true},
		{`[a-z&&[^aeiou]]`, false, true},
		{`(?d)^x$`, false, true},
		{`\v+\V`, true, false},
		{`\N{LATIN SMALL LETTER A}`, false, true},
		{`x\b{g}`, false, true},
		{`x{`, false, false},
		{`{x}`, false, false},
		{`a{,3}`, false, false},
		{`(`, false, false},
		{`[z-a]`, false, false},
	} {
		c := compileAllowedPattern(tc.pattern)
		switch {
		case tc.ok && c.re == nil:
			t.Errorf("%s: want a compiled pattern, got err %v, unchecked %q", tc.pattern, c.err, c.unchecked)
		case tc.warn && (c.unchecked == "" || c.err != nil):
			t.Errorf("%s: want accepted but unchecked, got err %v, unchecked %q", tc.pattern, c.err, c.unchecked)
		case !tc.ok && !tc.warn && c.err == nil:
			t.Errorf("%s: want an error", tc.pattern)
		}
	}
	c := compileAllowedPattern(`^\p{Punct}+$`)
	for s, want := range map[string]bool{"!-~": true, "a": false, "{}": true} {
		if got, _ := c.match(s); got != want {
			t.Errorf(`\p{Punct} matches %q = %t, want %t`, s, got, want)
		}
	}
}

func TestCheckImageName(t *testing.T) {
	for name, want := range map[string]string{
		"abc":                    "",
		"Golden (v1) [x] ./-'@_": "",
		strings.Repeat("a", 128): "",
		"ab":                     "is 2 characters long; EC2 takes 3 to 128",
		strings.Repeat("a", 129): "is 129 characters long",
		"golden:1":               "has ':' at position 7",
		"é-image":                "has 'é' at position 1",
		"a,b,c":                  "has ','",
	} {
		err := CheckImageName(name)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", name, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: got %v, want %q", name, err, want)
		}
	}
}

func TestCoerceObjectToString(t *testing.T) {
	v, err := Coerce(map[string]any{"b": int64(1), "a": "x"}, TypeString)
	if err != nil || v != `{"a":"x","b":1}` {
		t.Fatalf("Coerce = %#v, %v", v, err)
	}
}

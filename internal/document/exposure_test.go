package document

import (
	"strings"
	"testing"
)

const exposureDoc = `
schemaVersion: '0.3'
parameters:
  token: {type: String}
  region: {type: String, default: eu-west-1}
  label: {type: String, default: "built-with-{{ token }}"}
  labelAgain: {type: String, default: "{{ label }}-2"}
mainSteps:
- name: launch
  action: aws:runInstances
  inputs:
    ImageId: ami-1
    UserData: "{{ token }}"
    TagSpecifications: [{ResourceType: instance, Tags: [{Key: Name, Value: "builder-{{ region }}"}]}]
- name: fetch
  action: aws:executeAwsApi
  inputs: {Service: ssm, Api: GetParameter, Name: /app/db, WithDecryption: true}
  outputs:
  - {Name: Value, Selector: $.Parameter.Value, Type: String}
  - {Name: Version, Selector: $.Parameter.Version, Type: Integer}
- name: image
  action: aws:createImage
  inputs: {InstanceId: "{{ launch.InstanceIds }}", ImageName: "golden-{{ region }}-{{ fetch.Version }}"}
`

func TestSecretExposuresNone(t *testing.T) {
	d, err := ParseYAML([]byte(exposureDoc))
	if err != nil {
		t.Fatal(err)
	}
	// The token goes into user data (not readable by Describe calls) and
	// nowhere else; the ids that launch outputs do not carry it.
	if ps := SecretExposures(d, []string{"token"}, nil); len(ps) != 0 {
		t.Errorf("unexpected problems: %v", ps)
	}
	if ps := SecretExposures(d, nil, nil); len(ps) != 0 {
		t.Errorf("nothing sensitive, but: %v", ps)
	}
}

func TestSecretExposures(t *testing.T) {
	cases := []struct {
		name   string
		step   string // appended to exposureDoc
		given  []string
		path   string // of the one problem; "" for none
		phrase []string
	}{
		{"image name", `
- name: bad
  action: aws:createImage
  inputs: {InstanceId: i-1, ImageName: "golden-{{ token }}"}`, nil, "inputs.ImageName",
			[]string{`step "bad"`, `sensitive parameter "token"`, "ec2:DescribeImages"}},
		{"image description through two defaults", `
- name: bad
  action: aws:createImage
  inputs: {InstanceId: i-1, ImageName: img-x, ImageDescription: "{{ labelAgain }}"}`, nil, "inputs.ImageDescription",
			[]string{`parameter "labelAgain", whose default uses parameter "label", whose default uses sensitive parameter "token"`}},
		{"a given value replaces the default", `
- name: fine
  action: aws:createImage
  inputs: {InstanceId: i-1, ImageName: img-x, ImageDescription: "{{ label }}"}`, []string{"label"}, "", nil},
		{"copy name", `
- name: bad
  action: aws:copyImage
  inputs: {SourceImageId: ami-1, SourceRegion: eu-west-1, ImageName: "{{ token }}"}`, nil, "inputs.ImageName", nil},
		{"tag", `
- name: bad
  action: aws:createTags
  inputs: {ResourceIds: [ami-1], Tags: [{Key: pw, Value: "{{ token }}"}]}`, nil, "inputs.Tags", []string{"ec2:DescribeTags"}},
		{"tag at launch", `
- name: bad
  action: aws:runInstances
  inputs: {ImageId: ami-1, TagSpecifications: [{ResourceType: instance, Tags: [{Key: pw, Value: "{{ label }}"}]}]}`, nil, "inputs.TagSpecifications", nil},
		{"command parameters", `
- name: bad
  action: aws:runCommand
  inputs: {DocumentName: AWS-RunShellScript, InstanceIds: [i-1], Parameters: {commands: ["echo {{ token }} > /etc/app"]}}`, nil, "inputs.Parameters",
			[]string{"ssm:ListCommands", "SecureString", "aws ssm get-parameter --with-decryption"}},
		{"command comment", `
- name: bad
  action: aws:runCommand
  inputs: {DocumentName: AWS-RunShellScript, InstanceIds: [i-1], Comment: "{{ token }}", Parameters: {commands: [true]}}`, nil, "inputs.Comment", nil},
		{"a secret an API returned", `
- name: bad
  action: aws:createTags
  inputs: {ResourceIds: [ami-1], Tags: [{Key: db, Value: "{{ fetch.Value }}"}]}`, nil, "inputs.Tags",
			[]string{"step output fetch.Value, which holds the secret that ssm GetParameter returns"}},
		{"what a command made of a secret", `
- name: run
  action: aws:invokeLambdaFunction
  inputs: {FunctionName: f, Payload: "{{ token }}"}
- name: bad
  action: aws:createImage
  inputs: {InstanceId: i-1, ImageName: "x-{{ run.Payload }}-{{ run.StatusCode }}"}`, nil, "inputs.ImageName",
			[]string{`step output run.Payload, which holds what step "run" made of sensitive parameter "token"`}},
		{"an id a step made", `
- name: bad
  action: aws:createImage
  inputs: {InstanceId: i-1, ImageName: "x-{{ launch.InstanceIds }}"}`, nil, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseYAML([]byte(exposureDoc + tc.step))
			if err != nil {
				t.Fatal(err)
			}
			if ps := Validate(d); len(ps) != 0 {
				t.Fatalf("document problems: %v", ps)
			}
			ps := SecretExposures(d, []string{"token"}, tc.given)
			if tc.path == "" {
				if len(ps) != 0 {
					t.Errorf("unexpected problems: %v", ps)
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("want one problem, got %v", ps)
			}
			p := ps[0]
			if strings.Join(p.Path, ".") != tc.path || p.StepIndex != len(d.MainSteps)-1 || p.Pos.Line == 0 {
				t.Errorf("problem at %v (step %d, %v), want %s on the last step", p.Path, p.StepIndex, p.Pos, tc.path)
			}
			for _, phrase := range tc.phrase {
				if !strings.Contains(p.Error(), phrase) {
					t.Errorf("%q not in: %s", phrase, p.Error())
				}
			}
		})
	}
}

func TestSelectsSecret(t *testing.T) {
	fields := []string{"$.Parameters[*].Value"}
	for sel, want := range map[string]bool{
		"$.Parameters[0].Value":   true,
		"Parameters[*].Value":     true,
		"$.Parameters":            true,
		"$.Parameters[1]":         true,
		"$":                       true,
		"$..Value":                true,
		"$.Parameters[0].*":       true,
		"$.Parameters[0].Name":    false,
		"$.Parameters[0].Version": false,
		"$.InvalidParameters":     false,
	} {
		if got := selectsSecret(sel, fields); got != want {
			t.Errorf("selectsSecret(%q) = %t, want %t", sel, got, want)
		}
	}
}

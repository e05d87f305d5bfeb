package document

import (
	"strings"
	"testing"
)

func TestAdviceCommandOnBuilderWithoutProfile(t *testing.T) {
	doc := func(launchInputs string) *Document {
		d, err := ParseJSON([]byte(`{"schemaVersion": "0.3", "mainSteps": [
  {"name": "launch", "action": "aws:runInstances", "inputs": ` + launchInputs + `},
  {"name": "update", "action": "aws:runCommand", "inputs": {"DocumentName": "AWS-RunShellScript",
    "InstanceIds": ["{{ launch.InstanceIds }}"], "Parameters": {"commands": ["yum -y update"]}}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	got := Advice(doc(`{"ImageId": "ami-1"}`))
	if len(got) != 1 || got[0].Step != "update" || !strings.Contains(got[0].Message, `step "launch", which launches them without an instance profile`) {
		t.Errorf("advice %v", got)
	}
	for _, in := range []string{`{"ImageId": "ami-1", "IamInstanceProfileName": "builder"}`, `{"ImageId": "ami-1", "IamInstanceProfileArn": "{{ Profile }}"}`} {
		if got := Advice(doc(in)); len(got) != 0 {
			t.Errorf("advice for %s: %v", in, got)
		}
	}
}

package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

// The fault matrix's cases for CloudFormation stacks, the resources besides
// instances, images and snapshots that a run creates: a bake that launches a
// builder, creates a stack, images the builder and terminates it, every step
// Abort. Faults hit the createStack step's calls, and DeleteStack when the
// cleanup of a failed run deletes the stack. Besides the matrix's own checks,
// no stack of a failed bake may be left unless the failure says so.

func init() {
	mutating["CreateStack"] = true
	mutating["DeleteStack"] = true
}

// stackPipeline is the stack recipe's step under fault and the calls it makes.
var stackPipeline = []struct {
	step string
	ops  []string
}{
	{"createStack", []string{"CreateStack", "DescribeStacks"}},
}

func stackMatrixCases() []matrixCase {
	var cases []matrixCase
	for _, ps := range stackPipeline {
		for _, op := range ps.ops {
			for _, kind := range faultKinds {
				c := matrixCase{
					name: fmt.Sprintf("stack/%s/%s/%s", ps.step, op, kind), recipe: "stack",
					abort: true, step: ps.step, op: op, kind: kind, wantSuccess: kind == kindThrottle,
				}
				if kind == kindTimeout {
					c.timeoutSeconds = 1
				}
				step, op, kind := ps.step, op, kind
				c.rules = func(h *caseHooks) []faults.Rule { return kindRules(h, kind, op, h.during(step)) }
				cases = append(cases, c)
			}
		}
	}
	// DeleteStack in the cleanup of a run that failed at createImage.
	for _, kind := range append(slices.Clone(faultKinds), kindDenied) {
		c := matrixCase{
			name: "stack/cleanup/DeleteStack/" + kind, recipe: "stack",
			abort: true, op: "DeleteStack", kind: kind, failAt: "createImage",
		}
		if kind == kindTimeout {
			c.cleanupTimeout = time.Second
		}
		kind := kind
		c.rules = func(h *caseHooks) []faults.Rule {
			fail := faults.FailCalls("CreateImage", 1, -1, "UnauthorizedOperation", 403).Only(h.during("createImage"))
			return append([]faults.Rule{fail}, kindRules(h, kind, "DeleteStack", h.during(""))...)
		}
		cases = append(cases, c)
	}
	return cases
}

// matrixDocument is the recipe a case bakes.
func matrixDocument(t *testing.T, c matrixCase) *document.Document {
	if c.recipe == "stack" {
		return stackDocument(t, c.step, c.timeoutSeconds)
	}
	return patchDocument(t, c.abort, c.step, c.timeoutSeconds)
}

// stackDocument takes the patch pipeline's parameter (sourceAMIid) and names
// its image step createImage, so that the matrix bakes it alike.
func stackDocument(t *testing.T, step string, timeoutSeconds int64) *document.Document {
	t.Helper()
	doc, err := document.Parse([]byte(`{
  "schemaVersion": "0.3",
  "parameters": {"sourceAMIid": {"type": "String"}},
  "mainSteps": [
    {"name": "startInstances", "action": "aws:runInstances", "inputs": {"ImageId": "{{ sourceAMIid }}", "InstanceType": "t3.micro"}},
    {"name": "createStack", "action": "aws:createStack", "inputs": {"StackName": "matrix-{{ automation:EXECUTION_ID }}",
      "TemplateBody": "{\"Resources\": {\"Topic\": {\"Type\": \"AWS::SNS::Topic\"}}}"}},
    {"name": "createImage", "action": "aws:createImage", "inputs": {"InstanceId": "{{ startInstances.InstanceIds }}", "ImageName": "matrix-{{ automation:EXECUTION_ID }}"}},
    {"name": "terminateInstance", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": ["{{ startInstances.InstanceIds }}"], "DesiredState": "terminated"}}
  ]
}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := range doc.MainSteps {
		if s := &doc.MainSteps[i]; s.Name == step && timeoutSeconds > 0 {
			s.TimeoutSeconds = &timeoutSeconds
		}
	}
	return doc
}

// checkStackLeaks asks the emulator for the stacks a case's bake made: a
// successful bake keeps its one stack (the document's product, removed here);
// a failed one may keep none that its error does not name.
func checkStackLeaks(t *testing.T, c *awsx.Clients, marker string, rec bakeRecord, report func() string) {
	t.Helper()
	out, err := c.CloudFormation.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{})
	if err != nil {
		t.Fatalf("DescribeStacks: %v", err)
	}
	var live []string
	for _, s := range out.Stacks {
		if s.StackStatus == cfntypes.StackStatusDeleteComplete {
			continue
		}
		for _, tg := range s.Tags {
			if aws.ToString(tg.Key) == matrixTag && aws.ToString(tg.Value) == marker {
				live = append(live, aws.ToString(s.StackId))
			}
		}
	}
	switch {
	case rec.err == nil && len(live) != 1:
		t.Errorf("a successful bake should keep its 1 stack, found %v\n%s", live, report())
	case rec.err != nil:
		for _, id := range live {
			if !strings.Contains(rec.err.Error(), id) {
				t.Errorf("stack %s was left behind and not reported\n%s", id, report())
			}
		}
		matrixTally.Lock()
		matrixTally.stacks += len(live)
		matrixTally.Unlock()
	}
	for _, id := range live {
		if _, err := c.CloudFormation.DeleteStack(context.Background(), &cloudformation.DeleteStackInput{StackName: aws.String(id)}); err != nil {
			t.Errorf("deleting stack %s: %v", id, err)
		}
	}
}

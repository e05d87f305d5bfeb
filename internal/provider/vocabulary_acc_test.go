package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// Acceptance tests of the actions beyond the AMI pipeline: runbook variables,
// loops, secondary automations, scripts, CloudFormation stacks and the AWS
// APIs of the services published documents call. Recipes are SSM JSON
// documents, written to a file and given as document = file(...).

// docFile writes an Automation document for one test and returns its path.
func docFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "recipe.json")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// vocabDoc is a document that launches a builder, runs middle (JSON step
// objects, comma-separated), images the builder as "vocab-<name>" and
// terminates it. extra holds more top-level members ("variables": ...).
func vocabDoc(name, extra, middle string) string {
	if extra != "" {
		extra += ",\n"
	}
	if middle != "" {
		middle += ",\n"
	}
	return fmt.Sprintf(`{
  "schemaVersion": "0.3",
  "parameters": {"RunId": {"type": "String"}},
  %s"mainSteps": [
    {"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": %q, "InstanceType": "t3.micro"}},
    %s{"name": "image", "action": "aws:createImage", "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "vocab-%s"}},
    {"name": "terminate", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "terminated"}}
  ]
}`, extra, sourceAMI, middle, name)
}

// markedImage is an amibake_image of the document at path, with every
// resource the bake creates tagged test=marker.
func markedImage(marker, path, params string) string {
	return config(fmt.Sprintf(`
provider "amibake" {
  default_tags {
    tags = { test = %q }
  }
}

resource "amibake_image" "vocab" {
  document   = file(%q)
  parameters = %s
}
`, marker, path, params))
}

// checkNothingLeft asks the emulator, after a failed bake, that it left no
// running builder, image or snapshot tagged test=marker.
func checkNothingLeft(t *testing.T, marker string, launched int) func() {
	return func() {
		if n := len(instancesTagged(t, "test", marker)); n != launched {
			t.Errorf("want the %d builder instance(s) of the failed run, found %d", launched, n)
		}
		if ids := liveInstances(t, "test", marker); len(ids) > 0 {
			t.Errorf("builder instances left running after the failed bake: %v", ids)
		}
		if imgs := imagesTagged(t, "test", marker); len(imgs) > 0 {
			t.Errorf("images left after the failed bake: %d", len(imgs))
		}
		if snaps := snapshotsTagged(t, "test", marker); len(snaps) > 0 {
			t.Errorf("snapshots left after the failed bake: %v", snaps)
		}
	}
}

// failingBake is a test case whose only step fails the apply with want, then
// checks that the failed bake left nothing.
func failingBake(t *testing.T, cfg, marker, want string, launched int, precheck func()) resource.TestCase {
	return resource.TestCase{
		PreCheck: func() {
			testAccPreCheck(t)
			if precheck != nil {
				precheck()
			}
		},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg, ExpectError: regexp.MustCompile(want)},
			{Config: config(`# empty`), PlanOnly: true, PreConfig: checkNothingLeft(t, marker, launched)},
		},
	}
}

func instanceTags(t *testing.T, key, value string) map[string]string {
	t.Helper()
	insts := instancesTagged(t, key, value)
	if len(insts) != 1 {
		t.Fatalf("want 1 instance tagged %s=%s, found %d", key, value, len(insts))
	}
	return tagMap(insts[0].Tags)
}

// TestAccImage_variablesLoopsAndServices bakes with runbook variables, a
// for-each loop whose nested steps tag the builder and create SNS topics, and
// executeAwsApi, wait and assert steps on S3, SNS, KMS, autoscaling, ELBv2
// and CloudFormation.
func TestAccImage_variablesLoopsAndServices(t *testing.T) {
	run := fmt.Sprint(testRunID())
	marker := "vocab-" + run
	var executions []string
	doc := vocabDoc("{{ variable:Colour }}-{{ RunId }}", `"variables": {"Colour": {"type": "String", "default": "none"}, "Tagged": {"type": "Integer", "default": 0}}`, `
    {"name": "bucket", "action": "aws:executeAwsApi", "inputs": {"Service": "s3", "Api": "CreateBucket", "Bucket": "vocab-{{ RunId }}"},
     "outputs": [{"Name": "Location", "Selector": "$.Location", "Type": "String"}]},
    {"name": "paint", "action": "aws:loop", "inputs": {
      "Iterators": ["blue", "green"],
      "Steps": [
        {"name": "tagOne", "action": "aws:createTags", "inputs": {"ResourceIds": ["{{ launch.InstanceIds }}"],
          "Tags": [{"Key": "colour-{{ paint.CurrentIteration }}", "Value": "{{ paint.CurrentIteratorValue }}"}]}},
        {"name": "topic", "action": "aws:executeAwsApi", "inputs": {"Service": "sns", "Api": "CreateTopic", "Name": "vocab-{{ RunId }}-{{ paint.CurrentIteratorValue }}"},
          "outputs": [{"Name": "Arn", "Selector": "$.TopicArn", "Type": "String"}]},
        {"name": "remember", "action": "aws:updateVariable", "inputs": {"Name": "variable:Colour", "Value": "{{ paint.CurrentIteratorValue }}"}},
        {"name": "count", "action": "aws:updateVariable", "inputs": {"Name": "variable:Tagged", "Value": "{{ paint.CurrentIteration }}"}}
      ]}},
    {"name": "key", "action": "aws:executeAwsApi", "inputs": {"Service": "kms", "Api": "CreateKey", "Description": "vocab {{ RunId }}"},
     "outputs": [{"Name": "KeyId", "Selector": "$.KeyMetadata.KeyId", "Type": "String"}]},
    {"name": "keyEnabled", "action": "aws:waitForAwsResourceProperty", "inputs": {"Service": "kms", "Api": "DescribeKey", "KeyId": "{{ key.KeyId }}",
      "PropertySelector": "$.KeyMetadata.KeyState", "DesiredValues": ["Enabled"]}},
    {"name": "bucketThere", "action": "aws:assertAwsResourceProperty", "inputs": {"Service": "s3", "Api": "ListObjectsV2", "Bucket": "vocab-{{ RunId }}",
      "PropertySelector": "$.Name", "DesiredValues": ["vocab-{{ RunId }}"]}},
    {"name": "topicThere", "action": "aws:assertAwsResourceProperty", "inputs": {"Service": "sns", "Api": "GetTopicAttributes", "TopicArn": "{{ topic.Arn }}",
      "PropertySelector": "$.Attributes.TopicArn", "DesiredValues": ["{{ topic.Arn }}"]}},
    {"name": "groups", "action": "aws:executeAwsApi", "inputs": {"Service": "autoscaling", "Api": "DescribeAutoScalingGroups"},
     "outputs": [{"Name": "Groups", "Selector": "$.AutoScalingGroups", "Type": "MapList"}]},
    {"name": "balancers", "action": "aws:executeAwsApi", "inputs": {"Service": "elbv2", "Api": "DescribeLoadBalancers"},
     "outputs": [{"Name": "All", "Selector": "$.LoadBalancers", "Type": "MapList"}]},
    {"name": "stacks", "action": "aws:executeAwsApi", "inputs": {"Service": "cloudformation", "Api": "ListStacks"},
     "outputs": [{"Name": "All", "Selector": "$.StackSummaries", "Type": "MapList"}]},
    {"name": "tagCount", "action": "aws:createTags", "inputs": {"ResourceIds": ["{{ launch.InstanceIds }}"], "Tags": [{"Key": "tagged", "Value": "{{ variable:Tagged }}"}]}}`)
	path := docFile(t, doc)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{{
			Config: markedImage(marker, path, fmt.Sprintf(`{ RunId = %q }`, run)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("paint.CurrentIteratorValue"), knownvalue.StringExact("green")),
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("key.KeyId"), knownvalue.NotNull()),
			},
			Check: resource.ComposeTestCheckFunc(
				rememberExecution("amibake_image.vocab", &executions),
				func(s *terraform.State) error {
					id, err := stateAttr(s, "amibake_image.vocab", "image_id")
					if err != nil {
						return err
					}
					img := describeImage(t, id)
					if img == nil || aws.ToString(img.Name) != "vocab-green-"+run {
						return fmt.Errorf("image %s is named %v, want vocab-green-%s (the variable as the loop left it)", id, img, run)
					}
					tags := instanceTags(t, "test", marker)
					if tags["colour-1"] != "blue" || tags["colour-2"] != "green" || tags["tagged"] != "2" {
						return fmt.Errorf("builder tags %v", tags)
					}
					if ids := liveInstances(t, "test", marker); len(ids) > 0 {
						return fmt.Errorf("builder still running: %v", ids)
					}
					var names []string
					for i := 0; ; i++ {
						n, err := stateAttr(s, "amibake_image.vocab", fmt.Sprintf("steps.%d.name", i))
						if err != nil {
							break
						}
						names = append(names, n)
					}
					if strings.Count(strings.Join(names, ","), "tagOne") != 2 {
						return fmt.Errorf("want two executions of the nested step tagOne in steps: %v", names)
					}
					return nil
				},
			),
		}},
	})
}

// A nested step that fails ends the loop and the bake; the builder goes.
func TestAccImage_loopFailureLeavesNothing(t *testing.T) {
	marker := fmt.Sprintf("loopfail-%d", testRunID())
	doc := vocabDoc("never", "", `
    {"name": "check", "action": "aws:loop", "inputs": {
      "Iterators": ["running", "stopped"],
      "Steps": [
        {"name": "state", "action": "aws:assertAwsResourceProperty", "inputs": {"Service": "ec2", "Api": "DescribeInstances",
          "InstanceIds": ["{{ launch.InstanceIds }}"], "PropertySelector": "$.Reservations[0].Instances[0].State.Name",
          "DesiredValues": ["{{ check.CurrentIteratorValue }}"]}}
      ]}}`)
	resource.Test(t, failingBake(t, markedImage(marker, docFile(t, doc), `{ RunId = "x" }`), marker,
		`(?s)step "check" \(aws:loop\).*iteration 2.*state`, 1, nil))
}

// A variable updated with a value of the wrong type fails the bake.
func TestAccImage_updateVariableFailureLeavesNothing(t *testing.T) {
	marker := fmt.Sprintf("varfail-%d", testRunID())
	doc := vocabDoc("never", `"variables": {"Count": {"type": "Integer", "default": 1}}`, `
    {"name": "set", "action": "aws:updateVariable", "inputs": {"Name": "variable:Count", "Value": "many"}}`)
	resource.Test(t, failingBake(t, markedImage(marker, docFile(t, doc), `{ RunId = "x" }`), marker,
		`(?s)step "set" \(aws:updateVariable\).*Count.*Integer`, 1, nil))
}

// putAutomationDocument stores an Automation document in the emulator's SSM.
func putAutomationDocument(t *testing.T, name, content string) {
	t.Helper()
	c := testClients(t)
	_, err := c.Raw["ssm"].(*ssm.Client).CreateDocument(context.Background(), &ssm.CreateDocumentInput{
		Name: aws.String(name), Content: aws.String(content), DocumentType: ssmtypes.DocumentTypeAutomation,
		DocumentFormat: ssmtypes.DocumentFormatJson,
	})
	if err != nil {
		t.Fatalf("CreateDocument %s: %v", name, err)
	}
}

// launcherDoc is a secondary runbook that launches a builder and gives its
// id back; with failAfter it then fails.
func launcherDoc(failAfter bool) string {
	fail := ""
	if failAfter {
		fail = `,
    {"name": "boom", "action": "aws:assertAwsResourceProperty", "inputs": {"Service": "ec2", "Api": "DescribeInstances",
      "InstanceIds": ["{{ start.InstanceIds }}"], "PropertySelector": "$.Reservations[0].Instances[0].State.Name", "DesiredValues": ["stopped"]}}`
	}
	return fmt.Sprintf(`{
  "schemaVersion": "0.3",
  "parameters": {"Ami": {"type": "String"}, "Type": {"type": "String", "default": "t3.micro"}},
  "mainSteps": [
    {"name": "start", "action": "aws:runInstances", "inputs": {"ImageId": "{{ Ami }}", "InstanceType": "{{ Type }}"}}%s
  ],
  "outputs": ["start.InstanceIds"]
}`, fail)
}

// TestAccImage_executeAutomation bakes from a builder that a secondary
// runbook, read from SSM by name, launches: its output comes back to the
// recipe, and the builder, in the same ledger, is terminated with the rest.
func TestAccImage_executeAutomation(t *testing.T) {
	testAccPreCheck(t) // the setup below needs the emulator
	run := fmt.Sprint(testRunID())
	marker := "child-" + run
	child := "Launcher-" + run
	putAutomationDocument(t, child, launcherDoc(false))
	var executions []string
	doc := fmt.Sprintf(`{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "child", "action": "aws:executeAutomation", "inputs": {"DocumentName": %q, "RuntimeParameters": {"Ami": %q}}},
    {"name": "image", "action": "aws:createImage", "inputs": {"InstanceId": "{{ child.Output }}", "ImageName": "child-{{ automation:EXECUTION_ID }}"}}
  ]
}`, child, sourceAMI)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{{
			Config: markedImage(marker, docFile(t, doc), `{}`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("child.Status"), knownvalue.StringExact("Success")),
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
					0: knownvalue.ObjectPartial(map[string]knownvalue.Check{"name": knownvalue.StringExact("child/start"), "status": knownvalue.StringExact("Success")}),
				})),
			},
			Check: resource.ComposeTestCheckFunc(
				rememberExecution("amibake_image.vocab", &executions),
				func(s *terraform.State) error {
					exec, _ := stateAttr(s, "amibake_image.vocab", "execution_id")
					if n := len(instancesTagged(t, "amibake:execution-id", exec)); n != 1 {
						return fmt.Errorf("want the secondary runbook's builder tagged with the run's execution id, found %d", n)
					}
					if ids := liveInstances(t, "test", marker); len(ids) > 0 {
						return fmt.Errorf("builder still running: %v", ids)
					}
					return nil
				},
			),
		}},
	})
}

// A secondary runbook that fails after launching fails the bake, and the
// run's cleanup terminates what the secondary runbook launched.
func TestAccImage_executeAutomationFailureLeavesNothing(t *testing.T) {
	run := fmt.Sprint(testRunID())
	marker := "childfail-" + run
	child := "FailingLauncher-" + run
	doc := fmt.Sprintf(`{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "child", "action": "aws:executeAutomation", "inputs": {"DocumentName": %q, "RuntimeParameters": {"Ami": %q}}},
    {"name": "image", "action": "aws:createImage", "inputs": {"InstanceId": "{{ child.Output }}", "ImageName": "never-{{ automation:EXECUTION_ID }}"}}
  ]
}`, child, sourceAMI)
	resource.Test(t, failingBake(t, markedImage(marker, docFile(t, doc), `{}`), marker,
		`(?s)step "child" \(aws:executeAutomation\).*secondary automation `+child+`.*boom`, 1,
		func() { putAutomationDocument(t, child, launcherDoc(true)) }))
}

// TestAccImage_executeScript runs a Python handler in the local python3 with
// the run's credentials and endpoints: boto3 reaches the same emulator and
// reads the image the bake made; the handler's result is the step's output.
func TestAccImage_executeScript(t *testing.T) {
	needPython3(t)
	run := fmt.Sprint(testRunID())
	marker := "script-" + run
	var executions []string
	doc := fmt.Sprintf(`{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": %q, "InstanceType": "t3.micro"}},
    {"name": "image", "action": "aws:createImage", "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "script-{{ automation:EXECUTION_ID }}"}},
    {"name": "inspect", "action": "aws:executeScript", "timeoutSeconds": 120, "inputs": {
      "Runtime": "python3.11", "Handler": "inspect_image",
      "InputPayload": {"ImageId": "{{ image.ImageId }}", "Label": "golden"},
      "Script": "import boto3\ndef inspect_image(events, context):\n    img = boto3.client('ec2').describe_images(ImageIds=[events['ImageId']])['Images'][0]\n    return {'State': img['State'], 'Label': events['Label'], 'Execution': context['automation:EXECUTION_ID']}\n"},
     "outputs": [{"Name": "State", "Selector": "$.Payload.State", "Type": "String"}]},
    {"name": "terminate", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "terminated"}}
  ]
}`, sourceAMI)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{{
			Config: markedImage(marker, docFile(t, doc), `{}`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("inspect.State"), knownvalue.StringExact("available")),
			},
			Check: resource.ComposeTestCheckFunc(
				rememberExecution("amibake_image.vocab", &executions),
				func(s *terraform.State) error {
					exec, _ := stateAttr(s, "amibake_image.vocab", "execution_id")
					payload, _ := stateAttr(s, "amibake_image.vocab", "step_outputs.inspect.Payload")
					if !strings.Contains(payload, `"Label":"golden"`) || !strings.Contains(payload, exec) {
						return fmt.Errorf("Payload = %s", payload)
					}
					return nil
				},
			),
		}},
	})
}

// A script that raises fails the bake with its traceback; the builder and the
// image go.
func TestAccImage_executeScriptFailureLeavesNothing(t *testing.T) {
	needPython3(t)
	marker := fmt.Sprintf("scriptfail-%d", testRunID())
	doc := vocabDoc("never", "", `
    {"name": "check", "action": "aws:executeScript", "inputs": {"Runtime": "python3.11", "Handler": "check",
      "Script": "def check(events, context):\n    raise RuntimeError('the image is not ready')\n"}}`)
	resource.Test(t, failingBake(t, markedImage(marker, docFile(t, doc), `{ RunId = "x" }`), marker,
		`(?s)step "check" \(aws:executeScript\).*RuntimeError: the image is not ready`, 1, nil))
}

func needPython3(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
}

// stackTemplate is a CloudFormation template of one SNS topic.
const stackTemplate = `{"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "vocab-topic-%s"}}}}`

// liveStacks are the emulator's stacks tagged test=marker that are not deleted.
func liveStacks(t *testing.T, marker string) []string {
	t.Helper()
	c := testClients(t).CloudFormation
	out, err := c.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{})
	if err != nil {
		t.Fatalf("DescribeStacks: %v", err)
	}
	var ids []string
	for _, s := range out.Stacks {
		if s.StackStatus == cfntypes.StackStatusDeleteComplete {
			continue
		}
		for _, tg := range s.Tags {
			if aws.ToString(tg.Key) == "test" && aws.ToString(tg.Value) == marker {
				ids = append(ids, aws.ToString(s.StackId))
			}
		}
	}
	return ids
}

// TestAccImage_stacks creates a CloudFormation stack, reads it with
// executeAwsApi, and deletes it, within a bake.
func TestAccImage_stacks(t *testing.T) {
	run := fmt.Sprint(testRunID())
	marker := "stack-" + run
	var executions []string
	doc := vocabDoc("stack-{{ RunId }}", "", fmt.Sprintf(`
    {"name": "stack", "action": "aws:createStack", "inputs": {"StackName": "vocab-{{ RunId }}", "TemplateBody": %q,
      "Tags": [{"Key": "owner", "Value": "vocab"}]}},
    {"name": "describe", "action": "aws:executeAwsApi", "inputs": {"Service": "cloudformation", "Api": "DescribeStacks", "StackName": "{{ stack.StackId }}"},
     "outputs": [{"Name": "Status", "Selector": "$.Stacks[0].StackStatus", "Type": "String"}]},
    {"name": "unstack", "action": "aws:deleteStack", "inputs": {"StackName": "vocab-{{ RunId }}"}}`, fmt.Sprintf(stackTemplate, run)))
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{{
			Config: markedImage(marker, docFile(t, doc), fmt.Sprintf(`{ RunId = %q }`, run)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("stack.StackStatus"), knownvalue.StringExact("CREATE_COMPLETE")),
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("describe.Status"), knownvalue.StringExact("CREATE_COMPLETE")),
			},
			Check: resource.ComposeTestCheckFunc(
				rememberExecution("amibake_image.vocab", &executions),
				func(*terraform.State) error {
					if left := liveStacks(t, marker); len(left) > 0 {
						return fmt.Errorf("stacks left after aws:deleteStack: %v", left)
					}
					return nil
				},
			),
		}},
	})
}

// A bake that fails after creating a stack deletes the stack, as it
// terminates the builder.
func TestAccImage_stackFailureLeavesNothing(t *testing.T) {
	run := fmt.Sprint(testRunID())
	marker := "stackfail-" + run
	doc := vocabDoc("never", "", fmt.Sprintf(`
    {"name": "stack", "action": "aws:createStack", "inputs": {"StackName": "vocabfail-{{ RunId }}", "TemplateBody": %q}},
    {"name": "boom", "action": "aws:assertAwsResourceProperty", "inputs": {"Service": "cloudformation", "Api": "DescribeStacks",
      "StackName": "{{ stack.StackId }}", "PropertySelector": "$.Stacks[0].StackStatus", "DesiredValues": ["UPDATE_COMPLETE"]}}`, fmt.Sprintf(stackTemplate, "fail-"+run)))
	tc := failingBake(t, markedImage(marker, docFile(t, doc), fmt.Sprintf(`{ RunId = %q }`, run)), marker,
		`(?s)step "boom" \(aws:assertAwsResourceProperty\).*CREATE_COMPLETE`, 1, nil)
	check := tc.Steps[1].PreConfig
	tc.Steps[1].PreConfig = func() {
		check()
		if left := liveStacks(t, marker); len(left) > 0 {
			t.Errorf("stacks left after the failed bake: %v", left)
		}
	}
	resource.Test(t, tc)
}

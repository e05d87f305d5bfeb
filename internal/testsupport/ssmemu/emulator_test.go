package ssmemu_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/ssmemu"
)

func TestMain(m *testing.M) {
	if os.Getenv(clientModeEnv) != "" {
		os.Exit(clientMain())
	}
	code := m.Run()
	if sharedMoto.release != nil {
		sharedMoto.release()
	}
	os.Exit(code)
}

var sharedMoto struct {
	once    sync.Once
	moto    *acctest.Moto
	release func()
	err     error
}

// moto is the moto_server shared by the package's tests; each test names
// its documents apart, so none needs an empty emulator.
func moto(t *testing.T) *acctest.Moto {
	t.Helper()
	if testing.Short() {
		t.Skip("starts moto_server")
	}
	sharedMoto.once.Do(func() {
		sharedMoto.moto, sharedMoto.release, sharedMoto.err = acctest.SharedMoto()
	})
	if sharedMoto.err != nil {
		t.Fatal(sharedMoto.err)
	}
	return sharedMoto.moto
}

type env struct {
	t   *testing.T
	url string
	ssm *ssm.Client
	ec2 *ec2.Client
}

// newEnv runs an emulator in front of the shared moto and SDK clients whose
// every call goes through it.
func newEnv(t *testing.T, cfg ssmemu.Config) *env {
	t.Helper()
	m := moto(t)
	cfg.MotoEndpoint = m.Endpoint()
	cfg.Region = acctest.Region
	cfg.Logf = t.Logf
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emu, err := ssmemu.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close()
		emu.Close()
	})
	return &env{t: t, url: srv.URL, ssm: ssmClient(srv.URL, 0), ec2: ec2.NewFromConfig(awsConfig(), func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })}
}

func awsConfig() aws.Config {
	return aws.Config{Region: acctest.Region, Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

// ssmClient talks to the emulator at url; attempts 0 keeps the SDK's retries.
func ssmClient(url string, attempts int) *ssm.Client {
	return ssm.NewFromConfig(awsConfig(), func(o *ssm.Options) {
		o.BaseEndpoint = aws.String(url)
		if attempts > 0 {
			o.RetryMaxAttempts = attempts
		}
	})
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	e.t.Cleanup(cancel)
	return ctx
}

// createDocument publishes an Automation document in moto, through the
// emulator, under a name of its own.
func (e *env) createDocument(content string) string {
	e.t.Helper()
	name := "emu-" + strings.NewReplacer("/", "-", "_", "-").Replace(e.t.Name()) + "-" + uuid.NewString()[:8]
	_, err := e.ssm.CreateDocument(e.ctx(), &ssm.CreateDocumentInput{
		Name: aws.String(name), Content: aws.String(content),
		DocumentType: ssmtypes.DocumentTypeAutomation, DocumentFormat: ssmtypes.DocumentFormatJson,
	})
	if err != nil {
		e.t.Fatalf("CreateDocument: %v", err)
	}
	return name
}

func (e *env) start(in *ssm.StartAutomationExecutionInput) string {
	e.t.Helper()
	out, err := e.ssm.StartAutomationExecution(e.ctx(), in)
	if err != nil {
		e.t.Fatalf("StartAutomationExecution: %v", err)
	}
	return aws.ToString(out.AutomationExecutionId)
}

func (e *env) get(id string) *ssmtypes.AutomationExecution {
	e.t.Helper()
	out, err := e.ssm.GetAutomationExecution(e.ctx(), &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
	if err != nil {
		e.t.Fatalf("GetAutomationExecution: %v", err)
	}
	return out.AutomationExecution
}

// waitFor polls the execution until ok holds, and fails the test after a
// minute.
func (e *env) waitFor(id, what string, ok func(*ssmtypes.AutomationExecution) bool) *ssmtypes.AutomationExecution {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		x := e.get(id)
		if ok(x) {
			return x
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("execution %s: %s did not happen; status %s, step %s, failure %q",
				id, what, x.AutomationExecutionStatus, aws.ToString(x.CurrentStepName), aws.ToString(x.FailureMessage))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) waitStatus(id string, want ssmtypes.AutomationExecutionStatus) *ssmtypes.AutomationExecution {
	e.t.Helper()
	return e.waitFor(id, "status "+string(want), func(x *ssmtypes.AutomationExecution) bool {
		return x.AutomationExecutionStatus == want
	})
}

func (e *env) waitEnd(id string) *ssmtypes.AutomationExecution {
	e.t.Helper()
	return e.waitFor(id, "the end", func(x *ssmtypes.AutomationExecution) bool {
		switch x.AutomationExecutionStatus {
		case ssmtypes.AutomationExecutionStatusSuccess, ssmtypes.AutomationExecutionStatusFailed,
			ssmtypes.AutomationExecutionStatusTimedout, ssmtypes.AutomationExecutionStatusCancelled:
			return true
		}
		return false
	})
}

func (e *env) instanceState(id string) ec2types.InstanceStateName {
	e.t.Helper()
	out, err := e.ec2.DescribeInstances(e.ctx(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		e.t.Fatalf("DescribeInstances %s: %v", id, err)
	}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			return in.State.Name
		}
	}
	e.t.Fatalf("instance %s not found", id)
	return ""
}

// errorCode is the AWS error code of err, or fails the test.
func errorCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an AWS error, got %v", err)
	}
	return ae.ErrorCode()
}

func steps(x *ssmtypes.AutomationExecution) []string {
	var out []string
	for _, s := range x.StepExecutions {
		out = append(out, aws.ToString(s.StepName)+":"+string(s.StepStatus))
	}
	return out
}

// bakeDocument launches a builder, images it and terminates it: the shape
// of AWS-UpdateLinuxAmi without its runCommand step.
const bakeDocument = `{
  "schemaVersion": "0.3",
  "description": "bake an image",
  "parameters": {
    "SourceAmiId": {"type": "String", "default": "ami-12c6146b"},
    "InstanceType": {"type": "String", "default": "t3.micro"},
    "Extra": {"type": "StringList", "default": []}
  },
  "mainSteps": [
    {"name": "launch", "action": "aws:runInstances",
     "inputs": {"ImageId": "{{ SourceAmiId }}", "InstanceType": "{{ InstanceType }}"}},
    {"name": "createImage", "action": "aws:createImage",
     "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "emu-{{ automation:EXECUTION_ID }}"}},
    {"name": "terminate", "action": "aws:changeInstanceState",
     "inputs": {"InstanceIds": "{{ launch.InstanceIds }}", "DesiredState": "terminated"}}
  ],
  "outputs": ["createImage.ImageId", "launch.InstanceIds"]
}`

func TestBakeRunsToSuccessWithOutputs(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true})
	doc := e.createDocument(bakeDocument)
	id := e.start(&ssm.StartAutomationExecutionInput{
		DocumentName: aws.String(doc),
		Parameters:   map[string][]string{"InstanceType": {"t3.small"}, "Extra": {"a", "b"}},
		Tags:         []ssmtypes.Tag{{Key: aws.String("amibake:bake-key"), Value: aws.String("k1")}},
	})
	if len(id) != 36 {
		t.Errorf("execution id %q is not 36 characters", id)
	}
	first := e.get(id).AutomationExecutionStatus
	if first != ssmtypes.AutomationExecutionStatusPending && first != ssmtypes.AutomationExecutionStatusInprogress &&
		first != ssmtypes.AutomationExecutionStatusSuccess {
		t.Errorf("status right after the start = %s", first)
	}
	x := e.waitEnd(id)
	if x.AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusSuccess {
		t.Fatalf("status %s: %s", x.AutomationExecutionStatus, aws.ToString(x.FailureMessage))
	}
	if got := strings.Join(steps(x), " "); got != "launch:Success createImage:Success terminate:Success" {
		t.Errorf("steps = %s", got)
	}
	image := x.Outputs["createImage.ImageId"]
	instances := x.Outputs["launch.InstanceIds"]
	if len(image) != 1 || !strings.HasPrefix(image[0], "ami-") || len(instances) != 1 || !strings.HasPrefix(instances[0], "i-") {
		t.Fatalf("Outputs = %v", x.Outputs)
	}
	if x.ExecutionStartTime == nil || x.ExecutionEndTime == nil || x.ExecutionEndTime.Before(*x.ExecutionStartTime) {
		t.Errorf("execution times %v → %v", x.ExecutionStartTime, x.ExecutionEndTime)
	}
	for _, s := range x.StepExecutions {
		if s.ExecutionStartTime == nil || s.ExecutionEndTime == nil || aws.ToString(s.StepExecutionId) == "" {
			t.Errorf("step %s lacks times or id: %+v", aws.ToString(s.StepName), s)
		}
	}
	launch := x.StepExecutions[0]
	if launch.Inputs["InstanceType"] != `"t3.small"` || launch.Outputs["InstanceIds"][0] != instances[0] {
		t.Errorf("launch step inputs %v, outputs %v", launch.Inputs, launch.Outputs)
	}
	if got := x.Parameters["Extra"]; len(got) != 2 || x.Parameters["SourceAmiId"][0] != "ami-12c6146b" {
		t.Errorf("Parameters = %v", x.Parameters)
	}

	// The effects are moto's: the image exists, the builder is terminated and
	// was of the type the parameter asked for.
	imgs, err := e.ec2.DescribeImages(e.ctx(), &ec2.DescribeImagesInput{ImageIds: image})
	if err != nil || len(imgs.Images) != 1 || imgs.Images[0].State != ec2types.ImageStateAvailable {
		t.Fatalf("DescribeImages %v: %v, %+v", image, err, imgs)
	}
	if st := e.instanceState(instances[0]); st != ec2types.InstanceStateNameTerminated {
		t.Errorf("builder %s is %s", instances[0], st)
	}
	ins, err := e.ec2.DescribeInstances(e.ctx(), &ec2.DescribeInstancesInput{InstanceIds: instances})
	if err != nil || ins.Reservations[0].Instances[0].InstanceType != ec2types.InstanceTypeT3Small {
		t.Errorf("builder type: %v %+v", err, ins)
	}

	// It is found by the filters of DescribeAutomationExecutions, and its
	// start tags by ListTagsForResource.
	for _, f := range [][]ssmtypes.AutomationExecutionFilter{
		{{Key: ssmtypes.AutomationExecutionFilterKeyExecutionId, Values: []string{id}}},
		{{Key: ssmtypes.AutomationExecutionFilterKeyDocumentNamePrefix, Values: []string{doc[:len(doc)-4]}}},
		{{Key: ssmtypes.AutomationExecutionFilterKeyTagKey, Values: []string{"amibake:bake-key"}},
			{Key: ssmtypes.AutomationExecutionFilterKeyExecutionStatus, Values: []string{"Success"}}},
	} {
		out, err := e.ssm.DescribeAutomationExecutions(e.ctx(), &ssm.DescribeAutomationExecutionsInput{Filters: f})
		if err != nil {
			t.Fatalf("DescribeAutomationExecutions %v: %v", f[0].Key, err)
		}
		found := false
		for _, md := range out.AutomationExecutionMetadataList {
			found = found || aws.ToString(md.AutomationExecutionId) == id
		}
		if !found {
			t.Errorf("filter %s did not find the execution", f[0].Key)
		}
	}
	none, err := e.ssm.DescribeAutomationExecutions(e.ctx(), &ssm.DescribeAutomationExecutionsInput{Filters: []ssmtypes.AutomationExecutionFilter{
		{Key: ssmtypes.AutomationExecutionFilterKeyExecutionId, Values: []string{id}},
		{Key: ssmtypes.AutomationExecutionFilterKeyExecutionStatus, Values: []string{"Failed"}},
	}})
	if err != nil || len(none.AutomationExecutionMetadataList) != 0 {
		t.Errorf("filters that exclude it: %v, %+v", err, none)
	}
	tags, err := e.ssm.ListTagsForResource(e.ctx(), &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingAutomation, ResourceId: aws.String(id)})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Value) != "k1" {
		t.Errorf("ListTagsForResource: %v, %+v", err, tags)
	}
}

func TestStartErrors(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true})
	doc := e.createDocument(bakeDocument)
	for _, tt := range []struct {
		name string
		in   *ssm.StartAutomationExecutionInput
		code string
	}{
		{"unknown document", &ssm.StartAutomationExecutionInput{DocumentName: aws.String("no-such-document-" + uuid.NewString()[:8])}, "AutomationDefinitionNotFoundException"},
		{"unknown version", &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc), DocumentVersion: aws.String("7")}, "AutomationDefinitionVersionNotFoundException"},
		{"unknown parameter", &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc), Parameters: map[string][]string{"Nope": {"x"}}}, "InvalidAutomationExecutionParametersException"},
		{"two values for a String", &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc), Parameters: map[string][]string{"InstanceType": {"a", "b"}}}, "InvalidAutomationExecutionParametersException"},
		{"not a UUID token", &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc), ClientToken: aws.String("token")}, "ValidationException"},
	} {
		_, err := e.ssm.StartAutomationExecution(e.ctx(), tt.in)
		if code := errorCode(t, err); code != tt.code {
			t.Errorf("%s: %s (%v), want %s", tt.name, code, err, tt.code)
		}
	}
	_, err := e.ssm.GetAutomationExecution(e.ctx(), &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(uuid.NewString())})
	if code := errorCode(t, err); code != "AutomationExecutionNotFoundException" {
		t.Errorf("Get of an unknown execution: %s", code)
	}
}

// failingDocument launches a builder, then asserts it is stopped, which it
// is not: the assertion fails at once.
const failingDocument = `{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}},
    {"name": "mustBeStopped", "action": "aws:assertAwsResourceProperty",
     "inputs": {"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": "{{ launch.InstanceIds }}",
                "PropertySelector": "$.Reservations[0].Instances[0].State.Name", "DesiredValues": ["stopped"]}},
    {"name": "createImage", "action": "aws:createImage",
     "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "never-{{ automation:EXECUTION_ID }}"}}
  ],
  "outputs": ["createImage.ImageId"]
}`

func TestFailingStepFailsTheExecutionAndLeavesTheBuilder(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true})
	id := e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(e.createDocument(failingDocument))})
	x := e.waitEnd(id)
	if x.AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusFailed {
		t.Fatalf("status %s", x.AutomationExecutionStatus)
	}
	if got := strings.Join(steps(x), " "); got != "launch:Success mustBeStopped:Failed" {
		t.Errorf("steps = %s", got)
	}
	failed := x.StepExecutions[1]
	if !strings.Contains(aws.ToString(failed.FailureMessage), "stopped") || !strings.Contains(aws.ToString(x.FailureMessage), "mustBeStopped") {
		t.Errorf("failure messages: step %q, execution %q", aws.ToString(failed.FailureMessage), aws.ToString(x.FailureMessage))
	}
	if got := x.Outputs["createImage.ImageId"]; len(got) != 1 || !strings.Contains(got[0], "No output available") {
		t.Errorf("output of a step that did not run = %v", got)
	}
	// Like SSM Automation, the emulator does not clean up after a failure:
	// the builder the document launched keeps running.
	builder := x.StepExecutions[0].Outputs["InstanceIds"][0]
	if st := e.instanceState(builder); st != ec2types.InstanceStateNameRunning {
		t.Errorf("builder %s is %s, want it left running", builder, st)
	}
	_, err := e.ssm.StopAutomationExecution(e.ctx(), &ssm.StopAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
	if code := errorCode(t, err); code != "InvalidAutomationStatusUpdateException" {
		t.Errorf("stop of a finished execution: %s", code)
	}
}

// sleepDocument launches a builder and sleeps for a minute.
const sleepDocument = `{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}},
    {"name": "wait", "action": "aws:sleep", "inputs": {"Duration": "PT60S"}},
    {"name": "createImage", "action": "aws:createImage",
     "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "never-{{ automation:EXECUTION_ID }}"}}
  ]
}`

func TestStopCancels(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true})
	id := e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(e.createDocument(sleepDocument))})
	e.waitFor(id, "the sleep step", func(x *ssmtypes.AutomationExecution) bool {
		return aws.ToString(x.CurrentStepName) == "wait" && x.AutomationExecutionStatus == ssmtypes.AutomationExecutionStatusInprogress
	})
	began := time.Now()
	if _, err := e.ssm.StopAutomationExecution(e.ctx(), &ssm.StopAutomationExecutionInput{AutomationExecutionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if st := e.get(id).AutomationExecutionStatus; st != ssmtypes.AutomationExecutionStatusCancelling && st != ssmtypes.AutomationExecutionStatusCancelled {
		t.Errorf("status right after the stop = %s", st)
	}
	x := e.waitStatus(id, ssmtypes.AutomationExecutionStatusCancelled)
	if time.Since(began) > 20*time.Second {
		t.Errorf("cancelling took %s", time.Since(began))
	}
	if got := strings.Join(steps(x), " "); got != "launch:Success wait:Cancelled" {
		t.Errorf("steps = %s", got)
	}
	_, err := e.ssm.StopAutomationExecution(e.ctx(), &ssm.StopAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
	if code := errorCode(t, err); code != "InvalidAutomationStatusUpdateException" {
		t.Errorf("second stop: %s", code)
	}
	builder := x.StepExecutions[0].Outputs["InstanceIds"][0]
	if st := e.instanceState(builder); st != ec2types.InstanceStateNameRunning {
		t.Errorf("builder %s is %s, want it left running as SSM leaves it", builder, st)
	}
}

// approvalDocument waits for one approval; it makes no AWS call.
const approvalDocument = `{
  "schemaVersion": "0.3",
  "parameters": {"Note": {"type": "String", "default": "n"}},
  "mainSteps": [
    {"name": "approve", "action": "aws:approve", "inputs": {"Approvers": ["arn:aws:iam::123456789012:user/ops"], "Message": "{{ Note }}"}},
    {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}
  ],
  "outputs": ["approve.ApprovalStatus"]
}`

func TestIdempotentStart(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true})
	doc := e.createDocument(approvalDocument)
	token := uuid.NewString()
	in := &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc), ClientToken: aws.String(token), Parameters: map[string][]string{"Note": {"a"}}}
	first := e.start(in)
	again := e.start(in)
	upper := e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc), ClientToken: aws.String(strings.ToUpper(token)), Parameters: map[string][]string{"Note": {"a"}}})
	if again != first || upper != first {
		t.Errorf("same token: %s, %s, %s", first, again, upper)
	}
	_, err := e.ssm.StartAutomationExecution(e.ctx(), &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc), ClientToken: aws.String(token), Parameters: map[string][]string{"Note": {"b"}}})
	if code := errorCode(t, err); code != "IdempotentParameterMismatch" {
		t.Errorf("token reused with other parameters: %s", code)
	}
	other := e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc), ClientToken: aws.String(uuid.NewString()), Parameters: map[string][]string{"Note": {"a"}}})
	if other == first {
		t.Error("a new token got the old execution")
	}
	list, err := e.ssm.DescribeAutomationExecutions(e.ctx(), &ssm.DescribeAutomationExecutionsInput{Filters: []ssmtypes.AutomationExecutionFilter{
		{Key: ssmtypes.AutomationExecutionFilterKeyDocumentNamePrefix, Values: []string{doc}}}})
	if err != nil || len(list.AutomationExecutionMetadataList) != 2 {
		t.Errorf("executions of the document: %v, %d", err, len(list.AutomationExecutionMetadataList))
	}
}

func TestQuotaQueuesThenRefusesAndApprovalsResume(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true, MaxConcurrent: 1, MaxQueued: 1})
	doc := e.createDocument(approvalDocument)
	start := &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc)}
	a := e.start(start)
	e.waitStatus(a, ssmtypes.AutomationExecutionStatusWaiting)
	b := e.start(start)
	if st := e.get(b).AutomationExecutionStatus; st != ssmtypes.AutomationExecutionStatusPending {
		t.Errorf("second execution over the concurrency quota is %s, want Pending (queued)", st)
	}
	_, err := e.ssm.StartAutomationExecution(e.ctx(), start)
	if code := errorCode(t, err); code != "AutomationExecutionLimitExceededException" {
		t.Fatalf("third start with the queue full: %s", code)
	}
	_, err = e.ssm.SendAutomationSignal(e.ctx(), &ssm.SendAutomationSignalInput{AutomationExecutionId: aws.String(b), SignalType: ssmtypes.SignalTypeApprove})
	if code := errorCode(t, err); code != "InvalidAutomationSignalException" {
		t.Errorf("approving a queued execution: %s", code)
	}

	if _, err := e.ssm.SendAutomationSignal(e.ctx(), &ssm.SendAutomationSignalInput{AutomationExecutionId: aws.String(a), SignalType: ssmtypes.SignalTypeApprove,
		Payload: map[string][]string{"Comment": {"looks good"}}}); err != nil {
		t.Fatal(err)
	}
	x := e.waitEnd(a)
	if x.AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusSuccess || x.Outputs["approve.ApprovalStatus"][0] != "Approved" {
		t.Errorf("approved execution: %s, outputs %v", x.AutomationExecutionStatus, x.Outputs)
	}
	// The queued execution takes the freed slot.
	e.waitStatus(b, ssmtypes.AutomationExecutionStatusWaiting)
	if _, err := e.ssm.SendAutomationSignal(e.ctx(), &ssm.SendAutomationSignalInput{AutomationExecutionId: aws.String(b), SignalType: ssmtypes.SignalTypeReject,
		Payload: map[string][]string{"Comment": {"not today"}}}); err != nil {
		t.Fatal(err)
	}
	y := e.waitEnd(b)
	if y.AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusFailed || !strings.Contains(aws.ToString(y.StepExecutions[0].FailureMessage), "not today") {
		t.Errorf("rejected execution: %s, steps %v, %q", y.AutomationExecutionStatus, steps(y), aws.ToString(y.StepExecutions[0].FailureMessage))
	}
	// A start goes through again now that a slot is free; stopping a
	// waiting execution cancels it.
	c := e.start(start)
	e.waitStatus(c, ssmtypes.AutomationExecutionStatusWaiting)
	if _, err := e.ssm.StopAutomationExecution(e.ctx(), &ssm.StopAutomationExecutionInput{AutomationExecutionId: aws.String(c)}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(c, ssmtypes.AutomationExecutionStatusCancelled)
}

func TestThrottling(t *testing.T) {
	e := newEnv(t, ssmemu.Config{Rates: map[string]float64{"GetAutomationExecution": 1}})
	noRetry := ssmClient(e.url, 1)
	get := func(c *ssm.Client) error {
		_, err := c.GetAutomationExecution(e.ctx(), &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(uuid.NewString())})
		return err
	}
	if code := errorCode(t, get(noRetry)); code != "AutomationExecutionNotFoundException" {
		t.Fatalf("first call: %s", code)
	}
	if code := errorCode(t, get(noRetry)); code != "ThrottlingException" {
		t.Fatalf("second call within the second: %s, want ThrottlingException", code)
	}
	// The SDK's standard retryer backs off and gets through. Its back-off is
	// random (up to 2^attempt seconds), so give it attempts enough to wait
	// out a 1/s limit whatever the draws.
	if code := errorCode(t, get(ssmClient(e.url, 10))); code != "AutomationExecutionNotFoundException" {
		t.Errorf("with retries: %s", code)
	}
	// StartAutomationExecution keeps AWS's 1 a second; requests the emulator
	// forwards to moto are not throttled by it.
	doc := e.createDocument(approvalDocument)
	var throttled int
	for range 3 {
		_, err := noRetry.StartAutomationExecution(e.ctx(), &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc)})
		if err != nil && errorCode(t, err) == "ThrottlingException" {
			throttled++
		}
		if _, err := noRetry.DescribeDocument(e.ctx(), &ssm.DescribeDocumentInput{Name: aws.String(doc)}); err != nil {
			t.Errorf("DescribeDocument through the emulator: %v", err)
		}
	}
	if throttled == 0 {
		t.Error("three starts in a row were not throttled")
	}
}

func TestStepExecutionPaging(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true, StepExecutionsInGet: 3})
	var stepsJSON []string
	for i := range 7 {
		stepsJSON = append(stepsJSON, fmt.Sprintf(`{"name": "s%d", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}`, i))
	}
	doc := e.createDocument(`{"schemaVersion": "0.3", "mainSteps": [` + strings.Join(stepsJSON, ",") + `]}`)
	id := e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc)})
	x := e.waitStatus(id, ssmtypes.AutomationExecutionStatusSuccess)
	if len(x.StepExecutions) != 3 || !x.StepExecutionsTruncated {
		t.Errorf("Get: %d step executions, truncated %v", len(x.StepExecutions), x.StepExecutionsTruncated)
	}

	page := func(reverse bool) []string {
		var names []string
		var token *string
		pages := 0
		for {
			out, err := e.ssm.DescribeAutomationStepExecutions(e.ctx(), &ssm.DescribeAutomationStepExecutionsInput{
				AutomationExecutionId: aws.String(id), MaxResults: aws.Int32(2), NextToken: token, ReverseOrder: aws.Bool(reverse)})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(out.StepExecutions) > 2 {
				t.Fatalf("a page of %d", len(out.StepExecutions))
			}
			for _, s := range out.StepExecutions {
				names = append(names, aws.ToString(s.StepName))
			}
			if token = out.NextToken; token == nil {
				break
			}
		}
		if pages != 4 {
			t.Errorf("%d pages of 2 for 7 step executions", pages)
		}
		return names
	}
	if got := strings.Join(page(false), ","); got != "s0,s1,s2,s3,s4,s5,s6" {
		t.Errorf("pages = %s", got)
	}
	if got := strings.Join(page(true), ","); got != "s6,s5,s4,s3,s2,s1,s0" {
		t.Errorf("reverse pages = %s", got)
	}
	// The SDK's paginator follows the same tokens.
	var n int
	p := ssm.NewDescribeAutomationStepExecutionsPaginator(e.ssm, &ssm.DescribeAutomationStepExecutionsInput{AutomationExecutionId: aws.String(id), MaxResults: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.StepExecutions)
	}
	if n != 7 {
		t.Errorf("paginator saw %d step executions", n)
	}

	filtered, err := e.ssm.DescribeAutomationStepExecutions(e.ctx(), &ssm.DescribeAutomationStepExecutionsInput{AutomationExecutionId: aws.String(id),
		Filters: []ssmtypes.StepExecutionFilter{{Key: ssmtypes.StepExecutionFilterKeyStepName, Values: []string{"s4", "s5"}}}})
	if err != nil || len(filtered.StepExecutions) != 2 {
		t.Errorf("StepName filter: %v, %+v", err, filtered)
	}
	for _, tt := range []struct {
		in   *ssm.DescribeAutomationStepExecutionsInput
		code string
	}{
		{&ssm.DescribeAutomationStepExecutionsInput{AutomationExecutionId: aws.String(id), NextToken: aws.String("not-a-token")}, "InvalidNextToken"},
		{&ssm.DescribeAutomationStepExecutionsInput{AutomationExecutionId: aws.String(id), MaxResults: aws.Int32(51)}, "ValidationException"},
		{&ssm.DescribeAutomationStepExecutionsInput{AutomationExecutionId: aws.String(id), Filters: []ssmtypes.StepExecutionFilter{{Key: "Colour", Values: []string{"red"}}}}, "InvalidFilterKey"},
		{&ssm.DescribeAutomationStepExecutionsInput{AutomationExecutionId: aws.String(uuid.NewString())}, "AutomationExecutionNotFoundException"},
	} {
		_, err := e.ssm.DescribeAutomationStepExecutions(e.ctx(), tt.in)
		if code := errorCode(t, err); code != tt.code {
			t.Errorf("%+v: %s, want %s", tt.in, code, tt.code)
		}
	}

	// DescribeAutomationExecutions pages too.
	second := e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc)})
	e.waitStatus(second, ssmtypes.AutomationExecutionStatusSuccess)
	var ids []string
	ep := ssm.NewDescribeAutomationExecutionsPaginator(e.ssm, &ssm.DescribeAutomationExecutionsInput{MaxResults: aws.Int32(1),
		Filters: []ssmtypes.AutomationExecutionFilter{{Key: ssmtypes.AutomationExecutionFilterKeyDocumentNamePrefix, Values: []string{doc}}}})
	for ep.HasMorePages() {
		out, err := ep.NextPage(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		for _, md := range out.AutomationExecutionMetadataList {
			ids = append(ids, aws.ToString(md.AutomationExecutionId))
		}
	}
	if strings.Join(ids, ",") != second+","+id {
		t.Errorf("executions newest first, one a page: %v, want %s then %s", ids, second, id)
	}
}

func TestTimeouts(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true, UserContextMaxDuration: 2 * time.Second})
	// A step over its timeoutSeconds ends TimedOut, and so does the
	// execution (onFailure Abort).
	stepDoc := e.createDocument(`{"schemaVersion": "0.3", "assumeRole": "arn:aws:iam::123456789012:role/AutomationRole", "mainSteps": [
	  {"name": "nap", "action": "aws:sleep", "timeoutSeconds": 1, "inputs": {"Duration": "PT30S"}},
	  {"name": "never", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]}`)
	x := e.waitEnd(e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(stepDoc)}))
	if x.AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusTimedout || strings.Join(steps(x), " ") != "nap:TimedOut" {
		t.Errorf("step timeout: %s, %v, %q", x.AutomationExecutionStatus, steps(x), aws.ToString(x.FailureMessage))
	}
	// Without an assume role an execution runs in the caller's context,
	// bounded in time (12 hours on AWS, 2 seconds here).
	userDoc := e.createDocument(`{"schemaVersion": "0.3", "mainSteps": [
	  {"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT30S"}}]}`)
	y := e.waitEnd(e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(userDoc)}))
	if y.AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusTimedout || strings.Join(steps(y), " ") != "nap:TimedOut" {
		t.Errorf("execution time limit: %s, %v", y.AutomationExecutionStatus, steps(y))
	}
	if !strings.Contains(aws.ToString(y.FailureMessage), "without an assume role") {
		t.Errorf("FailureMessage = %q", aws.ToString(y.FailureMessage))
	}
}

func TestAssumeRole(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true})
	doc := e.createDocument(`{"schemaVersion": "0.3", "assumeRole": "{{ AutomationAssumeRole }}",
	  "parameters": {"AutomationAssumeRole": {"type": "String", "default": ""}},
	  "mainSteps": [{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}}],
	  "outputs": ["launch.InstanceIds"]}`)
	// The role is assumed through moto's STS before the first step; moto
	// enforces no policy, so this proves the role is resolved and used.
	x := e.waitEnd(e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc),
		Parameters: map[string][]string{"AutomationAssumeRole": {"arn:aws:iam::123456789012:role/AutomationRole"}}}))
	if x.AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusSuccess {
		t.Errorf("with a role: %s %q", x.AutomationExecutionStatus, aws.ToString(x.FailureMessage))
	}
	// What is not a role fails the execution before anything is made.
	y := e.waitEnd(e.start(&ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc),
		Parameters: map[string][]string{"AutomationAssumeRole": {"not-a-role"}}}))
	if y.AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusFailed || len(y.StepExecutions) != 0 ||
		!strings.Contains(aws.ToString(y.FailureMessage), "assumeRole") {
		t.Errorf("with a bad role: %s, %v, %q", y.AutomationExecutionStatus, steps(y), aws.ToString(y.FailureMessage))
	}
}

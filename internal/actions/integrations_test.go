package actions

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// paramSSM answers GetParameter from a map.
type paramSSM struct {
	awsx.SSMAPI
	values map[string]string
}

func (f *paramSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	v, ok := f.values[aws.ToString(in.Name)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ParameterNotFound", Message: "not found"}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v), Type: ssmtypes.ParameterTypeSecureString}}, nil
}

func TestInvokeWebhook(t *testing.T) {
	var mu sync.Mutex
	var got struct{ body, auth, path string }
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.body, got.auth, got.path = string(b), r.Header.Get("Authorization"), r.URL.Path
		mu.Unlock()
		if strings.Contains(string(b), "fail") {
			http.Error(rw, "no thanks", http.StatusBadRequest)
			return
		}
		_, _ = rw.Write([]byte("ok"))
	}))
	defer srv.Close()
	integration := `{"description": "chat", "url": "` + srv.URL + `/hooks/T0KEN", "headers": {"Authorization": "Bearer s3cret"}, "payload": "{\"text\": \"default\"}"}`
	env := &Env{Clients: &awsx.Clients{SSM: &paramSSM{values: map[string]string{WebhookIntegrationPrefix + "chat": integration}}}}

	res, err := runStep(t, env, "aws:invokeWebhook", map[string]any{"IntegrationName": "chat", "Body": `{"text": "baked"}`})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["Response"] != "ok" || res.Outputs["ResponseCode"] != int64(200) {
		t.Errorf("outputs %v", res.Outputs)
	}
	if got.body != `{"text": "baked"}` || got.auth != "Bearer s3cret" || got.path != "/hooks/T0KEN" {
		t.Errorf("the webhook got %+v", got)
	}
	secret := strings.Join(res.Secrets, " ")
	if !strings.Contains(secret, "T0KEN") || !strings.Contains(secret, "Bearer s3cret") {
		t.Errorf("secrets %v", res.Secrets)
	}

	// Without Body, the integration's payload.
	if _, err := runStep(t, env, "aws:invokeWebhook", map[string]any{"IntegrationName": "chat"}); err != nil || got.body != `{"text": "default"}` {
		t.Errorf("err %v, body %q", err, got.body)
	}
	// An error answer fails the step.
	if _, err := runStep(t, env, "aws:invokeWebhook", map[string]any{"IntegrationName": "chat", "Body": "fail"}); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("err = %v", err)
	}
	// An unknown integration says where it was looked for.
	if _, err := runStep(t, env, "aws:invokeWebhook", map[string]any{"IntegrationName": "nope"}); err == nil || !strings.Contains(err.Error(), WebhookIntegrationPrefix+"nope") {
		t.Errorf("err = %v", err)
	}
}

// fakeSFN runs executions that end as scripted after a number of polls.
type fakeSFN struct {
	mu       sync.Mutex
	status   sfntypes.ExecutionStatus
	polls    int
	names    []string
	stopped  []string
	describe int
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names = append(f.names, aws.ToString(in.Name))
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:aws:states:eu-west-1:123456789012:execution:m:" + aws.ToString(in.Name))}, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describe++
	st := sfntypes.ExecutionStatusRunning
	if f.describe > f.polls {
		st = f.status
	}
	now := time.Now()
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: st, Output: aws.String(`{"ok": true}`), Input: aws.String("{}"),
		StartDate: &now, StateMachineArn: aws.String("arn:aws:states:eu-west-1:123456789012:stateMachine:m"), Error: aws.String("States.TaskFailed"), Cause: aws.String("the task failed")}, nil
}

func (f *fakeSFN) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, aws.ToString(in.ExecutionArn))
	return &sfn.StopExecutionOutput{}, nil
}

func TestExecuteStateMachine(t *testing.T) {
	f := &fakeSFN{status: sfntypes.ExecutionStatusSucceeded, polls: 2}
	env := &Env{Clients: &awsx.Clients{StepFunctions: f, Policy: testPolicy}}
	res, err := runStep(t, env, "aws:executeStateMachine", map[string]any{"stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:m", "input": "{}"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["status"] != "SUCCEEDED" || res.Outputs["output"] != `{"ok": true}` || f.describe != 3 {
		t.Errorf("outputs %v after %d polls", res.Outputs, f.describe)
	}
	if len(f.names) != 1 || !strings.HasPrefix(f.names[0], "s1-") || len(f.names[0]) > 80 {
		t.Errorf("execution names %v", f.names)
	}

	f = &fakeSFN{status: sfntypes.ExecutionStatusFailed}
	env.Clients.StepFunctions = f
	if _, err := runStep(t, env, "aws:executeStateMachine", map[string]any{"stateMachineArn": "arn:x"}); err == nil || !strings.Contains(err.Error(), "FAILED: States.TaskFailed the task failed") {
		t.Errorf("err = %v", err)
	}

	// A step that times out stops the execution it started.
	f = &fakeSFN{status: sfntypes.ExecutionStatusSucceeded, polls: 1 << 30}
	env.Clients.StepFunctions = f
	a, _ := Lookup("aws:executeStateMachine")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := a.Run(ctx, env, &document.Step{Name: "s"}, map[string]any{"stateMachineArn": "arn:x"}); err == nil || len(f.stopped) != 1 {
		t.Errorf("err = %v, stopped %v", err, f.stopped)
	}
}

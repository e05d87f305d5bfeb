package actions

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// invokeLambdaFunction is aws:invokeLambdaFunction. A function error (the
// function ran and raised) fails the step with the function's payload.
type invokeLambdaFunction struct{}

func init() { register("aws:invokeLambdaFunction", invokeLambdaFunction{}) }

func (invokeLambdaFunction) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	fn, err := required(in, "FunctionName")
	if err != nil {
		return Result{}, err
	}
	input := &lambda.InvokeInput{
		FunctionName:   aws.String(fn),
		Qualifier:      strPtr(in, "Qualifier"),
		ClientContext:  strPtr(in, "ClientContext"),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		LogType:        lambdatypes.LogTypeNone,
	}
	if v := str(in, "InvocationType"); v != "" {
		input.InvocationType = lambdatypes.InvocationType(v)
	}
	if v := str(in, "LogType"); v != "" {
		input.LogType = lambdatypes.LogType(v)
	}
	// InputPayload (a map) wins over Payload (JSON text), as in SSM.
	if p, ok := in["InputPayload"]; ok && p != nil {
		b, err := json.Marshal(p)
		if err != nil {
			return Result{}, fmt.Errorf("input InputPayload: %w", err)
		}
		input.Payload = b
	} else if p := str(in, "Payload"); p != "" {
		if !json.Valid([]byte(p)) {
			return Result{}, fmt.Errorf("input Payload is not valid JSON")
		}
		input.Payload = []byte(p)
	}
	// A throttled invocation did not run: asking again cannot run it twice.
	var res *lambda.InvokeOutput
	err = awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) (err error) {
		res, err = env.Clients.Lambda.Invoke(ctx, input)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("lambda Invoke %s: %w", fn, err)
	}
	out := Result{Outputs: map[string]any{
		"StatusCode":    int64(res.StatusCode),
		"FunctionError": aws.ToString(res.FunctionError),
		"LogResult":     aws.ToString(res.LogResult),
		"Payload":       string(res.Payload),
	}}
	if len(step.Outputs) > 0 {
		// Declared outputs select from the response, with the payload decoded
		// when it is JSON: $.Payload.result.
		doc := map[string]any{}
		for k, v := range out.Outputs {
			doc[k] = v
		}
		var payload any
		if json.Unmarshal(res.Payload, &payload) == nil {
			doc["Payload"] = payload
		}
		extra, err := selectOutputs(doc, step.Outputs)
		if err != nil {
			return out, err
		}
		for k, v := range extra {
			out.Outputs[k] = v
		}
	}
	env.info("invoked lambda function", map[string]any{"step": step.Name, "function_name": fn, "status_code": res.StatusCode})
	if fe := aws.ToString(res.FunctionError); fe != "" {
		return out, fmt.Errorf("lambda function %s failed (%s): %s", fn, fe, tail(string(res.Payload), tailLines, tailBytes))
	}
	return out, nil
}

package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/uuid"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// executeStateMachine is aws:executeStateMachine: it starts an execution of
// the state machine and waits for it to end; anything but SUCCEEDED fails
// the step. An execution still running when the step is cancelled or times
// out is stopped, so that a failed run does not leave work going on.
type executeStateMachine struct{}

func init() { register("aws:executeStateMachine", executeStateMachine{}) }

func (executeStateMachine) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	arn, err := required(in, "stateMachineArn")
	if err != nil {
		return Result{}, err
	}
	if env == nil || env.Clients == nil || env.Clients.StepFunctions == nil {
		return Result{}, errors.New("no Step Functions client")
	}
	states := env.Clients.StepFunctions
	start := &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: strPtr(in, "name"), Input: strPtr(in, "input")}
	if start.Name == nil {
		// One name for every retry of this call, so that a call retried
		// after a lost answer finds the execution it started; a new one for
		// each execution of the step (loops, attempts).
		start.Name = aws.String(executionName(step.Name, uuid.NewString()))
	}
	var started *sfn.StartExecutionOutput
	err = awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) error {
		var err error
		started, err = states.StartExecution(ctx, start)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("StartExecution: %w", err)
	}
	execARN := aws.ToString(started.ExecutionArn)
	env.info("started state machine execution", map[string]any{"execution_arn": execARN})

	var last *sfn.DescribeExecutionOutput
	err = awsx.Poll(ctx, env.Clients.Policy, func(ctx context.Context) (bool, error) {
		out, err := states.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execARN)})
		if err != nil {
			return false, err
		}
		last = out
		return out.Status != sfntypes.ExecutionStatusRunning && out.Status != sfntypes.ExecutionStatusPendingRedrive, nil
	})
	if err != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		_, serr := states.StopExecution(sctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(execARN), Cause: aws.String("the automation step ended")})
		cancel()
		if serr != nil {
			return Result{}, fmt.Errorf("waiting for execution %s: %w; stopping it failed too: %w", execARN, err, serr)
		}
		return Result{}, fmt.Errorf("waiting for execution %s (stopped): %w", execARN, err)
	}
	outs := map[string]any{
		"executionArn":    execARN,
		"input":           aws.ToString(last.Input),
		"name":            aws.ToString(last.Name),
		"output":          aws.ToString(last.Output),
		"stateMachineArn": aws.ToString(last.StateMachineArn),
		"status":          string(last.Status),
		"startDate":       timeText(last.StartDate),
		"stopDate":        timeText(last.StopDate),
	}
	if last.Status != sfntypes.ExecutionStatusSucceeded {
		return Result{Outputs: outs}, fmt.Errorf("execution %s ended %s: %s %s", execARN, last.Status, aws.ToString(last.Error), aws.ToString(last.Cause))
	}
	return Result{Outputs: outs}, nil
}

func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// executionName is a Step Functions execution name (at most 80 of
// [A-Za-z0-9-_]): the step's name and a unique id.
func executionName(step, id string) string {
	s := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, step)
	if room := 80 - len(id) - 1; len(s) > room {
		s = s[:room]
	}
	return s + "-" + id
}

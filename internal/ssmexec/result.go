package ssmexec

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// fill copies the execution's step table and outputs into the result.
func (b *bake) fill(x *ssmtypes.AutomationExecution) {
	b.res.ExecutionID = aws.ToString(x.AutomationExecutionId)
	b.res.Steps = nil
	for _, s := range x.StepExecutions {
		st := stepStatus(s.StepStatus)
		if st == "" {
			continue // never started
		}
		r := engine.StepResult{
			Name: aws.ToString(s.StepName), Action: aws.ToString(s.Action), Status: st,
			// SSM does not report attempts; a step it shows ran at least once.
			Attempts:   1,
			StartedAt:  aws.ToTime(s.ExecutionStartTime),
			FinishedAt: aws.ToTime(s.ExecutionEndTime),
			Message:    aws.ToString(s.FailureMessage),
		}
		if st == engine.StatusSuccess && len(s.Outputs) > 0 {
			r.Outputs = map[string]any{}
			for k, v := range s.Outputs {
				val := outputValue(r.Action, k, v)
				r.Outputs[k] = val
				b.res.Outputs[r.Name+"."+k] = val
			}
		}
		b.res.Steps = append(b.res.Steps, r)
	}
	// Declared outputs whose step output the step table did not carry.
	for k, v := range x.Outputs {
		if _, ok := b.res.Outputs[k]; ok || len(v) == 0 || strings.HasPrefix(v[0], "No output available yet") {
			continue
		}
		step, out, _ := strings.Cut(k, ".")
		b.res.Outputs[k] = outputValue(b.actionOf(step), out, v)
	}
}

func (b *bake) actionOf(step string) string {
	for _, s := range b.pub.Doc.MainSteps {
		if s.Name == step {
			return s.Action
		}
	}
	return ""
}

// outputValue is an output as the local engine gives it: a list for the
// outputs the action declares as lists, else the one string.
func outputValue(action, name string, v []string) any {
	list := len(v) != 1
	if spec, ok := document.LookupAction(action); ok {
		for _, o := range spec.Outputs {
			if o.Name == name {
				list = strings.HasSuffix(o.Type, "List")
			}
		}
	}
	if !list {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

// stepStatus is a step execution's status in the local engine's words; ""
// for a step that never started. A step still running when the execution
// ended was cancelled with it.
func stepStatus(s ssmtypes.AutomationExecutionStatus) string {
	switch s {
	case ssmtypes.AutomationExecutionStatusSuccess, ssmtypes.AutomationExecutionStatusCompletedWithSuccess:
		return engine.StatusSuccess
	case ssmtypes.AutomationExecutionStatusTimedout:
		return engine.StatusTimedOut
	case ssmtypes.AutomationExecutionStatusCancelled, ssmtypes.AutomationExecutionStatusCancelling:
		return engine.StatusCancelled
	case ssmtypes.AutomationExecutionStatusPending, ssmtypes.AutomationExecutionStatusScheduled, "":
		return ""
	case ssmtypes.AutomationExecutionStatusInprogress, ssmtypes.AutomationExecutionStatusWaiting,
		ssmtypes.AutomationExecutionStatusPendingApproval, ssmtypes.AutomationExecutionStatusApproved:
		return engine.StatusCancelled
	}
	return engine.StatusFailed
}

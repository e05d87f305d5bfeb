package ssmemu

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// approvalWait is an aws:approve step waiting for signals.
type approvalWait struct {
	step    string
	signals chan approvalSignal
}

type approvalSignal struct {
	approve  bool
	approver string
	comment  string
}

// approve runs aws:approve: the execution is Waiting until enough Approve
// signals arrive (MinRequiredApprovals, 1 by default) or one Reject does.
// https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
// "Temporarily pauses an automation until designated principals either
// approve or reject the action. After the required number of approvals is
// reached, the automation resumes." A rejected step fails (then onFailure
// applies); one that reaches its timeout (7 days by default) ends TimedOut.
// The emulator does not check who approves (the Approvers input): moto
// knows no principals. No SNS notification is sent. Outputs: ApprovalStatus
// and ApproverDecisions.
type approve struct {
	e *Emulator
	x *execution
}

func (a approve) Run(ctx context.Context, _ *actions.Env, step *document.Step, in map[string]any) (actions.Result, error) {
	a.e.recordInputs(a.x, step.Name, in)
	need := minApprovals(in["MinRequiredApprovals"])
	w := &approvalWait{step: step.Name, signals: make(chan approvalSignal, 64)}
	a.e.mu.Lock()
	a.x.waiting = w
	if a.x.status == StatusInProgress {
		// The execution's status while an approval is pending: "Choose the
		// option next to an Automation with a status of Waiting" (same
		// page). The step's own status is not documented; the emulator says
		// Waiting too.
		a.x.status = StatusWaiting
	}
	if s := a.x.liveStep(step.Name); s != nil {
		s.status = StatusWaiting
	}
	a.e.mu.Unlock()
	defer func() {
		a.e.mu.Lock()
		a.x.waiting = nil
		if a.x.status == StatusWaiting {
			a.x.status = StatusInProgress
		}
		if s := a.x.liveStep(step.Name); s != nil && s.status == StatusWaiting {
			s.status = StatusInProgress
		}
		a.e.mu.Unlock()
	}()

	var decisions []any
	approvals := 0
	for {
		select {
		case <-ctx.Done():
			return actions.Result{}, fmt.Errorf("waiting for approval: %w", ctx.Err())
		case s := <-w.signals:
			decision := "Approved"
			if !s.approve {
				decision = "Rejected"
			}
			d := map[string]any{"Approver": s.approver, "Decision": decision}
			if s.comment != "" {
				d["Comment"] = s.comment
			}
			decisions = append(decisions, d)
			if !s.approve {
				msg := "the approval was rejected"
				if s.comment != "" {
					msg += ": " + s.comment
				}
				return actions.Result{Outputs: map[string]any{"ApprovalStatus": "Rejected", "ApproverDecisions": decisions}}, errors.New(msg)
			}
			approvals++
			if approvals >= need {
				res := actions.Result{Outputs: map[string]any{"ApprovalStatus": "Approved", "ApproverDecisions": decisions}}
				a.e.recordOutputs(a.x, step.Name, res.Outputs)
				return res, nil
			}
		}
	}
}

func minApprovals(v any) int {
	n := 1
	switch t := v.(type) {
	case int64:
		n = int(t)
	case float64:
		n = int(t)
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(t)); err == nil {
			n = i
		}
	}
	return max(n, 1)
}

// signal is SendAutomationSignal.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendAutomationSignal.html
// Approve and Reject go to the aws:approve step the execution waits on; the
// payload may carry Comment. A signal the execution cannot take (it waits on
// no approval) answers InvalidAutomationSignalException ("The signal isn't
// valid for the current Automation execution"). StartStep, StopStep and
// Resume belong to Interactive mode and aws:pause, which the emulator does
// not run: they get the same answer.
func (e *Emulator) signal(ctx context.Context, in *signalInput) (any, error) {
	switch in.SignalType {
	case "Approve", "Reject", "StartStep", "StopStep", "Resume":
	default:
		return nil, errorf(codeValidation, "1 validation error detected: Value '%s' at 'signalType' failed to satisfy constraint: Member must satisfy enum value set: [Approve, Reject, StartStep, StopStep, Resume]", in.SignalType)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	x, err := e.findLocked(in.AutomationExecutionID)
	if err != nil {
		return nil, err
	}
	if in.SignalType != "Approve" && in.SignalType != "Reject" {
		return nil, errorf(codeInvalidAutomationSignal, "the emulator takes Approve and Reject signals only (%s is for Interactive mode and aws:pause)", in.SignalType)
	}
	if x.waiting == nil {
		return nil, errorf(codeInvalidAutomationSignal, "The execution %s (%s) is not waiting for an approval", x.id, x.status)
	}
	s := approvalSignal{approve: in.SignalType == "Approve", approver: approverOf(ctx), comment: strings.Join(in.Payload["Comment"], "\n")}
	select {
	case x.waiting.signals <- s:
	default:
		return nil, errorf(codeThrottling, "Rate exceeded: too many signals pending for execution %s", x.id)
	}
	e.logf("execution %s: %s signal for step %s", x.id, in.SignalType, x.waiting.step)
	return struct{}{}, nil
}

type approverKey struct{}

// approverOf is who sent a signal: the access key id the request was signed
// with, the only identity the emulator sees.
func approverOf(ctx context.Context) string {
	if s, ok := ctx.Value(approverKey{}).(string); ok && s != "" {
		return s
	}
	return "unknown"
}

// accessKeyOf reads the access key id from a SigV4 Authorization header.
func accessKeyOf(authorization string) string {
	_, rest, ok := strings.Cut(authorization, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "/")
	return key
}

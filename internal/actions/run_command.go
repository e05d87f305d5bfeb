package actions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// runCommand is aws:runCommand: send the command as soon as the instances are
// managed by SSM, then wait for every invocation to finish.
type runCommand struct{}

func init() {
	register("aws:runCommand", runCommand{})
	requestShape("aws:runCommand", ssm.SendCommandInput{})
}

// CommandError is a command that did not succeed on an instance. Tail holds the
// end of its stderr and stdout, which is usually all a user needs to see.
type CommandError struct {
	CommandID     string
	InstanceID    string
	Status        string
	StatusDetails string
	ResponseCode  int64
	Tail          string
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command %s", e.CommandID)
	if e.InstanceID != "" {
		fmt.Fprintf(&b, " on %s", e.InstanceID)
	}
	fmt.Fprintf(&b, " ended %s", e.Status)
	if e.StatusDetails != "" && e.StatusDetails != e.Status {
		fmt.Fprintf(&b, " (%s)", e.StatusDetails)
	}
	if e.ResponseCode != 0 {
		fmt.Fprintf(&b, " with exit code %d", e.ResponseCode)
	}
	if e.Tail != "" {
		b.WriteString("; end of output:\n")
		b.WriteString(e.Tail)
	}
	return b.String()
}

// Output tails kept in errors: enough to show the failing command and its
// message, short enough for a Terraform diagnostic.
const (
	tailLines = 20
	tailBytes = 2048
)

func outputTail(stderr, stdout string) string {
	var parts []string
	if s := strings.TrimSpace(stderr); s != "" {
		parts = append(parts, "[stderr]\n"+tail(stderr, tailLines, tailBytes))
	}
	if s := strings.TrimSpace(stdout); s != "" {
		parts = append(parts, "[stdout]\n"+tail(stdout, tailLines, tailBytes))
	}
	return strings.Join(parts, "\n")
}

func (runCommand) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	input := &ssm.SendCommandInput{}
	if err := bind(input, in, ""); err != nil {
		return Result{}, fmt.Errorf("input %w", err)
	}
	if aws.ToString(input.DocumentName) == "" {
		return Result{}, fmt.Errorf("input DocumentName is required")
	}
	if len(input.InstanceIds) == 0 && len(input.Targets) == 0 {
		return Result{}, fmt.Errorf("one of the inputs InstanceIds or Targets is required")
	}

	if err := checkBuilders(ctx, env, input.InstanceIds); err != nil {
		return Result{}, err
	}
	var (
		cmdID string
		out   Result
		invs  []invocation
	)
	// A builder terminated by someone else ends the step at once, whether
	// its agent is still to register or its command is running.
	err := guardBuilders(ctx, env, input.InstanceIds, func(ctx context.Context) error {
		var err error
		cmdID, err = sendWhenManaged(ctx, env, step, input)
		if err != nil {
			return err
		}
		env.info("sent command", map[string]any{"step": step.Name, "command_id": cmdID, "instance_ids": strings.Join(input.InstanceIds, ",")})
		out = Result{Outputs: map[string]any{"CommandId": cmdID}}
		if len(input.InstanceIds) > 0 {
			invs, err = waitInvocations(ctx, env, cmdID, input.InstanceIds)
		} else {
			invs, err = waitCommand(ctx, env, cmdID)
		}
		if err != nil {
			if ctx.Err() != nil {
				cancelCommand(ctx, env, cmdID)
			}
			return fmt.Errorf("waiting for command %s: %w", cmdID, err)
		}
		return nil
	})
	if err != nil {
		return out, err
	}

	report := invs[0]
	for _, inv := range invs {
		if inv.status != string(ssmtypes.CommandInvocationStatusSuccess) {
			report = inv
			break
		}
	}
	out.Outputs["Status"] = report.status
	out.Outputs["ResponseCode"] = report.code
	out.Outputs["Output"] = report.stdout
	if report.status != string(ssmtypes.CommandInvocationStatusSuccess) {
		return out, &CommandError{
			CommandID: cmdID, InstanceID: report.instance, Status: report.status, StatusDetails: report.details,
			ResponseCode: report.code, Tail: outputTail(report.stderr, report.stdout),
		}
	}
	return out, nil
}

// sendWhenManaged sends the command, retrying while SSM does not know the
// instances yet (InvalidInstanceId: the agent has not registered since launch).
func sendWhenManaged(ctx context.Context, env *Env, step *document.Step, input *ssm.SendCommandInput) (string, error) {
	var id string
	var notManaged error
	probe := env.Clients.Policy.For(awsx.AgentRegistration)
	if env.Clients.Agents != nil && len(input.InstanceIds) > 0 {
		// One DescribeInstanceInformation per tick serves every bake of the
		// process; once the agents are online the command is sent once.
		managed, err := env.Clients.Agents.WaitManaged(ctx, input.InstanceIds)
		if err != nil {
			notManaged = err
		} else if managed {
			probe = env.Clients.Policy
		}
	}
	err := awsx.Poll(ctx, probe, func(ctx context.Context) (bool, error) {
		res, err := env.Clients.SSM.SendCommand(ctx, input)
		if err == nil {
			id = aws.ToString(res.Command.CommandId)
			return true, nil
		}
		if awsx.ErrorCode(err) == "InvalidInstanceId" {
			if notManaged == nil {
				env.info("waiting for instances to be managed by SSM", map[string]any{"step": step.Name, "instance_ids": strings.Join(input.InstanceIds, ",")})
			}
			notManaged = err
			return false, nil
		}
		return false, err
	})
	if err != nil && notManaged != nil && ctx.Err() != nil {
		return "", fmt.Errorf("instances %s never became managed by SSM (is the agent running, and does the instance profile allow SSM?): %w; last answer: %v",
			strings.Join(input.InstanceIds, ", "), err, notManaged)
	}
	if err != nil {
		return "", fmt.Errorf("SendCommand: %w", err)
	}
	return id, nil
}

type invocation struct {
	instance, status, details, stdout, stderr string
	code                                      int64
}

func terminalInvocation(s string) bool {
	switch ssmtypes.CommandInvocationStatus(s) {
	case ssmtypes.CommandInvocationStatusSuccess, ssmtypes.CommandInvocationStatusCancelled,
		ssmtypes.CommandInvocationStatusTimedOut, ssmtypes.CommandInvocationStatusFailed:
		return true
	}
	return false
}

// waitInvocations polls each instance's invocation until all are terminal and
// returns them in instance order.
func waitInvocations(ctx context.Context, env *Env, cmdID string, instances []string) ([]invocation, error) {
	if env.Clients.Commands != nil {
		// The process's commands share one ListCommands per tick; the
		// invocations are then read once. Any other error leaves the wait
		// to the polling below.
		if err := env.Clients.Commands.Wait(ctx, cmdID); err != nil && ctx.Err() != nil {
			return nil, err
		}
	}
	done := map[string]invocation{}
	err := awsx.Poll(ctx, env.Clients.Policy.For(awsx.CommandRun), func(ctx context.Context) (bool, error) {
		for _, id := range instances {
			if _, ok := done[id]; ok {
				continue
			}
			inv, err := getInvocation(ctx, env, cmdID, id)
			if err != nil {
				if awsx.ErrorCode(err) == "InvocationDoesNotExist" {
					continue // not visible yet right after SendCommand
				}
				return false, err
			}
			if terminalInvocation(inv.status) {
				done[id] = inv
			}
		}
		return len(done) == len(instances), nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]invocation, len(instances))
	for i, id := range instances {
		out[i] = done[id]
	}
	return out, nil
}

func getInvocation(ctx context.Context, env *Env, cmdID, instance string) (invocation, error) {
	res, err := env.Clients.SSM.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmdID), InstanceId: aws.String(instance)})
	if awsx.ErrorCode(err) == "InvalidPluginName" {
		// A document with several steps: GetCommandInvocation wants one
		// plugin, the listing gives them all.
		return listInvocation(ctx, env, cmdID, instance)
	}
	if err != nil {
		return invocation{}, err
	}
	return invocation{
		instance: instance,
		status:   string(res.Status),
		details:  aws.ToString(res.StatusDetails),
		stdout:   aws.ToString(res.StandardOutputContent),
		stderr:   aws.ToString(res.StandardErrorContent),
		code:     int64(res.ResponseCode),
	}, nil
}

func listInvocation(ctx context.Context, env *Env, cmdID, instance string) (invocation, error) {
	res, err := env.Clients.SSM.ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{
		CommandId: aws.String(cmdID), InstanceId: aws.String(instance), Details: true,
	})
	if err != nil {
		return invocation{}, err
	}
	if len(res.CommandInvocations) == 0 {
		return invocation{}, fmt.Errorf("no invocation of command %s on %s: %w", cmdID, instance, awsx.ErrNotFound)
	}
	ci := res.CommandInvocations[0]
	inv := invocation{instance: instance, status: string(ci.Status), details: aws.ToString(ci.StatusDetails)}
	var out []string
	for _, p := range ci.CommandPlugins {
		if s := aws.ToString(p.Output); s != "" {
			out = append(out, s)
		}
		if p.Status != ssmtypes.CommandPluginStatusSuccess && inv.code == 0 {
			inv.code = int64(p.ResponseCode)
		}
	}
	inv.stdout = strings.Join(out, "\n")
	return inv, nil
}

// waitCommand follows a command sent to Targets, whose instances are not known
// in advance, through its overall status.
func waitCommand(ctx context.Context, env *Env, cmdID string) ([]invocation, error) {
	var inv invocation
	err := awsx.Poll(ctx, env.Clients.Policy, func(ctx context.Context) (bool, error) {
		res, err := env.Clients.SSM.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: aws.String(cmdID)})
		if err != nil {
			return false, err
		}
		if len(res.Commands) == 0 {
			return false, nil
		}
		c := res.Commands[0]
		inv = invocation{status: string(c.Status), details: aws.ToString(c.StatusDetails)}
		return terminalInvocation(inv.status), nil
	})
	return []invocation{inv}, err
}

// cancelCommand stops a command whose wait was abandoned, so that it does not
// keep changing an instance cleanup is about to remove.
func cancelCommand(ctx context.Context, env *Env, cmdID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := env.Clients.SSM.CancelCommand(ctx, &ssm.CancelCommandInput{CommandId: aws.String(cmdID)}); err != nil {
		env.info("could not cancel command", map[string]any{"command_id": cmdID, "error": err.Error()})
	}
}

// tail returns the last lines of s, at most maxLines lines and maxBytes bytes,
// marking what was cut.
func tail(s string, maxLines, maxBytes int) string {
	s = strings.TrimRight(s, "\n")
	cut := false
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
		if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
			s = s[i+1:]
		}
		cut = true
	}
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
		cut = true
	}
	out := strings.Join(lines, "\n")
	if cut {
		out = "...\n" + out
	}
	return out
}

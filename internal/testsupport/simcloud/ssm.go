package simcloud

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// Outcome is how a command ends on every instance: its status (Success
// when empty), its output and its exit code.
type Outcome struct {
	Status         ssmtypes.CommandInvocationStatus
	Stdout, Stderr string
	Code           int32
}

// succeeded is the outcome of a command unless a test sets another.
var succeeded = Outcome{Status: ssmtypes.CommandInvocationStatusSuccess, Stdout: "baked\n"}

type command struct {
	id, document string
	sent         time.Time
	instances    []string
	done         map[string]time.Time
	outcome      Outcome
	cancelled    bool
}

func (cmd *command) invocationStatus(instance string, now time.Time) ssmtypes.CommandInvocationStatus {
	switch {
	case cmd.cancelled:
		return ssmtypes.CommandInvocationStatusCancelled
	case now.Before(cmd.done[instance]):
		return ssmtypes.CommandInvocationStatusInProgress
	}
	return cmd.outcome.Status
}

func (cmd *command) status(now time.Time) ssmtypes.CommandStatus {
	if cmd.cancelled {
		return ssmtypes.CommandStatusCancelled
	}
	for _, id := range cmd.instances {
		if now.Before(cmd.done[id]) {
			return ssmtypes.CommandStatusInProgress
		}
	}
	switch cmd.outcome.Status {
	case ssmtypes.CommandInvocationStatusSuccess:
		return ssmtypes.CommandStatusSuccess
	case ssmtypes.CommandInvocationStatusTimedOut:
		return ssmtypes.CommandStatusTimedOut
	case ssmtypes.CommandInvocationStatusCancelled:
		return ssmtypes.CommandStatusCancelled
	}
	return ssmtypes.CommandStatusFailed
}

// SSM returns the Systems Manager client of this cloud.
func (c *Cloud) SSM() awsx.SSMAPI { return ssmClient{c} }

type ssmClient struct{ c *Cloud }

var _ awsx.SSMAPI = ssmClient{}

func (s ssmClient) SendCommand(ctx context.Context, in *ssm.SendCommandInput, _ ...func(*ssm.Options)) (out *ssm.SendCommandOutput, err error) {
	err = s.c.call(ctx, "SSM", "SendCommand", in, "", func() error {
		out, err = s.c.sendCommand(in)
		return err
	})
	return out, err
}

func (s ssmClient) GetCommandInvocation(ctx context.Context, in *ssm.GetCommandInvocationInput, _ ...func(*ssm.Options)) (out *ssm.GetCommandInvocationOutput, err error) {
	err = s.c.call(ctx, "SSM", "GetCommandInvocation", in, "", func() error {
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		now := s.c.Now()
		cmd, ok := s.c.commands[aws.ToString(in.CommandId)]
		if !ok {
			return apiError("InvalidCommandId", "")
		}
		instance := aws.ToString(in.InstanceId)
		if !slices.Contains(cmd.instances, instance) || now.Sub(cmd.sent) < s.c.cfg.Durations.Invocation {
			return apiError("InvocationDoesNotExist", "")
		}
		st := cmd.invocationStatus(instance, now)
		out = &ssm.GetCommandInvocationOutput{
			CommandId:     in.CommandId,
			InstanceId:    in.InstanceId,
			DocumentName:  aws.String(cmd.document),
			Status:        st,
			StatusDetails: aws.String(string(st)),
			ResponseCode:  -1,
		}
		if !now.Before(cmd.done[instance]) && !cmd.cancelled {
			out.StandardOutputContent = aws.String(cmd.outcome.Stdout)
			out.StandardErrorContent = aws.String(cmd.outcome.Stderr)
			out.ResponseCode = cmd.outcome.Code
		}
		return nil
	})
	return out, err
}

func (s ssmClient) ListCommandInvocations(ctx context.Context, in *ssm.ListCommandInvocationsInput, _ ...func(*ssm.Options)) (out *ssm.ListCommandInvocationsOutput, err error) {
	err = s.c.call(ctx, "SSM", "ListCommandInvocations", in, "", func() error {
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		now := s.c.Now()
		out = &ssm.ListCommandInvocationsOutput{}
		cmd, ok := s.c.commands[aws.ToString(in.CommandId)]
		if !ok {
			return nil
		}
		for _, id := range cmd.instances {
			if in.InstanceId != nil && aws.ToString(in.InstanceId) != id {
				continue
			}
			st := cmd.invocationStatus(id, now)
			out.CommandInvocations = append(out.CommandInvocations, ssmtypes.CommandInvocation{
				CommandId: aws.String(cmd.id), InstanceId: aws.String(id), Status: st, StatusDetails: aws.String(string(st)),
			})
		}
		return nil
	})
	return out, err
}

func (s ssmClient) ListCommands(ctx context.Context, in *ssm.ListCommandsInput, _ ...func(*ssm.Options)) (out *ssm.ListCommandsOutput, err error) {
	err = s.c.call(ctx, "SSM", "ListCommands", in, "", func() error {
		out, err = s.c.listCommands(in)
		return err
	})
	return out, err
}

func (s ssmClient) CancelCommand(ctx context.Context, in *ssm.CancelCommandInput, _ ...func(*ssm.Options)) (out *ssm.CancelCommandOutput, err error) {
	err = s.c.call(ctx, "SSM", "CancelCommand", in, "", func() error {
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		cmd, ok := s.c.commands[aws.ToString(in.CommandId)]
		if !ok {
			return apiError("InvalidCommandId", "")
		}
		if cmd.status(s.c.Now()) == ssmtypes.CommandStatusInProgress {
			cmd.cancelled = true
		}
		out = &ssm.CancelCommandOutput{}
		return nil
	})
	return out, err
}

func (s ssmClient) AddTagsToResource(ctx context.Context, in *ssm.AddTagsToResourceInput, _ ...func(*ssm.Options)) (out *ssm.AddTagsToResourceOutput, err error) {
	err = s.c.call(ctx, "SSM", "AddTagsToResource", in, "", func() error {
		out = &ssm.AddTagsToResourceOutput{}
		return nil
	})
	return out, err
}

type parameter struct {
	value   string
	secure  bool
	version int64
}

// GetParameter answers from the parameters a test put (PutParameter); a
// SecureString read without decryption is ciphertext.
func (s ssmClient) GetParameter(ctx context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (out *ssm.GetParameterOutput, err error) {
	err = s.c.call(ctx, "SSM", "GetParameter", in, "", func() error {
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		name := aws.ToString(in.Name)
		p, ok := s.c.parameters[name]
		if !ok {
			return apiError("ParameterNotFound", "Parameter %s not found.", name)
		}
		v, kind := p.value, ssmtypes.ParameterTypeString
		if p.secure {
			kind = ssmtypes.ParameterTypeSecureString
			if !aws.ToBool(in.WithDecryption) {
				v = "AQICAHh-ciphertext-of-" + name
			}
		}
		out = &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v), Type: kind, Version: p.version}}
		return nil
	})
	return out, err
}

func (s ssmClient) GetDocument(ctx context.Context, in *ssm.GetDocumentInput, _ ...func(*ssm.Options)) (out *ssm.GetDocumentOutput, err error) {
	err = s.c.call(ctx, "SSM", "GetDocument", in, "", func() error {
		return apiError("InvalidDocument", "Document with name %s does not exist.", aws.ToString(in.Name))
	})
	return out, err
}

// DescribeInstanceInformation lists the managed instances among those the
// filter names: Online once the agent has registered, ConnectionLost after the
// instance stopped. It is not part of awsx.SSMAPI; the agent watcher finds it
// by assertion, as on the SDK client.
func (s ssmClient) DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, _ ...func(*ssm.Options)) (out *ssm.DescribeInstanceInformationOutput, err error) {
	err = s.c.call(ctx, "SSM", "DescribeInstanceInformation", in, "", func() error {
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		now := s.c.Now()
		var ids []string
		for _, f := range in.InstanceInformationFilterList {
			if f.Key == ssmtypes.InstanceInformationFilterKeyInstanceIds {
				ids = append(ids, f.ValueSet...)
			}
		}
		if len(ids) == 0 {
			ids = sortedKeys(s.c.instances)
		}
		out = &ssm.DescribeInstanceInformationOutput{}
		for _, id := range ids {
			inst, ok := s.c.instances[id]
			if !ok || inst.registered.IsZero() || now.Before(inst.registered) {
				continue
			}
			ping := ssmtypes.PingStatusConnectionLost
			if !inst.agentAt.IsZero() && !now.Before(inst.agentAt) {
				ping = ssmtypes.PingStatusOnline
			}
			out.InstanceInformationList = append(out.InstanceInformationList, ssmtypes.InstanceInformation{
				InstanceId: aws.String(id), PingStatus: ping, ResourceType: ssmtypes.ResourceTypeEc2Instance,
			})
		}
		return nil
	})
	return out, err
}

// sendCommand starts a command on instances whose agent is online; any other
// instance makes the whole call fail with InvalidInstanceId, as on AWS.
func (c *Cloud) sendCommand(in *ssm.SendCommandInput) (*ssm.SendCommandOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(in.InstanceIds) == 0 {
		return nil, apiError("InvalidParameters", "InstanceIds or Targets is required")
	}
	now := c.Now()
	for _, id := range in.InstanceIds {
		inst, ok := c.instances[id]
		if !ok || inst.agentAt.IsZero() || now.Before(inst.agentAt) {
			return nil, apiError("InvalidInstanceId", "Instances [[%s]] not in a valid state for account %s", id, Account)
		}
	}
	cmd := &command{
		id:        c.newID("cmd"),
		document:  aws.ToString(in.DocumentName),
		sent:      now,
		instances: slices.Clone(in.InstanceIds),
		done:      map[string]time.Time{},
		outcome:   succeeded,
	}
	if o := c.knobs.outcome; o != nil {
		cmd.outcome = *o
		if cmd.outcome.Status == "" {
			cmd.outcome.Status = ssmtypes.CommandInvocationStatusSuccess
		}
	}
	for _, id := range in.InstanceIds {
		cmd.done[id] = now.Add(c.instances[id].plan.Command)
	}
	c.commands[cmd.id] = cmd
	c.cmdOrder = append(c.cmdOrder, cmd.id)
	return &ssm.SendCommandOutput{Command: c.commandView(cmd, now)}, nil
}

func (c *Cloud) commandView(cmd *command, now time.Time) *ssmtypes.Command {
	return &ssmtypes.Command{
		CommandId:         aws.String(cmd.id),
		DocumentName:      aws.String(cmd.document),
		InstanceIds:       slices.Clone(cmd.instances),
		RequestedDateTime: aws.Time(cmd.sent),
		Status:            cmd.status(now),
		StatusDetails:     aws.String(string(cmd.status(now))),
		TargetCount:       int32(len(cmd.instances)),
	}
}

// listCommands answers one command by id, or every command matching the
// filters, newest first, in pages of MaxResults (50 at most).
func (c *Cloud) listCommands(in *ssm.ListCommandsInput) (*ssm.ListCommandsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	out := &ssm.ListCommandsOutput{}
	if id := aws.ToString(in.CommandId); id != "" {
		cmd, ok := c.commands[id]
		if !ok {
			return nil, apiError("InvalidCommandId", "")
		}
		out.Commands = []ssmtypes.Command{*c.commandView(cmd, now)}
		return out, nil
	}
	var after, before time.Time
	for _, f := range in.Filters {
		t, err := time.Parse(time.RFC3339, aws.ToString(f.Value))
		switch f.Key {
		case ssmtypes.CommandFilterKeyInvokedAfter:
			if err != nil {
				return nil, apiError("InvalidFilterValue", "%s", aws.ToString(f.Value))
			}
			after = t
		case ssmtypes.CommandFilterKeyInvokedBefore:
			if err != nil {
				return nil, apiError("InvalidFilterValue", "%s", aws.ToString(f.Value))
			}
			before = t
		}
	}
	var all []*command
	for i := len(c.cmdOrder) - 1; i >= 0; i-- {
		cmd := c.commands[c.cmdOrder[i]]
		if (!after.IsZero() && cmd.sent.Before(after)) || (!before.IsZero() && cmd.sent.After(before)) {
			continue
		}
		all = append(all, cmd)
	}
	size := int(aws.ToInt32(in.MaxResults))
	if size <= 0 || size > 50 {
		size = 50
	}
	from, _ := strconv.Atoi(aws.ToString(in.NextToken))
	for i := from; i < len(all) && i < from+size; i++ {
		out.Commands = append(out.Commands, *c.commandView(all[i], now))
	}
	if from+size < len(all) {
		out.NextToken = aws.String(strconv.Itoa(from + size))
	}
	return out, nil
}

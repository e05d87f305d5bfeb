package actions

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// createStack is aws:createStack: the stack is recorded in the ledger the
// moment CloudFormation names it, so that a failed run deletes it, and
// carries the run's tags besides its own (CloudFormation passes stack tags on
// to the resources it creates). The step waits until the stack is created
// and fails when it is not.
type createStack struct{}

func init() { register("aws:createStack", createStack{}) }

func (createStack) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	cfn, err := cfnClient(env)
	if err != nil {
		return Result{}, err
	}
	input := &cloudformation.CreateStackInput{}
	if err := bind(input, in, ""); err != nil {
		return Result{}, fmt.Errorf("input %w", err)
	}
	if aws.ToString(input.StackName) == "" {
		return Result{}, fmt.Errorf("input StackName is required")
	}
	input.Tags = stackTags(input.Tags, env.Tags)
	if input.ClientRequestToken == nil {
		input.ClientRequestToken = aws.String(stackToken(env.ExecutionID, step.Name))
	}
	var out *cloudformation.CreateStackOutput
	called := time.Now()
	err = awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) error {
		var err error
		out, err = cfn.CreateStack(ctx, input)
		return err
	})
	if err != nil && !refused(err) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		recordIfOurs(cctx, env, cfn, aws.ToString(input.StackName), called)
		cancel()
	}
	if err != nil {
		return Result{}, fmt.Errorf("CreateStack: %w", err)
	}
	id := aws.ToString(out.StackId)
	env.Ledger.RecordStack(env.Clients.Region, id, aws.ToString(input.StackName))
	env.info("created stack", map[string]any{"stack_id": id, "stack_name": aws.ToString(input.StackName)})

	st, err := waitStack(ctx, env, cfn, id)
	outs := map[string]any{"StackId": id}
	if st != nil {
		outs["StackStatus"] = string(st.StackStatus)
		outs["StackStatusReason"] = aws.ToString(st.StackStatusReason)
	}
	if err != nil {
		return Result{Outputs: outs}, fmt.Errorf("waiting for stack %s: %w", id, err)
	}
	if st == nil {
		return Result{Outputs: outs}, fmt.Errorf("stack %s disappeared while it was being created", id)
	}
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		return Result{Outputs: outs}, fmt.Errorf("stack %s ended %s: %s", id, st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	return Result{Outputs: outs}, nil
}

// stackTags adds the run's tags to the stack's own; a key the document sets
// keeps the document's value, except the run's amibake:* keys, which are
// never overridden.
func stackTags(own []cfntypes.Tag, run map[string]string) []cfntypes.Tag {
	keys := make([]string, 0, len(run))
	for k := range run {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]cfntypes.Tag, 0, len(own)+len(run))
	set := map[string]bool{}
	for _, t := range own {
		k := aws.ToString(t.Key)
		if _, ours := run[k]; ours && isRunTag(k) {
			continue
		}
		set[k] = true
		out = append(out, t)
	}
	for _, k := range keys {
		if set[k] {
			continue
		}
		out = append(out, cfntypes.Tag{Key: aws.String(k), Value: aws.String(run[k])})
	}
	return out
}

func isRunTag(k string) bool { return strings.HasPrefix(k, systemTagPrefix) }

// stackToken is the ClientRequestToken of a CreateStack the document gave
// none for: the same for every call of one step of one run, so that a call
// retried after a lost answer does not create a second stack.
func stackToken(executionID, step string) string {
	t := "amibake-" + executionID + "-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, step)
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}

// stackClockSkew is how far AWS's clock may run behind this machine's when a
// stack's CreationTime is compared with the time the run asked for it.
const stackClockSkew = time.Minute

// recordIfOurs records the stack named name that a CreateStack whose answer
// was lost (a 5xx, a timeout; never a refusal, which creates nothing) may
// still have made. A tag is no proof, anyone may put the run's id on a stack
// of theirs; what proves it is the name the run asked for (live stack names
// are unique, so a stack of that name that existed before the call would
// have made AWS refuse it) together with a CreationTime no earlier than the
// call, and the run's tag besides.
func recordIfOurs(ctx context.Context, env *Env, cfn awsx.CloudFormationAPI, name string, called time.Time) {
	st, err := describeStack(ctx, cfn, name)
	if err != nil || st == nil || env.ExecutionID == "" {
		return
	}
	if st.CreationTime == nil || st.CreationTime.Before(called.Add(-stackClockSkew)) {
		env.info("left alone a stack with the requested name that existed before the call", map[string]any{"stack_name": name})
		return
	}
	for _, t := range st.Tags {
		if strings.HasPrefix(aws.ToString(t.Key), systemTagPrefix) && aws.ToString(t.Value) == env.ExecutionID {
			env.Ledger.RecordStack(env.Clients.Region, aws.ToString(st.StackId), name)
			return
		}
	}
}

// deleteStackAction is aws:deleteStack: it waits until the stack is gone.
type deleteStackAction struct{}

func init() { register("aws:deleteStack", deleteStackAction{}) }

func (deleteStackAction) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	cfn, err := cfnClient(env)
	if err != nil {
		return Result{}, err
	}
	input := &cloudformation.DeleteStackInput{}
	if err := bind(input, in, ""); err != nil {
		return Result{}, fmt.Errorf("input %w", err)
	}
	name := aws.ToString(input.StackName)
	if name == "" {
		return Result{}, fmt.Errorf("input StackName is required")
	}
	// By id: a deleted stack is still described, as DELETE_COMPLETE, while
	// its name is free for another.
	target := name
	if st, err := describeStack(ctx, cfn, name); err == nil && st != nil && st.StackId != nil {
		target = aws.ToString(st.StackId)
	}
	input.StackName = aws.String(target)
	err = awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) error {
		_, err := cfn.DeleteStack(ctx, input)
		return err
	})
	if err != nil && !stackMissing(err) {
		return Result{}, fmt.Errorf("DeleteStack: %w", err)
	}
	st, err := waitStack(ctx, env, cfn, target)
	if err != nil {
		return Result{}, fmt.Errorf("waiting for stack %s to be deleted: %w", name, err)
	}
	if st != nil && st.StackStatus != cfntypes.StackStatusDeleteComplete {
		return Result{}, fmt.Errorf("stack %s ended %s: %s", name, st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	env.Ledger.StackDeleted(target)
	env.Ledger.StackDeleted(name)
	env.info("deleted stack", map[string]any{"stack_id": target})
	return Result{Outputs: map[string]any{}}, nil
}

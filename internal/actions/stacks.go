package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// StackRecord is one CloudFormation stack the run created.
type StackRecord struct {
	ID      string // the stack's ARN
	Name    string
	Region  string
	Deleted bool
}

// RecordStack notes a created stack.
func (l *Ledger) RecordStack(region, id, name string) {
	if l == nil || id == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.stacks {
		if r.ID == id {
			return
		}
	}
	l.stacks = append(l.stacks, StackRecord{ID: id, Name: name, Region: region})
}

// StackDeleted notes that a stack, by id or name, is gone.
func (l *Ledger) StackDeleted(idOrName string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.stacks {
		if l.stacks[i].ID == idOrName || l.stacks[i].Name == idOrName {
			l.stacks[i].Deleted = true
		}
	}
}

// Stacks returns a copy of the stack records, in creation order.
func (l *Ledger) Stacks() []StackRecord {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]StackRecord(nil), l.stacks...)
}

func cfnClient(env *Env) (awsx.CloudFormationAPI, error) {
	if env == nil || env.Clients == nil || env.Clients.CloudFormation == nil {
		return nil, errors.New("no CloudFormation client")
	}
	return env.Clients.CloudFormation, nil
}

// describeStack returns the stack, or nil when CloudFormation no longer
// knows it (a deleted stack asked for by name).
func describeStack(ctx context.Context, cfn awsx.CloudFormationAPI, idOrName string) (*cfntypes.Stack, error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(idOrName)})
	if err != nil {
		if stackMissing(err) {
			return nil, nil
		}
		return nil, err
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

// stackMissing recognises CloudFormation's answer for a stack it does not
// know: a ValidationError that says the stack "does not exist".
func stackMissing(err error) bool {
	return awsx.ErrorCode(err) == "ValidationError" && strings.Contains(err.Error(), "does not exist")
}

// waitStack polls until the stack leaves its *_IN_PROGRESS status and returns
// it (nil when it is gone).
func waitStack(ctx context.Context, env *Env, cfn awsx.CloudFormationAPI, idOrName string) (*cfntypes.Stack, error) {
	var last *cfntypes.Stack
	err := awsx.Poll(ctx, env.Clients.Policy, func(ctx context.Context) (bool, error) {
		st, err := describeStack(ctx, cfn, idOrName)
		if err != nil {
			return false, err
		}
		last = st
		return st == nil || !strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS"), nil
	})
	return last, err
}

// deleteStacks deletes the stacks the run created and has not deleted, and
// waits for each to be gone.
func deleteStacks(ctx context.Context, env *Env) CleanupReport {
	var rep CleanupReport
	for _, s := range env.Ledger.Stacks() {
		if s.Deleted {
			continue
		}
		if err := deleteStack(ctx, env, s.ID); err != nil {
			rep.Failures = append(rep.Failures, ami.Failure{Kind: "stack", ID: s.ID, Region: s.Region, Err: err})
			continue
		}
		env.Ledger.StackDeleted(s.ID)
		rep.DeletedStacks = append(rep.DeletedStacks, s.ID)
		env.info("deleted stack", map[string]any{"stack_id": s.ID})
	}
	return rep
}

// deleteStack deletes a stack and waits until it is gone; a stack already
// gone counts as deleted.
func deleteStack(ctx context.Context, env *Env, idOrName string) error {
	cfn, err := cfnClient(env)
	if err != nil {
		return err
	}
	err = awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) error {
		_, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(idOrName)})
		return err
	})
	if err != nil && !stackMissing(err) {
		// The call may have taken effect and lost its answer: a stack
		// already being deleted, or gone, is waited for.
		st, derr := describeStack(ctx, cfn, idOrName)
		if derr != nil || (st != nil && !strings.HasPrefix(string(st.StackStatus), "DELETE_")) {
			return fmt.Errorf("DeleteStack: %w", err)
		}
	}
	st, err := waitStack(ctx, env, cfn, idOrName)
	if err != nil {
		return fmt.Errorf("waiting for the stack to be deleted: %w", err)
	}
	if st != nil && st.StackStatus != cfntypes.StackStatusDeleteComplete {
		return fmt.Errorf("stack ended %s: %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	return nil
}

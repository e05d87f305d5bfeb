package actions

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// BuilderGoneError is an instance a step works on that was terminated (or is
// shutting down) although the run did not ask for it: someone or something
// else ended it, and waiting would only run into the step's timeout.
type BuilderGoneError struct {
	InstanceID string
	State      string
	Reason     string
}

func (e *BuilderGoneError) Error() string {
	msg := fmt.Sprintf("instance %s was terminated outside this bake (state %s)", e.InstanceID, e.State)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

func gone(st ec2types.InstanceStateName) bool {
	return st == ec2types.InstanceStateNameTerminated || st == ec2types.InstanceStateNameShuttingDown
}

// checkBuilders fails with a *BuilderGoneError when one of ids is terminated or
// shutting down and the run did not terminate it. Instances AWS does not list
// are left to the call that follows, which says so in its own words.
func checkBuilders(ctx context.Context, env *Env, ids []string) error {
	if len(ids) == 0 || env.Clients == nil || env.Clients.EC2 == nil {
		return nil
	}
	found, err := describeInstances(ctx, env, []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}})
	if err != nil {
		return nil // not a verdict: the step's own call will tell
	}
	for _, in := range found {
		if in.State != nil && gone(in.State.Name) && !terminatedByRun(env, aws.ToString(in.InstanceId)) {
			return goneError(in)
		}
	}
	return nil
}

func goneError(in ec2types.Instance) *BuilderGoneError {
	e := &BuilderGoneError{InstanceID: aws.ToString(in.InstanceId)}
	if in.State != nil {
		e.State = string(in.State.Name)
	}
	if in.StateReason != nil {
		e.Reason = aws.ToString(in.StateReason.Message)
	}
	return e
}

func terminatedByRun(env *Env, id string) bool {
	for _, r := range env.Ledger.Instances() {
		if r.ID == id {
			return r.Terminated
		}
	}
	return false
}

// guardBuilders runs f with a context that is cancelled as soon as one of ids
// is terminated by someone else, and then returns the *BuilderGoneError
// naming it instead of f's error. The process's instance watcher batches the
// describes of every guard and wait.
func guardBuilders(ctx context.Context, env *Env, ids []string, f func(context.Context) error) error {
	if len(ids) == 0 || env.Clients == nil || env.Clients.Instances == nil {
		return f(ctx)
	}
	gctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := env.Clients.Instances.WaitForState(gctx, []string{id},
				ec2types.InstanceStateNameShuttingDown, ec2types.InstanceStateNameTerminated)
			if err != nil {
				return
			}
			// The watcher counts an instance it cannot see as gone; only one
			// AWS lists as terminated or shutting down is a verdict.
			if gone := checkBuilders(gctx, env, []string{id}); gone != nil {
				cancel(gone)
			}
		}()
	}
	err := f(gctx)
	var bg *BuilderGoneError
	if cause := context.Cause(gctx); errors.As(cause, &bg) && ctx.Err() == nil {
		err = bg
	}
	cancel(nil)
	wg.Wait()
	return err
}

// TerminateBuilders terminates the builders a resource kept (kept_instance_ids
// in state), as far as they are still there and were launched by the run
// executionID: state can be edited, so the client token is checked again. It
// returns the ids it refused to touch, and the error of what it could not
// terminate.
func TerminateBuilders(ctx context.Context, env *Env, executionID string, ids []string) (refused []string, err error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := describeInstances(ctx, env, []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}})
	if err != nil {
		return nil, fmt.Errorf("describing kept builders %v: %w", ids, err)
	}
	var mine []string
	for _, in := range found {
		id := aws.ToString(in.InstanceId)
		switch {
		case in.State != nil && in.State.Name == ec2types.InstanceStateNameTerminated:
		case !LaunchedBy(in, executionID):
			refused = append(refused, id)
		default:
			mine = append(mine, id)
		}
	}
	rep := terminate(ctx, env, mine)
	return refused, rep.err()
}

// InstancesNotTerminated returns those of ids that AWS lists in a state other
// than terminated.
func InstancesNotTerminated(ctx context.Context, env *Env, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := describeInstances(ctx, env, []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, in := range found {
		if in.State == nil || in.State.Name != ec2types.InstanceStateNameTerminated {
			out = append(out, aws.ToString(in.InstanceId))
		}
	}
	return out, nil
}

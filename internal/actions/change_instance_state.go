package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// changeInstanceState is aws:changeInstanceState: start, stop or terminate,
// then wait for the state (or only wait, with CheckStateOnly).
type changeInstanceState struct{}

func init() { register("aws:changeInstanceState", changeInstanceState{}) }

func (changeInstanceState) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	ids := strList(in, "InstanceIds")
	if len(ids) == 0 {
		return Result{}, fmt.Errorf("input InstanceIds is required")
	}
	desired := ec2types.InstanceStateName(str(in, "DesiredState"))
	checkOnly, _ := boolean(in, "CheckStateOnly")
	force, _ := boolean(in, "Force")
	info := strPtr(in, "AdditionalInfo")

	var change func(ctx context.Context) error
	switch desired {
	case ec2types.InstanceStateNameRunning:
		change = func(ctx context.Context) error {
			_, err := env.Clients.EC2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids, AdditionalInfo: info})
			return err
		}
	case ec2types.InstanceStateNameStopped:
		change = func(ctx context.Context) error {
			_, err := env.Clients.EC2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids, Force: aws.Bool(force)})
			return err
		}
	case ec2types.InstanceStateNameTerminated:
		change = func(ctx context.Context) error {
			_, err := env.Clients.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
			if awsx.IsNotFound(err) {
				return nil // gone already is what we wanted
			}
			return err
		}
	default:
		return Result{}, fmt.Errorf("input DesiredState: %q is not one of running, stopped, terminated", desired)
	}

	if desired != ec2types.InstanceStateNameTerminated {
		// Starting or stopping an instance someone else terminated can only
		// fail (or, on lenient clouds, bring back a stranger's instance).
		if err := checkBuilders(ctx, env, ids); err != nil {
			return Result{}, err
		}
	}
	if !checkOnly {
		// IncorrectInstanceState: the instance is between states (stopping
		// when asked to start); it settles on its own, so ask again, unless
		// it was terminated meanwhile.
		err := awsx.Poll(ctx, env.Clients.Policy, func(ctx context.Context) (bool, error) {
			err := change(ctx)
			if awsx.ErrorCode(err) == "IncorrectInstanceState" {
				if desired != ec2types.InstanceStateNameTerminated {
					if gone := checkBuilders(ctx, env, ids); gone != nil {
						return false, gone
					}
				}
				return false, nil
			}
			return err == nil, err
		})
		var bg *BuilderGoneError
		if errors.As(err, &bg) {
			return Result{}, bg
		}
		if err != nil {
			return Result{}, fmt.Errorf("changing %v to %s: %w", ids, desired, err)
		}
		if desired == ec2types.InstanceStateNameTerminated {
			for _, id := range ids {
				env.Ledger.InstanceTerminated(id)
			}
		}
		env.info("requested instance state", map[string]any{"step": step.Name, "instance_id": strings.Join(ids, ","), "state": string(desired)})
	}
	if _, err := env.Clients.Instances.WaitForState(ctx, ids, desired); err != nil {
		return Result{}, err
	}
	return Result{Outputs: map[string]any{}}, nil
}

package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// runInstances is aws:runInstances: launch, record at once, wait until running.
type runInstances struct{}

func init() {
	register("aws:runInstances", runInstances{})
	requestShape("aws:runInstances", ec2.RunInstancesInput{})
}

// defaultInstanceType is SSM's documented default for aws:runInstances.
const defaultInstanceType = "m1.small"

func (runInstances) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	input, err := runInstancesInput(in, env.Tags, env.ExecutionID)
	if err != nil {
		return Result{}, err
	}
	var res *ec2.RunInstancesOutput
	err = awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) (err error) {
		res, err = env.Clients.EC2.RunInstances(ctx, input)
		return err
	})
	if err != nil {
		recoverLaunched(ctx, env, step, input, err)
		return Result{}, fmt.Errorf("RunInstances: %w", err)
	}
	ids := make([]string, 0, len(res.Instances))
	for _, i := range res.Instances {
		id := aws.ToString(i.InstanceId)
		ids = append(ids, id)
		env.Ledger.RecordInstance(id)
		env.info("launched instance", map[string]any{"step": step.Name, "instance_id": id, "image_id": aws.ToString(input.ImageId)})
	}
	out := Result{Outputs: map[string]any{"InstanceIds": strAnyList(ids)}}
	got, err := env.Clients.Instances.WaitForState(ctx, ids, ec2types.InstanceStateNameRunning)
	if err != nil {
		return out, err
	}
	states := make([]any, len(ids))
	for i, id := range ids {
		states[i] = instanceStateOf(got[id])
	}
	out.Outputs["InstanceStates"] = states
	return out, nil
}

func instanceStateOf(i ec2types.Instance) string {
	if i.State == nil {
		return ""
	}
	return string(i.State.Name)
}

func runInstancesInput(in map[string]any, runTags map[string]string, executionID string) (*ec2.RunInstancesInput, error) {
	image, err := required(in, "ImageId")
	if err != nil {
		return nil, err
	}
	r := &ec2.RunInstancesInput{
		ImageId:          aws.String(image),
		InstanceType:     ec2types.InstanceType(defaultInstanceType),
		MinCount:         aws.Int32(1),
		MaxCount:         aws.Int32(1),
		KeyName:          strPtr(in, "KeyName"),
		SubnetId:         strPtr(in, "SubnetId"),
		UserData:         strPtr(in, "UserData"),
		KernelId:         strPtr(in, "KernelId"),
		RamdiskId:        strPtr(in, "RamdiskId"),
		PrivateIpAddress: strPtr(in, "PrivateIpAddress"),
		AdditionalInfo:   strPtr(in, "AdditionalInfo"),
		// The run's own token, derived from the document's when it gives one:
		// it proves later that the run launched the instance (ownership.go),
		// and lets a launch whose answer was lost be found.
		ClientToken:      aws.String(LaunchToken(executionID, str(in, "ClientToken"))),
		SecurityGroupIds: strList(in, "SecurityGroupIds"),
		SecurityGroups:   strList(in, "SecurityGroups"),
	}
	if t := str(in, "InstanceType"); t != "" {
		r.InstanceType = ec2types.InstanceType(t)
	}
	for _, c := range []struct {
		key string
		dst **int32
	}{{"MinInstanceCount", &r.MinCount}, {"MaxInstanceCount", &r.MaxCount}} {
		if n, ok := integer(in, c.key); ok {
			if n < 1 || n > 1000 {
				return nil, fmt.Errorf("input %s: %d is not between 1 and 1000", c.key, n)
			}
			*c.dst = aws.Int32(int32(n))
		}
	}
	if aws.ToInt32(r.MaxCount) < aws.ToInt32(r.MinCount) {
		r.MaxCount = r.MinCount
	}
	name, arn := str(in, "IamInstanceProfileName"), str(in, "IamInstanceProfileArn")
	if name != "" || arn != "" {
		r.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{}
		if arn != "" {
			r.IamInstanceProfile.Arn = aws.String(arn)
		} else {
			r.IamInstanceProfile.Name = aws.String(name)
		}
	}
	for _, b := range []struct {
		key string
		dst any
	}{
		{"BlockDeviceMappings", &r.BlockDeviceMappings},
		{"MetadataOptions", &r.MetadataOptions},
		{"TagSpecifications", &r.TagSpecifications},
		{"Placement", &r.Placement},
		{"NetworkInterfaces", &r.NetworkInterfaces},
		{"InstanceInitiatedShutdownBehavior", &r.InstanceInitiatedShutdownBehavior},
		{"EbsOptimized", &r.EbsOptimized},
		{"DisableApiTermination", &r.DisableApiTermination},
	} {
		if err := bind(b.dst, in[b.key], b.key); err != nil {
			return nil, fmt.Errorf("input %w", err)
		}
	}
	if on, ok := boolean(in, "Monitoring"); ok {
		r.Monitoring = &ec2types.RunInstancesMonitoringEnabled{Enabled: aws.Bool(on)}
	}
	if r.MetadataOptions == nil {
		// IMDSv2 only unless the document says otherwise.
		r.MetadataOptions = &ec2types.InstanceMetadataOptionsRequest{
			HttpTokens:   ec2types.HttpTokensStateRequired,
			HttpEndpoint: ec2types.InstanceMetadataEndpointStateEnabled,
		}
	}
	r.TagSpecifications = withRunTags(r.TagSpecifications, runTags, ec2types.ResourceTypeInstance, ec2types.ResourceTypeVolume)
	return r, nil
}

// recoverLaunched looks for instances a failed RunInstances may still have
// launched (the answer lost to a timeout, a cancelled context, a 5xx) and
// records them, so that cleanup terminates them.
func recoverLaunched(ctx context.Context, env *Env, step *document.Step, input *ec2.RunInstancesInput, launchErr error) {
	if refused(launchErr) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	// The client token is the proof; the execution tag, set atomically with
	// the launch, narrows the search where the token filter is not offered.
	token := aws.ToString(input.ClientToken)
	filter := ec2types.Filter{Name: aws.String("client-token"), Values: []string{token}}
	if v, ok := env.Tags[systemTagPrefix+"execution-id"]; ok {
		filter = ec2types.Filter{Name: aws.String("tag:" + systemTagPrefix + "execution-id"), Values: []string{v}}
	}
	live := ec2types.Filter{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}
	var res *ec2.DescribeInstancesOutput
	err := awsx.RetryThrottled(ctx, env.Clients, func(ctx context.Context) (err error) {
		res, err = env.Clients.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter, live}})
		return err
	})
	if err != nil {
		env.info("could not check for instances launched by a failed RunInstances", map[string]any{"step": step.Name, "error": err.Error()})
		return
	}
	for _, r := range res.Reservations {
		for _, i := range r.Instances {
			if aws.ToString(i.ClientToken) != token {
				continue
			}
			id := aws.ToString(i.InstanceId)
			env.Ledger.RecordInstance(id)
			env.info("recorded instance launched by a failed RunInstances", map[string]any{"step": step.Name, "instance_id": id})
		}
	}
}

// strAnyList converts strings to the []any the engine stores outputs as.
func strAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

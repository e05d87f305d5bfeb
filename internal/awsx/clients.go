// Package awsx builds the AWS clients the provider talks through (endpoints,
// credentials, retry mode) and the waiting machinery shared by every bake in the
// process: an adaptive poller and watchers that batch concurrent waits into one
// Describe call per tick.
package awsx

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// EC2API is the part of the EC2 API the actions use.
type EC2API interface {
	RunInstances(ctx context.Context, in *ec2.RunInstancesInput, optFns ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	StartInstances(ctx context.Context, in *ec2.StartInstancesInput, optFns ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error)
	StopInstances(ctx context.Context, in *ec2.StopInstancesInput, optFns ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
	TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, optFns ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
	CreateImage(ctx context.Context, in *ec2.CreateImageInput, optFns ...func(*ec2.Options)) (*ec2.CreateImageOutput, error)
	CopyImage(ctx context.Context, in *ec2.CopyImageInput, optFns ...func(*ec2.Options)) (*ec2.CopyImageOutput, error)
	DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, optFns ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error)
	CreateTags(ctx context.Context, in *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, optFns ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error)
	DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, optFns ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error)

	// Sharing and lifecycle of images (distribution).
	DescribeImageAttribute(ctx context.Context, in *ec2.DescribeImageAttributeInput, optFns ...func(*ec2.Options)) (*ec2.DescribeImageAttributeOutput, error)
	ModifyImageAttribute(ctx context.Context, in *ec2.ModifyImageAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifyImageAttributeOutput, error)
	DescribeSnapshotAttribute(ctx context.Context, in *ec2.DescribeSnapshotAttributeInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSnapshotAttributeOutput, error)
	ModifySnapshotAttribute(ctx context.Context, in *ec2.ModifySnapshotAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifySnapshotAttributeOutput, error)
	EnableImageDeprecation(ctx context.Context, in *ec2.EnableImageDeprecationInput, optFns ...func(*ec2.Options)) (*ec2.EnableImageDeprecationOutput, error)
	DisableImageDeprecation(ctx context.Context, in *ec2.DisableImageDeprecationInput, optFns ...func(*ec2.Options)) (*ec2.DisableImageDeprecationOutput, error)
	EnableImageDeregistrationProtection(ctx context.Context, in *ec2.EnableImageDeregistrationProtectionInput, optFns ...func(*ec2.Options)) (*ec2.EnableImageDeregistrationProtectionOutput, error)
	DisableImageDeregistrationProtection(ctx context.Context, in *ec2.DisableImageDeregistrationProtectionInput, optFns ...func(*ec2.Options)) (*ec2.DisableImageDeregistrationProtectionOutput, error)
}

// SSMAPI is the part of the Systems Manager API the actions and the engine use.
type SSMAPI interface {
	SendCommand(ctx context.Context, in *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	GetCommandInvocation(ctx context.Context, in *ssm.GetCommandInvocationInput, optFns ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
	ListCommandInvocations(ctx context.Context, in *ssm.ListCommandInvocationsInput, optFns ...func(*ssm.Options)) (*ssm.ListCommandInvocationsOutput, error)
	ListCommands(ctx context.Context, in *ssm.ListCommandsInput, optFns ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error)
	CancelCommand(ctx context.Context, in *ssm.CancelCommandInput, optFns ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error)
	AddTagsToResource(ctx context.Context, in *ssm.AddTagsToResourceInput, optFns ...func(*ssm.Options)) (*ssm.AddTagsToResourceOutput, error)
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	GetDocument(ctx context.Context, in *ssm.GetDocumentInput, optFns ...func(*ssm.Options)) (*ssm.GetDocumentOutput, error)
}

// LambdaAPI is the part of the Lambda API the actions use.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// STSAPI is the part of the STS API used to learn who we are.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var (
	_ EC2API    = (*ec2.Client)(nil)
	_ SSMAPI    = (*ssm.Client)(nil)
	_ LambdaAPI = (*lambda.Client)(nil)
	_ STSAPI    = (*sts.Client)(nil)
)

// Clients is everything that talks to AWS for one provider configuration.
// Fakes may fill only the fields a test needs; NewWatchers wires the watchers
// to whatever EC2 is set.
type Clients struct {
	EC2    EC2API
	SSM    SSMAPI
	Lambda LambdaAPI
	STS    STSAPI
	IAM    *iam.Client // nil in fakes
	// CloudFormation serves aws:createStack and aws:deleteStack, and removes
	// the stacks of a failed run.
	CloudFormation CloudFormationAPI
	// StepFunctions serves aws:executeStateMachine.
	StepFunctions StepFunctionsAPI

	// Raw maps a service name as SSM documents spell it ("ec2", "ssm",
	// "lambda", "sts", "iam", "s3", "elbv2", ...) to the client whose methods
	// aws:executeAwsApi calls by name.
	Raw map[string]any

	Region    string
	AccountID string
	Partition string

	Instances *InstanceWatcher
	Images    *ImageWatcher
	Commands  *CommandWatcher // nil without SSM
	Agents    *AgentWatcher   // nil when SSM cannot describe instance information
	Policy    Policy
	// regional holds the image watchers of the other regions (ImagesIn).
	regional *regionalImages

	// What New built the bundle from, so that AssumeRole can build another;
	// built is false in bundles filled by hand.
	cfg   aws.Config
	conf  Config
	built bool
}

// NewWatchers (re)creates the instance and image watchers over c.EC2, and the
// command and agent watchers over c.SSM, with c.Policy. Call it after filling a Clients
// by hand (tests, simulations).
func (c *Clients) NewWatchers() {
	c.Instances = NewInstanceWatcher(c.EC2, c.Policy)
	c.Images = NewImageWatcher(c.EC2, c.Policy)
	c.regional = &regionalImages{api: c.EC2, policy: c.Policy, byRegion: map[string]*ImageWatcher{}}
	c.Commands, c.Agents = nil, nil
	if c.SSM != nil {
		c.Commands = NewCommandWatcher(c.SSM, c.Policy)
	}
	if ii, ok := c.SSM.(InstanceInformationAPI); ok {
		c.Agents = NewAgentWatcher(ii, c.Policy)
	}
}

// SetPolicy changes the polling schedule of Poll callers that read c.Policy and
// of the watchers; waits already running pick it up at their next tick.
func (c *Clients) SetPolicy(p Policy) {
	c.Policy = p
	if c.Instances != nil {
		c.Instances.SetPolicy(p)
	}
	if c.Images != nil {
		c.Images.SetPolicy(p)
	}
	if c.regional != nil {
		c.regional.setPolicy(p)
	}
	if c.Commands != nil {
		c.Commands.SetPolicy(p)
	}
	if c.Agents != nil {
		c.Agents.SetPolicy(p)
	}
}

package awsx

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// CloudFormationAPI is the part of the CloudFormation API that aws:createStack,
// aws:deleteStack and cleanup use.
type CloudFormationAPI interface {
	CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error)
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
}

// StepFunctionsAPI is the part of the Step Functions API that
// aws:executeStateMachine uses.
type StepFunctionsAPI interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
}

var (
	_ CloudFormationAPI = (*cloudformation.Client)(nil)
	_ StepFunctionsAPI  = (*sfn.Client)(nil)
)

// serviceClients are the clients of the services that published documents
// call through aws:executeAwsApi and the wait and assert actions, besides the
// five the bundle has typed interfaces for. Keys are the service names as SSM
// documents write them (boto3's), with the SDK's own name as an alias where
// the two differ. They resolve their endpoints as the SDK does, so that
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> apply, unless the
// provider's endpoints block names one.
func serviceClients(cfg aws.Config, e Endpoints) (map[string]any, *cloudformation.Client, *sfn.Client) {
	cfn := cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) { setEndpoint(&o.BaseEndpoint, e.CloudFormation) })
	states := sfn.NewFromConfig(cfg, func(o *sfn.Options) { setEndpoint(&o.BaseEndpoint, e.StepFunctions) })
	elbv2 := elasticloadbalancingv2.NewFromConfig(cfg, func(o *elasticloadbalancingv2.Options) { setEndpoint(&o.BaseEndpoint, e.ELBv2) })
	return map[string]any{
		"autoscaling":            autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { setEndpoint(&o.BaseEndpoint, e.AutoScaling) }),
		"cloudformation":         cfn,
		"elbv2":                  elbv2,
		"elasticloadbalancingv2": elbv2,
		"kms":                    kms.NewFromConfig(cfg, func(o *kms.Options) { setEndpoint(&o.BaseEndpoint, e.KMS) }),
		"s3":                     s3.NewFromConfig(cfg, func(o *s3.Options) { setEndpoint(&o.BaseEndpoint, e.S3) }),
		"sns":                    sns.NewFromConfig(cfg, func(o *sns.Options) { setEndpoint(&o.BaseEndpoint, e.SNS) }),
		"stepfunctions":          states,
		"sfn":                    states,
	}, cfn, states
}

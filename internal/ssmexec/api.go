package ssmexec

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// API is the part of the Systems Manager API an SSM bake uses.
type API interface {
	CreateDocument(ctx context.Context, in *ssm.CreateDocumentInput, optFns ...func(*ssm.Options)) (*ssm.CreateDocumentOutput, error)
	GetDocument(ctx context.Context, in *ssm.GetDocumentInput, optFns ...func(*ssm.Options)) (*ssm.GetDocumentOutput, error)
	DeleteDocument(ctx context.Context, in *ssm.DeleteDocumentInput, optFns ...func(*ssm.Options)) (*ssm.DeleteDocumentOutput, error)
	StartAutomationExecution(ctx context.Context, in *ssm.StartAutomationExecutionInput, optFns ...func(*ssm.Options)) (*ssm.StartAutomationExecutionOutput, error)
	GetAutomationExecution(ctx context.Context, in *ssm.GetAutomationExecutionInput, optFns ...func(*ssm.Options)) (*ssm.GetAutomationExecutionOutput, error)
	DescribeAutomationExecutions(ctx context.Context, in *ssm.DescribeAutomationExecutionsInput, optFns ...func(*ssm.Options)) (*ssm.DescribeAutomationExecutionsOutput, error)
	DescribeAutomationStepExecutions(ctx context.Context, in *ssm.DescribeAutomationStepExecutionsInput, optFns ...func(*ssm.Options)) (*ssm.DescribeAutomationStepExecutionsOutput, error)
	StopAutomationExecution(ctx context.Context, in *ssm.StopAutomationExecutionInput, optFns ...func(*ssm.Options)) (*ssm.StopAutomationExecutionOutput, error)
	AddTagsToResource(ctx context.Context, in *ssm.AddTagsToResourceInput, optFns ...func(*ssm.Options)) (*ssm.AddTagsToResourceOutput, error)
	ListTagsForResource(ctx context.Context, in *ssm.ListTagsForResourceInput, optFns ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error)
}

var _ API = (*ssm.Client)(nil)

// apiOf is the SSM client of a client bundle.
func apiOf(c *awsx.Clients) (API, error) {
	if c == nil {
		return nil, errors.New("no AWS clients")
	}
	if a, ok := c.Raw["ssm"].(API); ok {
		return a, nil
	}
	if a, ok := c.SSM.(API); ok {
		return a, nil
	}
	return nil, fmt.Errorf("the SSM client (%T) cannot run automation executions", c.SSM)
}

// Error codes of the automation API this package acts on.
const (
	codeLimitExceeded       = "AutomationExecutionLimitExceededException"
	codeExecutionNotFound   = "AutomationExecutionNotFoundException"
	codeDefinitionNotFound  = "AutomationDefinitionNotFoundException"
	codeInvalidStatusUpdate = "InvalidAutomationStatusUpdateException"
	codeDocumentExists      = "DocumentAlreadyExists"
	codeInvalidDocument     = "InvalidDocument"
	codeInvalidResourceID   = "InvalidResourceId"
)

// transient reports whether another try of the same call may well succeed:
// throttling, a 5xx, or an answer that never came (the SDK gave up).
func transient(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if awsx.IsTransient(err) || awsx.IsNoAnswer(err) {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	switch awsx.ErrorCode(err) {
	case "InternalServerError", "InternalError", "ServiceUnavailable":
		return true
	}
	// A lost answer with no AWS error at all: a timeout or a broken
	// connection below the SDK.
	return awsx.ErrorCode(err) == "" && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled))
}

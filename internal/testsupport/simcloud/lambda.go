package simcloud

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// Lambda returns the Lambda client of this cloud.
func (c *Cloud) Lambda() awsx.LambdaAPI { return lambdaClient{c} }

type lambdaClient struct{ c *Cloud }

var _ awsx.LambdaAPI = lambdaClient{}

// Invoke runs the function a test set (OnInvoke); without one, every
// function answers its payload back.
func (l lambdaClient) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (out *lambda.InvokeOutput, err error) {
	err = l.c.call(ctx, "Lambda", "Invoke", in, "", func() error {
		l.c.mu.Lock()
		f := l.c.knobs.invoke
		l.c.mu.Unlock()
		if f != nil {
			out, err = f(in)
			return err
		}
		out = &lambda.InvokeOutput{StatusCode: 200, Payload: in.Payload}
		return nil
	})
	return out, err
}

package actions

import (
	"context"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// retryThrottled calls f until AWS stops throttling it: a throttled call did
// nothing, so asking again is safe even for calls that create resources, and
// throttling must slow a bake down, never fail it (nor its cleanup). Any other
// answer, success or error, is f's result. The wait between calls follows the
// policy's back-off and ends with ctx.
func retryThrottled(ctx context.Context, p awsx.Policy, f func(ctx context.Context) error) error {
	var last error
	err := awsx.Poll(ctx, p, func(ctx context.Context) (bool, error) {
		last = f(ctx)
		if awsx.IsThrottle(last) {
			return false, last
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return last
}

// policy is the clients' polling policy, the default without clients.
func policy(c *awsx.Clients) awsx.Policy {
	if c == nil {
		return awsx.DefaultPolicy()
	}
	return c.Policy
}

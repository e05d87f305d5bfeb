package awsx

import "context"

// RetryThrottled calls f until AWS stops throttling it: a throttled call did
// nothing, so asking again is safe even for calls that create resources, and
// throttling must slow a bake down, never fail it (nor its cleanup). Any other
// answer, success or error, is f's result. The wait between calls follows the
// back-off of c's policy (the default one without clients) and ends with ctx.
func RetryThrottled(ctx context.Context, c *Clients, f func(ctx context.Context) error) error {
	p := DefaultPolicy()
	if c != nil {
		p = c.Policy
	}
	var last error
	err := Poll(ctx, p, func(ctx context.Context) (bool, error) {
		last = f(ctx)
		if IsThrottle(last) {
			return false, last
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return last
}

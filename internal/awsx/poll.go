package awsx

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy is an adaptive polling schedule: the first check comes after Initial,
// each later interval is Factor times the previous one, capped at Max, and every
// wait is spread by ±Jitter (a fraction) so that many pollers do not line up.
//
// All fields are plain values so that a simulated cloud can run the same waits
// scaled down in time, and a benchmark can tune them.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
	Factor  float64
	Jitter  float64
}

// DefaultPolicy notices a state change within about a second at first and never
// more than ~10 s late, against Packer's 15 s to 120 s.
func DefaultPolicy() Policy {
	return Policy{Initial: time.Second, Max: 10 * time.Second, Factor: 1.5, Jitter: 0.2}
}

func (p Policy) normalized() Policy {
	d := DefaultPolicy()
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.Factor < 1 {
		p.Factor = 1
	}
	if p.Jitter < 0 {
		p.Jitter = 0
	}
	if p.Jitter > 1 {
		p.Jitter = 1
	}
	return p
}

// Grow returns the interval that follows cur.
func (p Policy) Grow(cur time.Duration) time.Duration {
	p = p.normalized()
	next := time.Duration(float64(cur) * p.Factor)
	if next < p.Initial {
		next = p.Initial
	}
	if next > p.Max {
		next = p.Max
	}
	return next
}

// backoff is the growth applied after a throttle: at least doubling, so that a
// throttled account gets relief even with Factor 1.
func (p Policy) backoff(cur time.Duration) time.Duration {
	p = p.normalized()
	f := p.Factor * p.Factor
	if f < 2 {
		f = 2
	}
	next := time.Duration(float64(cur) * f)
	if next > p.Max {
		next = p.Max
	}
	return next
}

// Spread applies the jitter to an interval.
func (p Policy) Spread(d time.Duration) time.Duration {
	p = p.normalized()
	if p.Jitter == 0 || d <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + p.Jitter*(2*rand.Float64()-1)))
}

// maxTransient bounds how many polls in a row may fail with errors the SDK gave
// up retrying (5xx, connection resets) before the wait fails; throttles are not
// counted, they only slow the poll down.
const maxTransient = 5

// Poll calls check at once and then on the policy's schedule until it reports
// done, returns an error, or ctx ends. Throttling errors from check lengthen the
// interval instead of failing; an error the SDK had already retried to
// exhaustion is tolerated a few times in a row. When ctx ends, the returned
// error wraps ctx.Err() (errors.Is works) and the last error seen, if any.
func Poll(ctx context.Context, p Policy, check func(ctx context.Context) (bool, error)) error {
	p = p.normalized()
	interval := p.Initial
	var last error
	transient := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		done, err := check(ctx)
		switch {
		case err == nil && done:
			return nil
		case err == nil:
			transient = 0
		case ctx.Err() != nil:
			return stopped(ctx, err)
		case IsThrottle(err):
			last = err
			interval = p.backoff(interval)
		case IsTransient(err):
			last = err
			transient++
			if transient >= maxTransient {
				return err
			}
		default:
			return err
		}
		wait := p.Spread(interval)
		if dl, ok := ctx.Deadline(); ok {
			// A last look just before the deadline beats sleeping past it.
			if left := time.Until(dl) - 20*time.Millisecond; left > 0 && left < wait {
				wait = left
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return stopped(ctx, last)
		case <-timer.C:
		}
		interval = p.Grow(interval)
	}
}

func stopped(ctx context.Context, last error) error {
	err := ctx.Err()
	why := ""
	if c := context.Cause(ctx); c != nil && c != err {
		why = " (" + c.Error() + ")"
	}
	if last != nil && !errors.Is(last, err) {
		return fmt.Errorf("gave up waiting: %w%s; last error: %v", err, why, last)
	}
	return fmt.Errorf("gave up waiting: %w%s", err, why)
}

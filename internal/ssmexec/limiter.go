package ssmexec

import (
	"context"
	"sync"
	"time"
)

// Request rates AWS publishes for the automation API ("Transactions per
// second" in the General Reference, "AWS Systems Manager endpoints and
// quotas", https://docs.aws.amazon.com/general/latest/gr/ssm.html). The
// follower sends at most Headroom of each, so that other callers in the
// account (the console, another runner) still fit.
var PublishedRates = map[string]float64{
	"StartAutomationExecution":         1,
	"StopAutomationExecution":          1,
	"GetAutomationExecution":           3,
	"DescribeAutomationExecutions":     3,
	"DescribeAutomationStepExecutions": 3,
	"SendAutomationSignal":             3,
}

// Headroom is the share of a published rate the follower uses.
const Headroom = 0.9

// unpublishedRate paces the calls whose rate AWS does not publish (tags and
// documents): a few a second is far below what the API takes.
const unpublishedRate = 5

// limiter spaces the calls of one operation: at most one every gap. A
// throttled call doubles the gap (up to maxSlowdown times the base: AWS's
// throttling is a burst limit, and a few seconds between calls is what the
// SDK's own back-off waits too); each
// answer that is not throttled narrows it again by a tenth, so that the
// process settles at the rate AWS grants instead of failing.
type limiter struct {
	mu   sync.Mutex
	base time.Duration
	gap  time.Duration
	next time.Time
	now  func() time.Time
}

const maxSlowdown = 4

func newLimiter(rate float64, now func() time.Time) *limiter {
	gap := time.Duration(float64(time.Second) / rate)
	return &limiter{base: gap, gap: gap, now: now}
}

// wait blocks until the next call may go. The slot is taken when the call
// actually goes, not booked ahead: a caller that wakes late pushes the next
// slot back, so two calls are never closer than the gap.
func (l *limiter) wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.mu.Lock()
		now := l.now()
		if !now.Before(l.next) {
			l.next = now.Add(l.gap)
			l.mu.Unlock()
			return nil
		}
		d := l.next.Sub(now)
		l.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (l *limiter) throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gap *= 2
	if l.gap > l.base*maxSlowdown {
		l.gap = l.base * maxSlowdown
	}
	l.next = l.now().Add(l.gap)
}

func (l *limiter) answered() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gap > l.base {
		l.gap -= (l.gap - l.base) / 10
		if l.gap-l.base < time.Millisecond {
			l.gap = l.base
		}
	}
}

// limiters holds one limiter per operation.
type limiters struct {
	mu  sync.Mutex
	by  map[string]*limiter
	now func() time.Time
	// rates overrides PublishedRates (tests, benchmarks).
	rates map[string]float64
}

func (ls *limiters) get(op string) *limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l, ok := ls.by[op]; ok {
		return l
	}
	rate, ok := ls.rates[op]
	if !ok {
		rate, ok = PublishedRates[op]
		if ok {
			rate *= Headroom
		} else {
			rate = unpublishedRate
		}
	}
	l := newLimiter(rate, ls.now)
	ls.by[op] = l
	return l
}

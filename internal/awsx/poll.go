package awsx

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Transition names a change whose duration AWS makes roughly predictable, so
// that a wait for it can look where the change is likely to happen.
type Transition string

// The transitions the actions wait for.
const (
	InstanceLaunch    Transition = "instance-launch"    // pending -> running (RunInstances, StartInstances)
	InstanceStop      Transition = "instance-stop"      // stopping -> stopped
	InstanceTerminate Transition = "instance-terminate" // shutting-down -> terminated
	ImageCreate       Transition = "image-create"       // pending -> available
	AgentRegistration Transition = "agent-registration" // running -> the SSM agent takes commands
	// CommandRun has no window: how long a command runs is the recipe's
	// business, not AWS's.
	CommandRun Transition = "command-run"
)

// Window is when a transition usually ends, counted from the start of the
// wait, and how often to look while inside it.
type Window struct {
	Min, Max time.Duration
	Every    time.Duration
}

// DefaultExpectations are the usual durations on AWS of the transitions a
// bake waits for (a small builder with an 8 GiB root volume). Every grows with
// the square root of the window's width: for a given number of calls over
// several waits, that spreads them where they save the most lateness.
func DefaultExpectations() map[Transition]Window {
	return map[Transition]Window{
		InstanceLaunch:    {Min: 30 * time.Second, Max: time.Minute, Every: 2700 * time.Millisecond},
		AgentRegistration: {Min: 20 * time.Second, Max: time.Minute, Every: 3200 * time.Millisecond},
		InstanceStop:      {Min: 30 * time.Second, Max: 90 * time.Second, Every: 3900 * time.Millisecond},
		ImageCreate:       {Min: 3 * time.Minute, Max: 10 * time.Minute, Every: 10 * time.Second},
		InstanceTerminate: {Min: 30 * time.Second, Max: time.Minute, Every: 2700 * time.Millisecond},
	}
}

// Policy is how a wait polls.
//
// A wait for a transition takes its first look right after the call that
// started it: a change may be over by then (an emulator changes state at once,
// an instance may be stopped already). After that, a wait for a transition
// listed in Expect looks sparsely until the window opens (at a fifth of
// Window.Min, then each gap 0.6 times the time already waited), every
// Window.Every inside the window, and with gaps growing to Max once it is
// over. Windows are stretched or shrunk by the pace the Pacer has observed, so
// that a cloud faster or slower than expected is soon followed.
//
// Any other wait is open-ended: each gap is Initial plus (Factor-1) times the
// time already waited, capped at Max (the continuous form of multiplying the
// interval by Factor each time). A batched wait for no transition (a watch
// over something no call of ours changes) first looks after Initial.
//
// Every gap is spread by ±Jitter (a fraction) so that many pollers do not line
// up.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
	Factor  float64
	Jitter  float64

	// Expect maps the transitions with a usual duration to their window; nil
	// makes every wait open-ended.
	Expect map[Transition]Window

	// Pacer is the state every wait of the process shares: the spacing that
	// throttling imposed, and the pace of the cloud. Nil shares nothing.
	Pacer *Pacer

	transition Transition
}

// DefaultPolicy: an open-ended wait notices a change within about a second at
// first and never more than ~10 s late, against Packer's 15 s to 120 s. A wait
// for a transition with a usual duration looks every 3 to 10 s inside its
// window and sparsely before it: a change far faster than usual is noticed at
// worst 60% of its duration late, and teaches the Pacer to look earlier.
func DefaultPolicy() Policy {
	return Policy{
		Initial: time.Second,
		Max:     10 * time.Second,
		Factor:  1.5,
		Jitter:  0.2,
		Expect:  DefaultExpectations(),
		Pacer:   NewPacer(),
	}
}

// For returns the policy of a wait for transition t (its window, if the
// policy has one, and its own throttling lane in the Pacer).
func (p Policy) For(t Transition) Policy {
	p.transition = t
	return p
}

func (p Policy) normalized() Policy {
	if p.Initial <= 0 {
		p.Initial = time.Second
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

// Grow returns the interval that follows cur when each one is Factor times
// the previous.
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

// lane is the Pacer key of the policy's waits.
func (p Policy) lane() string {
	if p.transition == "" {
		return "poll"
	}
	return string(p.transition)
}

// Before a window opens, the first look comes at Min/earlyDivisor and each
// later gap is (earlyGrowth-1) times the time already waited. A change up to
// earlyDivisor times faster than expected is thus noticed with a lateness of
// at most (earlyGrowth-1) times its duration, and only in the first wait: the
// Pacer then learns the cloud's pace and later waits look in the right place.
const (
	earlyGrowth  = 1.6
	earlyDivisor = 5
)

// schedule is the polling plan of one wait.
type schedule struct {
	p        Policy
	windowed bool
	pacer    *Pacer
	base     Window // the expected window, before pacing
}

func (p Policy) schedule() schedule {
	p = p.normalized()
	s := schedule{p: p, pacer: p.Pacer}
	if w, ok := p.Expect[p.transition]; ok && w.Max > 0 {
		s.windowed = true
		s.base = w
	}
	return s
}

// next is the gap after a look at elapsed t that found the wait not over. The
// window follows the pace as it is learnt, also by other waits running at the
// same time.
func (s schedule) next(t time.Duration) time.Duration {
	p := s.p
	grow := func(from, since time.Duration) time.Duration {
		d := from + time.Duration(float64(since)*(p.Factor-1))
		return min(max(d, from), max(p.Max, from))
	}
	if !s.windowed {
		return grow(p.Initial, t)
	}
	w := s.pacer.pace(s.base, p.Initial)
	switch {
	case t < w.Min:
		gap := time.Duration(float64(t) * (earlyGrowth - 1))
		if first := w.Min / earlyDivisor; t+gap < first {
			gap = first - t
		}
		if t+gap > w.Min {
			gap = w.Min - t
		}
		return max(gap, w.Every/4)
	case t <= w.Max:
		return w.Every
	}
	return grow(w.Every, t-w.Max)
}

// first is the gap before the first look of a batched wait: none for a wait
// for a transition, which follows the call that started it; Initial for a
// watch.
func (s schedule) first() time.Duration {
	if s.p.transition != "" {
		return 0
	}
	return s.p.Initial
}

// observe tells the Pacer how long the transition took: somewhere between the
// last look that saw it unfinished (prev) and the one that saw it done. A
// wait over at its first look says nothing: the change may have happened
// before the wait began (an instance already stopped).
func (s schedule) observe(prev, done time.Duration) {
	if s.windowed && prev > 0 {
		s.pacer.observe(s.base, prev, done)
	}
}

// maxTransient bounds how many polls in a row may fail with errors the SDK gave
// up retrying (5xx, connection resets) before the wait fails; throttles are not
// counted, they only slow the poll down.
const maxTransient = 5

// Poll calls check at once and then on the policy's schedule until it reports
// done, returns an error, or ctx ends. Throttling errors from check slow the
// poll down instead of failing it: every poll sharing the policy's Pacer and
// transition spaces its calls, or, without a Pacer, this poll lengthens its
// own intervals. An error the SDK had already retried to exhaustion is
// tolerated a few times in a row. When ctx ends, the returned error wraps
// ctx.Err() (errors.Is works) and the last error seen, if any.
func Poll(ctx context.Context, p Policy, check func(ctx context.Context) (bool, error)) error {
	p = p.normalized()
	s := p.schedule()
	lane := p.lane()
	start := time.Now()
	var last error
	transient := 0
	penalty := time.Duration(0) // own back-off after throttles, without a Pacer
	var prev time.Duration
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		if err := p.Pacer.wait(ctx, lane); err != nil {
			return stopped(ctx, last)
		}
		at := time.Since(start)
		done, err := check(ctx)
		switch {
		case err == nil && done:
			p.Pacer.ok(lane)
			s.observe(prev, at)
			return nil
		case err == nil:
			transient = 0
			penalty = 0
			p.Pacer.ok(lane)
		case ctx.Err() != nil:
			return stopped(ctx, err)
		case IsThrottle(err):
			last = err
			if p.Pacer != nil {
				p.Pacer.throttled(lane, p.Initial)
			} else {
				penalty = p.backoff(max(penalty, s.next(at)))
			}
		case IsTransient(err):
			last = err
			transient++
			if transient >= maxTransient {
				return err
			}
		default:
			return err
		}
		prev = at
		wait := p.Spread(max(s.next(at), penalty))
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

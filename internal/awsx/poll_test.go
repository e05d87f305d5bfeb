package awsx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
)

const ms = time.Millisecond

func windowPolicy() Policy {
	return Policy{
		Initial: 10 * ms, Max: 100 * ms, Factor: 1.5,
		Expect: map[Transition]Window{InstanceLaunch: {Min: 400 * ms, Max: 800 * ms, Every: 40 * ms}},
		Pacer:  NewPacer(),
	}
}

func TestScheduleGaps(t *testing.T) {
	p := windowPolicy()
	tests := []struct {
		name string
		tr   Transition
		at   time.Duration
		want time.Duration
	}{
		{"windowed: first sparse look at Min/5", InstanceLaunch, 0, 80 * ms},
		{"windowed: gaps 0.6 times the time waited", InstanceLaunch, 100 * ms, 60 * ms},
		{"windowed: growing", InstanceLaunch, 200 * ms, 120 * ms},
		{"windowed: never jumps past the window's start", InstanceLaunch, 300 * ms, 100 * ms},
		{"windowed: dense inside the window", InstanceLaunch, 400 * ms, 40 * ms},
		{"windowed: dense up to the window's end", InstanceLaunch, 800 * ms, 40 * ms},
		{"windowed: growing after the window", InstanceLaunch, 900 * ms, 90 * ms},
		{"windowed: capped at Max", InstanceLaunch, 5 * time.Second, 100 * ms},
		{"open-ended: Initial first", CommandRun, 0, 10 * ms},
		{"open-ended: grows with the time waited", CommandRun, 100 * ms, 60 * ms},
		{"open-ended: capped at Max", CommandRun, time.Second, 100 * ms},
		{"no transition is open-ended", "", 100 * ms, 60 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.For(tt.tr).schedule().next(tt.at); got != tt.want {
				t.Errorf("next(%s) = %s, want %s", tt.at, got, tt.want)
			}
		})
	}
	for _, tr := range []Transition{InstanceLaunch, InstanceStop, ImageCreate, AgentRegistration, CommandRun} {
		if got := p.For(tr).schedule().first(); got != 0 {
			t.Errorf("a wait for %s first looks after %s, want right after the call that started it", tr, got)
		}
	}
	if got := p.schedule().first(); got != p.Initial {
		t.Errorf("a watch first looks after %s, want Initial", got)
	}
}

func TestPacerLearnsPace(t *testing.T) {
	p := windowPolicy()
	s := p.For(InstanceLaunch).schedule()

	s.observe(0, 50*ms) // over at its first look: says nothing
	if p.Pacer.seen != 0 || p.Pacer.Pace() != 1 {
		t.Fatalf("a wait over at once moved the pace: seen %d, pace %.2f", p.Pacer.seen, p.Pacer.Pace())
	}
	s.observe(500*ms, 540*ms) // inside the window: as expected
	if pace := p.Pacer.Pace(); pace != 1 {
		t.Fatalf("pace after an expected duration = %.2f, want 1", pace)
	}

	q := windowPolicy()
	fast := q.For(InstanceLaunch).schedule()
	fast.observe(100*ms, 140*ms) // ended at ~120ms, window centre 600ms
	if pace := q.Pacer.Pace(); math.Abs(pace-0.2) > 0.001 {
		t.Fatalf("pace after a 5x faster change = %.3f, want 0.2", pace)
	}
	// Later waits look where the change now happens; Every keeps a floor.
	if got := fast.next(0); got != 16*ms {
		t.Errorf("first look after learning = %s, want 16ms (a fifth of 400ms*0.2)", got)
	}
	if got := fast.next(100 * ms); got != 8*ms {
		t.Errorf("gap inside the shrunk window = %s, want 8ms", got)
	}
	if fast.first() != 0 {
		t.Error("whatever the pace, a wait looks right after the call that started it")
	}
	// An expected duration pulls the pace half-way back.
	fast.observe(500*ms, 540*ms)
	if pace := q.Pacer.Pace(); math.Abs(pace-math.Sqrt(0.2)) > 0.001 {
		t.Errorf("pace after one expected duration = %.3f, want %.3f", pace, math.Sqrt(0.2))
	}
}

func TestPacerThrottleSpacing(t *testing.T) {
	p := NewPacer()
	base := 100 * ms
	if p.Gap("x") != 0 {
		t.Fatal("a new lane is not throttled")
	}
	p.throttled("x", base)
	first := p.Gap("x")
	if first < base/floorRate || first > base {
		t.Fatalf("gap after a throttle = %s, want between %s and %s", first, base/floorRate, base)
	}
	p.throttled("x", base)
	if p.Gap("x") != first {
		t.Errorf("a second throttle within one interval widened the gap again: %s -> %s", first, p.Gap("x"))
	}
	if p.Gap("y") != 0 {
		t.Error("throttling one lane slowed another")
	}
	for range 200 {
		p.ok("x")
	}
	if g := p.Gap("x"); g != 0 {
		t.Errorf("gap after 200 successes = %s, want the lane freed", g)
	}
	var nilPacer *Pacer
	nilPacer.throttled("x", base)
	nilPacer.ok("x")
	if nilPacer.Pace() != 1 || nilPacer.Gap("x") != 0 {
		t.Error("a nil Pacer must share nothing")
	}
}

// A throttled poll slows its whole lane down through the shared Pacer, not
// only itself; other lanes are unaffected.
func TestPollThrottleSharedThroughPacer(t *testing.T) {
	p := Policy{Initial: 2 * ms, Max: 4 * ms, Factor: 1, Pacer: NewPacer()}
	throttle := &smithy.GenericAPIError{Code: "ThrottlingException"}
	calls := 0
	err := Poll(context.Background(), p.For(AgentRegistration), func(context.Context) (bool, error) {
		calls++
		if calls <= 2 {
			return false, throttle
		}
		return true, nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want nil after 3", err, calls)
	}
	if p.Pacer.Gap(string(AgentRegistration)) == 0 {
		t.Error("the throttled lane has no spacing")
	}
	if p.Pacer.Gap("poll") != 0 || p.Pacer.Gap(string(CommandRun)) != 0 {
		t.Error("other lanes were slowed down")
	}
}

func TestPoll(t *testing.T) {
	throttle := &smithy.GenericAPIError{Code: "Throttling"}
	fatal := &smithy.GenericAPIError{Code: "AccessDenied"}
	tests := []struct {
		name      string
		results   []error // nil = not done yet; the check is done after the list
		timeout   time.Duration
		wantErr   string
		wantIs    error
		wantCalls int
	}{
		{name: "done at once", wantCalls: 1},
		{name: "done on the third check", results: []error{nil, nil}, wantCalls: 3},
		{name: "throttles are waited out", results: []error{throttle, throttle, throttle}, wantCalls: 4},
		{name: "other errors fail at once", results: []error{nil, fatal}, wantErr: "AccessDenied", wantCalls: 2},
		{name: "deadline", results: make([]error, 1000), timeout: 40 * time.Millisecond, wantIs: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			calls := 0
			err := Poll(ctx, Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond, Factor: 2, Jitter: 0.5}, func(context.Context) (bool, error) {
				calls++
				if calls > len(tt.results) {
					return true, nil
				}
				return false, tt.results[calls-1]
			})
			switch {
			case tt.wantIs != nil:
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("err = %v, want %v", err, tt.wantIs)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			if tt.wantCalls > 0 && calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestPolicyGrowth(t *testing.T) {
	p := Policy{Initial: time.Second, Max: 10 * time.Second, Factor: 1.5}
	var got []time.Duration
	d := p.Initial
	for range 8 {
		got = append(got, d)
		d = p.Grow(d)
	}
	want := "[1s 1.5s 2.25s 3.375s 5.0625s 7.59375s 10s 10s]"
	if fmt.Sprint(got) != want {
		t.Errorf("schedule = %v, want %s", got, want)
	}
	if b := p.backoff(3 * time.Second); b != 6750*time.Millisecond {
		t.Errorf("backoff(3s) = %s, want 6.75s", b)
	}
	j := Policy{Initial: time.Second, Max: time.Second, Factor: 1, Jitter: 0.2}
	for range 100 {
		if s := j.Spread(time.Second); s < 800*time.Millisecond || s > 1200*time.Millisecond {
			t.Fatalf("Spread out of ±20%%: %s", s)
		}
	}
}

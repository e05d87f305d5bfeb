package awsx

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// fakeEC2 serves DescribeInstances/DescribeImages from a script: the state of
// each id as a function of how many describe calls have been made so far.
type fakeEC2 struct {
	EC2API // unimplemented methods panic

	mu            sync.Mutex
	calls         int
	idsPerCall    [][]string
	instanceState func(id string, call int) (ec2types.InstanceStateName, bool)
	image         func(id string, call int) (ec2types.Image, bool)
	errAt         map[int]error
	delay         time.Duration
	hold          func(call int) // runs before a call is answered
}

func (f *fakeEC2) record(filters []ec2types.Filter) (int, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	ids := filters[0].Values
	f.idsPerCall = append(f.idsPerCall, append([]string(nil), ids...))
	return f.calls, ids, f.errAt[f.calls]
}

func (f *fakeEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	if len(in.InstanceIds) > 0 || len(in.Filters) != 1 || aws.ToString(in.Filters[0].Name) != "instance-id" {
		return nil, errors.New("watcher must describe by instance-id filter")
	}
	n, ids, err := f.record(in.Filters)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.hold != nil {
		f.hold(n)
	}
	if err != nil {
		return nil, err
	}
	var res ec2types.Reservation
	for _, id := range ids {
		if st, ok := f.instanceState(id, n); ok {
			in := ec2types.Instance{InstanceId: aws.String(id), State: &ec2types.InstanceState{Name: st}}
			if st == ec2types.InstanceStateNameTerminated {
				in.StateReason = &ec2types.StateReason{Message: aws.String("Server.SpotInstanceTermination: capacity")}
			}
			res.Instances = append(res.Instances, in)
		}
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{res}}, nil
}

func (f *fakeEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	if len(in.ImageIds) > 0 || len(in.Filters) != 1 || aws.ToString(in.Filters[0].Name) != "image-id" {
		return nil, errors.New("watcher must describe by image-id filter")
	}
	n, ids, err := f.record(in.Filters)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeImagesOutput{}
	for _, id := range ids {
		if img, ok := f.image(id, n); ok {
			img.ImageId = aws.String(id)
			out.Images = append(out.Images, img)
		}
	}
	return out, nil
}

func (f *fakeEC2) snapshot() (int, [][]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.idsPerCall
}

// fast is a policy for tests: fixed interval, no jitter.
func fast(d time.Duration) Policy { return Policy{Initial: d, Max: d, Factor: 1, Jitter: 0} }

func waitPending(t *testing.T, pending func() int, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for pending() != n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d waiters registered", pending(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Fifty bakes waiting at once cost one DescribeInstances per tick: the first
// waiter looks at once, and everyone arriving while that call is under way
// shares the next, which carries every id still waited on.
func TestInstanceWatcherOneCallPerTick(t *testing.T) {
	const waiters = 50
	const runningAt = 3 // every instance is running from the 3rd describe on
	f := &fakeEC2{instanceState: func(id string, call int) (ec2types.InstanceStateName, bool) {
		if call >= runningAt {
			return ec2types.InstanceStateNameRunning, true
		}
		return ec2types.InstanceStateNamePending, true
	}}
	w := NewInstanceWatcher(f, fast(100*time.Millisecond))
	f.hold = func(call int) {
		if call == 1 {
			waitPending(t, w.t.pending, waiters)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("i-%03d", i)
			got, err := w.WaitForState(context.Background(), []string{id})
			if err == nil && stateName(got[id]) != ec2types.InstanceStateNameRunning {
				err = fmt.Errorf("%s: state %s", id, stateName(got[id]))
			}
			errs <- err
		}()
	}
	waitPending(t, w.t.pending, waiters)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	calls, perCall := f.snapshot()
	ticks := w.t.tickCount()
	t.Logf("%d waiters: %d ticks, %d DescribeInstances calls (unbatched: %d)", waiters, ticks, calls, waiters*runningAt)
	if calls != ticks {
		t.Errorf("calls per tick = %d/%d, want exactly 1", calls, ticks)
	}
	if calls != runningAt {
		t.Errorf("calls = %d, want %d", calls, runningAt)
	}
	for i, ids := range perCall[1:] {
		if len(ids) != waiters {
			t.Errorf("call %d carried %d ids, want all %d", i+2, len(ids), waiters)
		}
	}
}

// A wait looks right after the call that started the transition, whatever the
// policy's intervals: against an emulator, whose changes are done when the
// call returns, a bake waits for nothing. Consecutive waits on one watcher are
// not held back by the previous one's look either.
func TestInstanceWatcherLooksRightAfterTheCall(t *testing.T) {
	var mu sync.Mutex
	state := ec2types.InstanceStateNameRunning
	f := &fakeEC2{instanceState: func(string, int) (ec2types.InstanceStateName, bool) {
		mu.Lock()
		defer mu.Unlock()
		return state, true
	}}
	p := DefaultPolicy()
	p.Initial, p.Max = time.Hour, time.Hour
	w := NewInstanceWatcher(f, p)
	start := time.Now()
	for _, want := range []ec2types.InstanceStateName{
		ec2types.InstanceStateNameRunning, ec2types.InstanceStateNameStopped, ec2types.InstanceStateNameTerminated,
	} {
		mu.Lock()
		state = want // what the call before the wait did, at once
		mu.Unlock()
		if _, err := w.WaitForState(context.Background(), []string{"i-1"}, want); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("three waits on an instant cloud took %s", took)
	}
	if calls, _ := f.snapshot(); calls != 3 {
		t.Errorf("%d calls, want one look per wait", calls)
	}
}

func TestInstanceWatcherChunksAt200(t *testing.T) {
	f := &fakeEC2{instanceState: func(string, int) (ec2types.InstanceStateName, bool) {
		return ec2types.InstanceStateNameStopped, true
	}}
	w := NewInstanceWatcher(f, fast(5*time.Millisecond))
	ids := make([]string, 450)
	for i := range ids {
		ids[i] = fmt.Sprintf("i-%04d", i)
	}
	got, err := w.WaitForState(context.Background(), ids, ec2types.InstanceStateNameStopped)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 450 {
		t.Fatalf("got %d instances", len(got))
	}
	_, perCall := f.snapshot()
	var sizes []int
	for _, c := range perCall {
		sizes = append(sizes, len(c))
	}
	if fmt.Sprint(sizes) != "[200 200 50]" {
		t.Errorf("chunk sizes = %v, want [200 200 50]", sizes)
	}
}

func TestInstanceWatcherOutcomes(t *testing.T) {
	notFound := &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "no"}
	throttled := &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "slow down"}
	tests := []struct {
		name    string
		state   func(id string, call int) (ec2types.InstanceStateName, bool)
		want    []ec2types.InstanceStateName
		errAt   map[int]error
		timeout time.Duration
		wantErr string
		minCall int
	}{
		{
			name: "invisible at first, then running (eventual consistency)",
			state: func(_ string, call int) (ec2types.InstanceStateName, bool) {
				return ec2types.InstanceStateNameRunning, call >= 3
			},
			minCall: 3,
		},
		{
			name: "terminated while waiting for running fails with the reason",
			state: func(string, int) (ec2types.InstanceStateName, bool) {
				return ec2types.InstanceStateNameTerminated, true
			},
			wantErr: "is terminated while waiting for running: Server.SpotInstanceTermination",
		},
		{
			name: "gone counts as terminated when terminated is wanted",
			state: func(string, int) (ec2types.InstanceStateName, bool) {
				return "", false
			},
			want: []ec2types.InstanceStateName{ec2types.InstanceStateNameTerminated},
		},
		{
			name: "throttles slow the watcher down, they do not fail it",
			state: func(string, int) (ec2types.InstanceStateName, bool) {
				return ec2types.InstanceStateNameRunning, true
			},
			errAt:   map[int]error{1: throttled, 2: throttled},
			minCall: 3,
		},
		{
			name: "a non-transient describe error fails the wait",
			state: func(string, int) (ec2types.InstanceStateName, bool) {
				return ec2types.InstanceStateNameRunning, true
			},
			errAt:   map[int]error{1: notFound},
			wantErr: "UnauthorizedOperation",
		},
		{
			name: "deadline names the last state",
			state: func(string, int) (ec2types.InstanceStateName, bool) {
				return ec2types.InstanceStateNamePending, true
			},
			timeout: 60 * time.Millisecond,
			wantErr: "stopped waiting for instance i-1 (pending): context deadline exceeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEC2{instanceState: tt.state, errAt: tt.errAt}
			w := NewInstanceWatcher(f, fast(5*time.Millisecond))
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := w.WaitForState(ctx, []string{"i-1"}, tt.want...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			if calls, _ := f.snapshot(); calls < tt.minCall {
				t.Errorf("calls = %d, want >= %d", calls, tt.minCall)
			}
		})
	}
}

func TestInstanceWatcherNotFoundGraceEnds(t *testing.T) {
	f := &fakeEC2{instanceState: func(string, int) (ec2types.InstanceStateName, bool) { return "", false }}
	w := NewInstanceWatcher(f, fast(2*time.Millisecond)) // grace = 12 * Max = 24ms
	_, err := w.WaitForState(context.Background(), []string{"i-gone"})
	if err == nil || !strings.Contains(err.Error(), "instance i-gone not found") {
		t.Fatalf("error = %v", err)
	}
}

func TestImageWatcherWaitAvailable(t *testing.T) {
	tests := []struct {
		name    string
		image   func(id string, call int) (ec2types.Image, bool)
		wantErr string
	}{
		{
			name: "pending then available",
			image: func(_ string, call int) (ec2types.Image, bool) {
				if call < 3 {
					return ec2types.Image{State: ec2types.ImageStatePending}, true
				}
				return ec2types.Image{State: ec2types.ImageStateAvailable}, true
			},
		},
		{
			name: "failed carries the state reason",
			image: func(string, int) (ec2types.Image, bool) {
				return ec2types.Image{State: ec2types.ImageStateFailed, StateReason: &ec2types.StateReason{
					Code: aws.String("Client.InternalError"), Message: aws.String("snapshot creation failed"),
				}}, true
			},
			wantErr: "image ami-1 is failed: Client.InternalError: snapshot creation failed",
		},
		{
			name: "deregistered fails",
			image: func(string, int) (ec2types.Image, bool) {
				return ec2types.Image{State: ec2types.ImageStateDeregistered}, true
			},
			wantErr: "image ami-1 is deregistered",
		},
		{
			name:    "never listed fails after the grace period",
			image:   func(string, int) (ec2types.Image, bool) { return ec2types.Image{}, false },
			wantErr: "image ami-1 not found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEC2{image: tt.image}
			w := NewImageWatcher(f, fast(2*time.Millisecond))
			got, err := w.WaitAvailable(context.Background(), []string{"ami-1"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got["ami-1"].State != ec2types.ImageStateAvailable {
				t.Errorf("state = %s", got["ami-1"].State)
			}
		})
	}
}

// Many Reads at once (terraform refresh) share one DescribeImages.
func TestImageDescribeCoalesces(t *testing.T) {
	f := &fakeEC2{image: func(id string, _ int) (ec2types.Image, bool) {
		return ec2types.Image{State: ec2types.ImageStateAvailable}, id != "ami-missing"
	}, delay: 5 * time.Millisecond}
	w := NewImageWatcher(f, DefaultPolicy())
	w.c.window = 100 * time.Millisecond // generous: the test host may be busy
	const readers = 30
	var wg sync.WaitGroup
	results := make([]map[string]ec2types.Image, readers)
	start := make(chan struct{})
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ids := []string{fmt.Sprintf("ami-%02d", i)}
			if i == 0 {
				ids = append(ids, "ami-missing")
			}
			m, err := w.Describe(context.Background(), ids)
			if err != nil {
				t.Error(err)
			}
			results[i] = m
		}()
	}
	close(start)
	wg.Wait()
	calls, perCall := f.snapshot()
	t.Logf("%d concurrent Describe callers -> %d DescribeImages calls", readers, calls)
	if calls != 1 {
		t.Errorf("calls = %d, want 1 (ids per call %v)", calls, perCall)
	}
	for i, m := range results {
		id := fmt.Sprintf("ami-%02d", i)
		if len(m) != 1 || m[id].State != ec2types.ImageStateAvailable {
			t.Errorf("reader %d got %v", i, m)
		}
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

func TestErrorClasses(t *testing.T) {
	wrap := func(code string) error {
		return fmt.Errorf("operation error EC2: X, %w", &smithy.GenericAPIError{Code: code})
	}
	tests := []struct {
		err                error
		code               string
		throttle, notFound bool
	}{
		{wrap("RequestLimitExceeded"), "RequestLimitExceeded", true, false},
		{wrap("ThrottlingException"), "ThrottlingException", true, false},
		{wrap("TooManyRequestsException"), "TooManyRequestsException", true, false},
		{wrap("InvalidInstanceID.NotFound"), "InvalidInstanceID.NotFound", false, true},
		{wrap("InvalidAMIID.Unavailable"), "InvalidAMIID.Unavailable", false, true},
		{wrap("InvalidSnapshot.NotFound"), "InvalidSnapshot.NotFound", false, true},
		{wrap("InvalidInstanceID.Malformed"), "InvalidInstanceID.Malformed", false, false},
		{errors.New("plain"), "", false, false},
	}
	for _, tt := range tests {
		if got := ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q", tt.err, got)
		}
		if got := IsThrottle(tt.err); got != tt.throttle {
			t.Errorf("IsThrottle(%v) = %v", tt.err, got)
		}
		if got := IsNotFound(tt.err); got != tt.notFound {
			t.Errorf("IsNotFound(%v) = %v", tt.err, got)
		}
	}
}

// fakeSSM lists commands (by id, or all in pages of 50) and describes
// instance information, from scripts keyed by the number of calls so far.
type fakeSSM struct {
	SSMAPI

	mu        sync.Mutex
	commands  []string
	status    func(call int) ssmtypes.CommandStatus
	online    func(call int) bool
	infoErr   error
	byID      int
	listings  int
	infoCalls int
	infoIDs   [][]string
	delay     time.Duration // of every call, as on AWS
}

func (f *fakeSSM) ListCommands(_ context.Context, in *ssm.ListCommandsInput, _ ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error) {
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	call := f.byID + f.listings + 1
	view := func(id string) ssmtypes.Command {
		return ssmtypes.Command{CommandId: aws.String(id), Status: f.status(call)}
	}
	if id := aws.ToString(in.CommandId); id != "" {
		f.byID++
		return &ssm.ListCommandsOutput{Commands: []ssmtypes.Command{view(id)}}, nil
	}
	f.listings++
	if len(in.Filters) != 1 || in.Filters[0].Key != ssmtypes.CommandFilterKeyInvokedAfter {
		return nil, errors.New("a listing must filter on InvokedAfter")
	}
	from, _ := strconv.Atoi(aws.ToString(in.NextToken))
	out := &ssm.ListCommandsOutput{}
	for i := from; i < len(f.commands) && i < from+50; i++ {
		out.Commands = append(out.Commands, view(f.commands[i]))
	}
	if from+50 < len(f.commands) {
		out.NextToken = aws.String(strconv.Itoa(from + 50))
	}
	return out, nil
}

func (f *fakeSSM) DescribeInstanceInformation(_ context.Context, in *ssm.DescribeInstanceInformationInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error) {
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.infoCalls++
	if f.infoErr != nil {
		return nil, f.infoErr
	}
	ids := in.InstanceInformationFilterList[0].ValueSet
	f.infoIDs = append(f.infoIDs, slices.Clone(ids))
	out := &ssm.DescribeInstanceInformationOutput{}
	if f.online(f.infoCalls) {
		for _, id := range ids {
			out.InstanceInformationList = append(out.InstanceInformationList,
				ssmtypes.InstanceInformation{InstanceId: aws.String(id), PingStatus: ssmtypes.PingStatusOnline})
		}
	}
	return out, nil
}

// Commands of concurrent bakes share one listing per tick (a page per 50
// commands), instead of one call per command per look: the waits that start
// while a call is under way share the next.
func TestCommandWatcherListsTogether(t *testing.T) {
	const commands = 120
	f := &fakeSSM{status: func(call int) ssmtypes.CommandStatus {
		if call > 12 {
			return ssmtypes.CommandStatusSuccess
		}
		return ssmtypes.CommandStatusInProgress
	}, delay: 10 * time.Millisecond}
	for i := range commands {
		f.commands = append(f.commands, fmt.Sprintf("cmd-%03d", i))
	}
	w := NewCommandWatcher(f, Policy{Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 1})
	var wg sync.WaitGroup
	for _, id := range f.commands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Wait(context.Background(), id); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ticks := w.t.tickCount()
	t.Logf("%d commands: %d ticks, %d listings, %d lookups by id", commands, ticks, f.listings, f.byID)
	if f.listings == 0 {
		t.Fatal("no listing: every command was looked up on its own")
	}
	if total := f.listings + f.byID; total > 3*ticks {
		t.Errorf("%d calls in %d ticks, want at most 3 pages per tick", total, ticks)
	}
	if total := f.listings + f.byID; total >= commands {
		t.Errorf("%d calls for %d commands: not batched", total, commands)
	}
}

func TestCommandWatcherAlone(t *testing.T) {
	f := &fakeSSM{status: func(call int) ssmtypes.CommandStatus {
		if call >= 3 {
			return ssmtypes.CommandStatusFailed // any end will do
		}
		return ssmtypes.CommandStatusPending
	}}
	w := NewCommandWatcher(f, fast(2*time.Millisecond))
	if err := w.Wait(context.Background(), "cmd-1"); err != nil {
		t.Fatal(err)
	}
	if f.byID != 3 || f.listings != 0 {
		t.Errorf("one command: %d lookups by id and %d listings, want 3 and 0", f.byID, f.listings)
	}
}

// Agents of concurrent bakes are checked with one DescribeInstanceInformation
// per tick (50 ids per call) instead of every bake probing with SendCommand.
func TestAgentWatcherBatches(t *testing.T) {
	const instances = 60
	f := &fakeSSM{online: func(call int) bool { return call > 4 }, delay: 10 * time.Millisecond}
	w := NewAgentWatcher(f, Policy{Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 1})
	var wg sync.WaitGroup
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			managed, err := w.WaitManaged(context.Background(), []string{fmt.Sprintf("i-%03d", i)})
			if err != nil || !managed {
				t.Errorf("managed %v, err %v", managed, err)
			}
		}()
	}
	wg.Wait()
	ticks := w.t.tickCount()
	t.Logf("%d instances: %d ticks, %d DescribeInstanceInformation calls", instances, ticks, f.infoCalls)
	if f.infoCalls > 2*ticks {
		t.Errorf("%d calls in %d ticks, want at most 2 (50 ids each) per tick", f.infoCalls, ticks)
	}
	if f.infoCalls >= instances/2 {
		t.Errorf("%d calls for %d instances: not batched", f.infoCalls, instances)
	}
	for i, ids := range f.infoIDs {
		if len(ids) > agentChunk {
			t.Errorf("call %d carried %d ids, more than %d", i+1, len(ids), agentChunk)
		}
	}
}

// An emulator without DescribeInstanceInformation (moto answers 500), or an
// IAM policy without it, makes the callers probe on their own: at once, and
// from then on without asking again.
func TestAgentWatcherUnavailable(t *testing.T) {
	f := &fakeSSM{infoErr: &smithy.GenericAPIError{Code: "InternalFailure", Message: "not implemented"}}
	w := NewAgentWatcher(f, fast(2*time.Millisecond))
	for i := range 3 {
		managed, err := w.WaitManaged(context.Background(), []string{"i-1"})
		if managed || err != nil {
			t.Fatalf("attempt %d: managed %v, err %v; want false, nil", i+1, managed, err)
		}
	}
	if f.infoCalls != 1 {
		t.Errorf("DescribeInstanceInformation called %d times, want 1", f.infoCalls)
	}
}

// When the caller gives up, the error says what the agent last looked like.
func TestAgentWatcherDeadline(t *testing.T) {
	f := &fakeSSM{online: func(int) bool { return false }}
	w := NewAgentWatcher(f, fast(2*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	managed, err := w.WaitManaged(ctx, []string{"i-9"})
	if managed || err == nil || !strings.Contains(err.Error(), "agent i-9 (not visible yet)") {
		t.Fatalf("managed %v, err %v", managed, err)
	}
}

// Without ssm:ListCommands the callers poll their invocations themselves, and
// the watcher stops asking.
func TestCommandWatcherUnavailable(t *testing.T) {
	f := &failingListSSM{err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed"}}
	w := NewCommandWatcher(f, fast(2*time.Millisecond))
	for i := range 3 {
		if err := w.Wait(context.Background(), fmt.Sprintf("cmd-%d", i)); err != nil {
			t.Fatalf("wait %d: %v, want nil (the caller polls)", i+1, err)
		}
	}
	if f.calls != 1 {
		t.Errorf("ListCommands called %d times, want 1", f.calls)
	}
}

type failingListSSM struct {
	SSMAPI
	mu    sync.Mutex
	calls int
	err   error
}

func (f *failingListSSM) ListCommands(context.Context, *ssm.ListCommandsInput, ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return nil, f.err
}

package awsx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

// fast is a policy for tests: fixed interval, no jitter.
func fast(d time.Duration) awsx.Policy { return awsx.Policy{Initial: d, Max: d, Factor: 1} }

// eventually reports whether cond held within a few seconds.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// described are the ids each Describe call of op asked about; a watcher must
// ask by an id filter alone, so that one unknown id does not fail the call
// for everyone sharing it.
func described(t *testing.T, c *simcloud.Cloud, op string) [][]string {
	t.Helper()
	var out [][]string
	for _, call := range c.Calls(op) {
		var ids []string
		var filters []ec2types.Filter
		switch in := call.Input.(type) {
		case *ec2.DescribeInstancesInput:
			ids, filters = in.InstanceIds, in.Filters
		case *ec2.DescribeImagesInput:
			ids, filters = in.ImageIds, in.Filters
		}
		if len(ids) > 0 || len(filters) != 1 || !strings.HasSuffix(aws.ToString(filters[0].Name), "-id") {
			t.Errorf("%s call %d does not describe by one id filter: %+v", op, call.N, call.Input)
			continue
		}
		out = append(out, filters[0].Values)
	}
	return out
}

func minutes(n int) simcloud.Range {
	return simcloud.Range{Min: time.Duration(n) * time.Minute, Max: time.Duration(n) * time.Minute}
}

// Fifty bakes waiting at once cost one DescribeInstances per tick: the first
// waiter looks at once, and everyone arriving while that call is under way
// shares the next, which carries every id still waited on.
func TestInstanceWatcherOneCallPerTick(t *testing.T) {
	const waiters = 50
	const runningAt = 3 // every instance is running from the 3rd describe on
	c := simcloud.NewManual(simcloud.Durations{Launch: minutes(1)})
	run, err := c.EC2().RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), MinCount: aws.Int32(waiters)})
	if err != nil {
		t.Fatal(err)
	}
	w := awsx.NewInstanceWatcher(c.EC2(), fast(100*time.Millisecond))
	c.Before("DescribeInstances", func(n int, _ any) {
		switch {
		case n == 1 && !eventually(func() bool { return w.Waiting() == waiters }):
			t.Errorf("only %d of %d waiters registered", w.Waiting(), waiters)
		case n == runningAt:
			c.Advance(time.Minute)
		}
	})

	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for _, in := range run.Instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := aws.ToString(in.InstanceId)
			got, err := w.WaitForState(context.Background(), []string{id})
			if err == nil && got[id].State.Name != ec2types.InstanceStateNameRunning {
				err = fmt.Errorf("%s: state %s", id, got[id].State.Name)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	perCall := described(t, c, "DescribeInstances")
	t.Logf("%d waiters: %d ticks, %d DescribeInstances calls (unbatched: %d)", waiters, w.Ticks(), len(perCall), waiters*runningAt)
	if len(perCall) != w.Ticks() {
		t.Errorf("calls per tick = %d/%d, want exactly 1", len(perCall), w.Ticks())
	}
	if len(perCall) != runningAt {
		t.Errorf("calls = %d, want %d", len(perCall), runningAt)
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
	c := simcloud.NewInstant()
	ctx := context.Background()
	p := awsx.DefaultPolicy()
	p.Initial, p.Max = time.Hour, time.Hour
	w := awsx.NewInstanceWatcher(c.EC2(), p)
	run, err := c.EC2().RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1")})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{aws.ToString(run.Instances[0].InstanceId)}
	start := time.Now()
	for _, step := range []struct {
		call func() error
		want ec2types.InstanceStateName
	}{
		{func() error { return nil }, ec2types.InstanceStateNameRunning},
		{func() error {
			_, err := c.EC2().StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids})
			return err
		}, ec2types.InstanceStateNameStopped},
		{func() error {
			_, err := c.EC2().TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
			return err
		}, ec2types.InstanceStateNameTerminated},
	} {
		if err := step.call(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.WaitForState(ctx, ids, step.want); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("three waits on an instant cloud took %s", took)
	}
	if n := c.Count("DescribeInstances"); n != 3 {
		t.Errorf("%d calls, want one look per wait", n)
	}
}

func TestInstanceWatcherChunksAt200(t *testing.T) {
	c := simcloud.NewInstant()
	ids := make([]string, 450)
	for i := range ids {
		ids[i] = c.AddInstance(simcloud.Instance{State: ec2types.InstanceStateNameStopped})
	}
	w := awsx.NewInstanceWatcher(c.EC2(), fast(5*time.Millisecond))
	got, err := w.WaitForState(context.Background(), ids, ec2types.InstanceStateNameStopped)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 450 {
		t.Fatalf("got %d instances", len(got))
	}
	var sizes []int
	for _, c := range described(t, c, "DescribeInstances") {
		sizes = append(sizes, len(c))
	}
	if fmt.Sprint(sizes) != "[200 200 50]" {
		t.Errorf("chunk sizes = %v, want [200 200 50]", sizes)
	}
}

func TestInstanceWatcherOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		cloud   func() *simcloud.Cloud // with instance i-1 as the case needs it
		want    []ec2types.InstanceStateName
		timeout time.Duration
		wantErr string
		minCall int
	}{
		{
			name: "invisible at first, then running (eventual consistency)",
			cloud: func() *simcloud.Cloud {
				c := simcloud.NewManual(simcloud.Durations{Listed: time.Second})
				c.Before("DescribeInstances", func(n int, _ any) {
					if n == 3 {
						c.AddInstance(simcloud.Instance{ID: "i-1"}) // listed from now on
					}
				})
				return c
			},
			minCall: 3,
		},
		{
			name: "terminated while waiting for running fails with the reason",
			cloud: func() *simcloud.Cloud {
				c := simcloud.NewInstant()
				c.AddInstance(simcloud.Instance{ID: "i-1", State: ec2types.InstanceStateNameTerminated, Reason: "Server.SpotInstanceTermination: capacity"})
				return c
			},
			wantErr: "is terminated while waiting for running: Server.SpotInstanceTermination",
		},
		{
			name:  "gone counts as terminated when terminated is wanted",
			cloud: simcloud.NewInstant,
			want:  []ec2types.InstanceStateName{ec2types.InstanceStateNameTerminated},
		},
		{
			name: "throttles slow the watcher down, they do not fail it",
			cloud: func() *simcloud.Cloud {
				c := simcloud.NewInstant()
				c.AddInstance(simcloud.Instance{ID: "i-1"})
				c.Inject(faults.ThrottleStorm("DescribeInstances", 1, 2))
				return c
			},
			minCall: 3,
		},
		{
			name: "a non-transient describe error fails the wait",
			cloud: func() *simcloud.Cloud {
				c := simcloud.NewInstant()
				c.AddInstance(simcloud.Instance{ID: "i-1"})
				c.Inject(faults.FailNth("DescribeInstances", 1, "UnauthorizedOperation", 403))
				return c
			},
			wantErr: "UnauthorizedOperation",
		},
		{
			name: "deadline names the last state",
			cloud: func() *simcloud.Cloud {
				c := simcloud.NewInstant()
				c.AddInstance(simcloud.Instance{ID: "i-1", State: ec2types.InstanceStateNamePending})
				return c
			},
			timeout: 60 * time.Millisecond,
			wantErr: "stopped waiting for instance i-1 (pending): context deadline exceeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cloud()
			w := awsx.NewInstanceWatcher(c.EC2(), fast(5*time.Millisecond))
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
			if calls := c.Count("DescribeInstances"); calls < tt.minCall {
				t.Errorf("calls = %d, want >= %d", calls, tt.minCall)
			}
		})
	}
}

func TestInstanceWatcherNotFoundGraceEnds(t *testing.T) {
	w := awsx.NewInstanceWatcher(simcloud.NewInstant().EC2(), fast(2*time.Millisecond)) // grace = 12 * Max = 24ms
	_, err := w.WaitForState(context.Background(), []string{"i-gone"})
	if err == nil || !strings.Contains(err.Error(), "instance i-gone not found") {
		t.Fatalf("error = %v", err)
	}
}

func TestImageWatcherWaitAvailable(t *testing.T) {
	tests := []struct {
		name    string
		image   func(c *simcloud.Cloud) // puts ami-1 in the cloud, if at all
		wantErr string
	}{
		{
			name: "pending then available",
			image: func(c *simcloud.Cloud) {
				c.AddImage(simcloud.Image{ID: "ami-1", State: ec2types.ImageStatePending})
				c.Before("DescribeImages", func(n int, _ any) {
					if n == 3 {
						c.SetImageState("ami-1", ec2types.ImageStateAvailable, nil)
					}
				})
			},
		},
		{
			name: "failed carries the state reason",
			image: func(c *simcloud.Cloud) {
				c.AddImage(simcloud.Image{ID: "ami-1", State: ec2types.ImageStateFailed, Reason: &ec2types.StateReason{
					Code: aws.String("Client.InternalError"), Message: aws.String("snapshot creation failed"),
				}})
			},
			wantErr: "image ami-1 is failed: Client.InternalError: snapshot creation failed",
		},
		{
			name: "deregistered fails",
			image: func(c *simcloud.Cloud) {
				c.AddImage(simcloud.Image{ID: "ami-1", State: ec2types.ImageStateDeregistered})
			},
			wantErr: "image ami-1 is deregistered",
		},
		{
			name:    "never listed fails after the grace period",
			image:   func(*simcloud.Cloud) {},
			wantErr: "image ami-1 not found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := simcloud.NewInstant()
			tt.image(c)
			w := awsx.NewImageWatcher(c.EC2(), fast(2*time.Millisecond))
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
			described(t, c, "DescribeImages")
		})
	}
}

// Many Reads at once (terraform refresh) share one DescribeImages.
func TestImageDescribeCoalesces(t *testing.T) {
	c := simcloud.NewInstant()
	c.Inject(faults.Latency("DescribeImages", 5*time.Millisecond))
	const readers = 30
	for i := range readers {
		c.AddImage(simcloud.Image{ID: fmt.Sprintf("ami-%02d", i)})
	}
	w := awsx.NewImageWatcher(c.EC2(), awsx.DefaultPolicy())
	w.SetDescribeWindow(100 * time.Millisecond) // generous: the test host may be busy
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
	perCall := described(t, c, "DescribeImages")
	t.Logf("%d concurrent Describe callers -> %d DescribeImages calls", readers, len(perCall))
	if len(perCall) != 1 {
		t.Errorf("calls = %d, want 1 (ids per call %v)", len(perCall), perCall)
	}
	for i, m := range results {
		id := fmt.Sprintf("ami-%02d", i)
		if len(m) != 1 || m[id].State != ec2types.ImageStateAvailable {
			t.Errorf("reader %d got %v", i, m)
		}
	}
}

// commandCloud has commands running on one instance, each for a minute of
// its manual clock, and ListCommands taking 10 ms, as on AWS.
func commandCloud(t *testing.T, n int) (*simcloud.Cloud, []string) {
	t.Helper()
	c := simcloud.NewManual(simcloud.Durations{Command: minutes(1)})
	c.Inject(faults.Latency("ListCommands", 10*time.Millisecond))
	instance := c.AddInstance(simcloud.Instance{})
	var ids []string
	for range n {
		out, err := c.SSM().SendCommand(context.Background(), &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{instance}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.Command.CommandId))
	}
	return c, ids
}

// listings counts ListCommands calls by kind: by command id, or listings.
func listings(c *simcloud.Cloud) (byID, listed int) {
	for _, call := range c.Calls("ListCommands") {
		if aws.ToString(call.Input.(*ssm.ListCommandsInput).CommandId) != "" {
			byID++
		} else {
			listed++
		}
	}
	return byID, listed
}

// Commands of concurrent bakes share one listing per tick (a page per 50
// commands), instead of one call per command per look: the waits that start
// while a call is under way share the next.
func TestCommandWatcherListsTogether(t *testing.T) {
	const commands = 120
	c, ids := commandCloud(t, commands)
	c.Before("ListCommands", func(n int, _ any) {
		if n == 13 {
			c.Advance(time.Minute)
		}
	})
	w := awsx.NewCommandWatcher(c.SSM(), awsx.Policy{Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 1})
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Wait(context.Background(), id); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ticks := w.Ticks()
	byID, listed := listings(c)
	t.Logf("%d commands: %d ticks, %d listings, %d lookups by id", commands, ticks, listed, byID)
	if listed == 0 {
		t.Fatal("no listing: every command was looked up on its own")
	}
	if total := listed + byID; total > 3*ticks {
		t.Errorf("%d calls in %d ticks, want at most 3 pages per tick", total, ticks)
	}
	if total := listed + byID; total >= commands {
		t.Errorf("%d calls for %d commands: not batched", total, commands)
	}
}

func TestCommandWatcherAlone(t *testing.T) {
	c, ids := commandCloud(t, 1)
	c.Before("ListCommands", func(n int, _ any) {
		if n == 3 {
			c.Advance(time.Minute)
		}
	})
	w := awsx.NewCommandWatcher(c.SSM(), fast(2*time.Millisecond))
	if err := w.Wait(context.Background(), ids[0]); err != nil {
		t.Fatal(err)
	}
	if byID, listed := listings(c); byID != 3 || listed != 0 {
		t.Errorf("one command: %d lookups by id and %d listings, want 3 and 0", byID, listed)
	}
}

// Agents of concurrent bakes are checked with one DescribeInstanceInformation
// per tick (50 ids per call) instead of every bake probing with SendCommand.
func TestAgentWatcherBatches(t *testing.T) {
	const instances = 60
	c := simcloud.NewManual(simcloud.Durations{Agent: minutes(1)})
	c.Inject(faults.Latency("DescribeInstanceInformation", 10*time.Millisecond))
	run, err := c.EC2().RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), MinCount: aws.Int32(instances)})
	if err != nil {
		t.Fatal(err)
	}
	c.Before("DescribeInstanceInformation", func(n int, _ any) {
		if n == 5 {
			c.Advance(time.Minute)
		}
	})
	w := awsx.NewAgentWatcher(c.SSM().(awsx.InstanceInformationAPI), awsx.Policy{Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 1})
	var wg sync.WaitGroup
	for _, in := range run.Instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			managed, err := w.WaitManaged(context.Background(), []string{aws.ToString(in.InstanceId)})
			if err != nil || !managed {
				t.Errorf("managed %v, err %v", managed, err)
			}
		}()
	}
	wg.Wait()
	ticks, calls := w.Ticks(), c.Calls("DescribeInstanceInformation")
	t.Logf("%d instances: %d ticks, %d DescribeInstanceInformation calls", instances, ticks, len(calls))
	if len(calls) > 2*ticks {
		t.Errorf("%d calls in %d ticks, want at most 2 (50 ids each) per tick", len(calls), ticks)
	}
	if len(calls) >= instances/2 {
		t.Errorf("%d calls for %d instances: not batched", len(calls), instances)
	}
	for _, call := range calls {
		if ids := call.Input.(*ssm.DescribeInstanceInformationInput).InstanceInformationFilterList[0].ValueSet; len(ids) > awsx.AgentChunk {
			t.Errorf("call %d carried %d ids, more than %d", call.N, len(ids), awsx.AgentChunk)
		}
	}
}

// An emulator without DescribeInstanceInformation (moto answers 500), or an
// IAM policy without it, makes the callers probe on their own: at once, and
// from then on without asking again.
func TestAgentWatcherUnavailable(t *testing.T) {
	c := simcloud.NewInstant()
	c.Inject(faults.FailCalls("DescribeInstanceInformation", 1, -1, "InternalFailure", 500))
	w := awsx.NewAgentWatcher(c.SSM().(awsx.InstanceInformationAPI), fast(2*time.Millisecond))
	for i := range 3 {
		managed, err := w.WaitManaged(context.Background(), []string{"i-1"})
		if managed || err != nil {
			t.Fatalf("attempt %d: managed %v, err %v; want false, nil", i+1, managed, err)
		}
	}
	if n := c.Count("DescribeInstanceInformation"); n != 1 {
		t.Errorf("DescribeInstanceInformation called %d times, want 1", n)
	}
}

// When the caller gives up, the error says what the agent last looked like.
func TestAgentWatcherDeadline(t *testing.T) {
	w := awsx.NewAgentWatcher(simcloud.NewInstant().SSM().(awsx.InstanceInformationAPI), fast(2*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	managed, err := w.WaitManaged(ctx, []string{"i-9"})
	if managed || err == nil || !strings.Contains(err.Error(), "agent i-9 (not visible yet)") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("managed %v, err %v", managed, err)
	}
}

// Without ssm:ListCommands the callers poll their invocations themselves, and
// the watcher stops asking.
func TestCommandWatcherUnavailable(t *testing.T) {
	c := simcloud.NewInstant()
	c.Inject(faults.FailCalls("ListCommands", 1, -1, "AccessDeniedException", 400))
	w := awsx.NewCommandWatcher(c.SSM(), fast(2*time.Millisecond))
	for i := range 3 {
		if err := w.Wait(context.Background(), fmt.Sprintf("cmd-%d", i)); err != nil {
			t.Fatalf("wait %d: %v, want nil (the caller polls)", i+1, err)
		}
	}
	if n := c.Count("ListCommands"); n != 1 {
		t.Errorf("ListCommands called %d times, want 1", n)
	}
}

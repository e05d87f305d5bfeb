package simcloud

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// fixed makes every transition take d, with AWS's eventual consistency.
func fixed(d time.Duration) Durations {
	r := Range{d, d}
	return Durations{Launch: r, Agent: r, Command: r, Stop: r, Image: r, Terminate: r, Listed: time.Second, Invocation: 500 * time.Millisecond}
}

func TestPlansAreSeeded(t *testing.T) {
	a := New(Config{Seed: 7, Durations: Typical()})
	b := New(Config{Seed: 7, Durations: Typical()})
	if a.PlanFor("ami-1") != b.PlanFor("ami-1") {
		t.Error("same seed and source image, different plans")
	}
	if a.PlanFor("ami-1") == a.PlanFor("ami-2") {
		t.Error("two bakes drew the same plan")
	}
	p := a.PlanFor("ami-1")
	d := Typical()
	for _, c := range []struct {
		got time.Duration
		r   Range
	}{{p.Launch, d.Launch}, {p.Agent, d.Agent}, {p.Command, d.Command}, {p.Stop, d.Stop}, {p.Image, d.Image}, {p.Terminate, d.Terminate}} {
		if c.got < c.r.Min || c.got > c.r.Max {
			t.Errorf("%s outside %v", c.got, c.r)
		}
	}
	if p.Ideal() != p.Launch+p.Agent+p.Command+p.Stop+p.Image+p.Terminate {
		t.Error("Ideal is not the sum of the transitions")
	}
}

// Nothing happens before its time: with hour-long transitions every resource
// stays in its first state, and SendCommand is refused.
func TestTransitionsWait(t *testing.T) {
	c := New(Config{Durations: fixed(time.Hour), Scale: 1})
	ctx := context.Background()
	run, err := c.EC2().RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), MinCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	if st := run.Instances[0].State.Name; st != ec2types.InstanceStateNamePending {
		t.Errorf("state after launch = %s", st)
	}
	_, err = c.SSM().SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id}})
	if awsx.ErrorCode(err) != "InvalidInstanceId" {
		t.Errorf("SendCommand before the agent is online: %v, want InvalidInstanceId", err)
	}
	_, err = c.EC2().StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	if awsx.ErrorCode(err) != "IncorrectInstanceState" {
		t.Errorf("StopInstances while pending: %v, want IncorrectInstanceState", err)
	}
}

// With one-second transitions at 1000x, a whole bake's states go by in
// milliseconds.
func TestBakeLifecycle(t *testing.T) {
	c := New(Config{Durations: fixed(time.Second), Scale: 1000})
	ctx := context.Background()
	settle := func() { time.Sleep(c.Real(3 * time.Second)) } // > visibility + one transition
	state := func(id string) ec2types.InstanceStateName {
		out, err := c.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Reservations[0].Instances[0].State.Name
	}
	run, err := c.EC2().RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), MinCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	settle()
	if st := state(id); st != ec2types.InstanceStateNameRunning {
		t.Fatalf("state = %s, want running", st)
	}
	settle()
	info, err := c.SSM().(ssmClient).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	if err != nil || len(info.InstanceInformationList) != 1 || info.InstanceInformationList[0].PingStatus != ssmtypes.PingStatusOnline {
		t.Fatalf("instance information = %+v, %v; want the agent online", info, err)
	}
	cmd, err := c.SSM().SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	settle()
	listed, err := c.SSM().ListCommands(ctx, &ssm.ListCommandsInput{CommandId: cmd.Command.CommandId})
	if err != nil || listed.Commands[0].Status != ssmtypes.CommandStatusSuccess {
		t.Fatalf("command = %+v, %v; want Success", listed, err)
	}
	if _, err := c.EC2().StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	settle()
	if st := state(id); st != ec2types.InstanceStateNameStopped {
		t.Errorf("state = %s, want stopped", st)
	}
	img, err := c.EC2().CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("baked")})
	if err != nil {
		t.Fatal(err)
	}
	settle()
	imgs, err := c.EC2().DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{aws.ToString(img.ImageId)}})
	if err != nil || imgs.Images[0].State != ec2types.ImageStateAvailable || len(imgs.Images[0].BlockDeviceMappings) != 1 {
		t.Fatalf("image = %+v, %v; want available with one snapshot", imgs, err)
	}
	if _, err := c.EC2().TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	settle()
	if st := state(id); st != ec2types.InstanceStateNameTerminated {
		t.Errorf("state = %s, want terminated", st)
	}
	s := c.Stats()
	if s.Calls["DescribeInstances"] != 3 || s.Calls["RunInstances"] != 1 || s.TotalThrottled() != 0 {
		t.Errorf("stats = %s", s)
	}
}

// An empty bucket answers RequestLimitExceeded (ThrottlingException for SSM);
// the client retries like the SDK, and every attempt is counted.
func TestThrottling(t *testing.T) {
	limits := DefaultLimits()
	limits.NonMutating = Bucket{Size: 3, Refill: 0}
	limits.SSMRead = Bucket{Size: 1, Refill: 0}
	c := New(Config{Durations: fixed(time.Second), Scale: 1000, Limits: &limits, Attempts: 2})
	ctx := context.Background()
	var errs []error
	for range 4 {
		_, err := c.EC2().DescribeImages(ctx, &ec2.DescribeImagesInput{})
		errs = append(errs, err)
	}
	for i, err := range errs[:3] {
		if err != nil {
			t.Errorf("call %d: %v", i+1, err)
		}
	}
	if awsx.ErrorCode(errs[3]) != "RequestLimitExceeded" {
		t.Errorf("4th call: %v, want RequestLimitExceeded", errs[3])
	}
	// Another API has its own bucket.
	if _, err := c.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("DescribeInstances throttled by DescribeImages' bucket: %v", err)
	}
	_, _ = c.SSM().ListCommands(ctx, &ssm.ListCommandsInput{})
	if _, err := c.SSM().ListCommands(ctx, &ssm.ListCommandsInput{}); awsx.ErrorCode(err) != "ThrottlingException" {
		t.Errorf("SSM throttle: %v, want ThrottlingException", err)
	}
	s := c.Stats()
	if s.Calls["DescribeImages"] != 5 || s.Throttled["DescribeImages"] != 2 {
		t.Errorf("DescribeImages: %d calls, %d throttled; want 5 (one retried twice) and 2", s.Calls["DescribeImages"], s.Throttled["DescribeImages"])
	}
}

// A policy runs on the cloud's clock: every duration scaled, the original
// untouched, and a Pacer of its own so that scenarios do not share what they
// learn.
func TestPolicyOnTheCloudsClock(t *testing.T) {
	c := New(Config{Scale: 100})
	p := awsx.DefaultPolicy()
	s := c.Policy(p)
	if s.Initial != 10*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Errorf("scaled Initial/Max = %s/%s, want 10ms/100ms", s.Initial, s.Max)
	}
	w, sw := p.Expect[awsx.ImageCreate], s.Expect[awsx.ImageCreate]
	if sw.Min != w.Min/100 || sw.Max != w.Max/100 || sw.Every != w.Every/100 {
		t.Errorf("scaled window = %+v, want %+v / 100", sw, w)
	}
	if s.Pacer == p.Pacer || s.Pacer == nil {
		t.Error("a scaled policy needs a Pacer of its own")
	}
	if p.Expect[awsx.ImageCreate] != w {
		t.Error("scaling changed the original policy's windows")
	}
	if peer := c.Policy(awsx.Policy{Initial: time.Second}); peer.Pacer != nil {
		t.Error("a policy without a Pacer got one")
	}
}

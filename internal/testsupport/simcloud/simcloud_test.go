package simcloud

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
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

// In an instant cloud a whole bake's changes are done when their calls
// return, and AWS's facts about what made what are kept: client tokens,
// source instances and the descriptions of snapshots, which stay after their
// image is deregistered.
func TestInstantLifecycle(t *testing.T) {
	c := NewInstant()
	ctx := context.Background()
	run, err := c.EC2().RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), ClientToken: aws.String("tok-1")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	if st := c.InstanceState(id); st != ec2types.InstanceStateNameRunning {
		t.Fatalf("state = %s, want running at once", st)
	}
	again, err := c.EC2().RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), ClientToken: aws.String("tok-1")})
	if err != nil || aws.ToString(again.Instances[0].InstanceId) != id || len(c.Calls("RunInstances")) != 2 {
		t.Fatalf("a repeated client token launched %+v, %v; want the same instance", again, err)
	}
	byToken, err := c.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("client-token"), Values: []string{"tok-1"}}}})
	if err != nil || len(byToken.Reservations) != 1 {
		t.Fatalf("by client token: %+v, %v", byToken, err)
	}
	cmd, err := c.SSM().SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.SSM().GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: cmd.Command.CommandId, InstanceId: aws.String(id)})
	if err != nil || inv.Status != ssmtypes.CommandInvocationStatusSuccess || inv.ResponseCode != 0 {
		t.Fatalf("invocation = %+v, %v", inv, err)
	}
	if _, err := c.EC2().StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil || c.InstanceState(id) != ec2types.InstanceStateNameStopped {
		t.Fatalf("stop: %v, state %s", err, c.InstanceState(id))
	}
	made, err := c.EC2().CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("baked")})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := c.Image(aws.ToString(made.ImageId))
	if img.State != ec2types.ImageStateAvailable || aws.ToString(img.SourceInstanceId) != id || len(img.BlockDeviceMappings) != 1 {
		t.Fatalf("image = %+v", img)
	}
	snap := aws.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId)
	want := "Created by CreateImage(" + id + ") for " + aws.ToString(made.ImageId)
	if _, err := c.EC2().DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)}); awsx.ErrorCode(err) != "InvalidSnapshot.InUse" {
		t.Errorf("deleting a snapshot in use: %v", err)
	}
	if _, err := c.EC2().DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: made.ImageId}); err != nil {
		t.Fatal(err)
	}
	s, ok := c.Snapshot(snap)
	if !ok || aws.ToString(s.Description) != want {
		t.Errorf("snapshot after deregistration = %+v, %v; want it kept with description %q", s, ok, want)
	}
	if _, err := c.EC2().CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("baked")}); err != nil {
		t.Errorf("the name of a deregistered image is free again: %v", err)
	}
}

// On a manual clock nothing happens until the test moves it; hooks see each
// call before it is answered, and fault rules apply as through an SDK client.
func TestManualClockHooksAndFaults(t *testing.T) {
	c := NewManual(fixed(time.Minute))
	ctx := context.Background()
	run, err := c.EC2().RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	c.Advance(time.Second) // listed
	c.Before("DescribeInstances", func(n int, _ any) {
		if n == 2 {
			c.Advance(time.Minute)
		}
	})
	c.Inject(faults.FailNth("DescribeInstances", 3, "UnauthorizedOperation", 403))
	state := func() (ec2types.InstanceStateName, error) {
		out, err := c.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return "", err
		}
		return out.Reservations[0].Instances[0].State.Name, nil
	}
	if st, _ := state(); st != ec2types.InstanceStateNamePending {
		t.Errorf("first look: %s, want pending", st)
	}
	if st, _ := state(); st != ec2types.InstanceStateNameRunning {
		t.Errorf("second look, after the hook moved the clock: %s, want running", st)
	}
	if _, err := state(); awsx.ErrorCode(err) != "UnauthorizedOperation" {
		t.Errorf("third look: %v, want the injected fault", err)
	}
	calls := c.Calls("DescribeInstances")
	if len(calls) != 3 || calls[2].Err == nil || calls[0].Input.(*ec2.DescribeInstancesInput).InstanceIds[0] != id {
		t.Errorf("calls = %+v", calls)
	}
}

// What a test puts in the cloud is listed at once and stays as put.
func TestAddedResources(t *testing.T) {
	c := NewInstant()
	ctx := context.Background()
	builder := c.AddInstance(Instance{ID: "i-1", State: ec2types.InstanceStateNameStopped, ClientToken: "tok", Tags: map[string]string{"k": "v"}})
	img, snaps := c.AddImage(Image{Instance: builder, Tags: map[string]string{"k": "v"}, SnapshotTags: map[string]string{"s": "t"}})
	theirs, _ := c.AddImage(Image{Owner: "210987654321", Snapshots: snaps})
	out, err := c.EC2().DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []ec2types.Filter{{Name: aws.String("tag:k"), Values: []string{"v"}}}})
	if err != nil || len(out.Images) != 1 || aws.ToString(out.Images[0].ImageId) != img {
		t.Fatalf("own tagged images = %+v, %v", out, err)
	}
	if got := c.Tags(snaps[0]); got["s"] != "t" {
		t.Errorf("snapshot tags = %v", got)
	}
	if _, err := c.EC2().DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(img)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EC2().DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snaps[0])}); awsx.ErrorCode(err) != "InvalidSnapshot.InUse" {
		t.Errorf("a snapshot another image is built on: %v", err)
	}
	c.Remove(theirs)
	if _, err := c.EC2().DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snaps[0])}); err != nil {
		t.Errorf("a snapshot no image uses: %v", err)
	}
	c.SetInstanceState(builder, ec2types.InstanceStateNameTerminated, "Server.SpotInstanceTermination: capacity")
	in, _ := c.Instance(builder)
	if in.State.Name != ec2types.InstanceStateNameTerminated || aws.ToString(in.StateReason.Message) != "Server.SpotInstanceTermination: capacity" {
		t.Errorf("instance = %+v", in)
	}
}

// Parameters, command outcomes, the image and launch fates, and Lambda are
// the test's to choose.
func TestKnobs(t *testing.T) {
	c := NewInstant()
	ctx := context.Background()
	c.PutParameter("/db", "s3cret", true)
	p, err := c.SSM().GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/db")})
	if err != nil || aws.ToString(p.Parameter.Value) == "s3cret" || p.Parameter.Type != ssmtypes.ParameterTypeSecureString {
		t.Errorf("without decryption: %+v, %v", p, err)
	}
	p, err = c.SSM().GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/db"), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(p.Parameter.Value) != "s3cret" {
		t.Errorf("with decryption: %+v, %v", p, err)
	}
	id := c.AddInstance(Instance{})
	c.EndCommands(Outcome{Status: ssmtypes.CommandInvocationStatusFailed, Stderr: "boom", Code: 2})
	cmd, err := c.SSM().SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.SSM().GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: cmd.Command.CommandId, InstanceId: aws.String(id)})
	if err != nil || inv.Status != ssmtypes.CommandInvocationStatusFailed || inv.ResponseCode != 2 || aws.ToString(inv.StandardErrorContent) != "boom" {
		t.Errorf("invocation = %+v, %v", inv, err)
	}
	listed, err := c.SSM().ListCommands(ctx, &ssm.ListCommandsInput{CommandId: cmd.Command.CommandId})
	if err != nil || listed.Commands[0].Status != ssmtypes.CommandStatusFailed {
		t.Errorf("listed = %+v, %v", listed, err)
	}
	c.FailLaunches("Server.InternalError: no capacity")
	run, err := c.EC2().RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1")})
	if err != nil || c.InstanceState(aws.ToString(run.Instances[0].InstanceId)) != ec2types.InstanceStateNameTerminated {
		t.Errorf("a failed launch: %v, %s", err, c.InstanceState(aws.ToString(run.Instances[0].InstanceId)))
	}
	c.FailImages("Client.InternalError", "snapshot copy failed")
	made, err := c.EC2().CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	if img, _ := c.Image(aws.ToString(made.ImageId)); img.State != ec2types.ImageStateFailed || aws.ToString(img.StateReason.Message) != "snapshot copy failed" {
		t.Errorf("a failed image: %+v", img)
	}
	out, err := c.Lambda().Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), Payload: []byte(`{"a":1}`)})
	if err != nil || string(out.Payload) != `{"a":1}` {
		t.Errorf("echo: %+v, %v", out, err)
	}
}

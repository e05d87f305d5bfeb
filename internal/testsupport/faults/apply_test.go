package faults_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

// A call that goes through no SDK stack (a simulated cloud) meets the same
// rules and gets the error an SDK client would: code, HTTP status, throttle
// class; a lost response takes effect first.
func TestApply(t *testing.T) {
	ctx := context.Background()
	inj := faults.New(
		faults.FailNth("DescribeImages", 2, "UnauthorizedOperation", 403),
		faults.ThrottleStorm("SendCommand", 1, 1),
		faults.LoseResponse("CreateImage", 1, "InternalError", 500),
		faults.FailCalls("TerminateInstances", 1, -1, "OperationNotPermitted", 400).Only(faults.Naming("i-2")),
	)
	ran := 0
	do := func() error { ran++; return nil }
	if err := inj.Apply(ctx, "EC2", "DescribeImages", &ec2.DescribeImagesInput{}, do); err != nil || ran != 1 {
		t.Fatalf("first call: %v, ran %d", err, ran)
	}
	err := inj.Apply(ctx, "EC2", "DescribeImages", &ec2.DescribeImagesInput{}, do)
	var status interface{ HTTPStatusCode() int }
	if awsx.ErrorCode(err) != "UnauthorizedOperation" || !errors.As(err, &status) || status.HTTPStatusCode() != 403 || ran != 1 {
		t.Errorf("second call: %v (ran %d)", err, ran)
	}
	if err := inj.Apply(ctx, "SSM", "SendCommand", nil, do); !awsx.IsThrottle(err) || awsx.ErrorCode(err) != "ThrottlingException" {
		t.Errorf("throttled call: %v", err)
	}
	if err := inj.Apply(ctx, "EC2", "CreateImage", nil, do); awsx.ErrorCode(err) != "InternalError" || ran != 2 {
		t.Errorf("lost response: %v, ran %d (want the call made)", err, ran)
	}
	if err := inj.Apply(ctx, "EC2", "TerminateInstances", &ec2.TerminateInstancesInput{InstanceIds: []string{"i-1"}}, do); err != nil {
		t.Errorf("another instance: %v", err)
	}
	if err := inj.Apply(ctx, "EC2", "TerminateInstances", &ec2.TerminateInstancesInput{InstanceIds: []string{"i-2"}}, do); awsx.ErrorCode(err) != "OperationNotPermitted" {
		t.Errorf("the named instance: %v", err)
	}
	if inj.Injected() != 4 || inj.Calls("TerminateInstances") != 2 {
		t.Errorf("injected %d, TerminateInstances calls %d", inj.Injected(), inj.Calls("TerminateInstances"))
	}

	hang := faults.New(faults.Hang("StopInstances", 1))
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := hang.Apply(short, "EC2", "StopInstances", nil, do); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung call: %v, want the context's error", err)
	}
}

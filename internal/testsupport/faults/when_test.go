package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

func TestOnlyNaming(t *testing.T) {
	srv, hits := stubAWS(t)
	inj := faults.New(faults.FailCalls("DescribeInstances", 1, -1, "UnauthorizedOperation", 403).Only(faults.Naming("i-2")))
	c := ec2.NewFromConfig(cfg(inj), func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	ctx := context.Background()

	for _, tt := range []struct {
		name    string
		in      *ec2.DescribeInstancesInput
		wantErr bool
	}{
		{"other id", &ec2.DescribeInstancesInput{InstanceIds: []string{"i-1"}}, false},
		{"id field", &ec2.DescribeInstancesInput{InstanceIds: []string{"i-1", "i-2"}}, true},
		{"filter value", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: []string{"i-2"}}}}, true},
		{"prefix is not a match", &ec2.DescribeInstancesInput{InstanceIds: []string{"i-22"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			_, err := c.DescribeInstances(ctx, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && awsx.ErrorCode(err) != "UnauthorizedOperation" {
				t.Errorf("code %q, want UnauthorizedOperation", awsx.ErrorCode(err))
			}
			if reached := hits.Load() - before; reached != map[bool]int64{true: 0, false: 1}[tt.wantErr] {
				t.Errorf("%d requests reached AWS", reached)
			}
		})
	}
	if inj.Injected() != 2 {
		t.Errorf("Injected() = %d, want 2", inj.Injected())
	}
}

func TestStall(t *testing.T) {
	srv, hits := stubAWS(t)
	inj := faults.New(faults.Stall("DescribeInstances", 1, 150*time.Millisecond))
	c := ec2.NewFromConfig(cfg(inj), func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	start := time.Now()
	if _, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatalf("a stalled call answers late, it does not fail: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("call took %s, want at least the stall", d)
	}
	if inj.Injected() != 1 || hits.Load() != 1 {
		t.Errorf("Injected=%d hits=%d, want 1 and 1", inj.Injected(), hits.Load())
	}

	// Bounded by the caller's context like any hang.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	inj.Add(faults.Stall("DescribeInstances", 2, time.Minute))
	start = time.Now()
	if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("stall past the deadline: err=%v after %s", err, time.Since(start))
	}
}

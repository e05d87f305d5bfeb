package awsx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

func TestNewLearnsAccountAndPartition(t *testing.T) {
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), "Action=GetCallerIdentity") {
			t.Errorf("unexpected call %s", body)
		}
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>210987654321</Account><Arn>arn:aws-cn:sts::210987654321:assumed-role/r/s</Arn><UserId>U</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>`)
	}))
	defer srv.Close()

	c, err := New(context.Background(), Config{
		Region: "cn-north-1", AccessKey: "AKIDEXAMPLE", SecretKey: "secret",
		Endpoints:  Endpoints{STS: srv.URL, EC2: "http://127.0.0.1:1"},
		MaxRetries: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.AccountID != "210987654321" || c.Partition != "aws-cn" || c.Region != "cn-north-1" {
		t.Errorf("account=%q partition=%q region=%q", c.AccountID, c.Partition, c.Region)
	}
	if !strings.Contains(gotAuth, "Credential=AKIDEXAMPLE/") {
		t.Errorf("request not signed with the static key: %q", gotAuth)
	}
	for _, svc := range []string{"ec2", "ssm", "lambda", "sts", "iam"} {
		if c.Raw[svc] == nil {
			t.Errorf("Raw[%q] missing", svc)
		}
	}
	if c.Instances == nil || c.Images == nil {
		t.Error("watchers not built")
	}
}

func TestNewNamesTheCredentialSourcesTried(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	_, err := New(context.Background(), Config{
		Region:                  "us-east-1",
		SharedConfigFiles:       []string{dir + "/config"},
		SharedCredentialsFiles:  []string{dir + "/credentials"},
		SkipRequestingAccountID: true,
	})
	if err == nil {
		t.Fatal("want a credentials error")
	}
	t.Log(err)
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Problem != CredentialsNotFound {
		t.Fatalf("want a CredentialsError of CredentialsNotFound, got %T %v", err, err)
	}
	for _, want := range []string{"no AWS credentials found in:", "access_key/secret_key not set",
		"AWS_ACCESS_KEY_ID not set", dir + "/credentials", dir + "/config", `profile "default"`,
		"IMDS, disabled by AWS_EC2_METADATA_DISABLED"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestPartitionForRegion(t *testing.T) {
	for region, want := range map[string]string{"us-east-1": "aws", "cn-northwest-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "eu-west-3": "aws"} {
		if got := PartitionForRegion(region); got != want {
			t.Errorf("PartitionForRegion(%q) = %q, want %q", region, got, want)
		}
	}
}

// TestEndpointsReachEveryService: each service the endpoints block names is
// called at its own endpoint, not at AWS_ENDPOINT_URL or AWS's.
func TestEndpointsReachEveryService(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	hits := map[string]int{}
	var mu sync.Mutex
	server := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[name]++
			mu.Unlock()
			http.Error(w, "no", http.StatusBadRequest)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	e := Endpoints{
		AutoScaling: server("autoscaling"), CloudFormation: server("cloudformation"), ELBv2: server("elbv2"),
		KMS: server("kms"), S3: server("s3"), SNS: server("sns"), StepFunctions: server("stepfunctions"),
	}
	c, err := New(context.Background(), Config{Region: "us-east-1", AccessKey: "AKIDEXAMPLE", SecretKey: "secret",
		Endpoints: e, MaxRetries: 1, SkipCredentialsValidation: true, SkipRequestingAccountID: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, _ = c.Raw["autoscaling"].(*autoscaling.Client).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	_, _ = c.Raw["cloudformation"].(*cloudformation.Client).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
	_, _ = c.Raw["elbv2"].(*elasticloadbalancingv2.Client).DescribeLoadBalancers(ctx, &elasticloadbalancingv2.DescribeLoadBalancersInput{})
	_, _ = c.Raw["kms"].(*kms.Client).ListKeys(ctx, &kms.ListKeysInput{})
	_, _ = c.Raw["s3"].(*s3.Client).ListBuckets(ctx, &s3.ListBucketsInput{})
	_, _ = c.Raw["sns"].(*sns.Client).ListTopics(ctx, &sns.ListTopicsInput{})
	_, _ = c.Raw["stepfunctions"].(*sfn.Client).ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	for _, svc := range []string{"autoscaling", "cloudformation", "elbv2", "kms", "s3", "sns", "stepfunctions"} {
		if hits[svc] == 0 {
			t.Errorf("%s was not called at its endpoint", svc)
		}
	}
}

package faults_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

// stubAWS answers every call with a minimal success in the service's format
// and counts the requests that actually reached it.
func stubAWS(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM."):
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			_, _ = io.WriteString(w, `{"Command":{"CommandId":"cmd-1"}}`)
		case strings.Contains(r.URL.Path, "/functions/"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		case strings.Contains(string(body), "Action=GetCallerIdentity"):
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/u</Arn><UserId>U</UserId></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
		case strings.Contains(string(body), "Action=DescribeInstances"):
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, `<DescribeInstancesResponse><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-1</instanceId></item></instancesSet></item></reservationSet></DescribeInstancesResponse>`)
		default:
			t.Errorf("unexpected request %s %s %s", r.Method, r.URL.Path, body)
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// cfg is an SDK config against the stub with instant retries, so that tests
// run as fast as the retry policy allows.
func cfg(inj *faults.Injector) aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		},
		APIOptions: []func(*middleware.Stack) error{inj.APIOption()},
	}
}

func TestInjectedErrorsLookLikeAWS(t *testing.T) {
	srv, hits := stubAWS(t)
	ctx := context.Background()

	tests := []struct {
		name         string
		rules        []faults.Rule
		call         func(aws.Config) error
		wantCode     string
		wantStatus   int
		wantInjected int
		wantHits     int64
		wantThrottle bool
		check        func(t *testing.T, err error)
	}{
		{
			name:  "ec2 non-retryable code fails the first attempt",
			rules: []faults.Rule{faults.FailNth("DescribeInstances", 1, "UnauthorizedOperation", 403)},
			call: func(c aws.Config) error {
				_, err := ec2.NewFromConfig(c, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) }).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
				return err
			},
			wantCode: "UnauthorizedOperation", wantStatus: 403, wantInjected: 1, wantHits: 0,
			check: func(t *testing.T, err error) {
				var g *smithy.GenericAPIError
				if !errors.As(err, &g) {
					t.Fatalf("errors.As GenericAPIError failed: %T %v", err, err)
				}
			},
		},
		{
			name:  "ec2 throttle storm shorter than the retry budget is absorbed",
			rules: []faults.Rule{faults.ThrottleStorm("DescribeInstances", 1, 2)},
			call: func(c aws.Config) error {
				out, err := ec2.NewFromConfig(c, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) }).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
				if err == nil && aws.ToString(out.Reservations[0].Instances[0].InstanceId) != "i-1" {
					return errors.New("response not passed through")
				}
				return err
			},
			wantInjected: 2, wantHits: 1,
		},
		{
			name:  "ec2 throttle storm longer than the budget surfaces RequestLimitExceeded",
			rules: []faults.Rule{faults.ThrottleStorm("DescribeInstances", 1, 10)},
			call: func(c aws.Config) error {
				_, err := ec2.NewFromConfig(c, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) }).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
				return err
			},
			wantCode: "RequestLimitExceeded", wantStatus: 503, wantInjected: 3, wantHits: 0, wantThrottle: true,
			check: func(t *testing.T, err error) {
				var mae *retry.MaxAttemptsError
				if !errors.As(err, &mae) || mae.Attempt != 3 {
					t.Errorf("want the SDK to have retried 3 times, got %v", err)
				}
			},
		},
		{
			name:  "second call only",
			rules: []faults.Rule{faults.FailNth("DescribeInstances", 2, "InvalidInstanceID.NotFound", 400)},
			call: func(c aws.Config) error {
				cl := ec2.NewFromConfig(c, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
				if _, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
					return errors.New("first call should pass: " + err.Error())
				}
				_, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
				return err
			},
			wantCode: "InvalidInstanceID.NotFound", wantStatus: 400, wantInjected: 1, wantHits: 1,
			check: func(t *testing.T, err error) {
				if !awsx.IsNotFound(err) {
					t.Errorf("IsNotFound = false for %v", err)
				}
			},
		},
		{
			name:  "ssm modeled error deserialises to its type",
			rules: []faults.Rule{faults.FailNth("SendCommand", 1, "InvalidInstanceId", 400)},
			call: func(c aws.Config) error {
				_, err := ssm.NewFromConfig(c, func(o *ssm.Options) { o.BaseEndpoint = aws.String(srv.URL) }).SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript")})
				return err
			},
			wantCode: "InvalidInstanceId", wantStatus: 400, wantInjected: 1,
			check: func(t *testing.T, err error) {
				var m *ssmtypes.InvalidInstanceId
				if !errors.As(err, &m) {
					t.Errorf("want *ssmtypes.InvalidInstanceId, got %T", errors.Unwrap(err))
				}
			},
		},
		{
			name:  "ssm throttling exhausts retries",
			rules: []faults.Rule{faults.ThrottleStorm("SendCommand", 1, 5)},
			call: func(c aws.Config) error {
				_, err := ssm.NewFromConfig(c, func(o *ssm.Options) { o.BaseEndpoint = aws.String(srv.URL) }).SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript")})
				return err
			},
			wantCode: "ThrottlingException", wantStatus: 400, wantInjected: 3, wantThrottle: true,
		},
		{
			name:  "lambda 429 is TooManyRequestsException",
			rules: []faults.Rule{faults.ThrottleStorm("Invoke", 1, 3)},
			call: func(c aws.Config) error {
				_, err := lambda.NewFromConfig(c, func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) }).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f")})
				return err
			},
			wantCode: "TooManyRequestsException", wantStatus: 429, wantInjected: 3, wantThrottle: true,
			check: func(t *testing.T, err error) {
				var m *lambdatypes.TooManyRequestsException
				if !errors.As(err, &m) {
					t.Errorf("want *lambdatypes.TooManyRequestsException, got %v", err)
				}
			},
		},
		{
			name:  "sts query error",
			rules: []faults.Rule{{Operation: "GetCallerIdentity", Code: "ExpiredToken", Status: 403}},
			call: func(c aws.Config) error {
				_, err := sts.NewFromConfig(c, func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				return err
			},
			wantCode: "ExpiredToken", wantStatus: 403, wantInjected: 1,
		},
		{
			name:  "lost response: the call takes effect, the caller sees the error",
			rules: []faults.Rule{faults.LoseResponse("DescribeInstances", 1, "InternalError", 500), faults.FailCalls("DescribeInstances", 2, -1, "AuthFailure", 401)},
			call: func(c aws.Config) error {
				_, err := ec2.NewFromConfig(c, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) }).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
				return err
			},
			// InternalError is retried by the SDK; the retry meets AuthFailure.
			wantCode: "AuthFailure", wantStatus: 401, wantInjected: 2, wantHits: 1,
		},
		{
			name:  "rule for another operation does not fire",
			rules: []faults.Rule{faults.FailNth("RunInstances", 1, "InsufficientInstanceCapacity", 500)},
			call: func(c aws.Config) error {
				_, err := sts.NewFromConfig(c, func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				return err
			},
			wantHits: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			inj := faults.New(tt.rules...)
			err := tt.call(cfg(inj))
			if got := inj.Injected(); got != tt.wantInjected {
				t.Errorf("Injected() = %d, want %d", got, tt.wantInjected)
			}
			if got := hits.Load(); got != tt.wantHits {
				t.Errorf("requests reaching the server = %d, want %d", got, tt.wantHits)
			}
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.wantCode {
				t.Fatalf("error code = %q, want %q (%v)", awsx.ErrorCode(err), tt.wantCode, err)
			}
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &re) || re.HTTPStatusCode() != tt.wantStatus {
				t.Errorf("status = %v, want %d", re, tt.wantStatus)
			}
			if got := awsx.IsThrottle(err); got != tt.wantThrottle {
				t.Errorf("IsThrottle = %v, want %v", got, tt.wantThrottle)
			}
			if !strings.Contains(err.Error(), tt.wantCode) {
				t.Errorf("message %q lacks the code", err)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func TestLatencyAndHang(t *testing.T) {
	srv, _ := stubAWS(t)
	inj := faults.New(faults.Latency("GetCallerIdentity", 80*time.Millisecond), faults.Hang("DescribeInstances", 1))
	c := cfg(inj)
	start := time.Now()
	if _, err := sts.NewFromConfig(c, func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) }).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("latency not applied: call took %s", d)
	}
	if inj.Injected() != 0 {
		t.Errorf("latency counted as a fault")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := ec2.NewFromConfig(c, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) }).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: want deadline exceeded, got %v", err)
	}
	if inj.Injected() != 1 || inj.Calls("DescribeInstances") != 1 {
		t.Errorf("Injected=%d Calls=%d, want 1 and 1", inj.Injected(), inj.Calls("DescribeInstances"))
	}
	if f := inj.Faults(); len(f) != 1 || f[0].Operation != "DescribeInstances" || f[0].Service != "EC2" {
		t.Errorf("Faults() = %+v", f)
	}
}

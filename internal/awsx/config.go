package awsx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
)

// Config is the provider's AWS configuration. Empty fields fall back to the
// SDK's default chain (environment, shared files, IMDS/container).
type Config struct {
	Region                 string
	Profile                string
	SharedConfigFiles      []string
	SharedCredentialsFiles []string
	AccessKey              string
	SecretKey              string
	Token                  string
	AssumeRole             *AssumeRole
	Endpoints              Endpoints
	// MaxRetries is the SDK's maximum attempts per call; 0 keeps the SDK default.
	MaxRetries                int
	SkipCredentialsValidation bool
	SkipRequestingAccountID   bool
	// APIOptions are added to every client's middleware stack (fault injection
	// in tests, user agent).
	APIOptions []func(*middleware.Stack) error
	UserAgent  string
	// Timeouts bound every attempt of every request; zero fields take the defaults.
	Timeouts Timeouts
}

// AssumeRole is a role to assume on top of the base credentials.
type AssumeRole struct {
	RoleARN     string
	SessionName string
	ExternalID  string
	Duration    time.Duration
}

// Endpoints override service URLs. An empty field keeps the SDK's resolution,
// which honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
type Endpoints struct {
	EC2    string
	SSM    string
	Lambda string
	STS    string
	IAM    string

	// The services that aws:executeAwsApi, the wait and assert actions,
	// aws:createStack/deleteStack and aws:executeStateMachine reach.
	AutoScaling    string
	CloudFormation string
	ELBv2          string
	KMS            string
	S3             string
	SNS            string
	StepFunctions  string
}

// New loads the configuration, builds the clients and, unless skipped, checks
// the credentials and learns the account id and partition from STS. Every
// request it makes is bounded by ctx and by c.Timeouts.
func New(ctx context.Context, c Config) (*Clients, error) {
	c.Timeouts = c.Timeouts.withDefaults()
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient(c.Timeouts)),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				if c.MaxRetries > 0 {
					o.MaxAttempts = c.MaxRetries
				}
				// The client-side retry quota turns a throttle storm into hard
				// failures across every call of the process; AWS's own throttling
				// is the limit we respect, by backing off.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	if len(c.SharedConfigFiles) > 0 {
		opts = append(opts, config.WithSharedConfigFiles(c.SharedConfigFiles))
	}
	if len(c.SharedCredentialsFiles) > 0 {
		opts = append(opts, config.WithSharedCredentialsFiles(c.SharedCredentialsFiles))
	}
	if c.AccessKey != "" || c.SecretKey != "" {
		if c.AccessKey == "" || c.SecretKey == "" {
			return nil, errors.New("access_key and secret_key must be set together")
		}
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.Token)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set region in the provider block, AWS_REGION, or a region in the shared config profile")
	}
	if c.UserAgent != "" {
		cfg.APIOptions = append(cfg.APIOptions, awsmiddleware.AddUserAgentKey(c.UserAgent))
	}
	cfg.APIOptions = append(cfg.APIOptions, c.APIOptions...)

	stsClient := newSTS(cfg, c.Endpoints)
	stsURL := stsEndpoint(ctx, stsClient)
	// base are the credentials the chain found, before the provider's assume_role.
	var base aws.Credentials
	if !c.SkipCredentialsValidation {
		if base, err = cfg.Credentials.Retrieve(ctx); err != nil {
			if IsNoAnswer(err) {
				return nil, fmt.Errorf("looking up AWS credentials: %w", err)
			}
			return nil, &CredentialsError{Problem: CredentialsNotFound, Msg: notFoundMessage(c, os.Getenv, err), Err: err}
		}
	}
	if ar := c.AssumeRole; ar != nil && ar.RoleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, ar.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = ar.SessionName
			if o.RoleSessionName == "" {
				o.RoleSessionName = fmt.Sprintf("amibake-%d", time.Now().Unix())
			}
			if ar.ExternalID != "" {
				o.ExternalID = aws.String(ar.ExternalID)
			}
			if ar.Duration > 0 {
				o.Duration = ar.Duration
			}
		}))
		if !c.SkipCredentialsValidation {
			if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
				if IsNoAnswer(err) {
					return nil, &EndpointError{Service: "STS", Operation: "AssumeRole", Endpoint: stsURL, Err: err}
				}
				return nil, &CredentialsError{Problem: RoleNotAssumed, Code: ErrorCode(err),
					Msg: roleNotAssumedMessage(ar.RoleARN, describeCredentials(c, os.Getenv, base), stsURL, err), Err: err}
			}
		}
		stsClient = newSTS(cfg, c.Endpoints)
	}

	cl := buildClients(cfg, c)
	if !c.SkipRequestingAccountID {
		id, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			switch {
			case IsNoAnswer(err):
				return nil, &EndpointError{Service: "STS", Operation: "GetCallerIdentity", Endpoint: stsURL, Err: err}
			case !c.SkipCredentialsValidation && isCredentialsFailure(err):
				who := describeCredentials(c, os.Getenv, base)
				if c.AssumeRole != nil && c.AssumeRole.RoleARN != "" {
					who = fmt.Sprintf("temporary credentials of role %s (assume_role in the provider block)", c.AssumeRole.RoleARN)
				}
				return nil, &CredentialsError{Problem: CredentialsRejected, Code: ErrorCode(err),
					Msg: rejectedMessage(who, "STS GetCallerIdentity", stsURL, err), Err: err}
			}
			return nil, fmt.Errorf("requesting the account id (STS GetCallerIdentity at %s; set skip_requesting_account_id to avoid it): %w", stsURL, err)
		}
		if a, err := arn.Parse(aws.ToString(id.Arn)); err == nil {
			cl.Partition = a.Partition
		}
		cl.AccountID = aws.ToString(id.Account)
	}
	return cl, nil
}

// buildClients makes the bundle for cfg; it keeps cfg and c so that the bundle
// can make another for an assumed role.
func buildClients(cfg aws.Config, c Config) *Clients {
	ec2Client := ec2.NewFromConfig(cfg, func(o *ec2.Options) { setEndpoint(&o.BaseEndpoint, c.Endpoints.EC2) })
	ssmClient := ssm.NewFromConfig(cfg, func(o *ssm.Options) { setEndpoint(&o.BaseEndpoint, c.Endpoints.SSM) })
	lambdaClient := lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		setEndpoint(&o.BaseEndpoint, c.Endpoints.Lambda)
		o.HTTPClient = longCallClient(cfg, c.Timeouts)
	})
	iamClient := iam.NewFromConfig(cfg, func(o *iam.Options) { setEndpoint(&o.BaseEndpoint, c.Endpoints.IAM) })
	stsClient := newSTS(cfg, c.Endpoints)
	cl := &Clients{
		EC2:       ec2Client,
		SSM:       ssmClient,
		Lambda:    lambdaClient,
		STS:       stsClient,
		IAM:       iamClient,
		Raw:       map[string]any{"ec2": ec2Client, "ssm": ssmClient, "lambda": lambdaClient, "sts": stsClient, "iam": iamClient},
		Region:    cfg.Region,
		Partition: PartitionForRegion(cfg.Region),
		Policy:    DefaultPolicy(),
		cfg:       cfg,
		conf:      c,
		built:     true,
	}
	more, cfn, states := serviceClients(cfg, c.Endpoints)
	for name, client := range more {
		cl.Raw[name] = client
	}
	cl.CloudFormation, cl.StepFunctions = cfn, states
	cl.NewWatchers()
	return cl
}

func newSTS(cfg aws.Config, e Endpoints) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) { setEndpoint(&o.BaseEndpoint, e.STS) })
}

// stsEndpoint is the URL the client sends its calls to, for messages.
func stsEndpoint(ctx context.Context, c *sts.Client) string {
	o := c.Options()
	if o.BaseEndpoint != nil {
		return *o.BaseEndpoint
	}
	if o.EndpointResolverV2 != nil {
		if ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, sts.EndpointParameters{
			Region: aws.String(o.Region), UseFIPS: aws.Bool(false), UseDualStack: aws.Bool(false),
		}); err == nil {
			return ep.URI.String()
		}
	}
	return "https://sts." + o.Region + ".amazonaws.com"
}

func setEndpoint(dst **string, url string) {
	if url != "" {
		*dst = aws.String(url)
	}
}

// PartitionForRegion guesses the partition when STS was not asked.
func PartitionForRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	}
	return "aws"
}

package awsx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
)

// RoleSession is an IAM role to make calls as.
type RoleSession struct {
	RoleARN     string
	SessionName string
	// Duration is how long the session should last; it is kept between 15
	// minutes and 12 hours. The credentials are refreshed before they expire,
	// so a shorter session than asked for (see AssumeRole) still serves a
	// longer run.
	Duration time.Duration
}

// Bounds of an STS session, and the one every role allows.
const (
	minSessionDuration  = 15 * time.Minute
	maxSessionDuration  = 12 * time.Hour
	safeSessionDuration = time.Hour
	// refreshAhead renews assumed credentials this long before they expire.
	refreshAhead = 5 * time.Minute
)

// RoleError is a role that could not be assumed. Code is the AWS error code
// when STS answered.
type RoleError struct {
	RoleARN string
	Code    string
	Err     error
}

func (e *RoleError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("cannot assume role %s: %s", e.RoleARN, apiErrorText(e.Err))
	}
	return fmt.Sprintf("cannot assume role %s: %v", e.RoleARN, e.Err)
}

func (e *RoleError) Unwrap() error { return e.Err }

// ParseRoleARN checks that s is the ARN of an IAM role and returns it parsed.
func ParseRoleARN(s string) (arn.ARN, error) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") || a.AccountID == "" {
		return arn.ARN{}, fmt.Errorf("%q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", s)
	}
	return a, nil
}

// AssumeRole returns a bundle like c whose calls are made as the role: the
// role is assumed with c's credentials now, so that a role that cannot be
// assumed fails here, and again by the SDK's credentials cache before the
// session expires. The session lasts s.Duration when the role allows it, else
// the one hour every role allows. Region, partition and polling policy are
// c's; the account is the role's.
func (c *Clients) AssumeRole(ctx context.Context, s RoleSession) (*Clients, error) {
	a, err := ParseRoleARN(s.RoleARN)
	if err != nil {
		return nil, &RoleError{RoleARN: s.RoleARN, Err: err}
	}
	if !c.built {
		return nil, &RoleError{RoleARN: s.RoleARN, Err: errors.New("these AWS clients were not made from an AWS configuration")}
	}
	base := newSTS(c.cfg, c.conf.Endpoints)
	session := func(d time.Duration) aws.CredentialsProvider {
		return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(base, s.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = s.SessionName
			o.Duration = d
		}), func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = refreshAhead })
	}
	d := min(max(s.Duration, minSessionDuration), maxSessionDuration)
	creds := session(d)
	_, err = creds.Retrieve(ctx)
	if err != nil && d > safeSessionDuration && sessionTooLong(err) {
		// The role's MaxSessionDuration, or role chaining, allows less.
		creds = session(safeSessionDuration)
		_, err = creds.Retrieve(ctx)
	}
	if err != nil {
		if IsNoAnswer(err) {
			err = &EndpointError{Service: "STS", Operation: "AssumeRole", Endpoint: stsEndpoint(ctx, base), Err: err}
		}
		return nil, &RoleError{RoleARN: s.RoleARN, Code: ErrorCode(err), Err: err}
	}
	cfg := c.cfg.Copy()
	cfg.Credentials = creds
	out := buildClients(cfg, c.conf)
	out.Region, out.Partition, out.AccountID = c.Region, c.Partition, a.AccountID
	out.SetPolicy(c.Policy)
	return out, nil
}

// sessionTooLong reports whether STS refused the session's duration.
func sessionTooLong(err error) bool {
	return ErrorCode(err) == "ValidationError" && strings.Contains(err.Error(), "DurationSeconds")
}

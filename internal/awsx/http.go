package awsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Timeouts bound each attempt of an AWS request, so that an endpoint that
// accepts connections and never answers fails the attempt instead of holding
// it until the caller's deadline; the SDK's retryer then tries again within
// that deadline. Zero fields take the defaults below.
type Timeouts struct {
	// Dial bounds the TCP connect; 10 s.
	Dial time.Duration
	// TLSHandshake bounds the TLS handshake; 10 s.
	TLSHandshake time.Duration
	// ResponseHeader bounds the wait for the response headers once the
	// request is sent; 60 s.
	ResponseHeader time.Duration
	// Attempt bounds one whole attempt, body included; 3 minutes.
	Attempt time.Duration
	// LongCall replaces ResponseHeader and Attempt for calls that wait on the
	// server's side (a synchronous Lambda Invoke runs up to 15 minutes); 16 minutes.
	LongCall time.Duration
}

// Default request timeouts.
const (
	DefaultDialTimeout           = 10 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultAttemptTimeout        = 3 * time.Minute
	DefaultLongCallTimeout       = 16 * time.Minute
)

func (t Timeouts) withDefaults() Timeouts {
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&t.Dial, DefaultDialTimeout)
	set(&t.TLSHandshake, DefaultTLSHandshakeTimeout)
	set(&t.ResponseHeader, DefaultResponseHeaderTimeout)
	set(&t.Attempt, DefaultAttemptTimeout)
	set(&t.LongCall, DefaultLongCallTimeout)
	return t
}

// httpClient is the SDK's buildable client with the attempt bounds of t.
// The config loader may add to it (a CA bundle from AWS_CA_BUNDLE), which it
// can only do to a BuildableClient.
func httpClient(t Timeouts) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = t.Dial }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = t.TLSHandshake
			tr.ResponseHeaderTimeout = t.ResponseHeader
		}).
		WithTimeout(t.Attempt)
}

// longCallClient is the configuration's HTTP client with the longer bounds
// of calls that wait server-side.
func longCallClient(cfg aws.Config, t Timeouts) aws.HTTPClient {
	b, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		return cfg.HTTPClient
	}
	return b.WithTransportOptions(func(tr *http.Transport) { tr.ResponseHeaderTimeout = t.LongCall }).
		WithTimeout(t.LongCall)
}

// EndpointError is an AWS call whose endpoint did not answer: the connection
// failed, an attempt timed out, or the caller's deadline passed first.
type EndpointError struct {
	Service   string // as the SDK names it: "STS", "EC2"
	Operation string // "GetCallerIdentity"
	Endpoint  string // the URL the call was sent to
	Err       error
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("%s %s at %s did not answer: %s", e.Service, e.Operation, e.Endpoint, e.Err)
}

func (e *EndpointError) Unwrap() error { return e.Err }

// IsNoAnswer reports whether err is a request that got no answer from its
// endpoint (refused or dropped connection, a timeout, the caller's deadline),
// as opposed to an answer that was an error.
func IsNoAnswer(err error) bool {
	if err == nil {
		return false
	}
	var ee *EndpointError
	if errors.As(err, &ee) {
		return true
	}
	if ErrorCode(err) != "" {
		return false
	}
	var send *smithyhttp.RequestSendError
	var canceled *aws.RequestCanceledError
	var timeout interface{ Timeout() bool }
	return errors.As(err, &send) || errors.As(err, &canceled) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &timeout) && timeout.Timeout())
}

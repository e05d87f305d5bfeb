package faults

import (
	"context"
	"fmt"
	"net/http"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Apply puts the injector in front of a call that goes through no SDK
// middleware stack (a simulated cloud's client): the call is counted and
// matched as an SDK client's would be, and do, the call itself, runs unless a
// rule fails or holds it. A failure is the error an SDK client returns for the
// service's error response: a *smithy.OperationError around a response error
// that carries the HTTP status and the smithy.APIError with the code.
func (i *Injector) Apply(ctx context.Context, service, op string, input any, do func() error) error {
	latency, fault, n := i.match(ctx, input, service, op)
	if latency > 0 {
		if err := pause(ctx, latency); err != nil {
			return canceled(service, op, err)
		}
	}
	if fault == nil {
		return do()
	}
	if fault.LoseResponse {
		_ = do()
	}
	if fault.Hang {
		if fault.HangFor <= 0 {
			<-ctx.Done()
			return canceled(service, op, ctx.Err())
		}
		if err := pause(ctx, fault.HangFor); err != nil {
			return canceled(service, op, err)
		}
		if fault.Code == "" && !fault.Throttle {
			if fault.LoseResponse {
				return fmt.Errorf("injected: no answer to %s within %s: %w", op, fault.HangFor, context.DeadlineExceeded)
			}
			return do()
		}
	}
	code, status := fault.Code, fault.Status
	if code == "" {
		code, status = throttleFor(service)
	}
	if status == 0 {
		status = http.StatusBadRequest
	}
	msg := fault.Message
	if msg == "" {
		msg = fmt.Sprintf("injected fault on call %d of %s", n, op)
	}
	requestID := fmt.Sprintf("injected-%s-%d", op, n)
	return &smithy.OperationError{ServiceID: service, OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}},
			Err:      &smithy.GenericAPIError{Code: code, Message: msg, Fault: faultOf(status)},
		},
		RequestID: requestID,
	}}
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func canceled(service, op string, err error) error {
	return &smithy.OperationError{ServiceID: service, OperationName: op, Err: &smithy.CanceledError{Err: err}}
}

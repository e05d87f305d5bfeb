// Package faults injects AWS failures into SDK clients for tests: an operation's
// Nth call failing with a given error code, throttle storms, added latency, and
// calls that hang until their context ends.
//
// The injector sits at the innermost point of each client's middleware stack,
// where the HTTP response would come back, and hands the SDK a response shaped
// like the service's real error response. The SDK therefore deserialises,
// classifies (retryable, throttle) and retries it exactly as it would the real
// thing, and callers see the same error types (smithy.APIError with the
// injected ErrorCode) they would see from AWS.
//
// Calls are counted per attempt, as AWS sees them: with SDK retries, a
// retryable fault on call N is followed by call N+1, which succeeds unless a
// rule also covers it.
package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Rule describes one fault. Calls are numbered from 1 per operation name.
type Rule struct {
	// Operation is the API operation name, e.g. "RunInstances"; "" matches all.
	Operation string
	// Service optionally narrows the rule to one SDK service id ("EC2", "SSM").
	Service string
	// From and To select the operation's calls the rule covers (inclusive).
	// From 0 means 1; To 0 means From (one call); To -1 means every later call.
	From, To int

	// Code and Status make the call fail with that AWS error (Status 0 = 400).
	Code    string
	Message string
	Status  int
	// Throttle fails the call with the service's own throttling error (EC2
	// RequestLimitExceeded 503, SSM ThrottlingException, Lambda
	// TooManyRequestsException 429, STS/IAM Throttling) when Code is empty.
	Throttle bool
	// Latency delays the call (before any failure) without failing it.
	Latency time.Duration
	// Hang blocks the call until its context ends, or for HangFor when that
	// is set (a stalled call that answers late: the call then goes on, or
	// fails with Code).
	Hang    bool
	HangFor time.Duration
	// LoseResponse lets the call reach AWS and take effect, then replaces its
	// answer with the fault: the "created, but the caller never heard" case
	// (a timeout after the request was sent) that leaks resources.
	LoseResponse bool
	// When, if set, must also hold for the rule to apply. It sees the call's
	// context and input (e.g. *ec2.TerminateInstancesInput), so a rule can
	// pick calls by the ids they name or by what the test is doing at the
	// time. It runs under the injector's lock: it must not call the injector.
	When func(ctx context.Context, input any) bool
}

// FailNth fails the nth call of op with an AWS error.
func FailNth(op string, n int, code string, status int) Rule {
	return Rule{Operation: op, From: n, Code: code, Status: status}
}

// FailCalls fails calls from..to (to -1: all later) of op with an AWS error.
func FailCalls(op string, from, to int, code string, status int) Rule {
	return Rule{Operation: op, From: from, To: to, Code: code, Status: status}
}

// ThrottleStorm throttles count calls of op starting with call from.
func ThrottleStorm(op string, from, count int) Rule {
	if from < 1 {
		from = 1
	}
	return Rule{Operation: op, From: from, To: from + count - 1, Throttle: true}
}

// Latency adds d to every call of op.
func Latency(op string, d time.Duration) Rule {
	return Rule{Operation: op, From: 1, To: -1, Latency: d}
}

// Hang makes the nth call of op block until its context ends.
func Hang(op string, n int) Rule {
	return Rule{Operation: op, From: n, Hang: true}
}

// Stall makes the nth call of op take d (or until its context ends) before it
// goes on; unlike Latency it counts as a fault.
func Stall(op string, n int, d time.Duration) Rule {
	return Rule{Operation: op, From: n, Hang: true, HangFor: d}
}

// Only returns r restricted to the calls for which when holds.
func (r Rule) Only(when func(ctx context.Context, input any) bool) Rule {
	r.When = when
	return r
}

// Naming holds for calls whose input names id: an instance, image or snapshot
// id in the input's id fields or filters. Use it with Only to fail a call for
// one resource and not for the others.
func Naming(id string) func(ctx context.Context, input any) bool {
	return func(_ context.Context, input any) bool { return mentions(reflect.ValueOf(input), id, 0) }
}

// mentions reports whether a string equal to id appears in v (pointers,
// structs, slices and maps followed a few levels deep).
func mentions(v reflect.Value, id string, depth int) bool {
	if depth > 6 || !v.IsValid() {
		return false
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && mentions(v.Elem(), id, depth+1)
	case reflect.String:
		return v.String() == id
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && mentions(v.Field(i), id, depth+1) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if mentions(v.Index(i), id, depth+1) {
				return true
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if mentions(v.MapIndex(k), id, depth+1) {
				return true
			}
		}
	}
	return false
}

// LoseResponse lets the nth call of op take effect and then fails it with
// code and status, as if the answer had been lost.
func LoseResponse(op string, n int, code string, status int) Rule {
	return Rule{Operation: op, From: n, Code: code, Status: status, LoseResponse: true}
}

func (r Rule) covers(ctx context.Context, input any, service, op string, n int) bool {
	if r.Operation != "" && r.Operation != op {
		return false
	}
	if r.Service != "" && !strings.EqualFold(r.Service, service) {
		return false
	}
	from, to := r.From, r.To
	if from < 1 {
		from = 1
	}
	switch {
	case to == 0:
		to = from
	case to < 0:
		to = int(^uint(0) >> 1)
	}
	return n >= from && n <= to && (r.When == nil || r.When(ctx, input))
}

func (r Rule) fails() bool { return r.Code != "" || r.Throttle }

// Injector holds the rules and counts calls and injected faults. Safe for
// concurrent use; one injector may serve several clients.
type Injector struct {
	mu       sync.Mutex
	rules    []Rule
	calls    map[string]int
	injected int
	log      []Fault
}

// Fault records one injected failure.
type Fault struct {
	Service, Operation string
	Call               int
	Code               string
}

// New returns an injector with the given rules.
func New(rules ...Rule) *Injector {
	return &Injector{rules: rules, calls: map[string]int{}}
}

// Add appends rules.
func (i *Injector) Add(rules ...Rule) {
	i.mu.Lock()
	i.rules = append(i.rules, rules...)
	i.mu.Unlock()
}

// Reset drops all rules and counters.
func (i *Injector) Reset() {
	i.mu.Lock()
	i.rules, i.calls, i.injected, i.log = nil, map[string]int{}, 0, nil
	i.mu.Unlock()
}

// Injected is how many calls were failed or hung so far (latency alone does
// not count).
func (i *Injector) Injected() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.injected
}

// Faults lists the injected failures in order.
func (i *Injector) Faults() []Fault {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]Fault(nil), i.log...)
}

// Calls is how many attempts of op reached the injector.
func (i *Injector) Calls(op string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.calls[op]
}

// APIOption installs the injector in a client's middleware stack; pass it in
// awsx.Config.APIOptions or an SDK client's Options.APIOptions.
func (i *Injector) APIOption() func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		// The input is only seen at the start of the stack; it travels to the
		// injector, at the end, in the context.
		err := s.Initialize.Add(middleware.InitializeMiddlewareFunc("amibake.FaultInput",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(context.WithValue(ctx, inputKey{}, in.Parameters), in)
			}), middleware.Before)
		if err != nil {
			return err
		}
		return s.Deserialize.Add(&step{inj: i}, middleware.After)
	}
}

type inputKey struct{}

type step struct{ inj *Injector }

func (*step) ID() string { return "amibake.FaultInjector" }

func (s *step) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	service, op := middleware.GetServiceID(ctx), middleware.GetOperationName(ctx)
	if service == "" {
		service = awsmiddleware.GetServiceID(ctx)
	}
	if op == "" {
		op = awsmiddleware.GetOperationName(ctx)
	}
	latency, fault, n := s.inj.match(ctx, ctx.Value(inputKey{}), service, op)
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return middleware.DeserializeOutput{}, middleware.Metadata{}, &smithy.CanceledError{Err: ctx.Err()}
		case <-t.C:
		}
	}
	if fault == nil {
		return next.HandleDeserialize(ctx, in)
	}
	if fault.LoseResponse {
		out, _, err := next.HandleDeserialize(ctx, in)
		if err == nil {
			if r, ok := out.RawResponse.(*smithyhttp.Response); ok && r.Body != nil {
				_, _ = io.Copy(io.Discard, r.Body)
				_ = r.Body.Close()
			}
		}
	}
	if fault.Hang {
		var stalled <-chan time.Time
		if fault.HangFor > 0 {
			t := time.NewTimer(fault.HangFor)
			defer t.Stop()
			stalled = t.C
		}
		select {
		case <-ctx.Done():
			return middleware.DeserializeOutput{}, middleware.Metadata{}, &smithy.CanceledError{Err: ctx.Err()}
		case <-stalled:
		}
		if fault.Code == "" && !fault.Throttle {
			if fault.LoseResponse {
				// The call took effect and its answer never came: a client-side timeout.
				return middleware.DeserializeOutput{}, middleware.Metadata{}, fmt.Errorf("injected: no answer to %s within %s: %w", op, fault.HangFor, context.DeadlineExceeded)
			}
			return next.HandleDeserialize(ctx, in)
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
	if resp := errorResponse(service, code, msg, status, fmt.Sprintf("injected-%s-%d", op, n)); resp != nil {
		return middleware.DeserializeOutput{RawResponse: resp}, middleware.Metadata{}, nil
	}
	// A protocol this package does not render: hand back the error the SDK's
	// deserialiser would have produced.
	return middleware.DeserializeOutput{}, middleware.Metadata{}, &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}},
			Err:      &smithy.GenericAPIError{Code: code, Message: msg, Fault: faultOf(status)},
		},
		RequestID: fmt.Sprintf("injected-%s-%d", op, n),
	}
}

// match counts the call and returns the latency to add and the failing rule.
func (i *Injector) match(ctx context.Context, input any, service, op string) (time.Duration, *Rule, int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.calls[op]++
	n := i.calls[op]
	var latency time.Duration
	var fault *Rule
	for k := range i.rules {
		r := &i.rules[k]
		if !r.covers(ctx, input, service, op, n) {
			continue
		}
		latency += r.Latency
		if fault == nil && (r.fails() || r.Hang) {
			fault = r
		}
	}
	if fault != nil {
		i.injected++
		code := fault.Code
		if code == "" && fault.Throttle {
			code, _ = throttleFor(service)
		}
		if fault.Hang {
			code = "(hang)"
		}
		i.log = append(i.log, Fault{Service: service, Operation: op, Call: n, Code: code})
	}
	return latency, fault, n
}

// throttleFor is what each service answers when it throttles.
func throttleFor(service string) (string, int) {
	switch strings.ToLower(service) {
	case "ec2":
		return "RequestLimitExceeded", http.StatusServiceUnavailable
	case "lambda":
		return "TooManyRequestsException", http.StatusTooManyRequests
	case "ssm":
		return "ThrottlingException", http.StatusBadRequest
	default:
		return "Throttling", http.StatusBadRequest
	}
}

func faultOf(status int) smithy.ErrorFault {
	if status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// errorResponse renders the service's wire format for an error; nil when the
// protocol is not one this package knows.
func errorResponse(service, code, msg string, status int, requestID string) *smithyhttp.Response {
	h := http.Header{}
	var body string
	switch strings.ToLower(service) {
	case "ec2":
		h.Set("Content-Type", "text/xml;charset=UTF-8")
		body = fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
			xmlEscape(code), xmlEscape(msg), requestID)
	case "sts", "iam":
		h.Set("Content-Type", "text/xml")
		h.Set("X-Amzn-Requestid", requestID)
		kind := "Sender"
		if status >= 500 {
			kind = "Receiver"
		}
		body = fmt.Sprintf(`<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			kind, xmlEscape(code), xmlEscape(msg), requestID)
	case "ssm":
		h.Set("Content-Type", "application/x-amz-json-1.1")
		h.Set("X-Amzn-Requestid", requestID)
		body = fmt.Sprintf(`{"__type":%q,"message":%q}`, code, msg)
	case "lambda":
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-Requestid", requestID)
		h.Set("X-Amzn-Errortype", code)
		body = fmt.Sprintf(`{"Type":"User","message":%q}`, msg)
	default:
		return nil
	}
	return &smithyhttp.Response{Response: &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader([]byte(body))),
		ContentLength: int64(len(body)),
	}}
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

package simcloud

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
)

// Bucket is a token bucket: Size tokens at most, Refill tokens added per
// simulated second. Every request takes one token; an empty bucket throttles.
// A bucket of Size 0 is no limit.
type Bucket struct {
	Size   float64
	Refill float64
}

// Limits are the request buckets of the simulated account. EC2 evaluates each
// API on its own bucket, sized by the API's category, and some APIs also spend
// resource tokens (one per instance).
type Limits struct {
	// NonMutating is the bucket of each Describe*/List*/Get* API.
	NonMutating Bucket
	// Mutating is the bucket of each API that creates, changes or deletes.
	Mutating Bucket
	// Resource are the extra buckets of instance-changing APIs, by operation.
	Resource map[string]Bucket
	// SSMRead and SSMSend are Systems Manager's buckets for reads and for
	// SendCommand, which AWS does not publish; they are modelled on EC2's.
	SSMRead Bucket
	SSMSend Bucket
}

// DefaultLimits are EC2's documented defaults (per account and region):
// non-mutating APIs 100 tokens refilled at 20/s, mutating APIs 200 at 5/s;
// resource buckets of 1000 instances refilled at 2/s (RunInstances,
// StartInstances) and 20/s (StopInstances, TerminateInstances).
func DefaultLimits() Limits {
	return Limits{
		NonMutating: Bucket{Size: 100, Refill: 20},
		Mutating:    Bucket{Size: 200, Refill: 5},
		Resource: map[string]Bucket{
			"RunInstances":       {Size: 1000, Refill: 2},
			"StartInstances":     {Size: 1000, Refill: 2},
			"StopInstances":      {Size: 1000, Refill: 20},
			"TerminateInstances": {Size: 1000, Refill: 20},
		},
		SSMRead: Bucket{Size: 100, Refill: 20},
		SSMSend: Bucket{Size: 50, Refill: 10},
	}
}

// NoLimits throttles nothing: every bucket is empty of limits (Size 0).
func NoLimits() Limits { return Limits{} }

// limiter holds one bucket per operation (and per resource bucket), refilled
// in real time at Refill*scale tokens per second.
type limiter struct {
	limits Limits
	scale  float64

	mu      sync.Mutex
	buckets map[string]*tokens
}

type tokens struct {
	b    Bucket
	have float64
	at   time.Time
}

func newLimiter(l Limits, scale float64) *limiter {
	return &limiter{limits: l, scale: scale, buckets: map[string]*tokens{}}
}

// ssmOps are the Systems Manager operations of the simulation.
var ssmOps = map[string]bool{
	"SendCommand": true, "GetCommandInvocation": true, "ListCommands": true, "ListCommandInvocations": true,
	"CancelCommand": true, "AddTagsToResource": true, "GetParameter": true, "GetDocument": true,
	"DescribeInstanceInformation": true, "PutParameter": true,
}

func (l *limiter) bucketsFor(op string) map[string]Bucket {
	out := map[string]Bucket{}
	switch {
	case op == "SendCommand" || op == "CancelCommand" || op == "AddTagsToResource":
		out[op] = l.limits.SSMSend
	case ssmOps[op]:
		out[op] = l.limits.SSMRead
	case strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "List") || strings.HasPrefix(op, "Get"):
		out[op] = l.limits.NonMutating
	default:
		out[op] = l.limits.Mutating
	}
	if r, ok := l.limits.Resource[op]; ok {
		out[op+"/resource"] = r
	}
	return out
}

// take spends one token of every bucket op uses, or none when one is empty.
func (l *limiter) take(op string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	var need []*tokens
	for name, b := range l.bucketsFor(op) {
		if b.Size <= 0 {
			continue // no limit
		}
		t := l.buckets[name]
		if t == nil {
			t = &tokens{b: b, have: b.Size, at: now}
			l.buckets[name] = t
		}
		t.have += now.Sub(t.at).Seconds() * t.b.Refill * l.scale
		if t.have > t.b.Size {
			t.have = t.b.Size
		}
		t.at = now
		need = append(need, t)
	}
	for _, t := range need {
		if t.have < 1 {
			return false
		}
	}
	for _, t := range need {
		t.have--
	}
	return true
}

func throttleError(op string) error {
	if ssmOps[op] {
		return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded", Fault: smithy.FaultClient}
	}
	return &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded.", Fault: smithy.FaultClient}
}

func isRetryable(err error) bool {
	switch apiCode(err) {
	case "RequestLimitExceeded", "ThrottlingException", "InternalError", "ServiceUnavailable":
		return true
	}
	return false
}

func apiError(code, format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient}
}

package ssmemu

import (
	"sync"
	"time"
)

// Quotas published in the General Reference, "AWS Systems Manager endpoints
// and quotas", section "Service quotas for Automation":
// https://docs.aws.amazon.com/general/latest/gr/ssm.html#limits_ssm
const (
	// DefaultMaxConcurrent is "Concurrently running automations": 100.
	// Starts past it are queued with status Pending.
	DefaultMaxConcurrent = 100
	// DefaultMaxQueued is "Automation queue": 5,000. (The same table also
	// lists "Additional automation executions that can be queued: 1,000"
	// without saying how the two relate; the emulator takes the queue row.)
	DefaultMaxQueued = 5000
	// DefaultHistoryRetention is "Number of days an automation execution
	// history is stored in the system": 30.
	DefaultHistoryRetention = 30 * 24 * time.Hour
	// DefaultUserContextMaxDuration is "Maximum duration an automation
	// execution can run in the context of a user": 12 hours, for documents
	// without an assume role.
	DefaultUserContextMaxDuration = 12 * time.Hour
)

// DefaultRates are the published "Transactions per second" of the
// Automation API actions (same General Reference table). The emulator
// answers ThrottlingException past them (CommonErrors: "The request was
// denied due to request throttling", HTTP 400).
var DefaultRates = map[string]float64{
	"StartAutomationExecution":         1,
	"StopAutomationExecution":          1,
	"GetAutomationExecution":           3,
	"DescribeAutomationExecutions":     3,
	"DescribeAutomationStepExecutions": 3,
	"SendAutomationSignal":             3,
}

// bucket is a token bucket: rate tokens a second, holding at most burst.
// AWS does not publish the burst of these rates; the emulator allows one
// second's worth (at least one call), the strictest reading.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64) *bucket {
	burst := rate
	if burst < 1 {
		burst = 1
	}
	return &bucket{rate: rate, burst: burst, tokens: burst}
}

// take reports whether a call may go ahead now, and takes its token if so.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

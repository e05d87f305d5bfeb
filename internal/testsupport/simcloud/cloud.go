// Package simcloud is a simulated EC2, Systems Manager and Lambda for
// benchmarks and tests: instances, images and commands change state after
// seeded durations, and every API is rate limited the way EC2 throttles an
// account (token buckets answering RequestLimitExceeded). It counts every call.
//
// For benchmarks, the durations are realistic and scaled down in time, so that
// a bake of a quarter of an hour runs in seconds. For unit tests (NewInstant,
// NewManual), changes are done when their call returns or when the test moves
// the clock, calls are answered at once and logged with their inputs, faults
// are injected with the rules of package faults, and a test can put
// resources in any state (AddInstance, AddImage) and look at what the code
// left behind.
//
// It implements awsx.EC2API, awsx.SSMAPI and awsx.LambdaAPI, so the engine,
// the actions and the waiters run against it unchanged. It is test-only:
// nothing in the provider imports it.
package simcloud

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

// Range is a uniform distribution of simulated durations.
type Range struct{ Min, Max time.Duration }

func (r Range) random() time.Duration {
	if r.Max <= r.Min {
		return r.Min
	}
	return r.Min + time.Duration(rand.Int64N(int64(r.Max-r.Min)))
}

func (r Range) draw(rng *rand.Rand) time.Duration {
	if r.Max <= r.Min {
		return r.Min
	}
	return r.Min + time.Duration(rng.Int64N(int64(r.Max-r.Min)))
}

// Durations are the simulated times of each transition of a bake, and the
// cloud's eventual consistency.
type Durations struct {
	Launch    Range // RunInstances/StartInstances: pending -> running
	Agent     Range // running -> the SSM agent accepts commands
	Command   Range // a command, from SendCommand to its end
	Stop      Range // stopping -> stopped
	Image     Range // CreateImage: pending -> available
	Terminate Range // shutting-down -> terminated

	// Listed is how long a new instance or image is not listed by Describe
	// calls; Invocation how long GetCommandInvocation does not know a new
	// command's invocations.
	Listed, Invocation time.Duration
}

// Typical are the durations seen on AWS for a small Linux builder.
func Typical() Durations {
	return Durations{
		Launch:     Range{30 * time.Second, 60 * time.Second},
		Agent:      Range{20 * time.Second, 60 * time.Second},
		Command:    Range{time.Minute, 10 * time.Minute},
		Stop:       Range{30 * time.Second, 90 * time.Second},
		Image:      Range{3 * time.Minute, 10 * time.Minute},
		Terminate:  Range{30 * time.Second, 60 * time.Second},
		Listed:     time.Second,
		Invocation: 500 * time.Millisecond,
	}
}

// Instant is an emulator's timing: every change has happened by the time the
// call that asked for it returns, and everything is listed at once.
func Instant() Durations { return Durations{} }

// Faster divides the duration of every transition by k; the API's eventual
// consistency stays as it is.
func (d Durations) Faster(k float64) Durations {
	f := func(r Range) Range {
		return Range{time.Duration(float64(r.Min) / k), time.Duration(float64(r.Max) / k)}
	}
	return Durations{
		Launch: f(d.Launch), Agent: f(d.Agent), Command: f(d.Command), Stop: f(d.Stop), Image: f(d.Image), Terminate: f(d.Terminate),
		Listed: d.Listed, Invocation: d.Invocation,
	}
}

// Plan is the durations one bake will meet, drawn once from its seed.
type Plan struct {
	Launch, Agent, Command, Stop, Image, Terminate time.Duration
}

// Ideal is the bake's critical path: the time AWS itself needs, with every
// change noticed at once and no API call taking any time.
func (p Plan) Ideal() time.Duration {
	return p.Launch + p.Agent + p.Command + p.Stop + p.Image + p.Terminate
}

// Config describes a simulated cloud.
type Config struct {
	// Seed makes the durations reproducible: the plan of a bake depends only
	// on Seed and the source image id it is launched from.
	Seed      uint64
	Durations Durations
	// Scale is how many simulated seconds pass per real second (100: a bake
	// of 15 minutes takes 9 s). Every duration, rate and latency is scaled.
	Scale float64
	// Manual stops the clock: simulated time moves only with Advance.
	Manual bool
	// Latency of one API call, in simulated time.
	Latency Range
	// Limits are the request buckets; DefaultLimits when nil.
	Limits *Limits
	// Attempts is how many times the client tries a throttled or failed call
	// before returning the error, like the SDK's standard retryer (3).
	Attempts int
}

// Account and Region are the simulated account's.
const (
	Account = "123456789012"
	Region  = "us-east-1"
)

// Cloud is one simulated account and region.
type Cloud struct {
	cfg       Config
	realStart time.Time
	simStart  time.Time
	advanced  atomic.Int64 // simulated time added by Advance (manual clock)
	limiter   *limiter
	faults    *faults.Injector

	mu         sync.Mutex
	seq        int
	instances  map[string]*instance
	images     map[string]*image
	snapshots  map[string]*snapshot
	copyTokens map[string]string // Region and CopyImage client token -> image id
	commands   map[string]*command
	cmdOrder   []string
	plans      map[string]Plan
	parameters map[string]parameter
	knobs      knobs

	logMu sync.Mutex
	log   []Call
	ops   map[string]int
	hooks map[string][]func(n int, input any)

	statMu    sync.Mutex
	calls     map[string]int
	throttled map[string]int
	inFlight  int           // attempts being answered now
	busySince time.Time     // when inFlight last rose from zero
	busy      time.Duration // real time with at least one attempt being answered
}

// New starts a simulated cloud; its clock starts now.
func New(cfg Config) *Cloud {
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	limits := DefaultLimits()
	if cfg.Limits != nil {
		limits = *cfg.Limits
	}
	now := time.Now()
	return &Cloud{
		cfg:        cfg,
		realStart:  now,
		simStart:   time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		limiter:    newLimiter(limits, cfg.Scale),
		faults:     faults.New(),
		instances:  map[string]*instance{},
		images:     map[string]*image{},
		snapshots:  map[string]*snapshot{},
		copyTokens: map[string]string{},
		commands:   map[string]*command{},
		plans:      map[string]Plan{},
		parameters: map[string]parameter{},
		ops:        map[string]int{},
		hooks:      map[string][]func(int, any){},
		calls:      map[string]int{},
		throttled:  map[string]int{},
	}
}

// Now is the simulated clock.
func (c *Cloud) Now() time.Time {
	t := c.simStart.Add(time.Duration(c.advanced.Load()))
	if c.cfg.Manual {
		return t
	}
	return t.Add(c.Sim(time.Since(c.realStart)))
}

// Advance moves the clock on by d (simulated): on a manual clock, the only way
// time passes.
func (c *Cloud) Advance(d time.Duration) { c.advanced.Add(int64(d)) }

// Sim converts a real duration into simulated time.
func (c *Cloud) Sim(real time.Duration) time.Duration {
	return time.Duration(float64(real) * c.cfg.Scale)
}

// Real converts a simulated duration into real time.
func (c *Cloud) Real(sim time.Duration) time.Duration {
	return time.Duration(float64(sim) / c.cfg.Scale)
}

// Scale is the configured time scale.
func (c *Cloud) Scale() float64 { return c.cfg.Scale }

// PlanFor returns the durations of the bake launched from sourceImage. The
// same seed and source image always give the same plan, whatever order bakes
// run in, so that every wait policy meets the same cloud.
func (c *Cloud) PlanFor(sourceImage string) Plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.planLocked(sourceImage)
}

func (c *Cloud) planLocked(sourceImage string) Plan {
	if p, ok := c.plans[sourceImage]; ok {
		return p
	}
	h := fnv.New64a()
	h.Write([]byte(sourceImage))
	rng := rand.New(rand.NewPCG(c.cfg.Seed, h.Sum64()))
	d := c.cfg.Durations
	p := Plan{
		Launch:    d.Launch.draw(rng),
		Agent:     d.Agent.draw(rng),
		Command:   d.Command.draw(rng),
		Stop:      d.Stop.draw(rng),
		Image:     d.Image.draw(rng),
		Terminate: d.Terminate.draw(rng),
	}
	c.plans[sourceImage] = p
	return p
}

// Stats counts API calls as the cloud received them: every attempt of a call
// retried by the client counts, and Throttled counts the attempts answered
// with a throttling error. Busy is the cloud's own time: how long (simulated)
// at least one attempt was being answered; whatever else a client spends is
// its own.
type Stats struct {
	Calls     map[string]int
	Throttled map[string]int
	Busy      time.Duration
}

// TotalCalls is the number of API calls of every operation.
func (s Stats) TotalCalls() int {
	n := 0
	for _, v := range s.Calls {
		n += v
	}
	return n
}

// TotalThrottled is the number of throttled answers.
func (s Stats) TotalThrottled() int {
	n := 0
	for _, v := range s.Throttled {
		n += v
	}
	return n
}

// String lists the calls per operation, busiest first.
func (s Stats) String() string {
	ops := make([]string, 0, len(s.Calls))
	for op := range s.Calls {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		if s.Calls[ops[i]] != s.Calls[ops[j]] {
			return s.Calls[ops[i]] > s.Calls[ops[j]]
		}
		return ops[i] < ops[j]
	})
	out := ""
	for _, op := range ops {
		out += fmt.Sprintf("%s=%d", op, s.Calls[op])
		if t := s.Throttled[op]; t > 0 {
			out += fmt.Sprintf("(%d throttled)", t)
		}
		out += " "
	}
	return out
}

// Stats returns a copy of the counters.
func (c *Cloud) Stats() Stats {
	c.statMu.Lock()
	defer c.statMu.Unlock()
	s := Stats{Calls: map[string]int{}, Throttled: map[string]int{}}
	for k, v := range c.calls {
		s.Calls[k] = v
	}
	for k, v := range c.throttled {
		s.Throttled[k] = v
	}
	s.Busy = c.busy
	if c.inFlight > 0 {
		s.Busy += time.Since(c.busySince)
	}
	s.Busy = c.Sim(s.Busy)
	return s
}

// Policy returns p on this cloud's clock: every duration divided by Scale,
// with a Pacer of its own if p has one.
func (c *Cloud) Policy(p awsx.Policy) awsx.Policy {
	div := func(d time.Duration) time.Duration { return time.Duration(float64(d) / c.cfg.Scale) }
	p.Initial, p.Max = div(p.Initial), div(p.Max)
	if p.Expect != nil {
		scaled := make(map[awsx.Transition]awsx.Window, len(p.Expect))
		for t, w := range p.Expect {
			scaled[t] = awsx.Window{Min: div(w.Min), Max: div(w.Max), Every: div(w.Every)}
		}
		p.Expect = scaled
	}
	if p.Pacer != nil {
		p.Pacer = awsx.NewPacer()
	}
	return p
}

// Clients returns an awsx client bundle over this cloud, with watchers built
// on policy p (as given: see Policy).
func (c *Cloud) Clients(p awsx.Policy) *awsx.Clients {
	ec2c, ssmc, lambdac := c.EC2(), c.SSM(), c.Lambda()
	cl := &awsx.Clients{
		EC2:       ec2c,
		SSM:       ssmc,
		Lambda:    lambdac,
		Raw:       map[string]any{"ec2": ec2c, "ssm": ssmc, "lambda": lambdac},
		Region:    Region,
		AccountID: Account,
		Partition: "aws",
		Policy:    p,
	}
	cl.NewWatchers()
	return cl
}

func (c *Cloud) count(op string, throttled bool) {
	c.statMu.Lock()
	c.calls[op]++
	if throttled {
		c.throttled[op]++
	}
	c.statMu.Unlock()
}

// answering marks the start of an attempt's answer; the returned function its
// end.
func (c *Cloud) answering() func() {
	c.statMu.Lock()
	if c.inFlight == 0 {
		c.busySince = time.Now()
	}
	c.inFlight++
	c.statMu.Unlock()
	return func() {
		c.statMu.Lock()
		c.inFlight--
		if c.inFlight == 0 {
			c.busy += time.Since(c.busySince)
		}
		c.statMu.Unlock()
	}
}

// call runs one API operation the way a client with the SDK's standard
// retryer would: each attempt is rate limited and counted, throttled attempts
// are retried after an exponential, jittered back-off (in simulated time),
// and the last error is returned. The call is logged, the hooks of op run
// before it is answered, and the fault rules apply to each attempt.
func (c *Cloud) call(ctx context.Context, service, op string, input any, region string, do func() error) error {
	n, at := c.record(ctx, op, input, region)
	for _, f := range c.hooksOf(op) {
		f(n, input)
	}
	err := c.attempts(context.WithValue(ctx, regionKey{}, ownRegion(region)), service, op, input, do)
	c.logMu.Lock()
	c.log[at].Err = err
	c.logMu.Unlock()
	return err
}

func (c *Cloud) attempts(ctx context.Context, service, op string, input any, do func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ok := c.limiter.take(op, time.Now())
		c.count(op, !ok)
		done := c.answering()
		if err = c.sleep(ctx, c.cfg.Latency.random()); err != nil {
			done()
			return err
		}
		if ok {
			err = c.faults.Apply(ctx, service, op, input, do)
		} else {
			err = throttleError(op)
		}
		done()
		if !isRetryable(err) {
			return err
		}
		if attempt >= c.cfg.Attempts {
			return err
		}
		// The SDK's exponential jitter: a random part of 2^attempt seconds,
		// capped at 20 s.
		ceil := time.Duration(1<<attempt) * time.Second
		if ceil > 20*time.Second {
			ceil = 20 * time.Second
		}
		if err := c.sleep(ctx, time.Duration(rand.Int64N(int64(ceil)))); err != nil {
			return err
		}
	}
}

// sleep waits a simulated duration.
func (c *Cloud) sleep(ctx context.Context, sim time.Duration) error {
	d := c.Real(sim)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Cloud) newID(prefix string) string {
	c.seq++
	return fmt.Sprintf("%s-%017x", prefix, c.seq)
}

// apiCode is the error code of an API error, "" for other errors.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

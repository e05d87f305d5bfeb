package ssmexec

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// Follower is what every SSM bake of one process shares for one SSM client:
// the pace of each automation API operation, one poll loop that asks
// DescribeAutomationExecutions about all followed executions at once (ten per
// call, the most one filter takes), and one queue of starts, served in order.
type Follower struct {
	api    API
	now    func() time.Time
	limits *limiters

	// Poll cadence: the loop looks again after Initial, and each round in
	// which nothing changed waits Factor times longer, up to Max.
	Initial, Max time.Duration
	Factor       float64
	// LimitBackoff is the first wait before a start refused for the
	// concurrency quota is tried again; it doubles up to a minute.
	LimitBackoff time.Duration

	mu      sync.Mutex
	watches map[string][]*watch
	looping bool
	kick    chan struct{}

	startOnce sync.Once
	starts    chan *startReq
}

// FollowerOptions configure NewFollower; zero values take the defaults.
type FollowerOptions struct {
	Now func() time.Time
	// Rates overrides the rates the follower keeps to, by operation.
	Rates        map[string]float64
	Initial, Max time.Duration
	LimitBackoff time.Duration
}

// NewFollower makes a follower over api.
func NewFollower(api API, o FollowerOptions) *Follower {
	if o.Now == nil {
		o.Now = time.Now
	}
	f := &Follower{
		api:          api,
		now:          o.Now,
		limits:       &limiters{by: map[string]*limiter{}, now: o.Now, rates: o.Rates},
		Initial:      time.Second,
		Max:          10 * time.Second,
		Factor:       1.5,
		LimitBackoff: 5 * time.Second,
		watches:      map[string][]*watch{},
		kick:         make(chan struct{}, 1),
		starts:       make(chan *startReq),
	}
	if o.Initial > 0 {
		f.Initial = o.Initial
	}
	if o.Max > 0 {
		f.Max = o.Max
	}
	if o.LimitBackoff > 0 {
		f.LimitBackoff = o.LimitBackoff
	}
	return f
}

var followers = struct {
	sync.Mutex
	by map[API]*Follower
}{by: map[API]*Follower{}}

// FollowerFor is the process's follower for api.
func FollowerFor(api API) *Follower {
	followers.Lock()
	defer followers.Unlock()
	f, ok := followers.by[api]
	if !ok {
		f = NewFollower(api, FollowerOptions{})
		followers.by[api] = f
	}
	return f
}

// call makes one API call at the operation's pace. Throttling slows the
// operation down and the call is made again, however long it takes (ctx
// bounds it); an error that another try may cure (a 5xx, a lost answer) is
// tried again up to retries more times. Anything else is the call's answer.
func (f *Follower) call(ctx context.Context, op string, retries int, do func(context.Context) error) error {
	l := f.limits.get(op)
	for {
		if err := l.wait(ctx); err != nil {
			return err
		}
		err := do(ctx)
		switch {
		case err == nil:
			l.answered()
			return nil
		case awsx.IsThrottle(err):
			l.throttled()
			continue
		case retries > 0 && transient(ctx, err):
			retries--
			l.answered()
			continue
		}
		l.answered()
		return err
	}
}

// status is an execution as the follower last saw it.
type status struct {
	ID             string
	Status         ssmtypes.AutomationExecutionStatus
	CurrentStep    string
	CurrentAction  string
	FailureMessage string
	// Missing counts the rounds in which the execution was not listed.
	Missing int
	Err     error // the execution cannot be followed (it does not exist)
}

type watch struct {
	id      string
	updates chan status
}

// follow calls onChange each time the execution's status or current step
// changes, and returns its status once it is finished, or when ctx ends.
func (f *Follower) follow(ctx context.Context, id string, onChange func(status)) (status, error) {
	w := &watch{id: id, updates: make(chan status, 1)}
	f.mu.Lock()
	f.watches[id] = append(f.watches[id], w)
	if !f.looping {
		f.looping = true
		go f.loop()
	}
	f.mu.Unlock()
	f.wake()
	defer f.unwatch(w)
	var last status
	for {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case s := <-w.updates:
			if s.Err != nil {
				return s, s.Err
			}
			if s.Status != last.Status || s.CurrentStep != last.CurrentStep {
				last = s
				if onChange != nil {
					onChange(s)
				}
			}
			last = s
			if finished(s.Status) {
				return s, nil
			}
		}
	}
}

func (f *Follower) unwatch(w *watch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ws := slices.DeleteFunc(f.watches[w.id], func(o *watch) bool { return o == w })
	if len(ws) == 0 {
		delete(f.watches, w.id)
	} else {
		f.watches[w.id] = ws
	}
}

func (f *Follower) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// describeBatch is the most values one DescribeAutomationExecutions filter
// takes ("Maximum number of 10 items", AutomationExecutionFilter).
const describeBatch = 10

// missingGrace is how many rounds an execution may be missing from the
// listing (eventual consistency right after its start) before the follower
// asks for it by id.
const missingGrace = 3

func (f *Follower) loop() {
	interval := f.Initial
	seen := map[string]status{}
	for {
		f.mu.Lock()
		ids := make([]string, 0, len(f.watches))
		for id := range f.watches {
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			f.looping = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		sort.Strings(ids)
		changed := false
		for len(ids) > 0 {
			n := min(len(ids), describeBatch)
			batch := ids[:n]
			ids = ids[n:]
			got := f.describe(batch)
			for _, id := range batch {
				s, ok := got[id]
				prev := seen[id]
				if !ok {
					if got == nil {
						continue // the call failed: no news
					}
					s = prev
					s.ID = id
					s.Missing++
					if s.Missing > missingGrace {
						s = f.lookup(id, s)
					}
				}
				if s.Status != prev.Status || s.CurrentStep != prev.CurrentStep || s.Err != nil {
					changed = true
				}
				seen[id] = s
				f.deliver(s)
			}
		}
		for id := range seen {
			f.mu.Lock()
			_, live := f.watches[id]
			f.mu.Unlock()
			if !live {
				delete(seen, id)
			}
		}
		if changed {
			interval = f.Initial
		} else {
			interval = min(time.Duration(float64(interval)*f.Factor), f.Max)
		}
		// ±20% so that many processes do not line up.
		d := time.Duration(float64(interval) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-f.kick:
			t.Stop()
			interval = f.Initial
		}
	}
}

// describe lists the executions ids; nil when the call failed.
func (f *Follower) describe(ids []string) map[string]status {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := &ssm.DescribeAutomationExecutionsInput{
		Filters:    []ssmtypes.AutomationExecutionFilter{{Key: ssmtypes.AutomationExecutionFilterKeyExecutionId, Values: ids}},
		MaxResults: aws.Int32(50),
	}
	out := map[string]status{}
	for {
		var res *ssm.DescribeAutomationExecutionsOutput
		err := f.call(ctx, "DescribeAutomationExecutions", 0, func(ctx context.Context) (err error) {
			res, err = f.api.DescribeAutomationExecutions(ctx, in)
			return err
		})
		if err != nil {
			return nil
		}
		for _, m := range res.AutomationExecutionMetadataList {
			id := aws.ToString(m.AutomationExecutionId)
			out[id] = status{
				ID: id, Status: m.AutomationExecutionStatus,
				CurrentStep: aws.ToString(m.CurrentStepName), CurrentAction: aws.ToString(m.CurrentAction),
				FailureMessage: aws.ToString(m.FailureMessage),
			}
		}
		if aws.ToString(res.NextToken) == "" {
			return out
		}
		in.NextToken = res.NextToken
	}
}

// lookup asks for one execution the listing keeps missing.
func (f *Follower) lookup(id string, s status) status {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res *ssm.GetAutomationExecutionOutput
	err := f.call(ctx, "GetAutomationExecution", 0, func(ctx context.Context) (err error) {
		res, err = f.api.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
		return err
	})
	switch {
	case awsx.ErrorCode(err) == codeExecutionNotFound:
		s.Err = &NotFoundError{ID: id}
	case err == nil && res.AutomationExecution != nil:
		x := res.AutomationExecution
		s = status{ID: id, Status: x.AutomationExecutionStatus, CurrentStep: aws.ToString(x.CurrentStepName),
			CurrentAction: aws.ToString(x.CurrentAction), FailureMessage: aws.ToString(x.FailureMessage)}
	}
	return s
}

func (f *Follower) deliver(s status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.watches[s.ID] {
		select {
		case <-w.updates: // drop the older news
		default:
		}
		w.updates <- s
	}
}

// NotFoundError is an execution SSM does not know (never started, or past
// its history retention).
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string {
	return "SSM has no automation execution " + e.ID + " (AutomationExecutionNotFoundException)"
}

// finished reports whether an execution status is final. Any status this
// code does not know is taken as not finished, so that a status AWS adds
// later makes a bake wait rather than end early.
func finished(s ssmtypes.AutomationExecutionStatus) bool {
	switch s {
	case ssmtypes.AutomationExecutionStatusSuccess, ssmtypes.AutomationExecutionStatusFailed,
		ssmtypes.AutomationExecutionStatusTimedout, ssmtypes.AutomationExecutionStatusCancelled,
		ssmtypes.AutomationExecutionStatusRejected, ssmtypes.AutomationExecutionStatusCompletedWithSuccess,
		ssmtypes.AutomationExecutionStatusCompletedWithFailure, ssmtypes.AutomationExecutionStatusExited,
		ssmtypes.AutomationExecutionStatusChangeCalendarOverrideRejected:
		return true
	}
	return false
}

// succeeded reports whether a final status means the document ran to its end.
func succeeded(s ssmtypes.AutomationExecutionStatus) bool {
	return s == ssmtypes.AutomationExecutionStatusSuccess || s == ssmtypes.AutomationExecutionStatusCompletedWithSuccess
}

// startReq is one start waiting its turn.
type startReq struct {
	ctx  context.Context
	in   *ssm.StartAutomationExecutionInput
	done chan startRes
	// onQueued is told when the account's concurrency quota holds the
	// start back.
	onQueued func(error)
}

type startRes struct {
	id  string
	err error
}

// startRetries bounds the tries of a start that fails in a way another try
// may cure; the ClientToken makes them one start.
const startRetries = 5

// start starts an execution. Starts are served one at a time, in the order
// they were asked, at StartAutomationExecution's pace. A start refused for
// the concurrency quota (AutomationExecutionLimitExceededException: running
// and queued executions are both full) is tried again after a back-off, and
// the starts behind it wait: they start in order when slots free.
func (f *Follower) start(ctx context.Context, in *ssm.StartAutomationExecutionInput, onQueued func(error)) (string, error) {
	f.startOnce.Do(func() { go f.starter() })
	req := &startReq{ctx: ctx, in: in, done: make(chan startRes, 1), onQueued: onQueued}
	select {
	case f.starts <- req:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.id, r.err
	case <-ctx.Done():
		// The starter answers anyway; the caller has left.
		return "", ctx.Err()
	}
}

func (f *Follower) starter() {
	for req := range f.starts {
		id, err := f.startOne(req)
		req.done <- startRes{id, err}
	}
}

func (f *Follower) startOne(req *startReq) (string, error) {
	backoff := f.LimitBackoff
	for {
		var out *ssm.StartAutomationExecutionOutput
		err := f.call(req.ctx, "StartAutomationExecution", startRetries, func(ctx context.Context) (err error) {
			out, err = f.api.StartAutomationExecution(ctx, req.in)
			return err
		})
		if err == nil {
			return aws.ToString(out.AutomationExecutionId), nil
		}
		if awsx.ErrorCode(err) != codeLimitExceeded {
			return "", err
		}
		if req.onQueued != nil {
			req.onQueued(err)
		}
		t := time.NewTimer(time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64())))
		select {
		case <-req.ctx.Done():
			t.Stop()
			return "", errors.Join(req.ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(backoff*2, time.Minute)
	}
}

// stop cancels an execution (StopAutomationExecution, Type Cancel). One
// that has already finished is not an error.
func (f *Follower) stop(ctx context.Context, id string) error {
	err := f.call(ctx, "StopAutomationExecution", startRetries, func(ctx context.Context) error {
		_, err := f.api.StopAutomationExecution(ctx, &ssm.StopAutomationExecutionInput{
			AutomationExecutionId: aws.String(id), Type: ssmtypes.StopTypeCancel,
		})
		return err
	})
	if awsx.ErrorCode(err) == codeInvalidStatusUpdate {
		return nil
	}
	return err
}

// get reads an execution with all its step executions: those
// GetAutomationExecution returns and, when it says the list is truncated,
// every page of DescribeAutomationStepExecutions.
func (f *Follower) get(ctx context.Context, id string) (*ssmtypes.AutomationExecution, error) {
	var res *ssm.GetAutomationExecutionOutput
	err := f.call(ctx, "GetAutomationExecution", startRetries, func(ctx context.Context) (err error) {
		res, err = f.api.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
		return err
	})
	if awsx.ErrorCode(err) == codeExecutionNotFound {
		return nil, &NotFoundError{ID: id}
	}
	if err != nil {
		return nil, err
	}
	x := res.AutomationExecution
	if x == nil {
		return nil, &NotFoundError{ID: id}
	}
	if !x.StepExecutionsTruncated {
		return x, nil
	}
	in := &ssm.DescribeAutomationStepExecutionsInput{AutomationExecutionId: aws.String(id), MaxResults: aws.Int32(50)}
	var steps []ssmtypes.StepExecution
	for {
		var page *ssm.DescribeAutomationStepExecutionsOutput
		err := f.call(ctx, "DescribeAutomationStepExecutions", startRetries, func(ctx context.Context) (err error) {
			page, err = f.api.DescribeAutomationStepExecutions(ctx, in)
			return err
		})
		if err != nil {
			return x, err
		}
		steps = append(steps, page.StepExecutions...)
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	x.StepExecutions = steps
	x.StepExecutionsTruncated = false
	return x, nil
}

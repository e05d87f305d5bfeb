package awsx

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// chunkSize is the most ids one Describe call filters on.
const chunkSize = 200

// describeFunc returns what the cloud currently says about ids. Ids it does not
// know are absent from the map, not an error.
type describeFunc[T any] func(ctx context.Context, ids []string) (map[string]T, error)

// judgeFunc decides, for one id of one waiter, whether the wait is over. age is
// how long the waiter has been waiting (eventual consistency allowance). It
// returns the value to hand back when done.
type judgeFunc[T any] func(id string, v T, found bool, age time.Duration) (T, bool, error)

// ticker multiplexes every waiter of one kind in the process onto one loop: at
// each tick it describes the union of all ids being waited on (one call per
// chunkSize ids) and hands each waiter its part. Each waiter keeps its own
// schedule; the loop wakes at the earliest due one, and a tick serves all,
// each waiter planning its next look from the answer it just got. A new
// waiter is due at once; those arriving while a Describe is under way share
// the next one, sent as soon as it returns.
type ticker[T any] struct {
	kind     string // "instance", "image": for messages
	lane     string // the Pacer lane of the batched call
	describe describeFunc[T]
	state    func(T) string

	mu      sync.Mutex
	policy  Policy
	waiters map[*waiter[T]]struct{}
	running bool
	wake    chan struct{}
	ticks   int
}

type waiter[T any] struct {
	ids       []string
	judge     judgeFunc[T]
	sched     schedule
	start     time.Time
	prev      time.Duration // elapsed at the last look that found it unfinished
	penalty   time.Duration // own back-off after throttles, without a Pacer
	due       time.Time
	transient int
	last      map[string]T
	done      map[string]T
	result    chan waitResult[T]
}

type waitResult[T any] struct {
	items map[string]T
	err   error
}

func newTicker[T any](kind string, p Policy, d describeFunc[T], state func(T) string) *ticker[T] {
	return &ticker[T]{
		kind:     kind,
		lane:     "describe:" + kind,
		describe: d,
		state:    state,
		policy:   p.normalized(),
		waiters:  map[*waiter[T]]struct{}{},
		wake:     make(chan struct{}, 1),
	}
}

func (t *ticker[T]) setPolicy(p Policy) {
	t.mu.Lock()
	t.policy = p.normalized()
	t.mu.Unlock()
}

func (t *ticker[T]) currentPolicy() Policy {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.policy
}

// grace is how long an id may stay invisible after the wait starts (EC2's
// eventual consistency right after RunInstances/CreateImage). Tied to the
// policy so that a time-scaled simulation scales it too.
func (t *ticker[T]) grace() time.Duration { return 12 * t.currentPolicy().Max }

func (t *ticker[T]) wait(ctx context.Context, ids []string, tr Transition, judge judgeFunc[T]) (map[string]T, error) {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return map[string]T{}, nil
	}
	now := time.Now()
	w := &waiter[T]{
		ids:    ids,
		judge:  judge,
		start:  now,
		last:   map[string]T{},
		done:   map[string]T{},
		result: make(chan waitResult[T], 1),
	}
	t.mu.Lock()
	p := t.policy.For(tr)
	w.sched = p.schedule()
	w.due = now.Add(p.Spread(w.sched.first()))
	t.waiters[w] = struct{}{}
	if !t.running {
		t.running = true
		go t.loop()
	} else {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	t.mu.Unlock()

	select {
	case r := <-w.result:
		return r.items, r.err
	case <-ctx.Done():
		t.mu.Lock()
		delete(t.waiters, w)
		msg := t.pendingText(w)
		t.mu.Unlock()
		select {
		case r := <-w.result: // finished while we were giving up
			return r.items, r.err
		default:
		}
		return nil, fmt.Errorf("stopped waiting for %s: %w", msg, ctx.Err())
	}
}

// pendingText says what each unfinished id last looked like. Caller holds mu.
func (t *ticker[T]) pendingText(w *waiter[T]) string {
	var parts []string
	for _, id := range w.ids {
		if _, ok := w.done[id]; ok {
			continue
		}
		if v, ok := w.last[id]; ok {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", t.kind, id, t.state(v)))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s (not visible yet)", t.kind, id))
		}
	}
	return strings.Join(parts, ", ")
}

func (t *ticker[T]) loop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		t.mu.Lock()
		if len(t.waiters) == 0 {
			t.running = false
			t.mu.Unlock()
			return
		}
		var next time.Time
		for w := range t.waiters {
			if next.IsZero() || w.due.Before(next) {
				next = w.due
			}
		}
		t.mu.Unlock()
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-t.wake:
				continue // a new waiter may be due sooner
			}
		}
		t.tick()
	}
}

// callTimeout bounds one Describe; the loop belongs to no single caller, so it
// cannot borrow a caller's context.
const callTimeout = 2 * time.Minute

func (t *ticker[T]) tick() {
	t.mu.Lock()
	p := t.policy
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	// A throttled lane spaces the ticks too; waiters joining meanwhile are
	// served by the same call.
	_ = p.Pacer.wait(ctx, t.lane)

	t.mu.Lock()
	serving := make([]*waiter[T], 0, len(t.waiters))
	var ids []string
	for w := range t.waiters {
		serving = append(serving, w)
		for _, id := range w.ids {
			if _, ok := w.done[id]; !ok {
				ids = append(ids, id)
			}
		}
	}
	t.ticks++
	t.mu.Unlock()

	found, err := t.describe(ctx, dedupe(ids))

	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err == nil:
		p.Pacer.ok(t.lane)
	case IsThrottle(err) && p.Pacer != nil:
		p.Pacer.throttled(t.lane, p.Initial)
	}
	for _, w := range serving {
		if _, ok := t.waiters[w]; !ok {
			continue
		}
		at := now.Sub(w.start)
		if err != nil {
			switch {
			case IsThrottle(err):
				if p.Pacer == nil {
					w.penalty = p.backoff(max(w.penalty, w.sched.next(at)))
				}
			case IsTransient(err) && w.transient < maxTransient-1:
				w.transient++
			default:
				t.finish(w, nil, err)
				continue
			}
			w.due = now.Add(p.Spread(max(w.sched.next(at), w.penalty)))
			continue
		}
		w.transient = 0
		w.penalty = 0
		if t.judgeAll(w, found, now) {
			continue
		}
		w.prev = at
		w.due = now.Add(p.Spread(w.sched.next(at)))
	}
}

// judgeAll applies the waiter's verdict to every id; reports whether the
// waiter is finished (and removed). Caller holds mu.
func (t *ticker[T]) judgeAll(w *waiter[T], found map[string]T, now time.Time) bool {
	age := now.Sub(w.start)
	for _, id := range w.ids {
		if _, ok := w.done[id]; ok {
			continue
		}
		v, ok := found[id]
		if ok {
			w.last[id] = v
		}
		out, done, err := w.judge(id, v, ok, age)
		if err != nil {
			t.finish(w, nil, err)
			return true
		}
		if done {
			w.done[id] = out
		}
	}
	if len(w.done) == len(w.ids) {
		w.sched.observe(w.prev, age)
		t.finish(w, w.done, nil)
		return true
	}
	return false
}

// finish delivers the result and drops the waiter. Caller holds mu.
func (t *ticker[T]) finish(w *waiter[T], items map[string]T, err error) {
	delete(t.waiters, w)
	w.result <- waitResult[T]{items: items, err: err}
}

func (t *ticker[T]) tickCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ticks
}

func (t *ticker[T]) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.waiters)
}

// coalescer merges concurrent one-shot Describe calls: callers arriving within
// window of the first share one call (per chunkSize ids), and callers arriving
// while a call is under way share the next one, sent as soon as it returns.
// Under load (Terraform refreshing many resources) the batches thus grow by
// themselves; alone, a caller waits only the window.
type coalescer[T any] struct {
	describe describeFunc[T]
	window   time.Duration

	mu      sync.Mutex
	pending *batch[T]
	running bool
	calls   int
}

type batch[T any] struct {
	ids   map[string]struct{}
	done  chan struct{}
	items map[string]T
	err   error
}

func (c *coalescer[T]) get(ctx context.Context, ids []string) (map[string]T, error) {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return map[string]T{}, nil
	}
	c.mu.Lock()
	b := c.pending
	if b == nil {
		b = &batch[T]{ids: map[string]struct{}{}, done: make(chan struct{})}
		c.pending = b
	}
	for _, id := range ids {
		b.ids[id] = struct{}{}
	}
	if !c.running {
		c.running = true
		go c.run()
	}
	c.mu.Unlock()

	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if b.err != nil {
		return nil, b.err
	}
	out := make(map[string]T, len(ids))
	for _, id := range ids {
		if v, ok := b.items[id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

// run sends the pending batches one after the other until none is left.
func (c *coalescer[T]) run() {
	if c.window > 0 {
		time.Sleep(c.window)
	}
	for {
		c.mu.Lock()
		b := c.pending
		c.pending = nil
		if b == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.calls++
		ids := make([]string, 0, len(b.ids))
		for id := range b.ids {
			ids = append(ids, id)
		}
		c.mu.Unlock()
		sort.Strings(ids)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		b.items, b.err = c.describe(ctx, ids)
		cancel()
		close(b.done)
	}
}

func dedupe(ids []string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	out = slices.Compact(out)
	if len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	return out
}

func chunks(ids []string) [][]string {
	var out [][]string
	for len(ids) > chunkSize {
		out = append(out, ids[:chunkSize])
		ids = ids[chunkSize:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

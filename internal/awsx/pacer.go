package awsx

import (
	"context"
	"math"
	"sync"
	"time"
)

// Pacer is what every wait of one provider process shares.
//
// Throttling: AWS rate limits the account, not a wait, so when one poll is
// throttled every poll of the same lane (a transition, or a batched Describe)
// spaces its calls: a throttle cuts the lane's rate to 70% of what was being
// sent (at most once per interval), and each success raises it again a little
// (multiplicative decrease, gradual increase, like the SDK's adaptive retry
// mode). Two hundred waits thus slow down together, at the rate AWS grants,
// instead of each retrying on its own.
//
// Pace: how much faster or slower than expected the cloud has been. A wait
// that ended clearly outside its window moves the pace; windows of later
// waits are stretched by it.
type Pacer struct {
	mu      sync.Mutex
	lanes   map[string]*lane
	logPace float64
	seen    int
}

type lane struct {
	gap   time.Duration // spacing between calls; 0 when not throttled
	floor time.Duration // below this spacing the lane is free again
	next  time.Time     // earliest start of the next call
	cut   time.Time     // when the gap last widened
	sent  [16]time.Time // starts of the latest calls, to measure the rate
	n     int           // calls recorded in sent
}

// rateGap is the average spacing of the latest calls, 0 when unknown.
func (l *lane) rateGap() time.Duration {
	k := min(l.n, len(l.sent))
	if k < 2 {
		return 0
	}
	newest := l.sent[(l.n-1)%len(l.sent)]
	oldest := l.sent[(l.n-k)%len(l.sent)]
	return newest.Sub(oldest) / time.Duration(k-1)
}

// NewPacer returns a Pacer with no throttling and the expected pace.
func NewPacer() *Pacer { return &Pacer{lanes: map[string]*lane{}} }

// Pace limits: a single odd observation cannot move windows by more than this.
const (
	minPace = 0.1
	maxPace = 10
)

// Pace is the factor the windows are currently stretched by (1: as expected).
func (p *Pacer) Pace() float64 {
	if p == nil {
		return 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return math.Exp(p.logPace)
}

// pace returns w stretched by the current pace; Every never drops below a
// quarter of floor.
func (p *Pacer) pace(w Window, floor time.Duration) Window {
	f := p.Pace()
	if f == 1 {
		return w
	}
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * f) }
	return Window{Min: scale(w.Min), Max: scale(w.Max), Every: max(scale(w.Every), floor/4)}
}

// observe records a transition known to have ended between prev and done
// (elapsed times). Only an end clearly outside the expected window says
// anything about the pace; one inside it confirms the expectation.
func (p *Pacer) observe(w Window, prev, done time.Duration) {
	if p == nil || w.Max <= 0 {
		return
	}
	mid := float64(w.Min+w.Max) / 2
	took := float64(prev+done) / 2
	r := 1.0
	switch {
	case done < w.Min, prev > w.Max:
		r = math.Min(math.Max(took/mid, minPace), maxPace)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == 0 {
		p.logPace = math.Log(r)
	} else {
		p.logPace = (p.logPace + math.Log(r)) / 2
	}
	p.seen++
}

func (p *Pacer) lane(name string) *lane {
	l := p.lanes[name]
	if l == nil {
		l = &lane{}
		p.lanes[name] = l
	}
	return l
}

// wait blocks until the caller may make its next call in lane: at once unless
// the lane is throttled, else at the next free slot of the lane's spacing.
func (p *Pacer) wait(ctx context.Context, name string) error {
	if p == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	l := p.lane(name)
	now := time.Now()
	at := now
	if l.gap > 0 {
		if l.next.After(at) {
			at = l.next
		}
		l.next = at.Add(l.gap)
	}
	l.sent[l.n%len(l.sent)] = at
	l.n++
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
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

// Spacing limits, relative to the policy's Initial interval (base): a lane
// is throttled to no fewer than one call per base, and freed again once it
// allows more than fifty.
const (
	backoff   = 0.7  // a throttle cuts the rate to this fraction of what was sent
	loosen    = 0.97 // each success raises the rate by about 3%
	floorRate = 50
)

// throttled cuts the lane's rate to 70% of the rate its calls were just sent
// at; at most once per base interval, since the throttles of calls already
// under way answer for the same excess.
func (p *Pacer) throttled(name string, base time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lane(name)
	now := time.Now()
	if l.gap > 0 && now.Sub(l.cut) < base {
		return
	}
	l.cut = now
	l.floor = base / floorRate
	gap := time.Duration(float64(max(l.gap, l.rateGap())) / backoff)
	l.gap = min(base, max(gap, l.floor))
	if next := now.Add(l.gap); l.next.Before(next) {
		l.next = next
	}
}

// ok raises a throttled lane's rate a little, and frees the lane once its
// spacing is below the floor.
func (p *Pacer) ok(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lanes[name]
	if l == nil || l.gap == 0 {
		return
	}
	l.gap = time.Duration(float64(l.gap) * loosen)
	if l.gap < l.floor {
		l.gap = 0
	}
}

// Gap is the current spacing of a lane (0 when it is not throttled).
func (p *Pacer) Gap(name string) time.Duration {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.lanes[name]; l != nil {
		return l.gap
	}
	return 0
}

package pandaapi

import (
	"context"
	"sync"
	"time"
)

// pacer spaces out requests once the server shows that the client is over
// its rate limit, so that a client with many goroutines does not answer a
// rate limit with a storm of retries. It is shared by every call of a Client.
//
// A 429 is an overload signal only when it is not alone: at least
// [overloadMin] of them and [overloadShare] of the answers over the last
// second (not counting a pause the pacer itself imposed). A client over a
// real limit sees far more (at 1.5× the limit, a third of its answers);
// a server that sheds a few requests at random rarely reaches that, and a
// lower bar would let chance cut the rate again and again. A sporadic 429 (a
// server that sheds a few requests, a rate limiter brushed once) delays only
// the request that got it, for its Retry-After. An overload closes a gate for
// every request until Retry-After has passed, then paces requests at a bit
// under the rate the server accepted over the same window: what it accepted
// is the best measure of its limit. The echoes of one overload (the other
// 429s of the same Retry-After window) do not cut again. Every second without
// a cut allows 5% more, up to the accepted rate for [probeAfter], beyond it
// afterwards (the limit may have risen); pacing stops above 1000 requests/s.
//
// Measuring what was accepted, rather than halving the current rate, is what
// keeps a steady trickle of 429s from compounding: the rate converges on the
// server's, instead of halving each Retry-After down to one request a second.
type pacer struct {
	mu        sync.Mutex
	interval  time.Duration // between request starts; 0: not pacing
	next      time.Time     // earliest start of the next request
	gateUntil time.Time     // end of the last pause the pacer imposed
	first     time.Time     // first answer seen: a young client's window is shorter
	lastCut   time.Time
	lastEase  time.Time
	// floor is the interval of the rate the server accepted at the last
	// cut: easing stops there until floorUntil, then probes above it.
	floor      time.Duration
	floorUntil time.Time
	ok         ring             // non-429 answers
	limited    ring             // 429 answers
	clock      func() time.Time // nil: time.Now; tests set it
}

const (
	// overloadMin and overloadShare: how many 429s, and what share of the
	// answers, over the window make an overload rather than a sporadic 429.
	overloadMin   = 5
	overloadShare = 0.25
	// pacedShare of the accepted rate is what the pacer allows after a cut,
	// so that the next window is under the limit rather than on it.
	pacedShare = 0.9
	// probeAfter is how long the pacer stays at or under the rate the server
	// accepted at the last cut before it tries more.
	probeAfter = 30 * time.Second
)

// ring counts events over the last second in ten slots of 100ms.
type ring struct {
	slots [10]int
	stamp [10]int64 // which 100ms period each slot counts
}

func period(t time.Time) int64 { return t.UnixMilli() / 100 }

func (r *ring) add(now time.Time) {
	p := period(now)
	i := p % 10
	if r.stamp[i] != p {
		r.stamp[i], r.slots[i] = p, 0
	}
	r.slots[i]++
}

// since counts the events from the 100ms period of from to now (at most the
// last second).
func (r *ring) since(from, now time.Time) int {
	lo, hi := period(from), period(now)
	n := 0
	for i := range r.slots {
		if p := r.stamp[i]; p >= lo && p <= hi && hi-p < 10 {
			n += r.slots[i]
		}
	}
	return n
}

// wait blocks until the request may start.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.now()
	at := now
	if p.next.After(at) {
		at = p.next
	}
	if p.interval > 0 {
		p.next = at.Add(p.interval)
	}
	p.mu.Unlock()
	return sleep(ctx, at.Sub(now))
}

// throttled records a 429. It reports whether the 429 was an overload and the
// pacer closed its gate (with the rate it now paces at): otherwise the caller
// itself waits retryAfter before retrying.
func (p *pacer) throttled(retryAfter time.Duration) (rate float64, gated bool) {
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.seen(now)
	p.limited.add(now)
	if now.Before(p.gateUntil) {
		// An echo of the overload already being waited out.
		return 0, true
	}
	from := latest(now.Add(-time.Second), p.gateUntil, p.first)
	accepted, limited := p.ok.since(from, now), p.limited.since(from, now)
	if limited < overloadMin || float64(limited) < overloadShare*float64(accepted+limited) {
		return 0, false
	}
	p.gateUntil = now.Add(retryAfter)
	if p.gateUntil.After(p.next) {
		p.next = p.gateUntil
	}
	if !p.lastCut.IsZero() && now.Before(p.lastCut.Add(retryAfter)) {
		return 0, true
	}
	window := max(now.Sub(from), 10*time.Millisecond)
	limit := max(1, float64(accepted)/window.Seconds())
	rate = max(1, pacedShare*limit)
	p.interval = time.Duration(float64(time.Second) / rate)
	p.floor, p.floorUntil = time.Duration(float64(time.Second)/limit), now.Add(probeAfter)
	p.lastCut, p.lastEase = now, p.gateUntil
	return rate, true
}

// succeeded records a non-429 answer.
func (p *pacer) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.seen(now)
	p.ok.add(now)
	if p.interval == 0 || now.Sub(p.lastEase) < time.Second {
		return
	}
	p.lastEase = now
	p.interval = p.interval * 100 / 105
	if now.Before(p.floorUntil) && p.interval < p.floor {
		p.interval = p.floor
	}
	if p.interval < time.Millisecond {
		p.interval = 0
	}
}

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

func (p *pacer) now() time.Time {
	if p.clock != nil {
		return p.clock()
	}
	return time.Now()
}

func (p *pacer) seen(now time.Time) {
	if p.first.IsZero() {
		p.first = now
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package panda

import (
	"context"
	"sync"
	"time"
)

// pacer spaces out requests after the server said 429, so that a client
// with many goroutines does not answer a rate limit with a storm of
// retries. It is shared by every call of a Client.
//
// Until the first 429 it does nothing. A 429 closes a gate until its
// Retry-After has passed and sets a request rate of half what the server
// accepted over the last second (at most once per Retry-After window: the
// other 429s of that window are echoes of the same overload). Every second
// without a 429 allows 10% more, and pacing stops above 1000 requests/s.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration // between request starts; 0: not pacing
	next     time.Time     // earliest start of the next request
	lastCut  time.Time
	lastEase time.Time
	ok       successRing
}

// successRing counts successful answers over the last second in ten slots of
// 100ms.
type successRing struct {
	slots [10]int
	stamp [10]int64 // which 100ms period each slot counts
}

func (r *successRing) add(now time.Time) {
	p := now.UnixMilli() / 100
	i := p % 10
	if r.stamp[i] != p {
		r.stamp[i], r.slots[i] = p, 0
	}
	r.slots[i]++
}

func (r *successRing) lastSecond(now time.Time) int {
	p := now.UnixMilli() / 100
	n := 0
	for i := range r.slots {
		if p-r.stamp[i] < 10 {
			n += r.slots[i]
		}
	}
	return n
}

// wait blocks until the request may start.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
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

// throttled records a 429.
func (p *pacer) throttled(retryAfter time.Duration) (rate float64, cut bool) {
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if gate := now.Add(retryAfter); gate.After(p.next) {
		p.next = gate
	}
	if !p.lastCut.IsZero() && now.Before(p.lastCut.Add(retryAfter)) {
		return 0, false
	}
	accepted := float64(p.ok.lastSecond(now))
	if p.interval > 0 {
		accepted = min(accepted, float64(time.Second)/float64(p.interval))
	}
	rate = max(1, accepted/2)
	p.interval = time.Duration(float64(time.Second) / rate)
	p.lastCut, p.lastEase = now, now.Add(retryAfter)
	return rate, true
}

// succeeded records a non-429 answer.
func (p *pacer) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.ok.add(now)
	if p.interval == 0 || now.Sub(p.lastEase) < time.Second {
		return
	}
	p.lastEase = now
	p.interval = p.interval * 10 / 11
	if p.interval < time.Millisecond {
		p.interval = 0
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

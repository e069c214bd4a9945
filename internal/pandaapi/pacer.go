package pandaapi

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pacer shares one request budget among every call of a Client, so that a
// client with many goroutines sends at the rate the server accepts instead of
// answering a rate limit with a storm of retries. It takes the server's own
// statement of its limit as the source, in this order:
//
//  1. RateLimit-* headers (see [statedLimit]): when the server states its
//     bucket, the pacer keeps a mirror of it and hands out its tokens, one per
//     request, in order. A request that finds none waits for the next one
//     instead of being sent to be refused. Every answer moves the mirror
//     into the range the server's Remaining allows, less what the client let
//     go since, so 429s stay rare rather than being reacted to; a 429 that
//     comes anyway corrects it the same way, and the refused request also
//     waits its Retry-After.
//  2. Without those headers, Retry-After and the answers themselves: the
//     reactive pacing below.
//
// Every 429 advances the pacer's generation. A request's 429 is charged to
// its retry budget only when the pacer was already following a limit when
// it let the request go (or the request itself had waited out a
// Retry-After), and nothing slowed the pacer down between then and the
// refusal (the same generation): a request sent blind, or caught in a limit
// the pacer has since corrected for, waits its turn and is not failing; a
// server that keeps refusing requests sent after each correction uses the
// budget up. 429s that are not charged are bounded too
// ([maxWaitedRefusals]), and so is the whole call by its context.
//
// The reactive pacing, for servers that state nothing but Retry-After: a 429
// is an overload signal only when it is not alone: at least [overloadMin] of
// them and [overloadShare] of the answers over the last second (not counting
// a pause the pacer itself imposed). A client over a real limit sees far more
// (at 1.5× the limit, a third of its answers); a server that sheds a few
// requests at random rarely reaches that, and a lower bar would let chance
// cut the rate again and again. A sporadic 429 delays only the request that
// got it, for its Retry-After. An overload closes a gate for every request
// until Retry-After has passed, then paces requests at a bit under the rate
// the server accepted over the same window: what it accepted is the best
// measure of its limit. The echoes of one overload (the other 429s of the
// same Retry-After window) do not cut again. Every second without a cut
// allows 5% more, up to the accepted rate for [probeAfter], beyond it
// afterwards (the limit may have risen); pacing stops above 1000 requests/s.
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
	ok         ring // non-429 answers
	limited    ring // 429 answers

	stated statedLimit // the server's own statement, when it makes one
	seq    uint64      // reservations handed out
	gen    uint64      // 429s seen: see ticket.gen
	// outstanding counts the reservations not answered yet: an earlier one
	// may reach the server after a later one.
	outstanding int

	clock func() time.Time // nil: time.Now; tests set it
}

// ticket is one request's reservation: taken by wait, handed back with the
// answer.
type ticket struct {
	seq uint64    // its number: reservations so far, itself included
	at  time.Time // when the request was let go
	gen uint64    // the pacer's generation when it was let go
	// pending: reservations not answered yet when this one was made.
	pending int
	// paced: the pacer was following a limit when it let the request go
	// (a stated one, or its own after an overload).
	paced bool
}

// statedLimit mirrors the token bucket a server states in the RateLimit-*
// headers of the IETF httpapi draft, as API gateways commonly send them:
//
//	RateLimit-Policy:    q;w=W  q requests per W seconds: the refill rate
//	RateLimit-Limit:     b      the bucket: the most that may be sent at once
//	RateLimit-Remaining: n      what remained after this request
//	RateLimit-Reset:     s      seconds until the bucket is full again
//
// Without a Policy the rate is inferred as (Limit-Remaining)/Reset: Reset is
// rounded up to whole seconds, so each reading is at most the true rate, and
// the largest reading seen is the estimate (the pacer never runs faster than
// the server said). Remaining is read at the server when the request
// arrived, somewhere between the moment the client let it go and its
// answer; the reservations the client made after it are not in it yet. So
// the bucket now holds
//
//	at least  Remaining − (reservations after this one) − (reservations
//	          still unanswered when this one was made: they may have
//	          reached the server after it)
//	at most   min(b, Remaining + rate × (now − sent)) − (reservations after this one)
//
// and each answer moves the mirror into that range: down when someone else
// (another client on the same key) spent tokens, up when the server refilled
// faster than the rate the pacer knows (an inferred one). The first answer
// starts the mirror at the lower bound. A request takes its token at the
// server later than the client took it from the mirror, so a mirror that
// starts at or below the server's bucket stays at or below it: with the
// server's statement, 429s come only from someone else spending the same
// budget, and the next answer corrects for them. A refused request's token
// was not spent at the server and goes back to the mirror.
type statedLimit struct {
	known    bool
	inferred bool    // rate from Limit, Remaining and Reset, not a Policy
	rate     float64 // tokens per second
	burst    float64
	tokens   float64 // below zero: reservations not yet due
	at       time.Time
	// base is the reservation whose answer started the mirror: the ones
	// after it are counted in tokens.
	base uint64
}

func (s *statedLimit) refill(now time.Time) {
	if now.After(s.at) {
		s.tokens = min(s.cap(), s.tokens+now.Sub(s.at).Seconds()*s.rate)
		s.at = now
	}
}

// cap is what the mirror holds at most: the stated bucket less what the
// server refills in [capSlack] (at least one token, unless the bucket holds
// only one). A full bucket at the server wastes the refill that comes while
// the requests the client let go are still on their way; the slack is
// there so that requests which leave a few milliseconds late do not find
// the server's bucket short by what it wasted.
func (s *statedLimit) cap() float64 {
	return max(1, s.burst-max(1, s.rate*capSlack.Seconds()))
}

// statement is what one answer's RateLimit-* headers said.
type statement struct {
	rate      float64 // 0: not stated
	inferred  bool
	burst     float64
	remaining float64
}

// parseStatement reads the RateLimit-* headers; ok is false when they do
// not state a usable limit.
func parseStatement(h http.Header) (st statement, ok bool) {
	limit, err1 := strconv.ParseFloat(strings.TrimSpace(h.Get("RateLimit-Limit")), 64)
	remaining, err2 := strconv.ParseFloat(strings.TrimSpace(h.Get("RateLimit-Remaining")), 64)
	if err1 != nil || err2 != nil || limit < 1 || remaining < 0 || remaining > limit ||
		math.IsInf(limit, 0) || math.IsNaN(remaining) {
		return st, false
	}
	st.burst, st.remaining = limit, remaining
	if q, w, ok := parsePolicy(h.Get("RateLimit-Policy")); ok {
		st.rate = q / w
	} else if reset, err := strconv.ParseFloat(strings.TrimSpace(h.Get("RateLimit-Reset")), 64); err == nil && reset > 0 && limit > remaining {
		st.rate, st.inferred = (limit-remaining)/reset, true
	}
	return st, true
}

// parsePolicy reads "q;w=W" (the first policy of a list); W defaults to 1.
func parsePolicy(v string) (q, w float64, ok bool) {
	if v == "" {
		return 0, 0, false
	}
	v, _, _ = strings.Cut(v, ",")
	parts := strings.Split(v, ";")
	q, err := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
	if err != nil || q <= 0 || math.IsInf(q, 0) {
		return 0, 0, false
	}
	w = 1
	for _, p := range parts[1:] {
		if val, found := strings.CutPrefix(strings.TrimSpace(p), "w="); found {
			if w, err = strconv.ParseFloat(val, 64); err != nil || w <= 0 || math.IsInf(w, 0) {
				return 0, 0, false
			}
		}
	}
	return q, w, true
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
	// capSlack: see [statedLimit.cap].
	capSlack = 20 * time.Millisecond
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

// wait blocks until the request may start and returns its reservation.
// When ctx ends first the reservation is handed back.
func (p *pacer) wait(ctx context.Context) (ticket, error) {
	t := p.reserve()
	if err := sleep(ctx, t.at.Sub(p.now())); err != nil {
		p.handBack(t)
		return t, err
	}
	return t, nil
}

// reserve takes the next place: the ticket says when the request may start.
func (p *pacer) reserve() ticket {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	at := now
	if p.next.After(at) {
		at = p.next
	}
	p.seq++
	t := ticket{seq: p.seq, gen: p.gen, paced: p.stated.known || p.interval > 0 || p.next.After(now)}
	t.pending = p.outstanding
	p.outstanding++
	if s := &p.stated; s.known {
		s.refill(now)
		if s.tokens < 1 {
			at = latest(at, now.Add(time.Duration((1-s.tokens)/s.rate*float64(time.Second))))
		}
		s.tokens--
	} else if p.interval > 0 {
		p.next = at.Add(p.interval)
	}
	t.at = at
	return t
}

// handBack returns the token of a reservation that was never sent.
func (p *pacer) handBack(t ticket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outstanding--
	if p.stated.known && t.seq > p.stated.base {
		p.stated.tokens = min(p.stated.cap(), p.stated.tokens+1)
	}
}

// lost records a request sent without an answer: its token may have been
// spent.
func (p *pacer) lost() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outstanding--
}

// answered records an answer other than 429. It reports the rate the
// server stated, when this answer is the first to state it (or changes it).
func (p *pacer) answered(t ticket, h http.Header) (learned float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.outstanding--
	learned = p.observe(t, h, false, now)
	p.succeededLocked(now)
	return learned
}

// refused records a 429 answer to the request of t. It reports whether the
// refusal is charged to the request's retry budget (see [pacer]), how long
// this request waits before it asks the pacer again, the rate the reactive
// pacing now paces at when this 429 made it cut, and the rate the server
// stated when this answer is the first to state it.
//
// waitedOwn says the request already waited out a Retry-After of its own:
// it then counts as paced, as a request the pacer let go under a limit.
func (p *pacer) refused(t ticket, h http.Header, retryAfter time.Duration, waitedOwn bool) (charged bool, wait time.Duration, cut, learned float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.outstanding--
	charged = (t.paced || waitedOwn) && t.gen == p.gen
	p.gen++
	if _, ok := parseStatement(h); ok {
		// The server states its bucket: the mirror is the pacing; this
		// request also honours its own Retry-After.
		learned = p.observe(t, h, true, now)
		p.seen(now)
		p.limited.add(now)
		return charged, retryAfter, 0, learned
	}
	cut, gated := p.throttledLocked(now, retryAfter)
	if !gated {
		wait = max(retryAfter, time.Second)
	}
	return charged, wait, cut, 0
}

// observe corrects the stated bucket from an answer's headers; see
// [statedLimit]. It reports the rate when the answer is the first to state
// it, or states another.
func (p *pacer) observe(t ticket, h http.Header, refused bool, now time.Time) (learned float64) {
	st, ok := parseStatement(h)
	s := &p.stated
	if !ok {
		if !refused {
			// An answer without a statement: the limit is gone (a 429
			// without one may come from something in front of the
			// server, and changes nothing).
			s.known = false
		}
		return 0
	}
	rate := st.rate
	if st.inferred && s.known && s.inferred {
		rate = max(rate, s.rate)
	}
	if rate <= 0 {
		if !s.known {
			return 0 // a full bucket states no rate to infer: wait for one that does
		}
		rate = s.rate
	}
	// Not in Remaining: what was let go after this request; for the lower
	// bound also what was let go before it but not answered yet when it
	// was (it may have reached the server later).
	after := float64(p.seq - t.seq)
	if !s.known || s.burst != st.burst || (!st.inferred && s.rate != rate) || (st.inferred && !s.inferred) {
		// The first reading: nothing refilled since (the server may have
		// read Remaining as late as now), so the mirror starts at or below
		// the server's bucket.
		learned = rate
		*s = statedLimit{known: true, inferred: st.inferred, rate: rate, burst: st.burst, at: now, base: t.seq}
		s.tokens = min(s.cap(), st.remaining-after-float64(t.pending))
		if p.interval > 0 {
			// The statement replaces the reactive pacing.
			p.interval, p.next = 0, time.Time{}
		}
		return learned
	}
	// The server read Remaining between the request's start and now: the
	// bucket now holds at least what remained less what was let go since
	// (lo) and at most that plus the refill since the start (hi).
	lo := st.remaining - after - float64(t.pending)
	hi := min(st.burst, st.remaining+rate*max(0, now.Sub(t.at).Seconds())) - after
	s.rate = rate
	s.refill(now)
	if refused && t.seq > s.base {
		s.tokens++ // the server did not spend the token the mirror did
	}
	s.tokens = min(max(s.tokens, lo), hi, s.cap())
	return 0
}

// throttled records a 429 that stated no limit; see throttledLocked.
func (p *pacer) throttled(retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttledLocked(p.now(), retryAfter)
}

// throttledLocked is the reactive pacing's answer to a 429. It reports
// whether the 429 was an overload and the pacer closed its gate (with the
// rate it now paces at, when it cut): otherwise the caller itself waits
// retryAfter before retrying.
func (p *pacer) throttledLocked(now time.Time, retryAfter time.Duration) (rate float64, gated bool) {
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
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

// succeeded records a non-429 answer that stated no limit.
func (p *pacer) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.succeededLocked(p.now())
}

func (p *pacer) succeededLocked(now time.Time) {
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

package pandaapi

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// server decides whether the request at now is answered 429.
type server func(now time.Time) bool

// sporadic answers every every-th request 429, whatever the rate.
func sporadic(every int) server {
	n := 0
	return func(time.Time) bool { n++; return n%every == 0 }
}

// bucket is a token-bucket rate limit of rps with the given burst, like
// pandasim's.
func bucket(rps float64, burst float64) server {
	tokens, last := burst, time.Time{}
	return func(now time.Time) bool {
		if !last.IsZero() {
			tokens = min(burst, tokens+now.Sub(last).Seconds()*rps)
		}
		last = now
		if tokens >= 1 {
			tokens--
			return false
		}
		return true
	}
}

// drive sends requests as fast as rps allows, and no faster than the pacer
// allows, for d of simulated time, and returns the end time, the requests
// answered (not 429) per second, and the pacer's rate at the end (0: not
// pacing).
func drive(p *pacer, srv server, start time.Time, rps int, d time.Duration) (end time.Time, accepted, rate float64) {
	now := start
	p.clock = func() time.Time { return now }
	step := time.Second / time.Duration(rps)
	ok := 0
	for now.Before(start.Add(d)) {
		if p.next.After(now) {
			now = p.next // the pacer's gate and spacing
		}
		if srv(now) {
			p.throttled(time.Second)
		} else {
			p.succeeded()
			ok++
		}
		now = now.Add(max(step, p.interval))
	}
	if p.interval > 0 {
		rate = float64(time.Second) / float64(p.interval)
	}
	return now, float64(ok) / now.Sub(start).Seconds(), rate
}

func TestPacerIgnoresSporadic429s(t *testing.T) {
	t.Parallel()
	// 5% of 200 requests/s answered 429 for a minute: ten a second, never
	// an overload. A pacer that treats each as one halves its rate down to
	// a request a second.
	var p pacer
	_, accepted, rate := drive(&p, sporadic(20), time.Unix(1_000_000, 0), 200, time.Minute)
	if rate != 0 || accepted < 180 {
		t.Errorf("after sporadic 429s: pacing at %.1f requests/s, %.1f accepted/s; want no pacing, ~190/s", rate, accepted)
	}
}

func TestPacerConvergesOnTheServerLimit(t *testing.T) {
	t.Parallel()
	// 300 requests/s wanted against a limit of 100/s: the pacer settles near
	// what the server accepts, neither at 1/s nor in a 429 storm.
	var p pacer
	_, accepted, rate := drive(&p, bucket(100, 20), time.Unix(2_000_000, 0), 300, time.Minute)
	if rate < 60 || rate > 130 {
		t.Errorf("pacing at %.1f requests/s against a 100/s limit", rate)
	}
	if accepted < 80 {
		t.Errorf("%.1f requests/s accepted against a 100/s limit; want at least 80", accepted)
	}
}

func TestPacerEasesAfterOverload(t *testing.T) {
	t.Parallel()
	var p pacer
	start := time.Unix(3_000_000, 0)
	now, _, rate := drive(&p, bucket(100, 20), start, 300, 3*time.Second)
	if rate == 0 {
		t.Fatal("no pacing after an overload")
	}
	// The limit is lifted. The pacer stays at the rate the server accepted
	// for probeAfter, then tries 5% more a second.
	now, _, held := drive(&p, sporadic(1<<30), now, 1000, probeAfter-5*time.Second)
	if held == 0 || held > rate*1.3 {
		t.Errorf("before probing: %.1f requests/s, want about the accepted rate (paced at %.1f after the cut)", held, rate)
	}
	_, _, eased := drive(&p, sporadic(1<<30), now, 1000, 15*time.Second)
	if eased != 0 && eased < held*1.5 {
		t.Errorf("after probing 10s: %.1f requests/s, want at least %.1f", eased, held*1.5)
	}
}

func TestPacerYoungClientDoesNotCollapse(t *testing.T) {
	t.Parallel()
	// A freshly (re)started client whose first answers include 429s: its
	// window holds a handful of answers, and must not read as 1 request/s.
	var p pacer
	now := time.Unix(4_000_000, 0)
	p.clock = func() time.Time { return now }
	for i := range 20 {
		now = now.Add(5 * time.Millisecond)
		if i%2 == 0 {
			p.throttled(time.Second)
		} else {
			p.succeeded()
		}
	}
	if p.interval == 0 {
		t.Fatal("half the answers were 429s but the pacer does not pace")
	}
	if rate := float64(time.Second) / float64(p.interval); rate < 50 {
		t.Errorf("young client paced at %.1f requests/s; it saw ~100/s accepted", rate)
	}
}

func TestPacerIgnoresRandom429sAtLowTraffic(t *testing.T) {
	t.Parallel()
	// 5% of 20 requests/s answered 429 at random for a minute: chance puts
	// two or three in a second now and then. That must not cut the rate, or
	// cuts compound into a crawl.
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(time.Time) bool { return rng.Float64() < 0.05 }
	var p pacer
	_, accepted, _ := drive(&p, random, time.Unix(5_000_000, 0), 20, time.Minute)
	if accepted < 17 {
		t.Errorf("%.1f requests/s accepted of 20/s with 5%% random 429s; the pacer cut on chance", accepted)
	}
}

// statingBucket is a token bucket of rate and burst that states itself in
// RateLimit-* headers, as pandasim does: Remaining after the request,
// Reset in whole seconds rounded up, and the Policy unless withoutPolicy.
type statingBucket struct {
	rate, burst   float64
	tokens        float64
	last          time.Time
	withoutPolicy bool
}

func (b *statingBucket) take(now time.Time) (ok bool, h http.Header) {
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if ok = b.tokens >= 1; ok {
		b.tokens--
	}
	h = http.Header{}
	if !b.withoutPolicy {
		h.Set("RateLimit-Policy", strconv.FormatFloat(b.rate, 'g', -1, 64)+";w=1")
	}
	h.Set("RateLimit-Limit", strconv.Itoa(int(b.burst)))
	h.Set("RateLimit-Remaining", strconv.Itoa(int(b.tokens)))
	h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil((b.burst-b.tokens)/b.rate))))
	return ok, h
}

// simulate runs workers that each send one request after another through
// the pacer to srv for d of simulated time: a request reaches the server
// when the pacer lets it go and is answered latency later; a refused one
// waits what the pacer says (Retry-After 1s, as pandasim's). Other, if
// set, is a second client on the same budget that takes a token every
// otherEvery. It returns the answers our client got, accepted and refused.
func simulate(p *pacer, srv *statingBucket, workers int, latency, d time.Duration, otherEvery time.Duration) (accepted, refused int) {
	start := time.Unix(6_000_000, 0)
	now := start
	p.clock = func() time.Time { return now }
	// Events in time order: a worker asks for a place, its request
	// arrives, its answer comes back.
	type event struct {
		at     time.Time
		kind   int // 0 ask, 1 arrive, 2 answer, 3 the other client
		t      ticket
		ok     bool
		header http.Header
	}
	var queue []event
	for range workers {
		queue = append(queue, event{at: start})
	}
	if otherEvery > 0 {
		queue = append(queue, event{at: start, kind: 3})
	}
	for len(queue) > 0 {
		i := 0
		for j := range queue {
			if queue[j].at.Before(queue[i].at) {
				i = j
			}
		}
		e := queue[i]
		queue = append(queue[:i], queue[i+1:]...)
		now = e.at
		if now.After(start.Add(d)) {
			continue // the run is over: drain
		}
		switch e.kind {
		case 0:
			t := p.reserve()
			queue = append(queue, event{at: t.at, kind: 1, t: t})
		case 1:
			ok, h := srv.take(now)
			queue = append(queue, event{at: now.Add(latency), kind: 2, t: e.t, ok: ok, header: h})
		case 2:
			next := now
			if e.ok {
				accepted++
				p.answered(e.t, e.header)
			} else {
				refused++
				_, wait, _, _ := p.refused(e.t, e.header, time.Second, false)
				next = now.Add(wait)
			}
			queue = append(queue, event{at: next})
		case 3:
			srv.take(now)
			queue = append(queue, event{at: now.Add(otherEvery), kind: 3})
		}
	}
	return accepted, refused
}

func TestPacerFollowsTheStatedLimit(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		rate, burst   float64
		workers       int
		latency       time.Duration
		withoutPolicy bool
		otherEvery    time.Duration
		// minShare is the least share of the limit our client must get.
		minShare float64
	}{
		"200/s, 50ms, 32 workers":  {rate: 200, burst: 200, workers: 32, latency: 50 * time.Millisecond, minShare: 0.98},
		"50/s, 50ms, 32 workers":   {rate: 50, burst: 50, workers: 32, latency: 50 * time.Millisecond, minShare: 0.98},
		"200/s, 200ms, 60 workers": {rate: 200, burst: 200, workers: 60, latency: 200 * time.Millisecond, minShare: 0.98},
		"small burst":              {rate: 100, burst: 5, workers: 32, latency: 50 * time.Millisecond, minShare: 0.98},
		"slow limit":               {rate: 2, burst: 1, workers: 8, latency: 50 * time.Millisecond, minShare: 0.95},
		"no Policy: rate inferred": {rate: 200, burst: 200, workers: 32, latency: 50 * time.Millisecond, withoutPolicy: true, minShare: 0.97},
		"another client, 20/s":     {rate: 200, burst: 200, workers: 32, latency: 50 * time.Millisecond, otherEvery: 50 * time.Millisecond, minShare: 0.88},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const d = time.Minute
			var p pacer
			srv := &statingBucket{rate: tc.rate, burst: tc.burst, withoutPolicy: tc.withoutPolicy}
			accepted, refused := simulate(&p, srv, tc.workers, tc.latency, d, tc.otherEvery)
			// The burst is free on top of the rate.
			limit := tc.rate*d.Seconds() + tc.burst
			if share := float64(accepted) / limit; share < tc.minShare {
				t.Errorf("accepted %d of the %.0f the limit allows (%.3f); want at least %.2f", accepted, limit, share, tc.minShare)
			}
			// Only the first wave, sent before any answer stated the
			// limit, may overrun the burst.
			blind := max(0, tc.workers-int(tc.burst))
			if total := accepted + refused; float64(refused) > float64(blind)+0.005*float64(total) {
				t.Errorf("%d of %d requests refused; the pacer should stay under the stated limit", refused, total)
			}
		})
	}
}

func TestPacerChargesOnlyRefusalsAfterASlowdown(t *testing.T) {
	t.Parallel()
	var p pacer
	now := time.Unix(7_000_000, 0)
	p.clock = func() time.Time { return now }
	h := http.Header{"Ratelimit-Limit": {"10"}, "Ratelimit-Remaining": {"0"}, "Ratelimit-Policy": {"10;w=1"}}
	type result struct{ Blind, A, B, C bool }
	var got result
	// Sent before the pacer knew of a limit: not charged. Its answer
	// states the limit.
	got.Blind, _, _, _ = p.refused(p.reserve(), h, 0, false)
	// a and b were let go together under the stated limit; a's 429 slows
	// the pacer down, b was already on its way: its 429 is not its fault.
	a, b := p.reserve(), p.reserve()
	got.A, _, _, _ = p.refused(a, h, 0, false)
	got.B, _, _, _ = p.refused(b, h, 0, false)
	// c was let go after the slowdown and is still refused: charged.
	c := p.reserve()
	now = c.at
	got.C, _, _, _ = p.refused(c, h, 0, false)
	if diff := cmp.Diff(result{Blind: false, A: true, B: false, C: true}, got); diff != "" {
		t.Errorf("charged (-want +got):\n%s", diff)
	}
}

func TestParseStatement(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		h    map[string]string
		want statement
		ok   bool
	}{
		"policy":            {h: map[string]string{"RateLimit-Policy": "200;w=1", "RateLimit-Limit": "200", "RateLimit-Remaining": "17", "RateLimit-Reset": "1"}, want: statement{rate: 200, burst: 200, remaining: 17}, ok: true},
		"policy window 60":  {h: map[string]string{"RateLimit-Policy": "600;w=60, 50;w=1", "RateLimit-Limit": "50", "RateLimit-Remaining": "0"}, want: statement{rate: 10, burst: 50}, ok: true},
		"inferred":          {h: map[string]string{"RateLimit-Limit": "100", "RateLimit-Remaining": "20", "RateLimit-Reset": "2"}, want: statement{rate: 40, inferred: true, burst: 100, remaining: 20}, ok: true},
		"full, no rate":     {h: map[string]string{"RateLimit-Limit": "100", "RateLimit-Remaining": "100", "RateLimit-Reset": "0"}, want: statement{burst: 100, remaining: 100}, ok: true},
		"bad policy":        {h: map[string]string{"RateLimit-Policy": "fast", "RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "1"}, want: statement{rate: 100, inferred: true, burst: 100}, ok: true},
		"none":              {h: map[string]string{"Retry-After": "1"}},
		"remaining > limit": {h: map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "11"}},
		"negative":          {h: map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "-1"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tc.h {
				h.Set(k, v)
			}
			got, ok := parseStatement(h)
			if ok != tc.ok {
				t.Fatalf("ok = %t, want %t", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(statement{})); ok && diff != "" {
				t.Errorf("statement (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPacerDropsALimitNoLongerStated(t *testing.T) {
	t.Parallel()
	var p pacer
	now := time.Unix(8_000_000, 0)
	p.clock = func() time.Time { return now }
	h := http.Header{"Ratelimit-Limit": {"1"}, "Ratelimit-Remaining": {"0"}, "Ratelimit-Policy": {"1;w=1"}}
	p.answered(p.reserve(), h)
	if at := p.reserve().at; !at.After(now) {
		t.Fatalf("a stated limit of 1/s with nothing left: let go at once")
	}
	p.answered(p.reserve(), http.Header{})
	if at := p.reserve().at; at.After(now) {
		t.Errorf("the limit is no longer stated, yet the request waits %v", at.Sub(now))
	}
}

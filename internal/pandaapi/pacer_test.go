package pandaapi

import (
	"math/rand/v2"
	"testing"
	"time"
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

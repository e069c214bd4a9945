package pandasim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults are the failures the simulator injects into the API routes
// (/rest/...). They never apply to /_sim/... and not to /oauth/token either:
// token acquisition is exercised by its own tests, and keeping it clean means
// a fault test measures what the API calls do, not how often the client
// refreshes its token.
//
// The zero value injects nothing.
type Faults struct {
	// ErrorRate is the fraction (0..1) of API requests answered 503 before
	// they are handled: nothing is written.
	ErrorRate float64 `json:"errorRate"`
	// Latency is added to every API request, plus a uniformly random
	// extra of up to LatencyJitter.
	Latency       Duration `json:"latency"`
	LatencyJitter Duration `json:"latencyJitter"`
	// RateLimit is the number of API requests per second the simulator
	// accepts (a token bucket of RateBurst); the rest are answered 429 with
	// a Retry-After in whole seconds. 0 means unlimited. While it is set,
	// every API answer, 429 or not, states the limit in the RateLimit-*
	// headers (see [RateLimitPolicyHeader]).
	RateLimit float64 `json:"rateLimit"`
	// RateBurst is the bucket size; 0 means max(1, RateLimit).
	RateBurst int `json:"rateBurst"`
	// CommitThenFailRate is the fraction (0..1) of successful writes (POST,
	// DELETE) whose answer is lost after the write was applied: the client
	// gets a 500, or its connection is cut, per CommitThenFailMode.
	CommitThenFailRate float64 `json:"commitThenFailRate"`
	// CommitThenFailMode is "status" (a 500 answer, the default), "cut"
	// (the connection is closed without an answer) or "mixed" (either, at
	// random).
	CommitThenFailMode string `json:"commitThenFailMode,omitempty"`
}

// Commit-then-fail modes.
const (
	CommitThenFailStatus = "status"
	CommitThenFailCut    = "cut"
	CommitThenFailMixed  = "mixed"
)

// Validate reports the first out-of-range field.
func (f Faults) Validate() error {
	var errs []error
	if f.ErrorRate < 0 || f.ErrorRate > 1 || math.IsNaN(f.ErrorRate) {
		errs = append(errs, fmt.Errorf("errorRate %v is not within 0..1", f.ErrorRate))
	}
	if f.CommitThenFailRate < 0 || f.CommitThenFailRate > 1 || math.IsNaN(f.CommitThenFailRate) {
		errs = append(errs, fmt.Errorf("commitThenFailRate %v is not within 0..1", f.CommitThenFailRate))
	}
	if f.Latency < 0 || f.LatencyJitter < 0 {
		errs = append(errs, errors.New("latency and latencyJitter must not be negative"))
	}
	if f.RateLimit < 0 || math.IsNaN(f.RateLimit) || math.IsInf(f.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("rateLimit %v must be a finite number >= 0", f.RateLimit))
	}
	if f.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("rateBurst %d must not be negative", f.RateBurst))
	}
	switch f.CommitThenFailMode {
	case "", CommitThenFailStatus, CommitThenFailCut, CommitThenFailMixed:
	default:
		errs = append(errs, fmt.Errorf("commitThenFailMode %q is not one of status, cut, mixed", f.CommitThenFailMode))
	}
	return errors.Join(errs...)
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("250ms") and also reads a number of milliseconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "250ms".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "250ms" or 250 (milliseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration must be a string like \"250ms\" or a number of milliseconds")
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

// injector decides, with a seeded RNG, which requests fail. One mutex guards
// the RNG and the bucket; decisions are cheap so contention is low.
type injector struct {
	mu     sync.Mutex
	f      Faults
	seed   uint64
	rng    *rand.Rand
	tokens float64
	last   time.Time
}

func newInjector(f Faults, seed uint64) *injector {
	in := &injector{seed: seed}
	in.set(f)
	in.reseed()
	return in
}

func (in *injector) reseed() {
	in.rng = rand.New(rand.NewPCG(in.seed, in.seed^0x9e3779b97f4a7c15))
}

func (in *injector) set(f Faults) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.f = f
	in.tokens = float64(in.burst())
	in.last = time.Time{}
}

func (in *injector) get() Faults {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.f
}

func (in *injector) burst() int {
	if in.f.RateBurst > 0 {
		return in.f.RateBurst
	}
	return max(1, int(math.Ceil(in.f.RateLimit)))
}

// Rate-limit headers, after the IETF httpapi "RateLimit header fields"
// draft, as API gateways commonly send them. With a token bucket of rate r
// and size b they say:
//
//	RateLimit-Policy:    r;w=1   (r requests per second, r may be a decimal)
//	RateLimit-Limit:     b       (the most that may be sent at once)
//	RateLimit-Remaining: n       (whole tokens left after this request)
//	RateLimit-Reset:     s       (whole seconds, rounded up, until the bucket is full)
//
// The values are taken when the request arrives, before the injected
// latency: a client that subtracts what it sent since can mirror the bucket.
const (
	RateLimitPolicyHeader    = "RateLimit-Policy"
	RateLimitLimitHeader     = "RateLimit-Limit"
	RateLimitRemainingHeader = "RateLimit-Remaining"
	RateLimitResetHeader     = "RateLimit-Reset"
)

// rateState is the bucket as one request found it, for the headers.
type rateState struct {
	rate      float64
	burst     int
	remaining int
	reset     time.Duration
}

// setHeaders writes the RateLimit-* headers.
func (s rateState) setHeaders(h http.Header) {
	h.Set(RateLimitPolicyHeader, strconv.FormatFloat(s.rate, 'g', -1, 64)+";w=1")
	h.Set(RateLimitLimitHeader, strconv.Itoa(s.burst))
	h.Set(RateLimitRemainingHeader, strconv.Itoa(s.remaining))
	h.Set(RateLimitResetHeader, strconv.Itoa(int(math.Ceil(s.reset.Seconds()))))
}

// decision is what happens to one API request.
type decision struct {
	latency    time.Duration
	rate       *rateState    // nil: no rate limit
	retryAfter time.Duration // > 0: answer 429
	fail       bool          // answer 503 before handling
	commitFail bool          // apply the write, then lose the answer
	cut        bool          // lose it by cutting the connection
}

// decide draws the faults for one request. The RNG is consumed in a fixed
// pattern per request so that a sequential client replays exactly.
func (in *injector) decide(now time.Time, write bool) decision {
	in.mu.Lock()
	defer in.mu.Unlock()
	var d decision
	f := in.f
	d.latency = time.Duration(f.Latency)
	if f.LatencyJitter > 0 {
		d.latency += time.Duration(in.rng.Int64N(int64(f.LatencyJitter) + 1))
	}
	if f.RateLimit > 0 {
		b := float64(in.burst())
		if !in.last.IsZero() {
			in.tokens = math.Min(b, in.tokens+now.Sub(in.last).Seconds()*f.RateLimit)
		}
		in.last = now
		refused := in.tokens < 1
		if refused {
			wait := (1 - in.tokens) / f.RateLimit
			d.retryAfter = time.Duration(math.Max(1, math.Ceil(wait))) * time.Second
		} else {
			in.tokens--
		}
		d.rate = &rateState{
			rate: f.RateLimit, burst: int(b), remaining: int(in.tokens),
			reset: time.Duration((b - in.tokens) / f.RateLimit * float64(time.Second)),
		}
		if refused {
			return d
		}
	}
	if f.ErrorRate > 0 && in.rng.Float64() < f.ErrorRate {
		d.fail = true
		return d
	}
	if write && f.CommitThenFailRate > 0 && in.rng.Float64() < f.CommitThenFailRate {
		d.commitFail = true
		switch f.CommitThenFailMode {
		case CommitThenFailCut:
			d.cut = true
		case CommitThenFailMixed:
			d.cut = in.rng.IntN(2) == 0
		}
	}
	return d
}

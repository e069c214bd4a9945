package pandasim

import (
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
)

// Stats counts requests since start or the last reset. The benchmarks read
// it to report HTTP requests per account and how often the client was
// throttled.
type Stats struct {
	// Requests counts every request, including /_sim and /oauth/token.
	Requests int64 `json:"requests"`
	// APIRequests counts requests to /rest/... only.
	APIRequests int64 `json:"apiRequests"`
	// ByRoute counts requests per route pattern, e.g.
	// "POST /rest/platform/accounts/v1/accounts/{parentId}".
	ByRoute map[string]int64 `json:"byRoute"`
	// ByStatus counts answers per HTTP status ("0" is a cut connection).
	ByStatus map[string]int64 `json:"byStatus"`
	// RateLimited counts 429 answers.
	RateLimited int64 `json:"rateLimited"`
	// InjectedErrors counts injected 503 answers.
	InjectedErrors int64 `json:"injectedErrors"`
	// CommitThenFail counts writes that were applied but answered 500 or
	// cut.
	CommitThenFail int64 `json:"commitThenFail"`
	// TokensIssued counts access tokens handed out.
	TokensIssued int64 `json:"tokensIssued"`
}

type stats struct {
	requests, apiRequests                                     atomic.Int64
	rateLimited, injectedErrors, commitThenFail, tokensIssued atomic.Int64

	mu       sync.Mutex
	byRoute  map[string]int64
	byStatus map[int]int64
}

func newStats() *stats {
	return &stats{byRoute: map[string]int64{}, byStatus: map[int]int64{}}
}

// arrive counts a request when it arrives, before any fault or handler runs:
// a client whose connection is cut must find its request already counted.
func (s *stats) arrive(route string, api bool) {
	s.requests.Add(1)
	if api {
		s.apiRequests.Add(1)
	}
	s.mu.Lock()
	s.byRoute[route]++
	s.mu.Unlock()
}

// answered counts the status a request was answered with (0: cut).
func (s *stats) answered(status int) {
	s.mu.Lock()
	s.byStatus[status]++
	s.mu.Unlock()
}

func (s *stats) snapshot() Stats {
	out := Stats{
		Requests:       s.requests.Load(),
		APIRequests:    s.apiRequests.Load(),
		RateLimited:    s.rateLimited.Load(),
		InjectedErrors: s.injectedErrors.Load(),
		CommitThenFail: s.commitThenFail.Load(),
		TokensIssued:   s.tokensIssued.Load(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out.ByRoute = maps.Clone(s.byRoute)
	out.ByStatus = make(map[string]int64, len(s.byStatus))
	for k, v := range s.byStatus {
		out.ByStatus[strconv.Itoa(k)] = v
	}
	return out
}

func (s *stats) reset() {
	for _, c := range []*atomic.Int64{&s.requests, &s.apiRequests, &s.rateLimited, &s.injectedErrors, &s.commitThenFail, &s.tokensIssued} {
		c.Store(0)
	}
	s.mu.Lock()
	clear(s.byRoute)
	clear(s.byStatus)
	s.mu.Unlock()
}

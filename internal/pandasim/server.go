package pandasim

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for a simulator nobody configured: fine for a demo on loopback,
// never for anything reachable by others.
const (
	DefaultAccessID      = "demo"
	DefaultPassword      = "demo-password"
	DefaultAPIKey        = "demo-api-key"
	DefaultRootAccountID = "ACC-0000001"
	DefaultTokenTTL      = time.Hour
	DefaultMaxTiers      = 3
)

// Route prefixes.
const (
	AccountsPrefix  = "/rest/platform/accounts/v1/accounts"
	OperatorsPrefix = "/rest/platform/operator-mgmt/v1"
	TokenPath       = "/oauth/token"
)

// Server is the simulated Panda API. It is an http.Handler, safe for
// concurrent use. Create it with [New].
type Server struct {
	accessID, password, apiKey string
	tokenTTL                   time.Duration
	maxTiers                   int
	txDelay                    atomic.Int64 // time.Duration
	seed                       uint64
	rootID                     string
	rootInventory              map[string]int
	now                        func() time.Time // the base clock plus clockOffset
	clockOffset                atomic.Int64     // time.Duration; /_sim/clock moves it forward
	log                        *slog.Logger
	mux                        *http.ServeMux

	mu      sync.Mutex // guards st, rng and version
	st      *store
	rng     *rand.Rand // ids; seeded so a replay yields the same ids
	version uint64     // bumped on every state change

	tokMu  sync.Mutex
	tokens map[string]time.Time // bearer token -> expiry

	faults *injector
	stats  *stats
}

// Option configures a [Server].
type Option func(*Server)

// WithCredentials sets the OAuth client credentials and the API key the
// simulator accepts. Defaults: [DefaultAccessID], [DefaultPassword],
// [DefaultAPIKey].
func WithCredentials(accessID, password, apiKey string) Option {
	return func(s *Server) { s.accessID, s.password, s.apiKey = accessID, password, apiKey }
}

// WithRootAccount sets the id of the root service-provider account, under
// which the BSS owner's direct customers and resellers are created. Default
// [DefaultRootAccountID].
func WithRootAccount(id string) Option {
	return func(s *Server) { s.rootID = id }
}

// WithRootInventory sets the root account's inventory: licences per product
// name, from which the root's children are allocated. Products left out have
// none. Default [DefaultRootInventory]. Unknown product names and negative
// quantities are reported by [New].
func WithRootInventory(inv map[string]int) Option {
	return func(s *Server) { s.rootInventory = maps.Clone(inv) }
}

// WithTokenTTL sets how long an access token lives. Short values test the
// client's refresh. Default one hour; expires_in is whole seconds, so keep
// it at 1s or more.
func WithTokenTTL(d time.Duration) Option {
	return func(s *Server) { s.tokenTTL = d }
}

// WithMaxTiers sets how many tiers of accounts may exist below the root.
// Default 3: root → reseller → reseller → customer.
func WithMaxTiers(n int) Option {
	return func(s *Server) { s.maxTiers = n }
}

// WithTxDelay sets how long an operator transaction stays PENDING. Default
// 0: it settles on the next request of any kind (POST /operators itself
// always answers PENDING).
func WithTxDelay(d time.Duration) Option {
	return func(s *Server) { s.txDelay.Store(int64(d)) }
}

// WithSeed seeds the RNG that draws ids and faults, so a run from a
// sequential client replays exactly. Default 1.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.seed = seed }
}

// WithFaults sets the initial faults; see [Faults]. Invalid faults are
// reported by [New].
func WithFaults(f Faults) Option {
	return func(s *Server) { s.faults.f = f }
}

// WithLogger sets the request logger. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// WithClock replaces time.Now, for tests of token expiry, transaction
// delays and trial expiry that must not sleep. POST /_sim/clock moves the
// simulator's time forward from this clock.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// New returns a simulator with only the root account.
func New(opts ...Option) (*Server, error) {
	s := &Server{
		accessID: DefaultAccessID,
		password: DefaultPassword,
		apiKey:   DefaultAPIKey,
		tokenTTL: DefaultTokenTTL,
		maxTiers: DefaultMaxTiers,
		seed:     1,
		now:      time.Now,
		log:      slog.New(slog.DiscardHandler),
		tokens:   make(map[string]time.Time),
		faults:   &injector{},
		stats:    newStats(),
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.rootID == "" {
		s.rootID = DefaultRootAccountID
	}
	if !validAccountID(s.rootID) {
		return nil, fmt.Errorf("pandasim: root account id %q is not ACC- and seven digits", s.rootID)
	}
	if s.rootInventory == nil {
		s.rootInventory = DefaultRootInventory()
	}
	for p, n := range s.rootInventory {
		if !knownProduct(p) || n < 0 {
			return nil, fmt.Errorf("pandasim: root inventory %s=%d: the product must be in the catalogue and the quantity not negative", p, n)
		}
	}
	base := s.now
	s.now = func() time.Time { return base().Add(time.Duration(s.clockOffset.Load())) }
	s.st = newStore(s.rootID, s.rootInventory)
	if err := s.faults.f.Validate(); err != nil {
		return nil, fmt.Errorf("pandasim: invalid faults: %w", err)
	}
	if s.accessID == "" || s.password == "" || s.apiKey == "" {
		return nil, errors.New("pandasim: access id, password and API key must not be empty")
	}
	if s.tokenTTL <= 0 || s.maxTiers < 0 {
		return nil, errors.New("pandasim: token TTL must be positive and max tiers not negative")
	}
	s.faults = newInjector(s.faults.f, s.seed)
	s.reseed()
	s.routes()
	return s, nil
}

func (s *Server) reseed() {
	s.rng = rand.New(rand.NewPCG(s.seed, s.seed+1))
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST "+TokenPath, s.handleToken)

	m.Handle("POST "+AccountsPrefix+"/{parentId}", s.api(true, s.handleCreateAccount))
	m.Handle("GET "+AccountsPrefix+"/{id}", s.api(false, s.handleGetAccount))
	m.Handle("GET "+AccountsPrefix+"/{id}/children", s.api(false, s.handleListChildren))
	m.Handle("PATCH "+AccountsPrefix+"/{id}", s.api(true, s.handlePatchAccount))
	m.Handle("DELETE "+AccountsPrefix+"/{id}", s.api(true, s.handleDeleteAccount))

	m.Handle("POST "+AllocationsPrefix+"/{accountId}/assets", s.api(true, s.handleCreateAllocation))
	m.Handle("PUT "+AllocationsPrefix+"/{accountId}/assets", s.api(true, s.handleSetAllocation))
	m.Handle("DELETE "+AllocationsPrefix+"/{accountId}/assets", s.api(true, s.handleDeleteAllocation))
	m.Handle("GET "+AllocationsPrefix+"/{accountId}/assets/summary/{resourceType}", s.api(false, s.handleAllocationSummary))

	m.Handle("POST "+OperatorsPrefix+"/operators", s.api(true, s.handleCreateOperator))
	m.Handle("GET "+OperatorsPrefix+"/operators", s.api(false, s.handleListOperators))
	m.Handle("GET "+OperatorsPrefix+"/operators/{username}", s.api(false, s.handleGetOperator))
	m.Handle("GET "+OperatorsPrefix+"/TransactionStatus", s.api(false, s.handleTransactionStatus))

	m.HandleFunc("GET /_sim/state", s.handleSimState)
	m.HandleFunc("GET /_sim/stats", s.handleSimStats)
	m.HandleFunc("GET /_sim/faults", s.handleGetFaults)
	m.HandleFunc("PUT /_sim/faults", s.handlePutFaults)
	m.HandleFunc("POST /_sim/activate", s.handleActivate)
	m.HandleFunc("GET /_sim/activate", s.handleActivate)
	m.HandleFunc("POST /_sim/reset", s.handleReset)
	m.HandleFunc("POST /_sim/revoke-tokens", s.handleRevokeTokens)
	m.HandleFunc("POST /_sim/clock", s.handleAdvanceClock)
	m.HandleFunc("POST /_sim/accounts/{id}/convert", s.handleConvertAccount)
	m.HandleFunc("PATCH /_sim/accounts/{id}", s.handleSimPatchAccount)
	m.HandleFunc("DELETE /_sim/accounts/{id}", s.handleSimDeleteAccount)
	s.mux = m
}

// serveUnrouted answers a request no pattern matched with the mux's status
// (404, or 405 with its Allow header) in the JSON error shape.
func (s *Server) serveUnrouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &bufferedResponse{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if allow := probe.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	status := probe.status
	if status == 0 || status < 400 {
		status = http.StatusNotFound
	}
	code := CodeNotFound
	if status == http.StatusMethodNotAllowed {
		code = CodeInvalidRequest
	}
	writeError(w, errorf(status, code, "no route for %s %s", r.Method, r.URL.Path))
}

// ServeHTTP logs and counts every request, then routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.stats.arrive("unmatched", isAPIPath(r.URL.Path))
		s.serveUnrouted(rec, r, h)
	} else {
		s.stats.arrive(pattern, isAPIPath(r.URL.Path))
		s.mux.ServeHTTP(rec, r)
	}
	status := rec.status
	if rec.hijacked {
		status = 0 // the connection was cut on purpose
	} else if status == 0 {
		status = http.StatusOK
	}
	s.stats.answered(status)
	if s.log.Enabled(r.Context(), slog.LevelInfo) {
		// The path only: queries may hold an activation token, and headers
		// hold credentials. Neither is ever logged.
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Duration("latency", time.Since(start)),
		)
	}
}

func isAPIPath(p string) bool { return len(p) > 6 && p[:6] == "/rest/" }

// statusRecorder remembers the status for the request log; Unwrap lets
// http.ResponseController reach the Hijacker underneath.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// api wraps an API handler with, in order: injected latency, the rate limit,
// injected 503s, authentication, and commit-then-fail for writes.
func (s *Server) api(write bool, h func(http.ResponseWriter, *http.Request) *apiError) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := s.faults.decide(s.now(), write)
		if d.rate != nil {
			d.rate.setHeaders(w.Header())
		}
		if d.latency > 0 {
			t := time.NewTimer(d.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if d.retryAfter > 0 {
			s.stats.rateLimited.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(int(d.retryAfter/time.Second)))
			writeError(w, errorf(http.StatusTooManyRequests, CodeRateLimited, "rate limit exceeded; retry later"))
			return
		}
		if d.fail {
			s.stats.injectedErrors.Add(1)
			writeError(w, errorf(http.StatusServiceUnavailable, CodeUnavailable, "service temporarily unavailable (injected fault)"))
			return
		}
		if err := s.authenticate(r); err != nil {
			if err.status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			}
			writeError(w, err)
			return
		}
		if !d.commitFail {
			if err := h(w, r); err != nil {
				writeError(w, err)
			}
			return
		}
		// Let the handler apply the write into a buffer; if it succeeded,
		// lose the answer.
		buf := &bufferedResponse{header: http.Header{}}
		if err := h(buf, r); err != nil {
			writeError(w, err)
			return
		}
		if buf.status >= 300 {
			buf.flushTo(w)
			return
		}
		s.stats.commitThenFail.Add(1)
		if d.cut {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				if rec, ok := w.(*statusRecorder); ok {
					rec.hijacked = true
				}
				conn.Close()
				return
			}
			// HTTP/2 cannot be hijacked; fall back to the 500.
		}
		writeError(w, errorf(http.StatusInternalServerError, CodeInternal, "internal error (injected after the write was applied)"))
	})
}

// bufferedResponse holds a handler's answer so commit-then-fail can drop it.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedResponse) flushTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// Snapshot returns a copy of the whole state, settling transactions that
// are due first.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	s.expireTrialsLocked()
	return s.st.snapshot()
}

// Restore replaces the state with snap. Tokens, faults and stats are kept.
func (s *Server) Restore(snap Snapshot) error {
	st, err := storeFromSnapshot(snap, s.rootInventory)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = st
	s.version++
	return nil
}

// Version increases with every change to the state; a saver compares it
// to decide whether there is anything to write.
func (s *Server) Version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// SetFaults replaces the faults at run time.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.faults.set(f)
	return nil
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults { return s.faults.get() }

// Stats returns the request counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// settleLocked settles due transactions; s.mu must be held.
func (s *Server) settleLocked() {
	if s.st.settleDue(s.now()) {
		s.version++
	}
}

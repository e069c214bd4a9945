package pandaapi

import (
	"log/slog"
	"net/http"
	"time"
)

// Config says where the Panda API is and how to authenticate to it.
type Config struct {
	// BaseURL is the scheme and host of the API, e.g.
	// "http://127.0.0.1:8085" for a local pandasim. Required. A trailing
	// slash is ignored; the client appends /oauth/token and /rest/....
	BaseURL string
	// AccessID and Password are the OAuth2 client credentials, sent with
	// HTTP Basic to /oauth/token. Required.
	AccessID string
	Password string
	// APIKey is sent as the WatchGuard-API-Key header on every API call.
	// Required.
	APIKey string
}

// Option configures a [Client].
type Option func(*options)

type options struct {
	httpClient  *http.Client
	logger      *slog.Logger
	timeout     time.Duration
	maxAttempts int
	baseBackoff time.Duration
	maxBackoff  time.Duration
	tokenLeeway time.Duration
}

func defaultOptions() options {
	return options{
		logger:      slog.New(slog.DiscardHandler),
		timeout:     30 * time.Second,
		maxAttempts: 5,
		baseBackoff: 100 * time.Millisecond,
		maxBackoff:  5 * time.Second,
		tokenLeeway: 30 * time.Second,
	}
}

// WithHTTPClient replaces the client's own HTTP client, whose transport keeps
// up to 64 idle connections per host. The given client's Timeout is left
// alone; WithTimeout still bounds each attempt.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// WithRetry sets the retry policy: at most maxAttempts tries per call
// (1 disables retries), with exponential backoff starting at base and capped
// at maxDelay, with full jitter. A server's Retry-After overrides the backoff
// when longer. Defaults: 5 attempts, 100ms, 5s.
func WithRetry(maxAttempts int, base, maxDelay time.Duration) Option {
	return func(o *options) {
		if maxAttempts < 1 {
			maxAttempts = 1
		}
		o.maxAttempts, o.baseBackoff, o.maxBackoff = maxAttempts, base, maxDelay
	}
}

// WithLogger sets the logger for retries and token refreshes (debug and
// warn levels). It never receives a credential. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithTimeout bounds a single HTTP attempt (connect, send, read the whole
// response). The caller's context bounds the call with all its retries.
// Default 30s.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithTokenLeeway makes the client refresh a token this long before the
// server says it expires, so a request never leaves with a token about to
// lapse. Default 30s; it is capped at half the token's lifetime.
func WithTokenLeeway(d time.Duration) Option {
	return func(o *options) { o.tokenLeeway = d }
}

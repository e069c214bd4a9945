package pandaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// API paths, relative to Config.BaseURL.
const (
	accountsPath  = "/rest/platform/accounts/v1/accounts"
	operatorsPath = "/rest/platform/operator-mgmt/v1"
	userAgent     = "cloudbss-provisioning-panda/1"
	// maxResponseBytes bounds what the client reads of an answer.
	maxResponseBytes = 4 << 20
)

// Client talks to the Panda API. It is safe for concurrent use; share one per
// remote system so connections, the token and the pacer are shared.
type Client struct {
	cfg    Config
	opts   options
	hc     *http.Client
	tokens *tokenSource
	pacer  pacer
}

// New returns a client for cfg. It does not contact the server; call
// [Client.Authenticate] to check the credentials.
func New(cfg Config, opts ...Option) (*Client, error) {
	var missing []string
	for name, v := range map[string]string{"BaseURL": cfg.BaseURL, "AccessID": cfg.AccessID, "Password": cfg.Password, "APIKey": cfg.APIKey} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("panda: config is missing %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("panda: BaseURL %q must be an absolute http or https URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{cfg: cfg, opts: o, hc: o.httpClient}
	if c.hc == nil {
		c.hc = &http.Client{Transport: newTransport()}
	}
	c.tokens = &tokenSource{c: c}
	return c, nil
}

// newTransport is http.DefaultTransport with enough idle connections per
// host for a few dozen concurrent calls, so they reuse connections instead
// of opening new ones (and exhausting ephemeral ports) under load.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 128
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	return t
}

// Authenticate obtains a token, or reuses the cached one while it is fresh,
// retrying transient failures. It proves the access id and password; the
// API key is only checked by the first API call.
func (c *Client) Authenticate(ctx context.Context) error {
	var last error
	for attempt := 1; attempt <= c.opts.maxAttempts; attempt++ {
		if attempt > 1 {
			if err := c.backoff(ctx, attempt-1, last); err != nil {
				return last
			}
		}
		_, err := c.tokens.get(ctx)
		if err == nil || !IsRetryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return &Error{Op: "Authenticate", Kind: ErrUnavailable, Message: "gave up: " + ctx.Err().Error(), Err: ctx.Err()}
		}
		last = err
	}
	return last
}

// GetAccount implements [API].
func (c *Client) GetAccount(ctx context.Context, id string) (*Account, error) {
	if id == "" {
		return nil, &Error{Op: "GetAccount", Kind: ErrInvalid, Message: "empty account id"}
	}
	var out Account
	err := c.do(ctx, call{op: "GetAccount", method: http.MethodGet, path: accountsPath + "/" + url.PathEscape(id), idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListChildren implements [API].
func (c *Client) ListChildren(ctx context.Context, parentID string, opts ListChildrenOptions) (*AccountPage, error) {
	if parentID == "" {
		return nil, &Error{Op: "ListChildren", Kind: ErrInvalid, Message: "empty parent id"}
	}
	q := url.Values{}
	if opts.Name != "" {
		q.Set("name", opts.Name)
	}
	if opts.Type != 0 {
		q.Set("type", strconv.Itoa(int(opts.Type)))
	}
	if opts.Offset > 0 {
		q.Set("offset", strconv.Itoa(opts.Offset))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var out AccountPage
	err := c.do(ctx, call{op: "ListChildren", method: http.MethodGet, path: accountsPath + "/" + url.PathEscape(parentID) + "/children", query: q, idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateAccount implements [API]. It is never resent once the request may
// have reached the server: on a 5xx or a lost answer it returns an
// ErrUnavailable [*Error] with MayHaveCommitted set.
func (c *Client) CreateAccount(ctx context.Context, parentID string, req CreateAccountRequest) (*Account, error) {
	if parentID == "" {
		return nil, &Error{Op: "CreateAccount", Kind: ErrInvalid, Message: "empty parent id"}
	}
	var out Account
	err := c.do(ctx, call{op: "CreateAccount", method: http.MethodPost, path: accountsPath + "/" + url.PathEscape(parentID), body: req, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAccount implements [API]. A DELETE is safe to resend; when a resend
// finds the account gone after an attempt whose answer was lost, the first
// attempt did the work and DeleteAccount returns nil.
func (c *Client) DeleteAccount(ctx context.Context, id string) error {
	if id == "" {
		return &Error{Op: "DeleteAccount", Kind: ErrInvalid, Message: "empty account id"}
	}
	return c.do(ctx, call{op: "DeleteAccount", method: http.MethodDelete, path: accountsPath + "/" + url.PathEscape(id), idempotent: true})
}

// CreateOperator implements [API]. Like CreateAccount it is never resent
// once the request may have reached the server.
func (c *Client) CreateOperator(ctx context.Context, req CreateOperatorRequest) (*Transaction, error) {
	var out Transaction
	err := c.do(ctx, call{op: "CreateOperator", method: http.MethodPost, path: operatorsPath + "/operators", body: req, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetTransaction implements [API].
func (c *Client) GetTransaction(ctx context.Context, transactionID string) (*Transaction, error) {
	if transactionID == "" {
		return nil, &Error{Op: "GetTransaction", Kind: ErrInvalid, Message: "empty transaction id"}
	}
	var out Transaction
	err := c.do(ctx, call{op: "GetTransaction", method: http.MethodGet, path: operatorsPath + "/TransactionStatus", query: url.Values{"transaction_id": {transactionID}}, idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetOperator implements [API].
func (c *Client) GetOperator(ctx context.Context, username string) (*Operator, error) {
	if username == "" {
		return nil, &Error{Op: "GetOperator", Kind: ErrInvalid, Message: "empty username"}
	}
	var out Operator
	err := c.do(ctx, call{op: "GetOperator", method: http.MethodGet, path: operatorsPath + "/operators/" + url.PathEscape(username), idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListOperators implements [API].
func (c *Client) ListOperators(ctx context.Context, accountID string) ([]Operator, error) {
	if accountID == "" {
		return nil, &Error{Op: "ListOperators", Kind: ErrInvalid, Message: "empty account id"}
	}
	var out struct {
		Data []Operator `json:"data"`
	}
	err := c.do(ctx, call{op: "ListOperators", method: http.MethodGet, path: operatorsPath + "/operators", query: url.Values{"accountId": {accountID}}, idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return out.Data, nil
}

// call describes one API request.
type call struct {
	op, method, path string
	query            url.Values
	body             any // JSON-encoded when non-nil
	out              any // decoded from a 2xx body when non-nil
	// idempotent says the request may be resent even if an earlier copy
	// reached the server. False for the creates.
	idempotent bool
}

// do sends the call, retrying what is safe to retry, within ctx and the
// retry budget.
func (c *Client) do(ctx context.Context, cl call) error {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return &Error{Op: cl.op, Kind: ErrInvalid, Message: "encode request: " + err.Error()}
		}
	}
	target := c.cfg.BaseURL + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var (
		last      *Error
		ambiguous bool // an earlier attempt may have been applied
		reauthed  bool
		noWait    bool // retry at once: a fresh token is all it takes
		waited    int  // 429s not charged to the budget: the request waited its turn
		waitedOwn bool // it waited out a Retry-After of its own
	)
	for attempt := 1; attempt <= c.opts.maxAttempts; attempt++ {
		// After a 429 the wait is done (the pacer's, or the 429's own
		// Retry-After); otherwise back off.
		if last != nil && last.Kind != ErrRateLimited && !noWait {
			if c.backoff(ctx, attempt-1, last) != nil {
				return last
			}
		}
		t, err := c.pacer.wait(ctx)
		if err != nil {
			return c.abandoned(cl.op, err, last, false)
		}
		tok, err := c.tokens.get(ctx)
		if err != nil {
			c.pacer.handBack(t)
			if ctx.Err() != nil {
				return c.abandoned(cl.op, ctx.Err(), last, false)
			}
			var pe *Error
			if errors.As(err, &pe) && pe.Retryable() {
				last = pe
				continue
			}
			return err
		}
		noWait = false
		status, hdr, body, err := c.send(ctx, cl.method, target, payload, tok)
		if err != nil {
			reached := !beforeSend(err)
			if reached {
				c.pacer.lost()
			} else {
				c.pacer.handBack(t)
			}
			if ctx.Err() != nil {
				return c.abandoned(cl.op, ctx.Err(), last, reached && !cl.idempotent)
			}
			pe := &Error{Op: cl.op, Kind: ErrUnavailable, Message: c.redact(err.Error()), Err: err}
			if reached && !cl.idempotent {
				pe.MayHaveCommitted = true
				return pe
			}
			ambiguous = ambiguous || reached
			last = pe
			c.logRetry(cl, attempt, 0, err)
			continue
		}
		if status != http.StatusTooManyRequests {
			if rate := c.pacer.answered(t, hdr); rate > 0 {
				c.logStated(rate, hdr)
			}
		}
		switch {
		case status >= 200 && status < 300:
			if cl.out == nil || len(body) == 0 {
				return nil
			}
			if err := json.Unmarshal(body, cl.out); err != nil {
				return &Error{Op: cl.op, StatusCode: status, Kind: ErrUnavailable, Message: "undecodable answer: " + c.redact(err.Error())}
			}
			return nil
		case status == http.StatusUnauthorized && !reauthed:
			// The token was refused before its announced expiry: fetch a
			// new one and try once more, without spending an attempt.
			c.tokens.invalidate(tok)
			reauthed, noWait = true, true
			attempt--
			last = c.statusError(cl.op, status, hdr, body)
			continue
		case status == http.StatusTooManyRequests:
			last = c.statusError(cl.op, status, hdr, body)
			charged, wait, cut, learned := c.pacer.refused(t, hdr, last.RetryAfter, waitedOwn)
			if learned > 0 {
				c.logStated(learned, hdr)
			}
			if cut > 0 {
				c.opts.logger.Warn("panda: rate limited; pacing requests", "op", cl.op, "retry_after", last.RetryAfter, "rate_per_s", cut)
			}
			if !charged && waited < maxWaitedRefusals {
				// Refused under a pacing since corrected: it waits its
				// turn again, at no cost to its budget.
				waited++
				attempt--
			}
			if attempt >= c.opts.maxAttempts {
				return last
			}
			if wait > 0 {
				// When the caller's deadline comes first, say rate limited
				// rather than wait for a deadline error.
				if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
					return last
				}
				c.opts.logger.Debug("panda: rate limited; retrying this request after Retry-After", "op", cl.op, "attempt", attempt, "charged", charged, "retry_after", wait)
				if err := sleep(ctx, wait); err != nil {
					return c.abandoned(cl.op, err, last, false)
				}
				waitedOwn = true
			}
			continue
		case status == http.StatusNotFound && cl.method == http.MethodDelete && ambiguous:
			return nil
		case status >= 500:
			last = c.statusError(cl.op, status, hdr, body)
			if !cl.idempotent {
				last.MayHaveCommitted = true
				return last
			}
			ambiguous = true
			c.logRetry(cl, attempt, status, nil)
			continue
		default:
			return c.statusError(cl.op, status, hdr, body)
		}
	}
	return last
}

// maxWaitedRefusals bounds the 429s a request may get for free (see
// [pacer]): past it, each 429 is charged, so a server whose statements the
// pacer cannot follow still ends the call.
const maxWaitedRefusals = 20

// logStated logs the rate limit a server states, once per statement.
func (c *Client) logStated(rate float64, hdr http.Header) {
	c.opts.logger.Info("panda: the server states a rate limit; pacing requests to it",
		"rate_per_s", rate, "burst", hdr.Get("RateLimit-Limit"), "policy", hdr.Get("RateLimit-Policy"))
}

func (c *Client) logRetry(cl call, attempt, status int, err error) {
	if !c.opts.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []any{"op", cl.op, "method", cl.method, "attempt", attempt}
	if status != 0 {
		attrs = append(attrs, "status", status)
	}
	if err != nil {
		attrs = append(attrs, "err", c.redact(err.Error()))
	}
	c.opts.logger.Debug("panda: retryable failure", attrs...)
}

// abandoned is the error when the caller's context ends the call.
func (c *Client) abandoned(op string, ctxErr error, last *Error, mayHaveCommitted bool) error {
	if last != nil && !mayHaveCommitted {
		e := *last
		e.Err = errors.Join(last.Err, ctxErr)
		e.Message += " (then gave up: " + ctxErr.Error() + ")"
		return &e
	}
	return &Error{Op: op, Kind: ErrUnavailable, Message: "gave up: " + ctxErr.Error(), Err: ctxErr, MayHaveCommitted: mayHaveCommitted}
}

// backoff sleeps before retry n (1-based): full jitter over an exponential
// ceiling, or the server's Retry-After when longer. It returns an error
// without sleeping when ctx would end first, since the retry could not
// complete anyway.
func (c *Client) backoff(ctx context.Context, n int, last error) error {
	ceiling := c.opts.baseBackoff << min(n-1, 30)
	if ceiling <= 0 || ceiling > c.opts.maxBackoff {
		ceiling = c.opts.maxBackoff
	}
	var d time.Duration
	if ceiling > 0 {
		d = rand.N(ceiling + 1)
	}
	var pe *Error
	if errors.As(last, &pe) && pe.RetryAfter > d {
		d = pe.RetryAfter
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	return sleep(ctx, d)
}

// send makes one attempt and reads the whole answer.
func (c *Client) send(ctx context.Context, method, target string, payload []byte, token string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		// A bytes.Reader gives the request a GetBody, so the transport
		// may resend it on a stale keep-alive connection when nothing was
		// written yet.
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("WatchGuard-API-Key", c.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.roundTrip(req)
}

func (c *Client) roundTrip(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		// The status arrived but the body was cut: as good as no answer.
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// beforeSend reports whether err happened before any byte of the request
// could reach the server (the dial failed), so resending is always safe.
func beforeSend(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// statusError builds the error for a non-2xx answer.
func (c *Client) statusError(op string, status int, hdr http.Header, body []byte) *Error {
	e := &Error{Op: op, StatusCode: status, Kind: kindForStatus(status)}
	var eb struct {
		Error json.RawMessage `json:"error"`
		Desc  string          `json:"error_description"`
	}
	if json.Unmarshal(body, &eb) == nil && len(eb.Error) > 0 {
		var d struct{ Code, Message string }
		if json.Unmarshal(eb.Error, &d) == nil {
			e.Code, e.Message = d.Code, d.Message
		} else if json.Unmarshal(eb.Error, &e.Code) == nil {
			e.Message = eb.Desc // RFC 6749 style {"error": "...", "error_description": "..."}
		}
	}
	if e.Code == "" && e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
	}
	// Redact before cutting: a cut through a secret would leave its start.
	e.Message = clip(c.redact(e.Message), 200)
	if ra := hdr.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.RetryAfter = max(0, time.Until(t))
		}
	}
	return e
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// redact removes the password, the API key and the current token from s.
// The access id is an identifier, not a secret, and stays.
func (c *Client) redact(s string) string {
	for _, secret := range []string{c.cfg.Password, c.cfg.APIKey, c.tokens.current()} {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
}

package pandaapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// tokenSource obtains and caches the OAuth2 client-credentials token. It
// is hand-written rather than golang.org/x/oauth2/clientcredentials because
// the client must be able to drop a token the server refused (401), must
// classify token failures like every other failure, and must keep the
// token endpoint's answers out of error messages verbatim.
type tokenSource struct {
	c  *Client
	sf singleflight.Group

	mu        sync.Mutex
	token     string
	refreshAt time.Time
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// get returns a token that is not about to expire, fetching one if needed.
// Concurrent callers share one fetch.
func (ts *tokenSource) get(ctx context.Context) (string, error) {
	ts.mu.Lock()
	tok, fresh := ts.token, time.Now().Before(ts.refreshAt)
	ts.mu.Unlock()
	if tok != "" && fresh {
		return tok, nil
	}
	// The fetch outlives a caller that gives up, so the others sharing it
	// are not failed by someone else's cancellation; the attempt timeout
	// still bounds it.
	ch := ts.sf.DoChan("token", func() (any, error) {
		return ts.fetch(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// current returns the cached token, for redaction.
func (ts *tokenSource) current() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.token
}

// invalidate drops tok if it is still the cached token: the server refused
// it before its announced expiry (revoked, or the server restarted).
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	if ts.token == tok {
		ts.token, ts.refreshAt = "", time.Time{}
	}
	ts.mu.Unlock()
}

func (ts *tokenSource) fetch(ctx context.Context) (string, error) {
	const op = "Authenticate"
	c := ts.c
	ctx, cancel := context.WithTimeout(ctx, c.opts.timeout)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api-access"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", &Error{Op: op, Kind: ErrInvalid, Message: c.redact(err.Error())}
	}
	req.SetBasicAuth(c.cfg.AccessID, c.cfg.Password)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	start := time.Now()
	status, hdr, body, err := c.roundTrip(req)
	if err != nil {
		// Asking for a token twice is harmless, so a token fetch is
		// always safe to retry.
		return "", &Error{Op: op, Kind: ErrUnavailable, Message: c.redact(err.Error()), Err: err}
	}
	if status != http.StatusOK {
		return "", c.statusError(op, status, hdr, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", &Error{Op: op, StatusCode: status, Kind: ErrUnavailable, Message: "token endpoint answered without an access_token"}
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		// Not echoed: a misbehaving server may put anything there.
		return "", &Error{Op: op, StatusCode: status, Kind: ErrUnavailable, Message: "token endpoint answered a token_type other than Bearer"}
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Minute // no expiry announced: refresh soon, to be safe
	}
	// Measure from the start of the request: the server started the
	// clock before we got the answer.
	ts.mu.Lock()
	ts.token, ts.refreshAt = tr.AccessToken, start.Add(life-min(c.opts.tokenLeeway, life/2))
	ts.mu.Unlock()
	c.opts.logger.Debug("panda: access token obtained", "expires_in", life)
	return tr.AccessToken, nil
}

package pandaapi_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	_, url := newSim(t)
	tests := map[string]struct {
		mutate   func(*pandaapi.Config)
		wantKind string // of Authenticate
		wantAPI  string // of a following GetAccount
	}{
		"good":           {mutate: func(*pandaapi.Config) {}},
		"wrong password": {mutate: func(c *pandaapi.Config) { c.Password = "not-it" }, wantKind: "unauthorized", wantAPI: "unauthorized"},
		"wrong id":       {mutate: func(c *pandaapi.Config) { c.AccessID = "someone" }, wantKind: "unauthorized", wantAPI: "unauthorized"},
		// The API key is not part of the token grant; the first API call
		// is refused with 403.
		"wrong api key": {mutate: func(c *pandaapi.Config) { c.APIKey = "wrong-key" }, wantAPI: "unauthorized"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := demoConfig(url)
			tc.mutate(&cfg)
			c, err := pandaapi.New(cfg, pandaapi.WithRetry(3, time.Millisecond, time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Authenticate(ctxT(t))
			if got := kindOf(err); got != tc.wantKind {
				t.Errorf("Authenticate kind = %q (%v), want %q", got, err, tc.wantKind)
			}
			if pandaapi.IsRetryable(err) {
				t.Errorf("Authenticate error %v is retryable; bad credentials never are", err)
			}
			_, err = c.GetAccount(ctxT(t), root)
			if got := kindOf(err); got != tc.wantAPI {
				t.Errorf("GetAccount kind = %q (%v), want %q", got, err, tc.wantAPI)
			}
		})
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]pandaapi.Config{
		"empty":      {},
		"no key":     {BaseURL: "http://127.0.0.1:1", AccessID: "a", Password: "p"},
		"bad scheme": {BaseURL: "ftp://x", AccessID: "a", Password: "p", APIKey: "k"},
	} {
		if _, err := pandaapi.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// The client refreshes its token before the announced expiry, so no call
// ever presents an expired token.
func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	sim, url := newSim(t, pandasim.WithTokenTTL(time.Second))
	c := newClient(t, url) // leeway is capped at half the lifetime: refresh after 0.5s
	ctx := ctxT(t)
	for range 3 {
		if _, err := c.GetAccount(ctx, root); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := c.GetAccount(ctx, root); err != nil {
		t.Fatal(err)
	}
	st := sim.Stats()
	if st.TokensIssued != 2 || st.ByStatus["401"] != 0 {
		t.Errorf("tokens issued = %d, 401s = %d; want 2 and 0", st.TokensIssued, st.ByStatus["401"])
	}
}

// The simulator really expires tokens: a token older than its TTL is 401.
func TestSimulatorExpiresTokens(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	sim, url := newSim(t, pandasim.WithTokenTTL(time.Hour), pandasim.WithClock(now))
	// A leeway of zero makes the client trust the token until the
	// announced expiry, which is in real time, so only the server sees
	// it expire.
	c := newClient(t, url, pandaapi.WithTokenLeeway(0))
	ctx := ctxT(t)
	if _, err := c.GetAccount(ctx, root); err != nil {
		t.Fatal(err)
	}
	advance(time.Hour)
	// The server says 401 TOKEN_EXPIRED; the client fetches a new token
	// once and succeeds.
	if _, err := c.GetAccount(ctx, root); err != nil {
		t.Fatal(err)
	}
	st := sim.Stats()
	if st.TokensIssued != 2 || st.ByStatus["401"] != 1 {
		t.Errorf("tokens issued = %d, 401s = %d; want 2 and 1", st.TokensIssued, st.ByStatus["401"])
	}
}

// A token revoked early is refetched once on 401, and a create is not
// duplicated by that retry (the 401 proves nothing was written).
func TestRefetchOn401(t *testing.T) {
	t.Parallel()
	sim, url := newSim(t)
	c := newClient(t, url, pandaapi.WithRetry(1, 0, 0)) // the re-auth retry is free
	ctx := ctxT(t)
	if err := c.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	sim.RevokeTokens()
	a, err := c.CreateAccount(ctx, root, pandaapi.CreateAccountRequest{Type: 2, Name: "after-revoke", Email: "a@b.c"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sim.Snapshot().Accounts); n != 2 {
		t.Errorf("accounts = %d, want root and %s", n, a.ID)
	}
}

package pandaapi_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tokenLike matches the simulator's access tokens (48 hex digits).
var tokenLike = regexp.MustCompile(`[0-9a-f]{48}`)

// Drive the client and the simulator through every path that logs or
// returns an error: nothing secret appears in either log or in any error.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	const (
		accessID = "sekrit-access-id"
		password = "sekrit-password-1"
		apiKey   = "sekrit-api-key-2"
	)
	var simLog, clientLog syncBuffer
	sim, url := newSim(t,
		pandasim.WithCredentials(accessID, password, apiKey),
		pandasim.WithLogger(slog.New(slog.NewJSONHandler(&simLog, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		pandasim.WithFaults(pandasim.Faults{ErrorRate: 0.3, CommitThenFailRate: 0.3, CommitThenFailMode: pandasim.CommitThenFailMixed}),
	)
	logger := slog.New(slog.NewTextHandler(&clientLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := pandaapi.Config{BaseURL: url, AccessID: accessID, Password: password, APIKey: apiKey}
	c, err := pandaapi.New(cfg, pandaapi.WithLogger(logger), pandaapi.WithRetry(5, time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	var errs []error
	for i := range 30 {
		_, err := c.CreateAccount(ctx, root, pandaapi.CreateAccountRequest{Type: 2, Name: "n", Email: "e@x.y"})
		errs = append(errs, err)
		_, err = c.GetAccount(ctx, root)
		errs = append(errs, err)
		if i == 10 {
			sim.RevokeTokens()
		}
	}
	// Rate limited, with a warning logged. One request a second: the second
	// call is limited however slowly this machine runs it (Retry-After 1s).
	if err := sim.SetFaults(pandasim.Faults{RateLimit: 1, RateBurst: 1}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := c.GetAccount(ctx, root)
		errs = append(errs, err)
	}
	// Wrong password and wrong key.
	for _, bad := range []pandaapi.Config{
		{BaseURL: url, AccessID: accessID, Password: password + "x", APIKey: apiKey},
		{BaseURL: url, AccessID: accessID, Password: password, APIKey: apiKey + "x"},
	} {
		bc, _ := pandaapi.New(bad, pandaapi.WithLogger(logger))
		_, err := bc.GetAccount(ctx, root)
		errs = append(errs, err)
	}

	var failures int
	for _, e := range errs {
		if e != nil {
			failures++
			check(t, "error", e.Error(), password, apiKey)
		}
	}
	if failures == 0 {
		t.Error("no call failed; the test exercised no error path")
	}
	check(t, "client log", clientLog.String(), password, apiKey)
	check(t, "simulator log", simLog.String(), password, apiKey, accessID)
	if !strings.Contains(simLog.String(), `"status":429`) || !strings.Contains(clientLog.String(), "rate limited") {
		t.Errorf("logs lack the rate-limit path:\n%s", clientLog.String())
	}
}

func check(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s contains the secret %q:\n%s", what, sec, s)
		}
	}
	if m := tokenLike.FindString(s); m != "" {
		t.Errorf("%s contains a token-like string %q", what, m)
	}
}

// A server that echoes secrets in its error messages: the client strips
// them.
func TestRemoteMessageRedacted(t *testing.T) {
	t.Parallel()
	cfg := demoConfig("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"tok-abcdef-123456","token_type":"Bearer","expires_in":3600}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":"BAD","message":"you sent key ` + cfg.APIKey + ` and token tok-abcdef-123456 with password ` + cfg.Password + `"}}`))
	}))
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	c, err := pandaapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAccount(context.Background(), root)
	var pe *pandaapi.Error
	if !errors.As(err, &pe) || pe.Code != "BAD" || !errors.Is(err, pandaapi.ErrInvalid) {
		t.Fatalf("err = %#v", err)
	}
	for _, sec := range []string{cfg.APIKey, cfg.Password, "tok-abcdef-123456"} {
		if strings.Contains(err.Error(), sec) {
			t.Errorf("error %q leaks %q", err, sec)
		}
	}
	if !strings.Contains(err.Error(), "you sent key [REDACTED]") {
		t.Errorf("error %q lost the rest of the message", err)
	}
}

package pandaapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

const (
	createAccountRoute = "POST " + pandasim.AccountsPrefix + "/{parentId}"
	getAccountRoute    = "GET " + pandasim.AccountsPrefix + "/{id}"
)

// Reads are retried through injected 5xx answers.
func TestServerErrorsRetried(t *testing.T) {
	t.Parallel()
	sim, url := newSim(t, pandasim.WithSeed(7), pandasim.WithFaults(pandasim.Faults{ErrorRate: 0.5}))
	c := newClient(t, url, pandaapi.WithRetry(12, time.Millisecond, 5*time.Millisecond))
	for range 20 {
		if _, err := c.GetAccount(ctxT(t), root); err != nil {
			t.Fatalf("GetAccount through 50%% errors: %v", err)
		}
	}
	st := sim.Stats()
	if st.InjectedErrors == 0 || st.ByRoute[getAccountRoute] != 20+st.InjectedErrors {
		t.Errorf("stats = %+v; want some injected errors, each retried once", st)
	}
}

// A create answered 5xx is not resent: the error is retryable and says the
// write may exist.
func TestCreateNotResentAfter5xx(t *testing.T) {
	t.Parallel()
	sim, url := newSim(t, pandasim.WithFaults(pandasim.Faults{ErrorRate: 1}))
	c := newClient(t, url)
	_, err := c.CreateAccount(ctxT(t), root, pandaapi.CreateAccountRequest{Type: 2, Name: "x", Email: "x@y.z"})
	var pe *pandaapi.Error
	if !errors.As(err, &pe) || !errors.Is(err, pandaapi.ErrUnavailable) || !pe.Retryable() || !pe.MayHaveCommitted || pe.StatusCode != 503 {
		t.Fatalf("err = %#v; want a retryable 503 ErrUnavailable with MayHaveCommitted", err)
	}
	if n := sim.Stats().ByRoute[createAccountRoute]; n != 1 {
		t.Errorf("create sent %d times, want 1", n)
	}
}

// Commit-then-fail: the write is applied, the answer lost. The client
// surfaces a retryable error and does not resend; the write is in the
// simulator's state.
func TestCommitThenFail(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{pandasim.CommitThenFailStatus, pandasim.CommitThenFailCut} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			sim, url := newSim(t, pandasim.WithFaults(pandasim.Faults{CommitThenFailRate: 1, CommitThenFailMode: mode}))
			c := newClient(t, url)
			ctx := ctxT(t)
			_, err := c.CreateAccount(ctx, root, pandaapi.CreateAccountRequest{Type: 2, Name: "lost-answer", Email: "x@y.z"})
			var pe *pandaapi.Error
			if !errors.As(err, &pe) || !pandaapi.IsRetryable(err) || !pe.MayHaveCommitted || !errors.Is(err, pandaapi.ErrUnavailable) {
				t.Fatalf("CreateAccount err = %#v; want retryable ErrUnavailable, MayHaveCommitted", err)
			}
			state := simState(t, url)
			if len(state.Accounts) != 2 || state.Accounts[1].Name != "lost-answer" {
				t.Fatalf("state accounts = %+v; want the write applied once", state.Accounts)
			}
			if n := sim.Stats().ByRoute[createAccountRoute]; n != 1 {
				t.Errorf("create sent %d times, want 1", n)
			}
			// Find prior work, as the adapter will.
			page, err := c.ListChildren(ctx, root, pandaapi.ListChildrenOptions{Name: "lost-answer"})
			if err != nil || page.Total != 1 {
				t.Fatalf("ListChildren = %+v, %v", page, err)
			}

			_, err = c.CreateOperator(ctx, pandaapi.CreateOperatorRequest{Username: "lost.op", AccountID: page.Accounts[0].ID, Email: "o@y.z", Role: pandaapi.RoleAdministrator})
			if !errors.As(err, &pe) || !pe.MayHaveCommitted {
				t.Fatalf("CreateOperator err = %v; want MayHaveCommitted", err)
			}
			if op, err := c.GetOperator(ctx, "lost.op"); err != nil || op.AccountID != page.Accounts[0].ID {
				t.Fatalf("operator after lost answer = %+v, %v", op, err)
			}

			// A DELETE is resent; finding the account gone proves the
			// lost attempt worked.
			if err := c.DeleteAccount(ctx, page.Accounts[0].ID); err != nil {
				t.Fatalf("DeleteAccount through commit-then-fail: %v", err)
			}
			if n := len(simState(t, url).Accounts); n != 1 {
				t.Errorf("accounts after delete = %d, want 1", n)
			}
		})
	}
}

// A refused connection happens before anything is sent, so even a create
// is retried; once the budget is spent the error is retryable and says
// nothing was written.
func TestConnectionRefusedRetried(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, "http://"+addr, pandaapi.WithRetry(3, time.Millisecond, time.Millisecond))
	_, err = c.CreateAccount(ctxT(t), root, pandaapi.CreateAccountRequest{Type: 2, Name: "x", Email: "x@y.z"})
	var pe *pandaapi.Error
	if !errors.As(err, &pe) || !pe.Retryable() || pe.MayHaveCommitted {
		t.Fatalf("err = %#v; want retryable, not MayHaveCommitted", err)
	}
}

// The caller's deadline bounds the call, retries included.
func TestContextBoundsTheCall(t *testing.T) {
	t.Parallel()
	_, url := newSim(t, pandasim.WithFaults(pandasim.Faults{Latency: pandasim.Duration(time.Second)}))
	c := newClient(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetAccount(ctx, root)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 900*time.Millisecond {
		t.Fatalf("err = %v after %v; want DeadlineExceeded quickly", err, time.Since(start))
	}
}

// A server that states its limit (pandasim's RateLimit-* headers) is not
// sent the request it would refuse: the client waits for the token instead.
func TestStatedLimitWaitedFor(t *testing.T) {
	t.Parallel()
	sim, url := newSim(t, pandasim.WithFaults(pandasim.Faults{RateLimit: 1, RateBurst: 1}))
	c := newClient(t, url)
	ctx := ctxT(t)
	if _, err := c.GetAccount(ctx, root); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.GetAccount(ctx, root); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("second call took %v; the server stated one request a second", el)
	}
	if st := sim.Stats(); st.RateLimited != 0 {
		t.Errorf("429s = %d, want none: the limit was stated", st.RateLimited)
	}
}

// limitedOnce answers the first API request 429 with Retry-After: 1 and no
// RateLimit-* headers, then hands everything to next.
func limitedOnce(next http.Handler) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused := false
		if strings.HasPrefix(r.URL.Path, "/rest/") {
			once.Do(func() { refused = true })
		}
		if refused {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// A 429 from a server that states nothing else is waited out for its
// Retry-After, then the call succeeds.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	sim, err := pandasim.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(limitedOnce(sim))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	start := time.Now()
	if _, err := c.GetAccount(ctxT(t), root); err != nil {
		t.Fatal(err)
	}
	// The client must not come back sooner, or it gets another 429.
	if el := time.Since(start); el < time.Second {
		t.Errorf("call took %v; Retry-After was 1s", el)
	}
	if n := sim.Stats().APIRequests; n != 1 {
		t.Errorf("simulator saw %d requests after the 429, want 1", n)
	}
}

// A request refused while the pacer had not yet slowed down for the limit
// waits its turn and is not charged: with a budget of one attempt, a first
// wave of 16 against a bucket of 4 all get through. (A bucket of 4, not 1:
// a request sent a few ms late leaves the server's full bucket refilling
// into its cap, which a bucket of one cannot absorb.)
func TestWaitingTurnNotCharged(t *testing.T) {
	t.Parallel()
	sim, url := newSim(t, pandasim.WithFaults(pandasim.Faults{RateLimit: 50, RateBurst: 4}))
	c := newClient(t, url, pandaapi.WithRetry(1, time.Millisecond, 5*time.Millisecond))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := c.GetAccount(ctxT(t), root); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st := sim.Stats(); st.RateLimited == 0 {
		t.Errorf("no 429: the test did not make the first wave overrun the bucket")
	}
}

// A server that refuses every request, though the pacer follows what it
// states, uses up the budget: ErrRateLimited after maxAttempts requests sent
// under its statement.
func TestKeepsRefusingExhaustsBudget(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"t0k3n-value","token_type":"Bearer","expires_in":3600}`))
			return
		}
		n.Add(1)
		w.Header().Set("RateLimit-Policy", "1000;w=1")
		w.Header().Set("RateLimit-Limit", "10")
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", "1")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, pandaapi.WithRetry(4, time.Millisecond, 5*time.Millisecond))
	_, err := c.GetAccount(ctxT(t), root)
	if !errors.Is(err, pandaapi.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	// The first request went out before the client knew of a limit.
	if got := n.Load(); got != 5 {
		t.Errorf("%d requests, want 5 (the blind first, then the budget)", got)
	}
}

// Many goroutines against a rate limit: the pacer keeps the 429s few and
// every call succeeds.
func TestPacerAvoids429Storm(t *testing.T) {
	t.Parallel()
	const rate, workers, perWorker = 100, 16, 10
	sim, url := newSim(t, pandasim.WithFaults(pandasim.Faults{RateLimit: rate}))
	c := newClient(t, url, pandaapi.WithRetry(10, time.Millisecond, 50*time.Millisecond))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if _, err := c.GetAccount(ctxT(t), root); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := sim.Stats()
	t.Logf("%d calls, %d requests, %d answered 429", workers*perWorker, st.APIRequests, st.RateLimited)
	// pandasim states its limit: the first wave fits the bucket and the
	// pacer keeps to the rate from the first answer on.
	if st.RateLimited > 2 {
		t.Errorf("%d 429s for %d calls; the pacer should keep them few", st.RateLimited, workers*perWorker)
	}
}

// A server that answers every request 429 with Retry-After and states
// nothing else: the request waits each Retry-After out and, once it has
// waited one itself, is charged for every further refusal.
func TestRetryAfterOnlyExhaustsBudget(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"t0k3n-value","token_type":"Bearer","expires_in":3600}`))
			return
		}
		n.Add(1)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, pandaapi.WithRetry(2, time.Millisecond, 5*time.Millisecond))
	_, err := c.GetAccount(ctxT(t), root)
	if !errors.Is(err, pandaapi.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("%d requests, want 3 (the blind first, then the budget)", got)
	}
}

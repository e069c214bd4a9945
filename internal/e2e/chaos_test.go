package e2e_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

// chaosFaults are the simulator's faults of the chaos run: 10% of API
// requests answered 503, 5% of the applied writes answered 500 or cut
// (commit-then-fail).
var chaosFaults = pandasim.Faults{ErrorRate: 0.10, CommitThenFailRate: 0.05, CommitThenFailMode: pandasim.CommitThenFailMixed}

// withRateLimit adds pandasim's rate limit (CHAOS_RATE requests/s, burst as
// large; default 0: none), for 429s that come from a quota the batch
// exceeds rather than at random.
func withRateLimit(t *testing.T, f pandasim.Faults) pandasim.Faults {
	f.RateLimit = float64(envInt(t, "CHAOS_RATE", 0))
	return f
}

// inject429 is the fraction of API requests the FaultProxy answers 429 at
// random (CHAOS_429, default 0.05).
func inject429(t *testing.T) float64 {
	v := os.Getenv("CHAOS_429")
	if v == "" {
		return 0.05
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		t.Fatalf("CHAOS_429=%q: want a fraction", v)
	}
	return f
}

// maxPasses bounds the batch re-runs: a pass may leave retryable failures
// (UNAVAILABLE after the retry budget, a call cut by a kill), and running
// the batch again is what an operator does.
const maxPasses = 8

func seed(t *testing.T) uint64 {
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", v, err)
		}
		return s
	}
	s := uint64(time.Now().UnixNano())
	t.Logf("CHAOS_SEED=%d", s)
	return s
}

// population is about n accounts: resellers with 9 end customers each, plus
// direct customers for the rest.
func population(prefix string, n int) loadtest.Hierarchy {
	r := n / 10
	return loadtest.Hierarchy{Prefix: prefix, Resellers: r, PerReseller: 9, Direct: n - r*10}
}

// TestChaosPluginKilledUnderFaults: a batch runs while pandasim fails 10% of
// API requests with 503 and loses the answer of 5% of its writes, a proxy
// in front of it answers 5% of them 429, and the plugin process is SIGKILLed several times at random
// moments. Afterwards every account is in Panda exactly once under the right
// parent, and the host's store agrees with Panda. Every log line of the run
// (daemon and bridged plugin logs at debug, pandasim's request log, provctl's
// output) is then searched for the configured secrets.
func TestChaosPluginKilledUnderFaults(t *testing.T) {
	n := envInt(t, "CHAOS_ACCOUNTS", 150)
	kills := envInt(t, "CHAOS_KILLS", 2)
	rng := rand.New(rand.NewPCG(seed(t), 1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	logs := newLogs(t)
	creds := testCredentials(t)
	token := secret(t, "tok-")
	t.Setenv("PROVISIONING_PLUGIN_LOG_LEVEL", "debug")
	s := startStack(t, ctx, loadtest.StackConfig{
		Sim:       loadtest.SimConfig{Credentials: creds, Faults: withRateLimit(t, chaosFaults), Seed: rng.Uint64(), LogLevel: "info"},
		Host:      loadtest.HostConfig{LogLevel: "debug", Args: []string{"--log-format", "json"}},
		Inject429: inject429(t),
		Token:     token,
		Logs:      logs,
	})
	h := population("K", n)
	file := writeBatch(t, h)

	// The killer runs through the passes until it has killed enough times,
	// spreading the kills over about the first pass: 1.5s for the CI size,
	// 10ms per account beyond that.
	spread := max(1300, 10*n)
	var mu sync.Mutex
	killed := 0
	killer := func(ctx context.Context) {
		for {
			mu.Lock()
			done := killed >= kills
			mu.Unlock()
			if done {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(200+rng.IntN(spread)) * time.Millisecond):
			}
			pid, err := s.Host.WaitPluginPID(ctx, 0)
			if err != nil {
				return
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				continue
			}
			mu.Lock()
			killed++
			t.Logf("SIGKILLed plugin pid %d (%d of %d)", pid, killed, kills)
			mu.Unlock()
			// Wait for the restart before the next kill: a kill of a
			// process still starting proves less.
			_, _ = s.Host.WaitPluginPID(ctx, pid)
		}
	}

	var last loadtest.BatchResult
	for pass := 1; ; pass++ {
		kctx, stopKiller := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); killer(kctx) }()
		res, err := s.Batch(ctx, file, loadtest.BatchOptions{Auto: true, Concurrency: 16, LogResults: true})
		stopKiller()
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pass %d: %s", pass, res)
		last = res
		mu.Lock()
		done := killed >= kills
		mu.Unlock()
		if res.Synced == n && done {
			break
		}
		if pass == maxPasses {
			t.Fatalf("after %d passes: %s, %d of %d kills", pass, res, killed, kills)
		}
	}
	if err := loadtest.WaitRunning(ctx, s.Client); err != nil {
		t.Fatal(err)
	}
	v, err := s.Verify(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() {
		t.Fatalf("after the chaos run (last pass %s):\n%s", last, v)
	}
	st, err := s.Sim.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var proxied int64
	if s.Proxy != nil {
		proxied = s.Proxy.Injected.Load()
	}
	all := float64(max(1, st.APIRequests+proxied))
	t.Logf("%s; %d API requests: %d injected 503s (%.1f%%), %d commit-then-fail, %d random 429s (%.1f%%), %d rate-limit 429s",
		v, st.APIRequests+proxied, st.InjectedErrors, 100*float64(st.InjectedErrors)/all, st.CommitThenFail, proxied, 100*float64(proxied)/all, st.RateLimited)
	if st.InjectedErrors == 0 || st.CommitThenFail == 0 || st.RateLimited+proxied == 0 {
		t.Errorf("a fault was never injected: the run proves less than it claims")
	}

	// Stop everything so that the last lines are in, then search them all.
	if err := s.Close(); err != nil {
		t.Logf("stop: %v", err)
	}
	found, err := logs.Find(creds.Password, creds.APIKey, token)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("a secret appears in %d log lines, e.g.:\n%s", len(found), redactAll(found[0], creds.Password, creds.APIKey, token))
	}
	if logs.Count() < int64(n) {
		t.Errorf("only %d log lines collected for %d accounts: the secret search saw too little", logs.Count(), n)
	}
	t.Logf("searched %d log lines for the password, the API key and the daemon token", logs.Count())
}

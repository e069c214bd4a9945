package e2e_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/internal/pandasim"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestDaemonKilledMidBatch: the daemon is SIGKILLed in the middle of a
// batch, restarted on the same data folder, and the batch run again: the
// end state is the same as a clean run's (every account once, parents
// right, the store agreeing with Panda), with no duplicate.
func TestDaemonKilledMidBatch(t *testing.T) {
	n := envInt(t, "CHAOS_ACCOUNTS", 150)
	rng := rand.New(rand.NewPCG(seed(t), 2))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	logs := newLogs(t)
	s := startStack(t, ctx, loadtest.StackConfig{
		// Some lost answers too: the restarted daemon must not trust what
		// it never stored.
		Sim:  loadtest.SimConfig{Credentials: testCredentials(t), Faults: chaosFaults, Seed: rng.Uint64()},
		Logs: logs,
	})
	h := population("D", n)
	file := writeBatch(t, h)

	// Kill once some accounts are in Panda but the batch is far from done.
	killAt := max(1, n/5+rng.IntN(max(1, n/3)))
	var wg sync.WaitGroup
	wctx, stop := context.WithCancel(ctx)
	killed := false // written by the goroutine, read after wg.Wait
	wg.Add(1)
	go func() {
		defer wg.Done()
		for wctx.Err() == nil {
			st, err := s.Sim.Stats(wctx)
			if ops := operatorPosts(st); err == nil && ops >= int64(killAt) {
				pid := s.Host.Pid()
				_ = syscall.Kill(pid, syscall.SIGKILL)
				killed = true
				t.Logf("SIGKILLed the daemon (pid %d) after %d operator creations", pid, ops)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	res, err := s.Batch(ctx, file, loadtest.BatchOptions{Auto: true, Concurrency: 16})
	stop()
	wg.Wait()
	t.Logf("first pass (daemon killed under it): %s, err=%v", res, err)
	if !killed {
		t.Fatalf("the batch finished before the kill (%d accounts): raise CHAOS_ACCOUNTS", n)
	}
	select {
	case <-s.Host.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the killed daemon did not exit")
	}

	if err := s.StartHost(ctx); err != nil {
		t.Fatal(err)
	}
	for pass := 2; ; pass++ {
		res, err := s.Batch(ctx, file, loadtest.BatchOptions{Auto: true, Concurrency: 16})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pass %d: %s", pass, res)
		if res.Synced == n {
			break
		}
		if pass == maxPasses {
			t.Fatalf("not every account synced after %d passes", pass)
		}
	}
	v, err := s.Verify(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() {
		t.Fatal(v)
	}
	t.Log(v)
}

// TestConcurrentSynchronizeOneAccount: 50 Synchronize calls for one account
// at once through the daemon make one Panda account and one operator; one
// call reports created, the others the same remote account.
func TestConcurrentSynchronizeOneAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startStack(t, ctx, loadtest.StackConfig{Sim: loadtest.SimConfig{Credentials: testCredentials(t)}, Logs: newLogs(t)})
	h := loadtest.Hierarchy{Prefix: "C", Direct: 1}
	var acct loadtest.Account
	h.Each(func(a loadtest.Account) { acct = a })

	const calls = 50
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		remote  = map[string]int{}
		errs    []error
	)
	start := make(chan struct{})
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := s.Client.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: loadtest.PluginName, Request: &provisioningv1.SynchronizeRequest{
				Account: &provisioningv1.Account{
					Id: acct.ID, Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: acct.Name, CorporateEmail: acct.Email,
					Contact: &provisioningv1.Contact{FirstName: "Load", LastName: "Test"}, Country: "ES", Language: "es-ES",
				},
				Values:   map[string]string{"username": acct.Username},
				AutoFill: true,
			}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if resp.GetResponse().GetCreated() {
				created++
			}
			remote[resp.GetResponse().GetRecord().GetRemoteId()]++
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("Synchronize: %v", err)
	}
	if created != 1 || len(remote) != 1 {
		t.Errorf("%d calls said created, remote ids %v: want one creation, one remote account", created, remote)
	}
	v, err := s.Verify(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() {
		t.Fatal(v)
	}
}

// TestHostKilledLeavesNoPlugin: after a SIGKILL of the daemon, idle or in
// the middle of a batch, its plugin process exits within 2 seconds.
func TestHostKilledLeavesNoPlugin(t *testing.T) {
	for _, busy := range []bool{false, true} {
		name := "idle"
		if busy {
			name = "mid-batch"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s := startStack(t, ctx, loadtest.StackConfig{Sim: loadtest.SimConfig{Credentials: testCredentials(t)}, Logs: newLogs(t)})
			pid, err := s.Host.WaitPluginPID(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if busy {
				// Slow remote calls, so that calls are in flight at the kill.
				if err := s.Sim.SetFaults(ctx, loadtestLatency(100*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
				file := writeBatch(t, population("H", 200))
				go func() { _, _ = s.Batch(ctx, file, loadtest.BatchOptions{Auto: true, Concurrency: 16}) }()
				waitFor(t, ctx, func() bool {
					st, err := s.Sim.Stats(ctx)
					return err == nil && st.APIRequests > 20
				})
			}
			s.Host.Kill()
			killed := time.Now()
			for loadtest.Alive(pid) {
				if time.Since(killed) > 2*time.Second {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("plugin pid %d still alive 2s after its host was killed", pid)
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("plugin pid %d exited %s after its host", pid, time.Since(killed).Round(time.Millisecond))
		})
	}
}

func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition never met")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// operatorPosts counts the operator creations the simulator received.
func operatorPosts(st pandasim.Stats) int64 {
	var n int64
	for route, c := range st.ByRoute {
		if strings.HasPrefix(route, "POST ") && strings.HasSuffix(route, "/operators") {
			n += c
		}
	}
	return n
}

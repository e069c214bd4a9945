package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

// orderFaults are the simulator's faults of the orders chaos run: 10% of API
// requests answered 503, 5% of the applied writes answered 500 or cut
// (commit-then-fail), as in the accounts chaos run, without its 429s.
var orderFaults = pandasim.Faults{ErrorRate: 0.10, CommitThenFailRate: 0.05, CommitThenFailMode: pandasim.CommitThenFailMixed}

// orderPopulation is n customers, each of which orders once: a fifth are
// direct customers, the rest end customers of resellers with 16 each (at
// least one reseller).
func orderPopulation(prefix string, n int) loadtest.Hierarchy {
	direct := n / 5
	r := max(1, (n-direct)/16)
	per := (n - direct) / r
	return loadtest.Hierarchy{Prefix: prefix, Resellers: r, PerReseller: per, Direct: n - r*per}
}

// orderPhase runs lines through provctl subscribe-batch until every
// subscription holds its last line, re-running only what still needs it:
// the last line of each subscription whose last line failed. An earlier
// line that failed needs nothing when a later one of its subscription
// succeeded, since every line sets the whole desired state. It returns the
// passes it took. onResult is called after each result, while provctl runs.
func orderPhase(t *testing.T, ctx context.Context, s *loadtest.Stack, name string, lines []loadtest.Order, failures map[string]int, onResult func()) int {
	t.Helper()
	dir := t.TempDir()
	for pass := 1; ; pass++ {
		file := filepath.Join(dir, fmt.Sprintf("%s-%d.jsonl", name, pass))
		if err := loadtest.WriteOrders(file, lines); err != nil {
			t.Fatal(err)
		}
		res, err := s.SubscribeBatch(ctx, file, loadtest.OrderBatchOptions{
			BatchOptions: loadtest.BatchOptions{Concurrency: 16, LogResults: true}, OnResult: onResult})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s pass %d: %d lines: %s", name, pass, len(lines), res)
		for k, n := range res.Codes {
			failures[k] += n
		}
		if res.Total() != len(lines) {
			t.Fatalf("%s pass %d: %d results for %d lines", name, pass, res.Total(), len(lines))
		}
		if res.Failed == 0 {
			return pass
		}
		if pass == maxPasses {
			t.Fatalf("%s: after %d passes: %s", name, pass, res)
		}
		last := map[string]int{} // subscription id → index of its last line
		for i, o := range lines {
			last[o.ID] = i
		}
		failed := map[int]bool{}
		for _, l := range res.FailedLines {
			failed[l-1] = true
		}
		var next []loadtest.Order
		for i, o := range lines {
			if last[o.ID] == i && failed[i] {
				next = append(next, o)
			}
		}
		lines = next
		if len(lines) == 0 {
			return pass
		}
	}
}

// TestChaosOrdersUnderFaults: after the accounts are synchronized (without
// faults: this test is about orders), every customer orders a base product,
// half of them with an add-on, through provctl subscribe-batch and the
// daemon; then every order changes its quantity (a set, not an increment),
// a third of them twice. Throughout, pandasim answers 10% of API requests
// 503 and loses the answer of 5% of its writes (500 or a cut connection
// after the write is applied), and the plugin process is SIGKILLed several
// times. Failed lines are run again until every order holds (bounded
// passes). Then every customer holds exactly its last order in Panda, the
// resellers' stock covers their customers and was never topped up twice,
// every account's inventory adds up, and the host's records agree.
//
// CHAOS_ORDERS (default 40) orders, CHAOS_ORDER_KILLS (default 2) kills;
// `make chaos` runs 500 and 3.
func TestChaosOrdersUnderFaults(t *testing.T) {
	n := envInt(t, "CHAOS_ORDERS", 40)
	kills := envInt(t, "CHAOS_ORDER_KILLS", 2)
	if n < 5 {
		t.Fatalf("CHAOS_ORDERS=%d: want at least 5", n)
	}
	rng := rand.New(rand.NewPCG(seed(t), 2))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()

	logs := newLogs(t)
	s := startStack(t, ctx, loadtest.StackConfig{
		Sim:  loadtest.SimConfig{Credentials: testCredentials(t), Seed: rng.Uint64()},
		Logs: logs,
	})
	h := orderPopulation("Q", n)
	res, err := s.Batch(ctx, writeBatch(t, h), loadtest.BatchOptions{Auto: true, Concurrency: 16})
	if err != nil {
		t.Fatal(err)
	}
	if res.Synced != h.Count() {
		t.Fatalf("synchronizing the accounts without faults: %s", res)
	}
	t.Logf("%d accounts (%d resellers x %d end customers, %d direct) synchronized in %s", h.Count(), h.Resellers, h.PerReseller, h.Direct, res.Elapsed.Round(time.Millisecond))

	orders := loadtest.Orders(h, rng)
	if len(orders) != n {
		t.Fatalf("%d orders generated, want %d", len(orders), n)
	}
	// The changes: every order resized once, a third twice, shuffled so
	// that customers of one reseller interleave; a subscription's second
	// change comes after its first in the file.
	final := make(map[string]loadtest.Order, n)
	peak := make(map[string]loadtest.Order, n) // account id → largest quantities asked
	see := func(o loadtest.Order) {
		final[o.ID] = o
		p := peak[o.AccountID]
		p.Product, p.Addon = o.Product, o.Addon
		p.Quantity, p.AddonQuantity = max(p.Quantity, o.Quantity), max(p.AddonQuantity, o.AddonQuantity)
		peak[o.AccountID] = p
	}
	for _, o := range orders {
		see(o)
	}
	shuffled := append([]loadtest.Order(nil), orders...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var changes, second []loadtest.Order
	for i, o := range shuffled {
		c := o.Resize(rng)
		changes = append(changes, c)
		if i%3 == 0 {
			second = append(second, c.Resize(rng))
		}
	}
	changes = append(changes, second...)
	for _, c := range changes {
		see(c)
	}

	if err := s.Sim.SetFaults(ctx, orderFaults); err != nil {
		t.Fatal(err)
	}
	// The killer times its kills by the run's progress, not by the clock
	// (the machine's speed varies too much): kill k of K comes when about
	// k/(K+1) of the orders' and changes' lines have answered, ±1/4 of a
	// step, so the kills land while a batch has calls in flight and spread
	// over both phases. It waits for each restart before the next.
	total := len(orders) + len(changes)
	var progress atomic.Int64
	onResult := func() { progress.Add(1) }
	var mu sync.Mutex
	killed := 0
	phase := "orders"
	at := make([]int64, kills)
	for k := range at {
		at[k] = int64(float64(total) * (float64(k+1) + rng.Float64()/2 - 0.25) / float64(kills+1))
	}
	kctx, stopKiller := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// A fatal pass must not leave the killer logging after the test ends.
	defer func() { stopKiller(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			mu.Lock()
			done := killed >= kills
			mu.Unlock()
			if done {
				return
			}
			mu.Lock()
			next := at[killed]
			mu.Unlock()
			for progress.Load() < next {
				select {
				case <-kctx.Done():
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			pid, err := s.Host.WaitPluginPID(kctx, 0)
			if err != nil {
				return
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				continue
			}
			mu.Lock()
			killed++
			t.Logf("SIGKILLed plugin pid %d during %s (%d of %d)", pid, phase, killed, kills)
			mu.Unlock()
			_, _ = s.Host.WaitPluginPID(kctx, pid)
		}
	}()
	failures := map[string]int{}
	ordersStart := time.Now()
	passes := orderPhase(t, ctx, s, "orders", orders, failures, onResult)
	mu.Lock()
	phase = "changes"
	mu.Unlock()
	passes += orderPhase(t, ctx, s, "changes", changes, failures, onResult)
	// A kill the run did not reach yet (its restart outlasted the
	// last batch) lands in replays of the final state, which must change
	// nothing and still converge.
	var replay []loadtest.Order
	for _, o := range shuffled {
		replay = append(replay, final[o.ID])
	}
	for r := 1; ; r++ {
		mu.Lock()
		done := killed >= kills
		phase = "replays"
		mu.Unlock()
		if done {
			break
		}
		if r > maxPasses {
			t.Fatalf("only %d of %d kills after %d replays", killed, kills, r-1)
		}
		passes += orderPhase(t, ctx, s, fmt.Sprintf("replay-%d", r), replay, failures, onResult)
	}
	stopKiller()
	wg.Wait()
	ordersElapsed := time.Since(ordersStart)

	if err := s.Sim.SetFaults(ctx, pandasim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := loadtest.WaitRunning(ctx, s.Client); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Sim.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	av, err := loadtest.Verify(ctx, snap, h, s.Client)
	if err != nil {
		t.Fatal(err)
	}
	if !av.OK() {
		t.Errorf("accounts after the orders: %s", av)
	}
	ov, err := loadtest.VerifyOrders(ctx, snap, h, final, peak, s.Client)
	if err != nil {
		t.Fatal(err)
	}
	if !ov.OK() {
		t.Fatalf("after the chaos run: %s", ov)
	}
	st, err := s.Sim.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", ov)
	retried, err := countLines(logs, "retrying it on the restarted plugin")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d orders + %d quantity changes in %d passes, %s (%.0f lines/s); %d API requests: %d injected 503s (%.1f%%), %d commit-then-fail; %d plugin kills, %d calls the daemon retried on the restarted plugin; failures seen %v; elapsed %s in all",
		len(orders), len(changes), passes, ordersElapsed.Round(time.Millisecond), float64(len(orders)+len(changes))/ordersElapsed.Seconds(),
		st.APIRequests, st.InjectedErrors, 100*float64(st.InjectedErrors)/float64(max(1, st.APIRequests)), st.CommitThenFail, killed, retried, failures, time.Since(start).Round(time.Millisecond))
	if st.InjectedErrors == 0 || st.CommitThenFail == 0 {
		t.Errorf("a fault was never injected: the run proves less than it claims")
	}
}

// countLines counts the lines of the run's log that contain needle.
func countLines(l *loadtest.Logs, needle string) (int, error) {
	if err := l.Flush(); err != nil {
		return 0, err
	}
	f, err := os.Open(l.Path())
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), needle) {
			n++
		}
	}
	return n, sc.Err()
}

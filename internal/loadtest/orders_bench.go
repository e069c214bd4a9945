package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// OrdersConfig is one orders run: the accounts of Hierarchy synchronized
// with one provctl sync-batch, then one order per customer with one
// provctl subscribe-batch, both timed.
type OrdersConfig struct {
	Bins      Binaries
	Dir       string
	Hierarchy Hierarchy
	// Batch is the sync-batch's options; OrderConcurrency the
	// subscribe-batch's --concurrency (0: provctl's default, 8).
	Batch            BatchOptions
	OrderConcurrency int
	// Seed draws the orders (products, quantities, add-ons).
	Seed uint64
	// HostLogLevel of the daemon. Default "info", as in production.
	HostLogLevel string
	// Verify checks the accounts and every order in the simulator and the
	// store after the run (not timed).
	Verify bool
	Logs   *Logs
	// ProfileDir, when set, receives CPU profiles of the daemon and of the
	// plugin (host.cpu, plugin.cpu) taken during the orders phase, from
	// its first second on, for ProfileFor (default 5 s).
	ProfileDir string
	ProfileFor time.Duration
}

// OrdersResult is what an orders run measured.
type OrdersResult struct {
	Accounts, Orders int
	Sync             BatchResult
	Subscribe        OrderBatchResult
	// AccountsPerSec is synced accounts over sync-batch's wall time;
	// OrdersPerSec provisioned orders over subscribe-batch's.
	AccountsPerSec, OrdersPerSec float64
	// RequestsPerOrder is the API requests of the orders phase per order.
	RequestsPerOrder float64
	// CPU is the CPU time each process used during the orders phase.
	CPU          CPUTimes
	Verification *OrderVerification
}

// String is the result as one line.
func (r OrdersResult) String() string {
	s := fmt.Sprintf("accounts=%d accounts/s=%.0f orders=%d orders/s=%.0f elapsed_orders=%s requests/order=%.2f [sync: %s] [subscribe: %s]",
		r.Accounts, r.AccountsPerSec, r.Orders, r.OrdersPerSec, r.Subscribe.Elapsed.Round(time.Millisecond), r.RequestsPerOrder, r.Sync, r.Subscribe)
	if t := r.CPU.Total(); t > 0 && r.Orders > 0 {
		s += fmt.Sprintf(" %s (%.0fus/order)", r.CPU, float64(t.Microseconds())/float64(r.Orders))
	}
	if r.Verification != nil {
		s += " verify: " + r.Verification.String()
	}
	return s
}

// OrdersRun starts a fresh stack, synchronizes the hierarchy, then places
// one order per customer ([Orders]) and measures both.
func OrdersRun(ctx context.Context, c OrdersConfig) (OrdersResult, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return OrdersResult{}, err
	}
	accountsFile := filepath.Join(c.Dir, "accounts.jsonl")
	if err := c.Hierarchy.WriteFile(accountsFile); err != nil {
		return OrdersResult{}, err
	}
	orders := Orders(c.Hierarchy, rand.New(rand.NewPCG(c.Seed, 3)))
	ordersFile := filepath.Join(c.Dir, "orders.jsonl")
	if err := WriteOrders(ordersFile, orders); err != nil {
		return OrdersResult{}, err
	}
	lvl := c.HostLogLevel
	if lvl == "" {
		lvl = "info"
	}
	hc := HostConfig{LogLevel: lvl}
	var profiles []profileTarget
	if c.ProfileDir != "" {
		hp, pp, err := freePorts()
		if err != nil {
			return OrdersResult{}, err
		}
		hc.Args = append(hc.Args, "--metrics-listen", hp, "--pprof")
		hc.Env = append(hc.Env, pluginPprofEnv+"="+pp)
		profiles = []profileTarget{{"host.cpu", hp}, {"plugin.cpu", pp}}
	}
	s, err := StartStack(ctx, StackConfig{
		Bins: c.Bins, Dir: c.Dir, Logs: c.Logs,
		Sim:  SimConfig{Credentials: Credentials{AccessID: "loadtest", Password: "loadtest-password", APIKey: "loadtest-api-key"}},
		Host: hc,
	})
	if err != nil {
		return OrdersResult{}, err
	}
	defer s.Close()
	res := OrdersResult{Accounts: c.Hierarchy.Count(), Orders: len(orders)}
	if res.Sync, err = s.Batch(ctx, accountsFile, c.Batch); err != nil {
		return res, err
	}
	res.AccountsPerSec = float64(res.Sync.Synced) / res.Sync.Elapsed.Seconds()
	if res.Sync.Synced != res.Accounts {
		return res, fmt.Errorf("only %d of %d accounts synchronized: %s", res.Sync.Synced, res.Accounts, res.Sync)
	}

	before, err := s.Sim.Stats(ctx)
	if err != nil {
		return res, err
	}
	plugin, err := s.Host.WaitPluginPID(ctx, 0)
	if err != nil {
		return res, err
	}
	var cpu CPUTimes
	cpu.Sim, _ = CPUTime(s.Sim.Pid())
	cpu.Host, _ = CPUTime(s.Host.Pid())
	cpu.Plugin, _ = CPUTime(plugin)
	profiled := make(chan error, 1)
	go func() { profiled <- takeProfiles(ctx, c.ProfileDir, c.ProfileFor, profiles) }()
	if res.Subscribe, err = s.SubscribeBatch(ctx, ordersFile, OrderBatchOptions{BatchOptions: BatchOptions{Concurrency: c.OrderConcurrency, Logs: c.Logs}}); err != nil {
		return res, err
	}
	if err := <-profiled; err != nil {
		return res, err
	}
	res.OrdersPerSec = float64(res.Subscribe.Provisioned) / res.Subscribe.Elapsed.Seconds()
	t, _ := CPUTime(s.Sim.Pid())
	res.CPU.Sim = t - cpu.Sim
	t, _ = CPUTime(s.Host.Pid())
	res.CPU.Host = t - cpu.Host
	if pids := s.Host.PluginPIDs(); len(pids) > 0 && pids[0] == plugin {
		t, _ = CPUTime(plugin)
		res.CPU.Plugin = t - cpu.Plugin
	}
	res.CPU.Provctl = res.Subscribe.CPU
	after, err := s.Sim.Stats(ctx)
	if err != nil {
		return res, err
	}
	res.RequestsPerOrder = float64(after.APIRequests-before.APIRequests) / float64(max(1, res.Orders))
	if c.Verify {
		snap, err := s.Sim.State(ctx)
		if err != nil {
			return res, err
		}
		want := make(map[string]Order, len(orders))
		peak := make(map[string]Order, len(orders))
		for _, o := range orders {
			want[o.ID], peak[o.AccountID] = o, o
		}
		if res.Verification, err = VerifyOrders(ctx, snap, c.Hierarchy, want, peak, s.Client); err != nil {
			return res, err
		}
	}
	return res, nil
}

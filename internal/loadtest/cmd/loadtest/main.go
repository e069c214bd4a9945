// Command loadtest runs a named load scenario against the real binaries
// (pandasim, provisioning-host with the Panda plugin, provctl) on loopback
// and prints one result line per run, then the medians.
//
//	go run ./internal/loadtest/cmd/loadtest -scenario bulk -resellers 1000 -per 9
//	go run ./internal/loadtest/cmd/loadtest -scenario memory
//	go run ./internal/loadtest/cmd/loadtest -scenario remote-bound
//
// Scenarios:
//
//	bulk          one sync-batch of resellers × (1 + per) + direct accounts:
//	              accounts/s, peak RSS of host and plugin, requests/account
//	memory        bulk at -accounts-small and -accounts-large (default 10,000
//	              and 100,000): the peak RSS ratio of host and plugin
//	boundary      bulk through provisioning-host (plugin subprocess) and
//	              through inprocess-host (adapter linked in), alternated:
//	              what the plugin boundary costs in throughput
//	orders        bulk's accounts, then one order per customer with one
//	              subscribe-batch: orders/s beside accounts/s, requests/order
//	remote-bound  pandasim with -latency (50ms) and -rate-limit (200/s):
//	              elapsed vs the floor requests/account × accounts ÷ rate,
//	              and the 429s; concurrency sized to rate × latency
//	stores        bulk on SQLite, on PostgreSQL with one daemon, and on
//	              PostgreSQL with two daemons splitting the batch, alternated:
//	              accounts/s of each store (needs -postgres, default
//	              $PROVISIONING_TEST_POSTGRES; each run in a fresh schema)
//
// A run in which any account failed or was skipped is printed FAILED and
// the command exits 1 at the end: speed that loses accounts is no result.
//
// It builds the binaries first (go build, no race detector) unless -bin
// names a folder that holds them.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/internal/pgtest"
)

type flags struct {
	scenario               string
	resellers, per, direct int
	concurrency, chunk     int
	repeat                 int
	bin, dir               string
	latency                time.Duration
	rateLimit              float64
	small, large           int
	hostLog                string
	verify, verbose        bool
	inprocess              bool
	profileDir             string
	pluginLogLevel         string
	postgres               string
}

// pluginLogLevelEnv is plugin.LogLevelEnv, named here so the command does
// not link the plugin SDK.
const pluginLogLevelEnv = "PROVISIONING_PLUGIN_LOG_LEVEL"

func main() {
	var f flags
	flag.StringVar(&f.scenario, "scenario", "bulk", "bulk, boundary, memory, remote-bound, stores or orders")
	flag.IntVar(&f.resellers, "resellers", 1000, "resellers (bulk)")
	flag.IntVar(&f.per, "per", 9, "end customers per reseller")
	flag.IntVar(&f.direct, "direct", 0, "direct customers")
	flag.IntVar(&f.concurrency, "concurrency", 0, "provctl sync-batch --concurrency (0: 32; remote-bound: enough to keep -rate-limit busy through -latency, see remoteConcurrency)")
	flag.IntVar(&f.chunk, "chunk", 0, "provctl sync-batch --chunk-size (0: provctl's default)")
	flag.IntVar(&f.repeat, "repeat", 1, "runs of the scenario; medians are printed at the end")
	flag.StringVar(&f.bin, "bin", "", "folder with prebuilt binaries (default: build them)")
	flag.StringVar(&f.dir, "dir", "", "work folder (default: a temporary folder, removed at the end)")
	flag.DurationVar(&f.latency, "latency", 50*time.Millisecond, "remote-bound: latency added per request")
	flag.Float64Var(&f.rateLimit, "rate-limit", 200, "remote-bound: requests per second pandasim accepts")
	flag.IntVar(&f.small, "accounts-small", 10000, "memory: the smaller batch")
	flag.IntVar(&f.large, "accounts-large", 100000, "memory: the larger batch")
	flag.StringVar(&f.hostLog, "host-log-level", "info", "the daemon's --log-level")
	flag.BoolVar(&f.verify, "verify", false, "check every account in the simulator and the store after each run")
	flag.BoolVar(&f.verbose, "v", false, "echo every log line")
	flag.BoolVar(&f.inprocess, "inprocess", false, "bulk: run the adapter linked into the host (inprocess-host) instead of a plugin process")
	flag.StringVar(&f.profileDir, "pprof-dir", "", "bulk and orders: write CPU profiles of the daemon and the plugin taken during each run (orders: its orders phase) here (run-N/host.cpu, run-N/plugin.cpu; needs the daemon's --pprof)")
	flag.StringVar(&f.pluginLogLevel, "plugin-log-level", "", "the plugin's "+pluginLogLevelEnv+" (default: its own, info)")
	flag.StringVar(&f.postgres, "postgres", os.Getenv("PROVISIONING_TEST_POSTGRES"), "stores: the PostgreSQL server (connection string) the runs make their schemas on")
	flag.Parse()

	if f.concurrency == 0 {
		f.concurrency = 32
		if f.scenario == "remote-bound" {
			f.concurrency = remoteConcurrency(f.rateLimit, f.latency)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, f); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags) error {
	dir := f.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "loadtest-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var bins loadtest.Binaries
	if f.bin != "" {
		// The catalog resolves a relative plugin path against its own folder.
		abs, err := filepath.Abs(f.bin)
		if err != nil {
			return err
		}
		f.bin = abs
		bins = loadtest.Binaries{
			PandaSim: filepath.Join(f.bin, "pandasim"), Host: filepath.Join(f.bin, "provisioning-host"),
			Plugin: filepath.Join(f.bin, "provisioning-plugin-panda"), Provctl: filepath.Join(f.bin, "provctl"),
		}
	} else {
		var err error
		if bins, err = loadtest.Build(ctx, filepath.Join(dir, "bin")); err != nil {
			return err
		}
	}
	if f.inprocess || f.scenario == "boundary" {
		if f.bin != "" {
			bins.InProcessHost = filepath.Join(f.bin, "inprocess-host")
		} else if err := loadtest.BuildInProcessHost(ctx, filepath.Join(dir, "bin"), &bins); err != nil {
			return err
		}
	}
	var echo *os.File
	if f.verbose {
		echo = os.Stderr
	}
	logs, err := loadtest.NewLogs(filepath.Join(dir, "run.log"), nil)
	if echo != nil {
		logs, err = loadtest.NewLogs(filepath.Join(dir, "run.log"), echo)
	}
	if err != nil {
		return err
	}
	defer logs.Close()

	missed := 0 // runs in which not every account was synchronized
	bulkStore := func(i int, h loadtest.Hierarchy, faults pandasim.Faults, inprocess bool, storeDSN string, two bool) (loadtest.BulkResult, error) {
		c := loadtest.BulkConfig{
			Store: storeDSN, SecondDaemon: two,
			Bins: bins, Dir: filepath.Join(dir, fmt.Sprintf("run-%d-%d-%t-%t-%t", i, h.Count(), inprocess, storeDSN != "", two)), Hierarchy: h, InProcess: inprocess,
			Batch:  loadtest.BatchOptions{Concurrency: f.concurrency, ChunkSize: f.chunk, Auto: true},
			Faults: faults, HostLogLevel: f.hostLog, Verify: f.verify, Logs: logs,
		}
		if f.pluginLogLevel != "" {
			// The host passes its environment on to the plugin; inprocess-host
			// has no plugin process and ignores it.
			c.HostEnv = append(c.HostEnv, pluginLogLevelEnv+"="+f.pluginLogLevel)
		}
		if f.profileDir != "" && !inprocess {
			c.ProfileDir = filepath.Join(f.profileDir, fmt.Sprintf("run-%d", i+1))
			if err := os.MkdirAll(c.ProfileDir, 0o755); err != nil {
				return loadtest.BulkResult{}, err
			}
		}
		r, err := loadtest.Bulk(ctx, c)
		if err != nil {
			return r, fmt.Errorf("%w\n%s\n%s", err, logs.Tail("host", 20), logs.Tail("provctl", 10))
		}
		if r.Batch.Synced != h.Count() {
			// A run that lost accounts is a miss whatever its speed: say so
			// now, and make the command fail at the end.
			missed++
			fmt.Printf("FAILED: %d of %d accounts synced (%d failed, %d skipped)\n%s\n", r.Batch.Synced, h.Count(), r.Batch.Failed, r.Batch.Skipped, logs.Tail("host", 10))
		}
		return r, nil
	}
	bulkMode := func(i int, h loadtest.Hierarchy, faults pandasim.Faults, inprocess bool) (loadtest.BulkResult, error) {
		return bulkStore(i, h, faults, inprocess, "", false)
	}
	bulk := func(i int, h loadtest.Hierarchy, faults pandasim.Faults) (loadtest.BulkResult, error) {
		return bulkMode(i, h, faults, f.inprocess)
	}
	machine := machineLine()
	fmt.Println(machine)

	switch f.scenario {
	case "bulk":
		h := loadtest.Hierarchy{Prefix: "B", Resellers: f.resellers, PerReseller: f.per, Direct: f.direct}
		var rate, hostRSS, plugRSS, rpa []float64
		for i := range f.repeat {
			r, err := bulk(i, h, pandasim.Faults{})
			if err != nil {
				return err
			}
			fmt.Printf("bulk run %d%s: %s\n", i+1, map[bool]string{true: " (in-process adapter)"}[f.inprocess], r)
			rate = append(rate, r.AccountsPerSec)
			hostRSS = append(hostRSS, float64(r.HostPeakRSS)/(1<<20))
			plugRSS = append(plugRSS, float64(r.PluginPeakRSS)/(1<<20))
			rpa = append(rpa, r.RequestsPerAccount)
		}
		mode := "plugin-process"
		if f.inprocess {
			mode = "in-process"
		}
		fmt.Printf("RESULT bulk mode=%s accounts=%d concurrency=%d runs=%d median: accounts/s=%.0f host_peak_rss=%.1fMB plugin_peak_rss=%.1fMB requests/account=%.2f (targets: >=2000 accounts/s, <150MB each)\n",
			mode, h.Count(), f.concurrency, f.repeat, median(rate), median(hostRSS), median(plugRSS), median(rpa))
	case "boundary":
		h := loadtest.Hierarchy{Prefix: "X", Resellers: f.resellers, PerReseller: f.per, Direct: f.direct}
		var sub, in, ratio []float64
		for i := range f.repeat {
			a, err := bulkMode(i, h, pandasim.Faults{}, false)
			if err != nil {
				return err
			}
			fmt.Printf("boundary run %d, plugin process: %s\n", i+1, a)
			b, err := bulkMode(i, h, pandasim.Faults{}, true)
			if err != nil {
				return err
			}
			fmt.Printf("boundary run %d, adapter in-process: %s\n", i+1, b)
			sub = append(sub, a.AccountsPerSec)
			in = append(in, b.AccountsPerSec)
			ratio = append(ratio, 1-a.AccountsPerSec/b.AccountsPerSec)
		}
		fmt.Printf("RESULT boundary accounts=%d concurrency=%d runs=%d median: plugin-process=%.0f accounts/s in-process=%.0f accounts/s boundary cost=%.1f%% of throughput (target < 15%%)\n",
			h.Count(), f.concurrency, f.repeat, median(sub), median(in), 100*median(ratio))
	case "memory":
		var ratios [2][]float64
		var last [2]loadtest.BulkResult
		for i := range f.repeat {
			for j, n := range []int{f.small, f.large} {
				h := loadtest.Hierarchy{Prefix: "M", Resellers: n / (1 + f.per), PerReseller: f.per}
				r, err := bulk(i, h, pandasim.Faults{})
				if err != nil {
					return err
				}
				fmt.Printf("memory run %d: %s\n", i+1, r)
				last[j] = r
			}
			ratios[0] = append(ratios[0], float64(last[1].HostPeakRSS)/float64(last[0].HostPeakRSS))
			ratios[1] = append(ratios[1], float64(last[1].PluginPeakRSS)/float64(last[0].PluginPeakRSS))
		}
		fmt.Printf("RESULT memory %d vs %d accounts, median peak RSS ratio: host=%.2f plugin=%.2f (target <=1.20)\n",
			f.large, f.small, median(ratios[0]), median(ratios[1]))
	case "remote-bound":
		h := loadtest.Hierarchy{Prefix: "RB", Resellers: f.resellers, PerReseller: f.per, Direct: f.direct}
		faults := pandasim.Faults{Latency: pandasim.Duration(f.latency), RateLimit: f.rateLimit}
		var eff, rpa, n429 []float64
		for i := range f.repeat {
			r, err := bulk(i, h, faults)
			if err != nil {
				return err
			}
			// The floor counts the requests that had to succeed: 429s are
			// the waste the floor excludes.
			useful := float64(r.Sim.APIRequests-r.Sim.RateLimited) / float64(r.Accounts)
			floor := time.Duration(useful * float64(r.Accounts) / f.rateLimit * float64(time.Second))
			ratio := r.Batch.Elapsed.Seconds() / floor.Seconds()
			share := 100 * float64(r.Sim.RateLimited) / float64(max(1, r.Sim.APIRequests))
			fmt.Printf("remote-bound run %d: %s floor=%s elapsed/floor=%.3f useful_requests/account=%.2f 429_share=%.2f%% failed=%d skipped=%d %s\n",
				i+1, r, floor.Round(time.Millisecond), ratio, useful, share, r.Batch.Failed, r.Batch.Skipped,
				remoteVerdict(r, ratio, share))
			eff = append(eff, ratio)
			rpa = append(rpa, r.RequestsPerAccount)
			n429 = append(n429, float64(r.Sim.RateLimited))
		}
		fmt.Printf("RESULT remote-bound accounts=%d latency=%s rate=%.0f/s concurrency=%d runs=%d median: elapsed/floor=%.3f requests/account=%.2f (429s included) 429s=%.0f (targets: every account in one pass, elapsed <= 1.10 x floor, 429s < 2%% of requests, <= 5.05 requests/account)\n",
			h.Count(), f.latency, f.rateLimit, f.concurrency, f.repeat, median(eff), median(rpa), median(n429))
	case "stores":
		if f.postgres == "" {
			return fmt.Errorf("stores needs a PostgreSQL server: -postgres or PROVISIONING_TEST_POSTGRES (make postgres-up starts one)")
		}
		h := loadtest.Hierarchy{Prefix: "S", Resellers: f.resellers, PerReseller: f.per, Direct: f.direct}
		names := []string{"sqlite", "postgres-1-daemon", "postgres-2-daemons"}
		rates := make([][]float64, len(names))
		for i := range f.repeat {
			for j, name := range names {
				dsn := ""
				if j > 0 {
					var drop func() error
					var err error
					if dsn, drop, err = pgtest.CreateSchema(ctx, f.postgres); err != nil {
						return fmt.Errorf("-postgres: %w", err)
					}
					defer func() { _ = drop() }()
				}
				r, err := bulkStore(i, h, pandasim.Faults{}, false, dsn, j == 2)
				if err != nil {
					return err
				}
				fmt.Printf("stores run %d, %s: %s\n", i+1, name, r)
				rates[j] = append(rates[j], r.AccountsPerSec)
			}
		}
		fmt.Printf("RESULT stores accounts=%d concurrency=%d (per daemon) runs=%d median accounts/s: sqlite=%.0f postgres-1-daemon=%.0f postgres-2-daemons=%.0f\n",
			h.Count(), f.concurrency, f.repeat, median(rates[0]), median(rates[1]), median(rates[2]))
	case "orders":
		n, err := ordersScenario(ctx, f, bins, dir, logs)
		if err != nil {
			return err
		}
		missed += n
	default:
		return fmt.Errorf("unknown scenario %q", f.scenario)
	}
	if missed > 0 {
		return fmt.Errorf("%d of %d runs did not synchronize every account in one pass", missed, f.repeat*runsPer(f.scenario))
	}
	return nil
}

// remoteConcurrency is the concurrency that keeps a remote of rate
// requests/s and latency per request busy: an account's requests are
// sequential, so by Little's law rate × latency accounts must be in flight
// to offer the rate at all; half as many again covers the adapter's own time
// and the pacer's queue. At least 32 (the other scenarios'), at most 64
// (provctl's maximum). 200/s at 50ms: 32; at 200ms: 60.
func remoteConcurrency(rate float64, latency time.Duration) int {
	need := int(math.Ceil(1.5 * rate * latency.Seconds()))
	return min(64, max(32, need))
}

// runsPer is how many batches one repetition of the scenario runs.
func runsPer(scenario string) int {
	if scenario == "boundary" || scenario == "memory" {
		return 2
	}
	return 1
}

// remoteVerdict says which of the remote-bound targets a run missed.
func remoteVerdict(r loadtest.BulkResult, ratio, share429 float64) string {
	var miss []string
	if r.Batch.Synced != r.Accounts {
		miss = append(miss, "accounts not synchronized")
	}
	if ratio > 1.10 {
		miss = append(miss, "elapsed > 1.10 x floor")
	}
	if share429 >= 2 {
		miss = append(miss, "429s >= 2%")
	}
	if r.RequestsPerAccount > 5.05 {
		miss = append(miss, "requests/account > 5.05")
	}
	if len(miss) == 0 {
		return "MET"
	}
	return "MISSED: " + strings.Join(miss, ", ")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// machineLine describes where the figures come from.
func machineLine() string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	return fmt.Sprintf("# %s, %d CPUs (%s), %s RAM, %s, load average %s", time.Now().UTC().Format("2006-01-02 15:04 UTC"), numCPU(), cpu, mem, goVersion(), load)
}

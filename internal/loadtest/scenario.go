package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudbss/provisioning/internal/pandasim"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// BulkConfig is one bulk sync-batch run.
type BulkConfig struct {
	Bins      Binaries
	Dir       string
	Hierarchy Hierarchy
	Batch     BatchOptions
	// Faults of the simulator (latency, rate limit) for the whole run.
	Faults pandasim.Faults
	// HostLogLevel of the daemon. Default "info", as in production.
	HostLogLevel string
	// HostArgs are extra daemon flags (e.g. --metrics-listen for pprof).
	HostArgs []string
	// HostEnv is extra environment of the daemon ("KEY=value"), which its
	// plugin inherits (e.g. PROVISIONING_PLUGIN_LOG_LEVEL).
	HostEnv []string
	// Settings are extra plugin settings.
	Settings map[string]string
	// InProcess runs Bins.InProcessHost instead of provisioning-host: the
	// adapter is linked into the host, no plugin process.
	InProcess bool
	// Verify checks every account in the simulator and the store after the
	// run (not timed).
	Verify bool
	// Store is the daemon's --store (a PostgreSQL connection string); empty
	// for SQLite in its data folder.
	Store string
	// SecondDaemon starts another daemon on the same Store (and pandasim)
	// and splits the batch between the two, whole families each, run at
	// once: the throughput of two machines behind a load balancer. Needs
	// Store.
	SecondDaemon bool
	// ProfileDir, when set, receives CPU profiles of the daemon and of the
	// plugin process taken during the batch (host.cpu, plugin.cpu): the
	// daemon runs with --metrics-listen and --pprof, the plugin with
	// PROVISIONING_PLUGIN_PPROF. ProfileFor is their length (default 5s);
	// it must be shorter than the batch.
	ProfileDir string
	ProfileFor time.Duration
	// During, if set, runs while the batch does, with the stack; it must
	// return when ctx ends.
	During func(ctx context.Context, s *Stack)
	Logs   *Logs
}

// BulkResult is what a bulk run measured.
type BulkResult struct {
	Accounts int
	Batch    BatchResult
	// AccountsPerSec is synced accounts over provctl's wall time.
	AccountsPerSec float64
	// HostPeakRSS and PluginPeakRSS are VmHWM in bytes, read at the end.
	HostPeakRSS, PluginPeakRSS int64
	// Sim is the simulator's counters for the run.
	Sim pandasim.Stats
	// RequestsPerAccount is API requests (/rest, 429s included) per account.
	RequestsPerAccount float64
	// CPU is the CPU time each process used during the run (sim, host,
	// plugin, provctl): where the machine's time went.
	CPU          CPUTimes
	Verification *Verification
}

// CPUTimes is the CPU time of each process of a run.
type CPUTimes struct{ Sim, Host, Plugin, Provctl time.Duration }

// PerAccount is the CPU time of every process per account, in microseconds.
func (c CPUTimes) String() string {
	return fmt.Sprintf("cpu sim=%s host=%s plugin=%s provctl=%s", c.Sim.Round(10*time.Millisecond), c.Host.Round(10*time.Millisecond), c.Plugin.Round(10*time.Millisecond), c.Provctl.Round(10*time.Millisecond))
}

// Total is the sum.
func (c CPUTimes) Total() time.Duration { return c.Sim + c.Host + c.Plugin + c.Provctl }

// String is the result as one line.
func (r BulkResult) String() string {
	s := fmt.Sprintf("accounts=%d elapsed=%s accounts/s=%.0f host_rss=%.1fMB plugin_rss=%.1fMB requests/account=%.2f 429s=%d 5xx_injected=%d [%s]",
		r.Accounts, r.Batch.Elapsed.Round(time.Millisecond), r.AccountsPerSec, mb(r.HostPeakRSS), mb(r.PluginPeakRSS),
		r.RequestsPerAccount, r.Sim.RateLimited, r.Sim.InjectedErrors, r.Batch)
	if t := r.CPU.Total(); t > 0 && r.Accounts > 0 {
		s += fmt.Sprintf(" %s (%.0fus/account)", r.CPU, float64(t.Microseconds())/float64(r.Accounts))
	}
	if r.Verification != nil {
		s += " verify: " + r.Verification.String()
	}
	return s
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// Bulk starts a fresh stack, runs one provctl sync-batch of the hierarchy
// and measures it.
func Bulk(ctx context.Context, c BulkConfig) (BulkResult, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return BulkResult{}, err
	}
	file := filepath.Join(c.Dir, "accounts.jsonl")
	if err := c.Hierarchy.WriteFile(file); err != nil {
		return BulkResult{}, err
	}
	creds := Credentials{AccessID: "loadtest", Password: "loadtest-password", APIKey: "loadtest-api-key"}
	lvl := c.HostLogLevel
	if lvl == "" {
		lvl = "info"
	}
	var hostBin string
	if c.InProcess {
		hostBin = c.Bins.InProcessHost
	}
	hc := HostConfig{LogLevel: lvl, Args: c.HostArgs, Env: c.HostEnv, Settings: c.Settings}
	if c.Store != "" {
		hc.Args = append(slices.Clone(hc.Args), "--store", c.Store)
	}
	var profiles []profileTarget
	if c.ProfileDir != "" {
		hp, pp, err := freePorts()
		if err != nil {
			return BulkResult{}, err
		}
		hc.Args = append(hc.Args, "--metrics-listen", hp, "--pprof")
		hc.Env = append(hc.Env, pluginPprofEnv+"="+pp)
		profiles = []profileTarget{{"host.cpu", hp}, {"plugin.cpu", pp}}
	}
	s, err := StartStack(ctx, StackConfig{
		Bins: c.Bins, Dir: c.Dir, Logs: c.Logs, HostBinary: hostBin,
		Sim:  SimConfig{Credentials: creds, Faults: c.Faults},
		Host: hc,
	})
	if err != nil {
		return BulkResult{}, err
	}
	defer s.Close()
	var second *Daemon
	if c.SecondDaemon {
		if c.Store == "" {
			return BulkResult{}, errors.New("a second daemon needs a shared store")
		}
		hc2 := s.Host.Config
		hc2.Dir, hc2.DataDir = filepath.Join(c.Dir, "host2"), ""
		if second, err = StartHost(ctx, c.Bins.Host, hc2); err != nil {
			return BulkResult{}, err
		}
		defer func() { _ = second.Stop(30 * time.Second) }()
		conn, err := second.Dial("")
		if err != nil {
			return BulkResult{}, err
		}
		defer conn.Close()
		if err := WaitRunning(ctx, hostv1.NewHostServiceClient(conn)); err != nil {
			return BulkResult{}, err
		}
	}
	if err := s.Sim.Reset(ctx); err != nil { // zero the counters of the start (Probe...)
		return BulkResult{}, err
	}
	res := BulkResult{Accounts: c.Hierarchy.Count()}
	plugin := -1 // none: the adapter is in the host
	if !c.InProcess {
		if plugin, err = s.Host.WaitPluginPID(ctx, 0); err != nil {
			return res, err
		}
	}
	var before CPUTimes
	before.Sim, _ = CPUTime(s.Sim.Pid())
	before.Host, _ = CPUTime(s.Host.Pid())
	before.Plugin, _ = CPUTime(plugin)
	dctx, stopDuring := context.WithCancel(ctx)
	duringDone := make(chan struct{})
	go func() {
		defer close(duringDone)
		if c.During != nil {
			c.During(dctx, s)
		}
	}()
	profiled := make(chan error, 1)
	go func() { profiled <- takeProfiles(ctx, c.ProfileDir, c.ProfileFor, profiles) }()
	if second == nil {
		res.Batch, err = s.Batch(ctx, file, c.Batch)
	} else {
		res.Batch, err = splitBatch(ctx, c, s, second)
	}
	stopDuring()
	<-duringDone
	if err != nil {
		return res, err
	}
	if err := <-profiled; err != nil {
		return res, err
	}
	res.AccountsPerSec = float64(res.Batch.Synced) / res.Batch.Elapsed.Seconds()
	if res.HostPeakRSS, err = PeakRSS(s.Host.Pid()); err != nil {
		return res, err
	}
	if pids := s.Host.PluginPIDs(); len(pids) > 0 {
		if res.PluginPeakRSS, err = PeakRSS(pids[0]); err != nil {
			return res, err
		}
		if pids[0] == plugin {
			t, _ := CPUTime(plugin)
			res.CPU.Plugin = t - before.Plugin
		}
	}
	t, _ := CPUTime(s.Sim.Pid())
	res.CPU.Sim = t - before.Sim
	t, _ = CPUTime(s.Host.Pid())
	res.CPU.Host = t - before.Host
	res.CPU.Provctl = res.Batch.CPU
	if res.Sim, err = s.Sim.Stats(ctx); err != nil {
		return res, err
	}
	res.RequestsPerAccount = float64(res.Sim.APIRequests) / float64(res.Accounts)
	if c.Verify {
		if res.Verification, err = s.Verify(ctx, c.Hierarchy); err != nil {
			return res, err
		}
	}
	return res, nil
}

// splitBatch runs half of the hierarchy's families on each daemon at once
// and reports them as one batch: the counts added, the wall time of both.
func splitBatch(ctx context.Context, c BulkConfig, s *Stack, second *Daemon) (BatchResult, error) {
	var halves [2][]string
	group := -1
	c.Hierarchy.Each(func(a Account) {
		if a.ParentID == "" {
			group++
		}
		halves[group%2] = append(halves[group%2], a.Line())
	})
	addrs := [2]string{s.Host.Addr, second.Addr}
	var results [2]BatchResult
	var errs [2]error
	var wg sync.WaitGroup
	start := time.Now()
	for i := range halves {
		file := filepath.Join(c.Dir, fmt.Sprintf("half-%d.jsonl", i))
		if err := os.WriteFile(file, []byte(strings.Join(halves[i], "\n")+"\n"), 0o600); err != nil {
			return BatchResult{}, err
		}
		o := c.Batch
		if o.Logs == nil {
			o.Logs = c.Logs
		}
		wg.Go(func() { results[i], errs[i] = SyncBatch(ctx, c.Bins.Provctl, addrs[i], file, o) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return BatchResult{}, err
	}
	out := BatchResult{Elapsed: time.Since(start), Codes: map[string]int{}}
	for _, r := range results {
		out.Synced += r.Synced
		out.Created += r.Created
		out.Skipped += r.Skipped
		out.Failed += r.Failed
		out.CPU += r.CPU
		out.ExitCode = max(out.ExitCode, r.ExitCode)
		out.NotSynced = append(out.NotSynced, r.NotSynced...)
		for k, v := range r.Codes {
			out.Codes[k] += v
		}
	}
	return out, nil
}

// pluginPprofEnv is the plugin SDK's variable (plugin.PprofEnv): a plugin
// serves its profiles on that address.
const pluginPprofEnv = "PROVISIONING_PLUGIN_PPROF"

type profileTarget struct{ file, addr string }

// freePorts returns two free loopback addresses.
func freePorts() (string, string, error) {
	var out [2]string
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		out[i] = l.Addr().String()
		defer l.Close()
	}
	return out[0], out[1], nil
}

// takeProfiles waits a second for the batch to get going, then takes a CPU
// profile of each target at once, into dir.
func takeProfiles(ctx context.Context, dir string, d time.Duration, targets []profileTarget) error {
	if len(targets) == 0 {
		return nil
	}
	if d <= 0 {
		d = 5 * time.Second
	}
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	errs := make(chan error, len(targets))
	for _, t := range targets {
		go func() {
			errs <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.addr, int(d.Seconds())), filepath.Join(dir, t.file))
		}()
	}
	var all []error
	for range targets {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s (does the daemon have --pprof?)", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

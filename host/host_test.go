package host_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

const testPluginPkg = "github.com/cloudbss/provisioning/host/internal/testplugin"

type fixture struct {
	h      *host.Host
	pidDir string
	logs   *plugintest.LogBuffer
	reg    *prometheus.Registry
}

func start(t *testing.T, entry catalog.Entry, opts ...host.Option) *fixture {
	t.Helper()
	f := &fixture{pidDir: t.TempDir(), logs: &plugintest.LogBuffer{}, reg: prometheus.NewRegistry()}
	if entry.Name == "" {
		entry.Name = "testplugin"
	}
	if entry.Path == "" {
		entry.Path = plugintest.Build(t, testPluginPkg)
	}
	if entry.Env == nil {
		entry.Env = map[string]string{}
	}
	entry.Env["TESTPLUGIN_PID_DIR"] = f.pidDir
	cfg := &catalog.Config{Plugins: []catalog.Entry{entry}}
	opts = append([]host.Option{
		host.WithLogger(slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		host.WithMetrics(f.reg),
		host.WithRestartBackoff(20*time.Millisecond, time.Second),
		host.WithKillTimeout(2 * time.Second),
	}, opts...)
	h, err := host.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

func (f *fixture) pids(t *testing.T, prefix string) []int {
	t.Helper()
	des, err := os.ReadDir(f.pidDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, de := range des {
		if s, ok := strings.CutPrefix(de.Name(), prefix+"-"); ok {
			pid, _ := strconv.Atoi(strings.TrimSuffix(s, ".pid"))
			out = append(out, pid)
		}
	}
	return out
}

func account(id string) *provisioningv1.Account {
	return &provisioningv1.Account{Id: id, Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme " + id, CorporateEmail: id + "@example.com"}
}

func TestStartCallAndClose(t *testing.T) {
	f := start(t, catalog.Entry{Settings: map[string]string{"token": "s3cret-value"}, Env: map[string]string{"TESTPLUGIN_SPAWN_CHILD": "1"}})
	ctx := context.Background()
	if err := f.h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := f.h.Plugin("testplugin")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: account("A1")})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetCreated() || resp.GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_SYNCED {
		t.Errorf("Synchronize = %v", resp)
	}
	ps := f.h.Plugins()
	if len(ps) != 1 || ps[0].GetState() != hostv1.PluginState_PLUGIN_STATE_RUNNING || ps[0].GetVersion() != "0.0.1" || len(ps[0].GetSha256()) != 64 {
		t.Errorf("Plugins = %v", ps)
	}
	if _, err := f.h.Plugin("nope"); !errors.Is(err, host.ErrUnknownPlugin) {
		t.Errorf("Plugin(nope) error = %v, want ErrUnknownPlugin", err)
	}
	if got := metricSum(t, f.reg, "provisioning_host_plugin_calls_total"); got == 0 {
		t.Error("no call metrics")
	}

	plugins, children := f.pids(t, "plugin"), f.pids(t, "child")
	if len(plugins) != 1 || len(children) != 1 {
		t.Fatalf("pids: plugins %v children %v", plugins, children)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.h.Close(cctx); err != nil {
		t.Fatal(err)
	}
	plugintest.WaitExit(t, plugins[0], 5*time.Second)
	plugintest.WaitExit(t, children[0], 5*time.Second) // same process group
	if got := f.h.Plugins()[0].GetState(); got != hostv1.PluginState_PLUGIN_STATE_STOPPED {
		t.Errorf("state after Close = %v", got)
	}
	if _, err := c.Probe(ctx, &provisioningv1.ProbeRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("Probe after Close: %v, want UNAVAILABLE", err)
	}
	if strings.Contains(f.logs.String(), "s3cret-value") {
		t.Error("a setting value reached the log")
	}
	if !strings.Contains(f.logs.String(), "plugin=testplugin") {
		t.Error("log lines do not carry the plugin name")
	}
}

// TestPluginsDigestIsTheStartedBinarys: ListPlugins reports the SHA-256 of
// an unpinned binary as it was started, hashed when first asked, and none
// once another file took its path before that (a deploy renaming a new
// build over it): never the new file's digest as the running process's.
func TestPluginsDigestIsTheStartedBinarys(t *testing.T) {
	for _, replaced := range []bool{false, true} {
		t.Run(fmt.Sprintf("replaced=%t", replaced), func(t *testing.T) {
			b, err := os.ReadFile(plugintest.Build(t, testPluginPkg))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "testplugin")
			if err := os.WriteFile(path, b, 0o755); err != nil {
				t.Fatal(err)
			}
			deploy := func() {
				t.Helper()
				next := filepath.Join(dir, "testplugin.next")
				if err := os.WriteFile(next, append(b, 0), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(next, path); err != nil {
					t.Fatal(err)
				}
			}
			f := start(t, catalog.Entry{Path: path})
			if err := f.h.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			want := hex.EncodeToString(sum[:])
			if replaced {
				deploy()
				want = ""
			}
			if got := f.h.Plugins()[0].GetSha256(); got != want {
				t.Errorf("sha256 = %q, want %q", got, want)
			}
			if !replaced {
				// Once hashed, it stays the started binary's digest.
				deploy()
				if got := f.h.Plugins()[0].GetSha256(); got != want {
					t.Errorf("after a deploy, sha256 = %q, want the started binary's %q", got, want)
				}
			}
		})
	}
}

func TestChecksumMismatchRefused(t *testing.T) {
	bad := strings.Repeat("ab", 32)
	path := plugintest.Build(t, testPluginPkg)
	f := start(t, catalog.Entry{Path: path, SHA256: bad})
	err := f.h.Start(context.Background())
	if !errors.Is(err, host.ErrChecksumMismatch) {
		t.Fatalf("Start error = %v, want ErrChecksumMismatch", err)
	}
	for _, want := range []string{path, bad} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if len(f.pids(t, "plugin")) != 0 {
		t.Error("the plugin process was started")
	}
	p := f.h.Plugins()[0]
	if p.GetState() != hostv1.PluginState_PLUGIN_STATE_FAILED || !strings.Contains(p.GetLastError(), bad) {
		t.Errorf("plugin = %v", p)
	}
	c, _ := f.h.Plugin("testplugin")
	if _, err := c.Probe(context.Background(), &provisioningv1.ProbeRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("Probe on a failed plugin: %v, want UNAVAILABLE", err)
	}
}

func TestNameMismatchAndConfigureFailure(t *testing.T) {
	t.Parallel()
	for name, e := range map[string]catalog.Entry{
		"name":      {Name: "other"},
		"configure": {Settings: map[string]string{"reject": "true"}},
	} {
		t.Run(name, func(t *testing.T) {
			f := start(t, e)
			err := f.h.Start(context.Background())
			if err == nil {
				t.Fatal("Start succeeded")
			}
			if name == "name" && !errors.Is(err, host.ErrNameMismatch) {
				t.Errorf("error = %v", err)
			}
			if got := f.h.Plugins()[0].GetState(); got != hostv1.PluginState_PLUGIN_STATE_FAILED {
				t.Errorf("state = %v", got)
			}
			for _, pid := range f.pids(t, "plugin") {
				plugintest.WaitExit(t, pid, 5*time.Second)
			}
		})
	}
}

func TestCrashMidCallIsRestartedAndRetried(t *testing.T) {
	f := start(t, catalog.Entry{})
	ctx := context.Background()
	if err := f.h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := f.h.Plugin("testplugin")
	pid := f.pids(t, "plugin")[0]

	// A slow Synchronize is in flight when the plugin is SIGKILLed: it is
	// idempotent, so the host retries it once on the restarted plugin.
	errc := make(chan error, 1)
	go func() {
		_, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "S1", Name: "sleep:300ms"}})
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Synchronize across a crash: %v", err)
	}
	if _, err := c.Probe(ctx, &provisioningv1.ProbeRequest{}); err != nil {
		t.Fatalf("Probe after restart: %v", err)
	}
	p := f.h.Plugins()[0]
	if p.GetRestarts() != 1 || p.GetState() != hostv1.PluginState_PLUGIN_STATE_RUNNING {
		t.Errorf("plugin after restart = %v", p)
	}
	if got := metricSum(t, f.reg, "provisioning_host_plugin_restarts_total"); got != 1 {
		t.Errorf("restarts metric = %v", got)
	}
	if n := len(f.pids(t, "plugin")); n != 2 {
		t.Errorf("%d plugin processes started, want 2", n)
	}
}

// metricSum adds up every sample of a counter family.
func metricSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestSettlePending(t *testing.T) {
	st := store.NewMemory()
	f := start(t, catalog.Entry{}, host.WithStore(st), host.WithSettleInterval(50*time.Millisecond))
	ctx := context.Background()
	if err := f.h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := f.h.Plugin("testplugin")
	resp, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "P1", Name: "pending"}})
	if err != nil || resp.GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_PENDING {
		t.Fatalf("Synchronize = %v, %v", resp, err)
	}
	if err := st.Put(ctx, resp.GetRecord(), &provisioningv1.Account{Id: "P1", Name: "pending"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		e, err := st.Get(ctx, "testplugin", "P1")
		if err != nil {
			t.Fatal(err)
		}
		if e.Record.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_SYNCED {
			if e.Account.GetName() != "pending" {
				t.Errorf("account snapshot lost: %v", e.Account)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("record still %v", e.Record.GetStatus())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkColdStart measures launching a plugin (fresh process, handshake
// with AutoMTLS, GetPluginInfo, Configure) until it serves, and its stop.
func BenchmarkColdStart(b *testing.B) {
	path := plugintest.Build(b, testPluginPkg)
	cfg := &catalog.Config{Plugins: []catalog.Entry{{Name: "testplugin", Path: path}}}
	quiet := slog.New(slog.DiscardHandler)
	var startTotal time.Duration
	for b.Loop() {
		h, err := host.New(cfg, host.WithLogger(quiet))
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := h.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		startTotal += time.Since(t0)
		if err := h.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(startTotal.Milliseconds())/float64(b.N), "start-ms/op")
}

func TestCloseDrainsInFlightCalls(t *testing.T) {
	f := start(t, catalog.Entry{})
	ctx := context.Background()
	if err := f.h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := f.h.Plugin("testplugin")
	errc := make(chan error, 1)
	go func() {
		_, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "SLOW", Name: "sleep:400ms"}})
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // the call is in flight
	closed := make(chan error, 1)
	go func() { closed <- f.h.Close(ctx) }()
	time.Sleep(50 * time.Millisecond)
	if _, err := c.Probe(ctx, &provisioningv1.ProbeRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("new call while closing: %v, want UNAVAILABLE", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("in-flight call cut by Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for _, pid := range f.pids(t, "plugin") {
		plugintest.WaitExit(t, pid, 5*time.Second)
	}
}

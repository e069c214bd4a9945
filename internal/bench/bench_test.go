package bench_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/panda"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// binEnv names a folder of prebuilt commands (make build's bin/) that the
// benchmarks use instead of building the working tree's.
const binEnv = "BENCH_BIN"

// bins are the commands, built once without -race by TestMain.
var bins loadtest.Binaries

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		return m.Run() // no benchmark asked for (go test ./...): build nothing
	}
	if d := os.Getenv(binEnv); d != "" {
		// Prebuilt binaries, e.g. of another commit, to compare against.
		bins = loadtest.Binaries{
			PandaSim: filepath.Join(d, "pandasim"), Host: filepath.Join(d, "provisioning-host"),
			Plugin: filepath.Join(d, "provisioning-plugin-panda"), Provctl: filepath.Join(d, "provctl"),
		}
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "bench-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bins, err = loadtest.Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: build the commands:", err)
		return 1
	}
	return m.Run()
}

var quiet = slog.New(slog.DiscardHandler)

// startSim serves the simulator in-process: the calls measured here make
// no remote request, it only has to exist for Configure and Probe.
func startSim(tb testing.TB) string {
	tb.Helper()
	sim, err := pandasim.New()
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	return srv.URL
}

func settings(apiURL string) map[string]string {
	return map[string]string{
		panda.SettingAPIURL: apiURL, panda.SettingAccessID: pandasim.DefaultAccessID,
		panda.SettingPassword: pandasim.DefaultPassword, panda.SettingAPIKey: pandasim.DefaultAPIKey,
		panda.SettingRootAccountID: pandasim.DefaultRootAccountID,
	}
}

// validateRequest is a form check the adapter answers without a remote
// call: the account is already synchronized, so its username is read-only
// and needs no availability check.
func validateRequest() *provisioningv1.ValidateSyncOptionsRequest {
	return &provisioningv1.ValidateSyncOptionsRequest{
		Account: &provisioningv1.Account{
			Id: "D-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Bench Co",
			CorporateEmail: "it@bench.example", Contact: &provisioningv1.Contact{FirstName: "Ben", LastName: "Ch"},
			Country: "ES", Language: "es-ES",
		},
		Record: &provisioningv1.SyncRecord{
			Plugin: "panda", AccountId: "D-1", Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED,
			RemoteId: "ACC-1234567", RemoteParentId: pandasim.DefaultRootAccountID,
			// A direct account: no parent_account value (the adapter would
			// read one as "synchronized under a reseller": PARENT_CHANGED).
			Values: map[string]string{"role": "User", "username": "bench.user"},
		},
		Values: map[string]string{"role": "User", "username": "bench.user"},
	}
}

// caller is one way of reaching the adapter.
type caller struct {
	info     func(context.Context) error
	validate func(context.Context) error
}

func fromClient(c provisioningv1.ProvisioningAdapterClient) caller {
	req := validateRequest()
	return caller{
		info: func(ctx context.Context) error {
			_, err := c.GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{})
			return err
		},
		validate: func(ctx context.Context) error {
			resp, err := c.ValidateSyncOptions(ctx, req)
			if err == nil && len(resp.GetDiagnostics()) > 0 {
				err = fmt.Errorf("unexpected diagnostics: %v", resp.GetDiagnostics())
			}
			return err
		},
	}
}

// inProcess: (a) the adapter's methods called directly.
func inProcess(tb testing.TB, apiURL string) caller {
	a := panda.New()
	if _, err := a.Configure(context.Background(), &provisioningv1.ConfigureRequest{Settings: settings(apiURL)}); err != nil {
		tb.Fatal(err)
	}
	req := validateRequest()
	return caller{
		info: func(ctx context.Context) error {
			_, err := a.GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{})
			return err
		},
		validate: func(ctx context.Context) error {
			_, err := a.ValidateSyncOptions(ctx, req)
			return err
		},
	}
}

// grpcUnix: (b) the adapter served by a plain grpc.Server on a unix socket
// in this process, no TLS.
func grpcUnix(tb testing.TB, apiURL string) caller {
	a := panda.New()
	if _, err := a.Configure(context.Background(), &provisioningv1.ConfigureRequest{Settings: settings(apiURL)}); err != nil {
		tb.Fatal(err)
	}
	sock := filepath.Join(tb.TempDir(), "adapter.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer()
	provisioningv1.RegisterProvisioningAdapterServer(srv, a)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(); srv.Stop() })
	return fromClient(provisioningv1.NewProvisioningAdapterClient(conn))
}

// goPlugin: (c) the plugin binary as a subprocess through go-plugin with
// AutoMTLS, as the SDK launches it.
func goPlugin(tb testing.TB, apiURL string) caller {
	p, err := plugin.NewLauncher(bins.Plugin, plugin.WithClientLogger(quiet)).Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Kill)
	ac := p.Adapter()
	if _, err := ac.Configure(context.Background(), &provisioningv1.ConfigureRequest{Settings: settings(apiURL)}); err != nil {
		tb.Fatal(err)
	}
	return fromClient(ac)
}

// hostLibrary: (d) the same subprocess behind host.New(...).Plugin.
func hostLibrary(tb testing.TB, apiURL string) caller {
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: "panda", Path: bins.Plugin, Settings: settings(apiURL)}}}, host.WithLogger(quiet))
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close(context.Background()) })
	c, err := h.Plugin("panda")
	if err != nil {
		tb.Fatal(err)
	}
	return fromClient(c)
}

// daemon: (e) the provisioning-host daemon on loopback TCP, called by a
// gRPC client as a BSS core would.
func daemon(tb testing.TB, apiURL string) caller { return startDaemon(tb, apiURL, "1", nil) }

// daemonUnix: (e) with the daemon listening on a unix socket, as a BSS core
// on the same machine may reach it.
func daemonUnix(tb testing.TB, apiURL string) caller {
	return startDaemon(tb, apiURL, "2", []string{"--listen", filepath.Join(tb.TempDir(), "host.sock")})
}

// startDaemon starts a daemon whose validate call names account D-n, so
// that daemons sharing one simulator synchronize distinct accounts.
func startDaemon(tb testing.TB, apiURL, n string, args []string) caller {
	logs, err := loadtest.NewLogs(filepath.Join(tb.TempDir(), "daemon.log"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := loadtest.StartHost(context.Background(), bins.Host, loadtest.HostConfig{
		Plugin: bins.Plugin, APIURL: apiURL,
		Credentials: loadtest.Credentials{AccessID: pandasim.DefaultAccessID, Password: pandasim.DefaultPassword, APIKey: pandasim.DefaultAPIKey},
		Dir:         tb.TempDir(), LogLevel: "warn", Logs: logs, Args: args,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Stop(10 * time.Second); logs.Close() })
	conn, err := d.Dial("")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	c := hostv1.NewHostServiceClient(conn)
	if err := loadtest.WaitRunning(context.Background(), c); err != nil {
		tb.Fatal(err)
	}
	// The daemon trusts its store, not the caller, for the account's
	// record: synchronize the account first, then validate it with no
	// record, as a BSS core does; the host fills the stored one in.
	req := validateRequest()
	req.Record = nil
	req.Account.Id, req.Account.Name = "D-"+n, "Bench Co "+n
	req.Values["username"] = "bench.user" + n
	if _, err := c.Synchronize(context.Background(), &hostv1.SynchronizeRequest{Plugin: "panda", Request: &provisioningv1.SynchronizeRequest{
		Account: req.GetAccount(), Values: req.GetValues(),
	}}); err != nil {
		tb.Fatal(err)
	}
	return caller{
		info: func(ctx context.Context) error {
			_, err := c.GetPluginInfo(ctx, &hostv1.GetPluginInfoRequest{Plugin: "panda"})
			return err
		},
		validate: func(ctx context.Context) error {
			resp, err := c.ValidateSyncOptions(ctx, &hostv1.ValidateSyncOptionsRequest{Plugin: "panda", Request: req})
			if err == nil && len(resp.GetResponse().GetDiagnostics()) > 0 {
				err = fmt.Errorf("unexpected diagnostics: %v", resp.GetResponse().GetDiagnostics())
			}
			return err
		},
	}
}

// BenchmarkCall measures one adapter call by every path, in one run. The
// sub-benchmark names put the path last (via=...), so that
//
//	benchstat -col /via bench.txt
//
// prints the paths side by side with their ratios to go-plugin, the first
// column. make bench-summary prints the daemon row against its target
// (≤ 2.1× go-plugin: two process hops and nothing more).
func BenchmarkCall(b *testing.B) {
	api := startSim(b)
	paths := []struct {
		name  string
		setup func(testing.TB, string) caller
	}{
		{"goplugin", goPlugin},
		{"host", hostLibrary},
		{"daemon", daemon},
		{"daemon-unix", daemonUnix},
		{"inprocess", inProcess},
		{"grpc-unix", grpcUnix},
	}
	callers := make([]caller, len(paths))
	for i, p := range paths {
		callers[i] = p.setup(b, api)
	}
	for _, rpc := range []string{"GetPluginInfo", "ValidateSyncOptions"} {
		for i, p := range paths {
			call := callers[i].info
			if rpc == "ValidateSyncOptions" {
				call = callers[i].validate
			}
			b.Run("rpc="+rpc+"/via="+p.name, func(b *testing.B) {
				ctx := context.Background()
				if err := call(ctx); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := call(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkColdStart measures the start of the Panda plugin with AutoMTLS
// up to its first answered RPC: by the SDK (launch, handshake,
// GetPluginInfo) and by the host library (launch, handshake,
// GetPluginInfo, Configure, then the first GetPluginInfo through
// Host.Plugin). Stopping the plugin is not timed.
func BenchmarkColdStart(b *testing.B) {
	api := startSim(b)
	b.Run("via=sdk", func(b *testing.B) {
		for b.Loop() {
			p, err := plugin.NewLauncher(bins.Plugin, plugin.WithClientLogger(quiet)).Start()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Adapter().GetPluginInfo(context.Background(), &provisioningv1.GetPluginInfoRequest{}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			p.Kill()
			b.StartTimer()
		}
	})
	b.Run("via=host", func(b *testing.B) {
		cfg := &catalog.Config{Plugins: []catalog.Entry{{Name: "panda", Path: bins.Plugin, Settings: settings(api)}}}
		for b.Loop() {
			h, err := host.New(cfg, host.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			c, _ := h.Plugin("panda")
			if _, err := c.GetPluginInfo(context.Background(), &provisioningv1.GetPluginInfoRequest{}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := h.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}

package python_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	_ "modernc.org/sqlite" // reads the plugin's ledger file for the state checks

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/plugin/conformance"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// python is Debian's interpreter: the one that sees the Debian packages. A
// python3 earlier on PATH (pyenv) may not.
const python = "/usr/bin/python3"

const pluginName = "pyledger"

// TestMain removes the Go binaries plugintest.Build makes.
func TestMain(m *testing.M) { plugintest.Main(m) }

var (
	pythonOnce sync.Once
	pythonErr  error
)

// requirePython skips the test, saying what to install, unless python has
// every module the plugin and the stub generator need.
func requirePython(t *testing.T) {
	t.Helper()
	pythonOnce.Do(func() {
		out, err := exec.Command(python, "-c", "import grpc, google.protobuf, cryptography, grpc_tools").CombinedOutput()
		if err != nil {
			why := err.Error()
			if l := lastLine(string(out)); l != "" {
				why = l // "ModuleNotFoundError: No module named 'grpc'"
			}
			pythonErr = fmt.Errorf("%s cannot load the plugin's modules (%s); "+
				"install python3-grpcio python3-protobuf python3-cryptography python3-grpc-tools", python, why)
		}
	})
	if pythonErr != nil {
		t.Skipf("skipping the Python plugin: %v", pythonErr)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// generate writes the Python stubs into a temporary folder and returns it,
// for PYTHONPATH.
func generate(t *testing.T) string {
	t.Helper()
	requirePython(t)
	dir := t.TempDir()
	start := time.Now()
	out, err := exec.Command(python, "generate.py", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("generate.py: %v\n%s", err, out)
	}
	t.Logf("stubs generated in %s", time.Since(start).Round(time.Millisecond))
	return dir
}

func pluginPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("provisioning-plugin-" + pluginName)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tableDump reads the ledger's table, for the suite's state comparisons.
func tableDump(db string) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
			return []byte("[]"), nil
		}
		conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		rows, err := conn.QueryContext(ctx, `SELECT seq, account_id, parent_id, vals FROM accounts ORDER BY seq`)
		if err != nil {
			if strings.Contains(err.Error(), "no such table") {
				return []byte("[]"), nil
			}
			return nil, err
		}
		defer rows.Close()
		var all []string
		for rows.Next() {
			var seq int64
			var id, parent, vals string
			if err := rows.Scan(&seq, &id, &parent, &vals); err != nil {
				return nil, err
			}
			all = append(all, fmt.Sprintf("%d|%s|%s|%s", seq, id, parent, vals))
		}
		return json.Marshal(all)
	}
}

// TestConformance runs `provctl conformance` against the Python plugin, as
// its author would: provctl launches it through go-plugin with AutoMTLS.
// Every check must pass, none skip: the fixtures give a state_url and the
// settings a signing key (sensitive) for secrets.never-echoed to look for.
func TestConformance(t *testing.T) {
	t.Parallel()
	stubs := generate(t)
	provctl := plugintest.Build(t, "github.com/cloudbss/provisioning/cmd/provctl")
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	dump := tableDump(db)
	state := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := dump(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(state.Close)
	fx, err := os.ReadFile("fixtures.yaml") // the README's
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "fixtures.yaml"), string(fx)+"state_url: "+state.URL+"\n")
	writeFile(t, filepath.Join(dir, "settings.yaml"), "database: "+db+"\nsigning_key: env:PYLEDGER_SIGNING_KEY\n")

	cmd := exec.Command(provctl, "conformance", "-o", "json",
		"--plugin", pluginPath(t), "--settings", filepath.Join(dir, "settings.yaml"), "--fixtures", filepath.Join(dir, "fixtures.yaml"))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+stubs, "PYLEDGER_SIGNING_KEY=conformance-signing-key")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("provctl conformance: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	// conformance.Report's JSON form, read back.
	var rep struct {
		Plugin, Version string
		Results         []struct{ Name, Status, Message string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	var passed, skipped []string
	for _, r := range rep.Results {
		switch r.Status {
		case conformance.Pass.String():
			passed = append(passed, r.Name)
		case conformance.Skip.String():
			skipped = append(skipped, r.Name)
		default:
			t.Errorf("%s: %s %s", r.Name, r.Status, r.Message)
		}
	}
	// The plugin serves no SynchronizeStream (optional: hosts call it
	// unary), claims neither CAPABILITY_DELETE nor CAPABILITY_SUBSCRIPTIONS,
	// and provctl runs without a host in the loop.
	wantSkipped := []string{
		"synchronize.stream",
		"lifecycle.update-converges", "lifecycle.self-parent", "lifecycle.delete", "lifecycle.delete-children",
		"subscriptions.catalogue", "subscriptions.idempotent", "subscriptions.quantity", "subscriptions.transitions",
		"subscriptions.unknown-product", "subscriptions.validate-no-side-effects", "host.failed-records",
	}
	if d := cmp.Diff(wantSkipped, skipped); d != "" {
		t.Errorf("skipped checks (-want +got):\n%s", d)
	}
	if rep.Plugin != pluginName || rep.Version != "1.0.0" {
		t.Errorf("report names %s %s, want %s 1.0.0", rep.Plugin, rep.Version, pluginName)
	}
	t.Logf("conformance of the Python plugin: %d passed, %d skipped, in %s (provctl, launch to exit)",
		len(passed), len(skipped), elapsed.Round(time.Millisecond))
	// The plugin's log reaches provctl as structured records, not text: a
	// non-JSON line would show up at provctl's WARN level on stderr.
	if s := stderr.String(); strings.Contains(s, "Traceback") {
		t.Errorf("the plugin wrote a Python traceback:\n%s", s)
	}
}

// TestSignedEntries: with a signing key, an entry changed in the ledger file
// behind the plugin's back is reported FAILED by GetSyncStatus.
func TestSignedEntries(t *testing.T) {
	t.Parallel()
	stubs := generate(t)
	db := filepath.Join(t.TempDir(), "ledger.db")
	p := plugintest.Launch(t, pluginPath(t), []string{"PYTHONPATH=" + stubs})
	ctx := t.Context()
	if _, err := p.Client.Configure(ctx, &provisioningv1.ConfigureRequest{Settings: map[string]string{"database": db, "signing_key": "k3y-for-the-test"}}); err != nil {
		t.Fatal(err)
	}
	sr, err := p.Client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{
		Account:  &provisioningv1.Account{Id: "C-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme"},
		AutoFill: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	status := func() *provisioningv1.SyncRecord {
		t.Helper()
		r, err := p.Client.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: sr.GetRecord()})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetRecord()
	}
	if got := status().GetStatus(); got != provisioningv1.SyncStatus_SYNC_STATUS_SYNCED {
		t.Fatalf("status of an untouched entry = %v, want SYNCED", got)
	}
	conn, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `UPDATE accounts SET vals = '{"plan": "premium", "seats": "1"}' WHERE account_id = 'C-1'`); err != nil {
		t.Fatal(err)
	}
	if got := status(); got.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_FAILED || !strings.Contains(got.GetMessage(), "signature") {
		t.Errorf("status of an altered entry = %v, want FAILED naming the signature", got)
	}
}

// TestLoadedByHost loads the Python plugin through the generic host from a
// catalog entry, runs the suite through the host, and checks that the host
// stops it gracefully: the plugin logs its stop and the host never has to
// kill it.
func TestLoadedByHost(t *testing.T) {
	t.Parallel()
	stubs := generate(t)
	db := filepath.Join(t.TempDir(), "ledger.db")
	var logs syncBuffer
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{
		Name: pluginName, Path: pluginPath(t),
		Env:      map[string]string{"PYTHONPATH": stubs},
		Settings: map[string]string{"database": db},
	}}}, host.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		host.WithMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := h.Start(t.Context()); err != nil {
		t.Fatalf("start host: %v\n%s", err, logs.String())
	}
	t.Logf("host started the Python plugin in %s", time.Since(start).Round(time.Millisecond))
	ps := h.Plugins()
	if len(ps) != 1 || ps[0].GetName() != pluginName || ps[0].GetState() != hostv1.PluginState_PLUGIN_STATE_RUNNING {
		t.Fatalf("host plugins = %v, want %s running", ps, pluginName)
	}
	client, err := h.Plugin(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, client, conformance.Config{
		Configured: true, // by the host, from the catalog entry
		Fixtures:   fixtures(),
		StateFunc:  tableDump(db),
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start = time.Now()
	if err := h.Close(ctx); err != nil {
		t.Errorf("close host: %v", err)
	}
	t.Logf("host stopped the Python plugin in %s", time.Since(start).Round(time.Millisecond))
	out := logs.String()
	if !regexp.MustCompile(`"msg":"plugin stopping","plugin":"pyledger".*"reason":"(signal SIGTERM|host requested shutdown)"`).MatchString(out) {
		t.Errorf("the plugin did not log a graceful stop; host log:\n%s", out)
	}
	if strings.Contains(out, "did not stop in time") {
		t.Errorf("the host had to kill the plugin; host log:\n%s", out)
	}
}

// TestDaemon runs the Python plugin under the provisioning-host daemon: the
// catalog's relative database lands in the plugin's data folder, a
// Synchronize goes through, and when the daemon is killed the plugin notices
// its parent is gone and exits.
func TestDaemon(t *testing.T) {
	t.Parallel()
	stubs := generate(t)
	bin := plugintest.Build(t, "github.com/cloudbss/provisioning/cmd/provisioning-host")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "host.yaml"), fmt.Sprintf(`plugins:
  - name: %s
    path: %s
    env: {PYTHONPATH: %q}
    settings: {database: ledger.db}
`, pluginName, pluginPath(t), stubs))
	logs, err := loadtest.NewLogs(filepath.Join(dir, "logs.txt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	d, err := loadtest.Start(ctx, loadtest.ProcessSpec{
		Name: "host", Path: bin, Logs: logs,
		Args: []string{"--config", filepath.Join(dir, "host.yaml"), "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-format", "json"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Kill)
	conn, err := grpc.NewClient(d.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := hostv1.NewHostServiceClient(conn)
	// The daemon serves before its plugins finish starting: wait for this
	// one (an interpreter takes a moment).
	var ps []*hostv1.Plugin
	for {
		resp, err := hc.ListPlugins(ctx, &hostv1.ListPluginsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		ps = resp.GetPlugins()
		if len(ps) != 1 || ps[0].GetState() != hostv1.PluginState_PLUGIN_STATE_STARTING {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("plugin still starting: %v\n%s", ps, logs.Tail("host", 20))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if len(ps) != 1 || ps[0].GetState() != hostv1.PluginState_PLUGIN_STATE_RUNNING {
		t.Fatalf("plugins = %v, want %s running\n%s", ps, pluginName, logs.Tail("host", 20))
	}
	sr, err := hc.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: pluginName, Request: &provisioningv1.SynchronizeRequest{
		Account:  &provisioningv1.Account{Id: "R-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Channel Co"},
		AutoFill: true,
	}})
	if err != nil {
		t.Fatalf("synchronize through the daemon: %v", err)
	}
	if r := sr.GetResponse(); !r.GetCreated() || r.GetRecord().GetRemoteId() != "P-000001" {
		t.Errorf("synchronize = %v, want created P-000001", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "plugins", pluginName, "ledger.db")); err != nil {
		t.Errorf("the ledger is not in the plugin's data folder: %v", err)
	}

	pids := loadtest.Children(d.Pid())
	if len(pids) != 1 {
		t.Fatalf("daemon children = %v, want the plugin alone", pids)
	}
	pid := pids[0]
	// The interpreter runs the script itself (its shebang), no wrapper
	// between: the host's signals reach the plugin.
	if argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); !bytes.Contains(argv, []byte("provisioning-plugin-"+pluginName)) {
		t.Fatalf("daemon child %d runs %q, want the plugin", pid, argv)
	}
	_ = syscall.Kill(d.Pid(), syscall.SIGKILL)
	killed := time.Now()
	for loadtest.Alive(pid) {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the plugin (pid %d) outlived its killed host", pid)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Logf("the Python plugin exited %s after its host was killed", time.Since(killed).Round(time.Millisecond))
}

// TestDiesBeforeHandshake: a Python plugin that fails at import time never
// prints its handshake. The host's error, and the plugin's last_error, carry
// the traceback's last lines instead of go-plugin's generic message alone,
// and the host logs those lines at WARN.
func TestDiesBeforeHandshake(t *testing.T) {
	t.Parallel()
	requirePython(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "provisioning-plugin-broken")
	if err := os.WriteFile(script, []byte("#!"+python+"\nimport provisioning_module_that_is_not_installed\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: "broken", Path: script, Settings: map[string]string{}}}},
		host.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))), host.WithMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	err = h.Start(t.Context())
	const cause = "ModuleNotFoundError: No module named 'provisioning_module_that_is_not_installed'"
	if err == nil || !strings.Contains(err.Error(), cause) {
		t.Fatalf("start error = %v, want it to name %q", err, cause)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = h.Close(ctx)
	if ps := h.Plugins(); len(ps) != 1 || !strings.Contains(ps[0].GetLastError(), cause) {
		t.Errorf("plugins = %v, want last_error naming %q", ps, cause)
	}
	if !regexp.MustCompile(`"level":"WARN","msg":"` + regexp.QuoteMeta(cause)).MatchString(logs.String()) {
		t.Errorf("the host did not log the plugin's stderr at WARN:\n%s", logs.String())
	}
}

// TestChecksums pins every file the Python plugin runs (catalog checksums):
// the host starts it when they match and refuses, naming the file, when one
// of its modules differs; the launched file's own pin would not see that.
func TestChecksums(t *testing.T) {
	t.Parallel()
	stubs := generate(t)
	files := []string{pluginPath(t), "provisioning_plugin.py", "ledger.py", python}
	var pins []catalog.FileChecksum
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(f)
		pins = append(pins, catalog.FileChecksum{Path: abs, SHA256: fmt.Sprintf("%x", sha256.Sum256(b))})
	}
	start := func(pins []catalog.FileChecksum) (*host.Host, error) {
		h, err := host.New(&catalog.Config{RequireChecksums: true, Plugins: []catalog.Entry{{
			Name: pluginName, Path: pluginPath(t), Checksums: pins,
			Env:      map[string]string{"PYTHONPATH": stubs},
			Settings: map[string]string{"database": filepath.Join(t.TempDir(), "ledger.db")},
		}}}, host.WithLogger(slog.New(slog.DiscardHandler)), host.WithMetrics(prometheus.NewRegistry()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_ = h.Close(ctx)
		})
		return h, h.Start(t.Context())
	}
	if _, err := start(pins); err != nil {
		t.Fatalf("start with every file pinned: %v", err)
	}
	bad := slices.Clone(pins)
	bad[2].SHA256 = strings.Repeat("0", 64) // ledger.py
	h, err := start(bad)
	if !errors.Is(err, host.ErrChecksumMismatch) || !strings.Contains(err.Error(), "ledger.py") {
		t.Fatalf("start with ledger.py mispinned = %v, want ErrChecksumMismatch naming ledger.py", err)
	}
	if ps := h.Plugins(); len(ps) != 1 || ps[0].GetState() != hostv1.PluginState_PLUGIN_STATE_FAILED || ps[0].GetRestarts() != 0 {
		t.Errorf("plugins = %v, want failed without a restart", ps)
	}
}

// TestKillTimeout: the catalog's kill_timeout is how long the host waits
// after SIGTERM. Set far below what any process needs to exit, it makes the
// host kill the (well-behaved) plugin and say so with that timeout; the
// host's default (5s) would have let it exit by itself.
func TestKillTimeout(t *testing.T) {
	t.Parallel()
	stubs := generate(t)
	var logs syncBuffer
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{
		Name: pluginName, Path: pluginPath(t), KillTimeout: time.Millisecond,
		Env:      map[string]string{"PYTHONPATH": stubs},
		Settings: map[string]string{"database": filepath.Join(t.TempDir(), "ledger.db")},
	}}}, host.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))), host.WithMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if want := `"msg":"plugin did not stop in time; killing it","plugin":"pyledger","pid":`; !strings.Contains(logs.String(), want) ||
		!strings.Contains(logs.String(), `"timeout":1000000}`) {
		t.Errorf("want a kill after the catalog's 1ms; host log:\n%s", logs.String())
	}
}

// TestStartedByHand: without the host's cookie the plugin explains itself and
// exits 1, never printing a handshake.
func TestStartedByHand(t *testing.T) {
	t.Parallel()
	stubs := generate(t)
	cmd := exec.Command(pluginPath(t))
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(e string) bool {
		return strings.HasPrefix(e, "PROVISIONING_PLUGIN_")
	}), "PYTHONPATH="+stubs)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1; stderr:\n%s", err, stderr.String())
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "--debug") {
		t.Errorf("stdout %q (want empty), stderr %q (want the --debug hint)", stdout.String(), stderr.String())
	}
}

func fixtures() conformance.Fixtures {
	return conformance.Fixtures{
		DirectCustomer: conformance.Fixture{
			Account: &provisioningv1.Account{Id: "cust", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme"},
			Values:  map[string]string{"plan": "premium"},
		},
		Reseller: conformance.Fixture{
			Account: &provisioningv1.Account{Id: "res", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Channel Co"},
		},
		EndCustomer: conformance.Fixture{
			Account: &provisioningv1.Account{Id: "end", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Small Co", ParentId: "res"},
			Values:  map[string]string{"seats": "5", "note": "through Channel Co"},
		},
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer the host's logger and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

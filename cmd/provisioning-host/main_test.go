package main_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

const (
	daemonPkg = "github.com/cloudbss/provisioning/cmd/provisioning-host"
	pluginPkg = "github.com/cloudbss/provisioning/host/internal/testplugin"
	plug      = "testplugin"
)

// daemon is a running provisioning-host process.
type daemon struct {
	cmd    *exec.Cmd
	addr   string
	pidDir string
	stderr *plugintest.LogBuffer
	exited chan error
	// stdout has the lines printed after the first.
	stdout chan string
}

type daemonConfig struct {
	sha256  string // catalog sha256 of the plugin
	dataDir string
	listen  string
	flags   []string
	// entry is more YAML for the plugin's catalog entry (indented 4).
	entry string
}

func startDaemon(t *testing.T, dc daemonConfig) *daemon {
	t.Helper()
	bin := plugintest.Build(t, daemonPkg)
	pluginBin := plugintest.Build(t, pluginPkg)
	dir := t.TempDir()
	d := &daemon{pidDir: filepath.Join(dir, "pids"), stderr: &plugintest.LogBuffer{}, exited: make(chan error, 1)}
	if err := os.Mkdir(d.pidDir, 0o700); err != nil {
		t.Fatal(err)
	}
	sum := ""
	if dc.sha256 != "" {
		sum = "\n    sha256: " + dc.sha256
	}
	cfg := fmt.Sprintf(`plugins:
  - name: %s
    path: %s%s
    env:
      TESTPLUGIN_PID_DIR: %s
      TESTPLUGIN_SPAWN_CHILD: "1"
    settings:
      token: env:TEST_PLUGIN_TOKEN
%s`, plug, pluginBin, sum, d.pidDir, dc.entry)
	cfgPath := filepath.Join(dir, "host.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if dc.dataDir == "" {
		dc.dataDir = filepath.Join(dir, "data")
	}
	if dc.listen == "" {
		dc.listen = "127.0.0.1:0"
	}
	args := append([]string{"--config", cfgPath, "--listen", dc.listen, "--data-dir", dc.dataDir, "--log-format", "json", "--log-level", "debug"}, dc.flags...)
	d.cmd = exec.Command(bin, args...)
	d.cmd.Env = append(os.Environ(), "TEST_PLUGIN_TOKEN=tok-secret-123")
	d.cmd.Stderr = d.stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(t) })
	line := make(chan string, 8)
	d.stdout = line
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			select {
			case line <- s.Text():
			default:
			}
		}
	}()
	select {
	case l := <-line:
		a, ok := strings.CutPrefix(l, "provisioning-host listening on ")
		if !ok {
			t.Fatalf("first stdout line %q", l)
		}
		d.addr = a
	case err := <-d.exited:
		t.Fatalf("daemon exited: %v\n%s", err, d.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not start\n%s", d.stderr)
	}
	return d
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		if err != nil {
			t.Errorf("daemon exit: %v\n%s", err, d.stderr)
		}
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Errorf("daemon did not stop on SIGTERM\n%s", d.stderr)
	}
}

func (d *daemon) pids(t *testing.T, prefix string) []int {
	t.Helper()
	des, _ := os.ReadDir(d.pidDir)
	var out []int
	for _, de := range des {
		if s, ok := strings.CutPrefix(de.Name(), prefix+"-"); ok {
			pid, _ := strconv.Atoi(strings.TrimSuffix(s, ".pid"))
			out = append(out, pid)
		}
	}
	return out
}

func (d *daemon) dial(t *testing.T, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	target := d.addr
	if strings.HasPrefix(target, "unix://") {
		target = "unix:" + strings.TrimPrefix(target, "unix://")
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func acct(id string, typ provisioningv1.AccountType, parent string) *provisioningv1.Account {
	return &provisioningv1.Account{Id: id, Type: typ, ParentId: parent, Name: "Co " + id, CorporateEmail: id + "@example.com"}
}

var (
	reseller = provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
	customer = provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestDaemon drives one daemon through its life: reflection and health, a
// 1,000-account batch, ancestors from the store, a plugin SIGKILLed and
// restarted, metrics, SIGTERM leaving no process behind, and the records
// surviving a restart of the daemon.
func TestDaemon(t *testing.T) {
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")
	metricsAddr := freePort(t)
	d := startDaemon(t, daemonConfig{dataDir: dataDir, flags: []string{"--metrics-listen", metricsAddr}})
	conn := d.dial(t)
	c := hostv1.NewHostServiceClient(conn)

	t.Run("reflection and health", func(t *testing.T) {
		rc, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		resp, err := rc.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		if !strings.Contains(strings.Join(names, ","), "provisioning.host.v1.HostService") {
			t.Errorf("reflection lists %v", names)
		}
		_ = rc.CloseSend()
		h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "provisioning.host.v1.HostService"})
		if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health = %v, %v", h, err)
		}
	})

	t.Run("batch of 1000 with resellers and end customers", func(t *testing.T) {
		const resellers, perReseller = 100, 9
		var items []*hostv1.BatchItem
		for r := range resellers {
			rid := fmt.Sprintf("R%03d", r)
			items = append(items, &hostv1.BatchItem{Account: acct(rid, reseller, "")})
			for k := range perReseller {
				items = append(items, &hostv1.BatchItem{Account: acct(fmt.Sprintf("%s-C%d", rid, k), customer, rid)})
			}
		}
		mrand.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		start := time.Now()
		stream, err := c.SynchronizeBatch(ctx, &hostv1.SynchronizeBatchRequest{Plugin: plug, Items: items, Concurrency: 16})
		if err != nil {
			t.Fatal(err)
		}
		done := map[string]bool{}
		for {
			r, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.GetOutcome() != hostv1.Outcome_OUTCOME_SYNCED {
				t.Fatalf("%s: %v %v", r.GetAccountId(), r.GetOutcome(), r.GetError())
			}
			if p, _, ok := strings.Cut(r.GetAccountId(), "-"); ok && !done[p] {
				t.Fatalf("%s synced before its reseller %s", r.GetAccountId(), p)
			}
			if strings.Contains(r.GetAccountId(), "-") && r.GetRecord().GetRemoteParentId() == "" {
				t.Fatalf("%s has no remote parent: ancestors not threaded", r.GetAccountId())
			}
			done[r.GetAccountId()] = true
		}
		elapsed := time.Since(start)
		if len(done) != len(items) {
			t.Fatalf("%d results for %d items", len(done), len(items))
		}
		t.Logf("batch of %d: %v (%.0f accounts/s)", len(items), elapsed.Round(time.Millisecond), float64(len(items))/elapsed.Seconds())
	})

	t.Run("ancestors filled from the store", func(t *testing.T) {
		resp, err := c.GetSyncOptions(ctx, &hostv1.GetSyncOptionsRequest{Plugin: plug, Request: &provisioningv1.GetSyncOptionsRequest{Account: acct("NEW", customer, "R042")}})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := c.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: plug, AccountId: "R042"})
		if err != nil {
			t.Fatal(err)
		}
		if ds := resp.GetResponse().GetDiagnostics(); len(ds) != 0 {
			t.Errorf("diagnostics %v", ds)
		}
		if got := resp.GetResponse().GetFields()[1].GetValue(); got != rec.GetRecord().GetRemoteId() {
			t.Errorf("parent pre-populated with %q, want %q", got, rec.GetRecord().GetRemoteId())
		}
	})

	t.Run("plugin SIGKILLed is restarted", func(t *testing.T) {
		pids := d.pids(t, "plugin")
		if len(pids) != 1 {
			t.Fatalf("plugin pids %v", pids)
		}
		if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the old plugin to die", func() bool { return !plugintest.Alive(pids[0]) })
		resp, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: acct("AFTER", customer, "R001")}})
		if err != nil {
			t.Fatalf("call after the crash: %v", err)
		}
		if resp.GetResponse().GetRecord().GetRemoteParentId() == "" {
			t.Error("no remote parent after the restart")
		}
		pl, err := c.ListPlugins(ctx, &hostv1.ListPluginsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		p := pl.GetPlugins()[0]
		if p.GetRestarts() != 1 || p.GetState() != hostv1.PluginState_PLUGIN_STATE_RUNNING {
			t.Errorf("after restart: %v", p)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`provisioning_host_plugin_calls_total{code="OK",plugin="testplugin",rpc="Synchronize"}`,
			`provisioning_host_plugin_call_duration_seconds_bucket{plugin="testplugin",rpc="Synchronize"`,
			`provisioning_host_plugin_restarts_total{plugin="testplugin"} 1`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("SIGTERM leaves no plugin process", func(t *testing.T) {
		d.stop(t)
		all := append(d.pids(t, "plugin"), d.pids(t, "child")...)
		if len(all) < 4 { // two plugin runs, each with a child
			t.Fatalf("pids %v", all)
		}
		for _, pid := range all {
			if plugintest.Alive(pid) {
				t.Errorf("process %d outlived the daemon", pid)
			}
		}
		if strings.Contains(d.stderr.String(), "tok-secret-123") {
			t.Error("a setting value reached the daemon's log")
		}
	})

	t.Run("records survive a restart", func(t *testing.T) {
		d2 := startDaemon(t, daemonConfig{dataDir: dataDir})
		c2 := hostv1.NewHostServiceClient(d2.dial(t))
		rec, err := c2.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: plug, AccountId: "R099-C8"})
		if err != nil || rec.GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_SYNCED || rec.GetAccount().GetParentId() != "R099" {
			t.Errorf("after restart: %v, %v", rec, err)
		}
		n := 0
		token := ""
		for {
			resp, err := c2.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{Plugin: plug, PageSize: 400, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			n += len(resp.GetRecords())
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		if n != 1001 {
			t.Errorf("%d records listed, want 1001", n)
		}
	})
}

func TestDaemonChecksumMismatch(t *testing.T) {
	bad := strings.Repeat("0f", 32)
	sock := filepath.Join(t.TempDir(), "host.sock")
	d := startDaemon(t, daemonConfig{sha256: bad, listen: "unix://" + sock})
	if d.addr != "unix://"+sock {
		t.Errorf("listening on %q", d.addr)
	}
	c := hostv1.NewHostServiceClient(d.dial(t))
	ctx := context.Background()
	// Plugins start in the background: the check fails within moments.
	var p *hostv1.Plugin
	waitFor(t, "the plugin to be FAILED", func() bool {
		pl, err := c.ListPlugins(ctx, &hostv1.ListPluginsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		p = pl.GetPlugins()[0]
		return p.GetState() == hostv1.PluginState_PLUGIN_STATE_FAILED
	})
	actual := "" // the real digest is named next to the wanted one
	for _, w := range []string{bad, p.GetPath(), "sha256"} {
		if !strings.Contains(p.GetLastError(), w) {
			t.Errorf("last_error %q does not name %q", p.GetLastError(), w)
		}
	}
	if i := strings.Index(p.GetLastError(), "has sha256 "); i >= 0 {
		actual = p.GetLastError()[i+len("has sha256 "):][:64]
	}
	if len(actual) != 64 || actual == bad {
		t.Errorf("last_error %q lacks the file's digest", p.GetLastError())
	}
	if _, err := c.Probe(ctx, &hostv1.ProbeRequest{Plugin: plug}); status.Code(err) != codes.Unavailable {
		t.Errorf("Probe: %v, want UNAVAILABLE", err)
	}
	if pids := d.pids(t, "plugin"); len(pids) != 0 {
		t.Errorf("a plugin with a bad checksum ran: %v", pids)
	}
}

func TestDaemonBearerToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("let-me-in-0123456789abcdef0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, daemonConfig{flags: []string{"--auth-token-file", tokenFile}})
	conn := d.dial(t)
	c := hostv1.NewHostServiceClient(conn)
	ctx := context.Background()
	withToken := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	for name, cctx := range map[string]context.Context{"none": ctx, "wrong": withToken("let-me-out-0123456789abcdef0123456789")} {
		if _, err := c.ListPlugins(cctx, &hostv1.ListPluginsRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s token, unary: %v", name, err)
		}
		s, err := c.SynchronizeBatch(cctx, &hostv1.SynchronizeBatchRequest{Plugin: plug, Items: []*hostv1.BatchItem{{Account: acct("A", customer, "")}}})
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s token, stream: %v", name, err)
		}
		rc, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(cctx)
		if err == nil {
			_ = rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
			_, err = rc.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s token, reflection: %v", name, err)
		}
	}
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health without a token: %v", err)
	}
	if _, err := c.Synchronize(withToken("let-me-in-0123456789abcdef0123456789"), &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: acct("A", customer, "")}}); err != nil {
		t.Errorf("with the token: %v", err)
	}
}

func TestDaemonMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	serverCert := issue(t, ca, caKey, "localhost", x509.ExtKeyUsageServerAuth, filepath.Join(dir, "server"))
	clientCert := issue(t, ca, caKey, "bss-core", x509.ExtKeyUsageClientAuth, filepath.Join(dir, "client"))
	_ = serverCert
	d := startDaemon(t, daemonConfig{flags: []string{
		"--tls-cert", filepath.Join(dir, "server.pem"), "--tls-key", filepath.Join(dir, "server-key.pem"),
		"--client-ca", filepath.Join(dir, "ca.pem"),
	}})
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	ctx := context.Background()

	anon := d.dial(t, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost"})))
	if _, err := hostv1.NewHostServiceClient(anon).ListPlugins(ctx, &hostv1.ListPluginsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("without a client certificate: %v", err)
	}
	if _, err := healthpb.NewHealthClient(anon).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health without a client certificate: %v", err)
	}
	authed := d.dial(t, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{clientCert}})))
	if _, err := hostv1.NewHostServiceClient(authed).ListPlugins(ctx, &hostv1.ListPluginsRequest{}); err != nil {
		t.Errorf("with a client certificate: %v", err)
	}
	// A certificate from another CA is no credential.
	other, otherKey := newCA(t)
	stranger := issue(t, other, otherKey, "stranger", x509.ExtKeyUsageClientAuth, filepath.Join(dir, "stranger"))
	sc := d.dial(t, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{stranger}})))
	if _, err := hostv1.NewHostServiceClient(sc).ListPlugins(ctx, &hostv1.ListPluginsRequest{}); err == nil {
		t.Error("a certificate from another CA was accepted")
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

// issue makes a leaf certificate and writes base.pem and base-key.pem.
func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage, base string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{cn}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, base+".pem", "CERTIFICATE", der)
	writePEM(t, base+"-key.pem", "EC PRIVATE KEY", kb)
	c, err := tls.LoadX509KeyPair(base+".pem", base+"-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

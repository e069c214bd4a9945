package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/internal/loadtest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestTamperedPluginRefused: the catalog pins the plugin binary's SHA-256;
// a binary changed after that is never started, the daemon says why in
// ListPlugins, and calls to the plugin answer UNAVAILABLE.
func TestTamperedPluginRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logs := newLogs(t)
	dir := t.TempDir()
	orig, err := os.ReadFile(bins.Plugin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(orig)
	pinned := hex.EncodeToString(sum[:])
	tampered := filepath.Join(dir, "provisioning-plugin-panda")
	if err := os.WriteFile(tampered, append(orig, "tampered"...), 0o755); err != nil {
		t.Fatal(err)
	}
	creds := testCredentials(t)
	sim, err := loadtest.StartSim(ctx, bins.PandaSim, loadtest.SimConfig{Credentials: creds, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Kill)
	d, err := loadtest.StartHost(ctx, bins.Host, loadtest.HostConfig{
		Plugin: tampered, SHA256: pinned, APIURL: sim.URL, Credentials: creds, Dir: filepath.Join(dir, "host"), Logs: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(10 * time.Second) })
	conn, err := d.Dial("")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := hostv1.NewHostServiceClient(conn)

	// The daemon serves while its plugins start: the check fails within
	// moments of the start.
	var p *hostv1.Plugin
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := c.ListPlugins(ctx, &hostv1.ListPluginsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetPlugins()) != 1 {
			t.Fatalf("ListPlugins: %v", resp)
		}
		p = resp.GetPlugins()[0]
		if p.GetState() != hostv1.PluginState_PLUGIN_STATE_STARTING || time.Now().After(deadline) {
			break
		}
	}
	if p.GetState() != hostv1.PluginState_PLUGIN_STATE_FAILED || !strings.Contains(p.GetLastError(), "checksum") || !strings.Contains(p.GetLastError(), pinned) {
		t.Errorf("plugin state %s, last error %q: want FAILED with a checksum mismatch naming the pinned digest", p.GetState(), p.GetLastError())
	}
	if _, err := c.GetPluginInfo(ctx, &hostv1.GetPluginInfoRequest{Plugin: loadtest.PluginName}); status.Code(err) != codes.Unavailable {
		t.Errorf("GetPluginInfo of the refused plugin: %v, want UNAVAILABLE", err)
	}
	if pids := d.PluginPIDs(); len(pids) > 0 {
		t.Errorf("the tampered binary runs as pid %v", pids)
	}

	// The untouched binary, pinned the same way, starts.
	good := filepath.Join(dir, "good", "provisioning-plugin-panda")
	if err := os.MkdirAll(filepath.Dir(good), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, orig, 0o755); err != nil {
		t.Fatal(err)
	}
	d2, err := loadtest.StartHost(ctx, bins.Host, loadtest.HostConfig{
		Plugin: good, SHA256: pinned, APIURL: sim.URL, Credentials: creds, Dir: filepath.Join(dir, "host2"), Logs: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d2.Stop(10 * time.Second) })
	conn2, err := d2.Dial("")
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if err := loadtest.WaitRunning(ctx, hostv1.NewHostServiceClient(conn2)); err != nil {
		t.Errorf("the binary with the pinned digest: %v", err)
	}
}

// TestCallerWithoutTokenRefused: with --auth-token-file, every RPC but
// health needs the bearer token, unary and streaming alike, and provctl
// without it fails without printing it.
func TestCallerWithoutTokenRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	token := secret(t, "tok-")
	s := startStack(t, ctx, loadtest.StackConfig{Sim: loadtest.SimConfig{Credentials: testCredentials(t)}, Token: token, Logs: newLogs(t)})

	anon, err := s.Host.Dial("")
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	wrong, err := s.Host.Dial(token + "x")
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	for name, conn := range map[string]*grpc.ClientConn{"no token": anon, "wrong token": wrong} {
		c := hostv1.NewHostServiceClient(conn)
		if _, err := c.ListPlugins(ctx, &hostv1.ListPluginsRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: ListPlugins: %v, want UNAUTHENTICATED", name, err)
		}
		_, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: loadtest.PluginName, Request: &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "X-1"}}})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: Synchronize: %v, want UNAUTHENTICATED", name, err)
		}
		st, err := c.SynchronizeBatch(ctx, &hostv1.SynchronizeBatchRequest{Plugin: loadtest.PluginName, Items: []*hostv1.BatchItem{{Account: &provisioningv1.Account{Id: "X-1"}}}})
		if err == nil {
			_, err = st.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: SynchronizeBatch: %v, want UNAUTHENTICATED", name, err)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("%s: the error repeats the token", name)
		}
	}
	if hc, err := healthpb.NewHealthClient(anon).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without a token: %v %v, want SERVING", hc, err)
	}
	if _, err := s.Client.ListPlugins(ctx, &hostv1.ListPluginsRequest{}); err != nil {
		t.Errorf("with the token: %v", err)
	}

	// provctl without the token file.
	file := writeBatch(t, loadtest.Hierarchy{Prefix: "T", Direct: 1})
	out, err := exec.CommandContext(ctx, bins.Provctl, "--host", s.Host.Addr, "sync-batch", file, "--no-progress").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(out), "UNAUTHENTICATED") {
		t.Errorf("provctl without a token: %v\n%s", err, out)
	}
	// And with it, asked to be verbose about errors: the token is never shown.
	out, _ = exec.CommandContext(ctx, bins.Provctl, "--host", s.Host.Addr, "--token-file", s.TokenFile(), "plugins", "-o", "json").CombinedOutput()
	if strings.Contains(string(out), token) {
		t.Errorf("provctl printed the token")
	}
}

// TestCallerWithoutClientCertificateRefused: with --client-ca the daemon
// serves TLS and every RPC but health needs a client certificate signed by
// that CA; one from another CA fails the handshake.
func TestCallerWithoutClientCertificateRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	ca := newCA(t, "e2e client CA")
	rogue := newCA(t, "rogue CA")
	serverCA := newCA(t, "e2e server CA")
	srvCert, srvKey := serverCA.issue(t, "provisioning-host", true)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := []string{"--tls-cert", write("srv.pem", srvCert), "--tls-key", write("srv.key", srvKey), "--client-ca", write("ca.pem", ca.certPEM)}
	creds := testCredentials(t)
	logs := newLogs(t)
	sim, err := loadtest.StartSim(ctx, bins.PandaSim, loadtest.SimConfig{Credentials: creds, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Kill)
	d, err := loadtest.StartHost(ctx, bins.Host, loadtest.HostConfig{
		Plugin: bins.Plugin, APIURL: sim.URL, Credentials: creds, Dir: filepath.Join(dir, "host"), Args: args, Logs: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(10 * time.Second) })

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCA.certPEM)
	dial := func(cert *tls.Certificate) *grpc.ClientConn {
		cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		conn, err := grpc.NewClient(d.Addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	pair := func(c *testCA) *tls.Certificate {
		certPEM, keyPEM := c.issue(t, "bss-core", false)
		kp, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return &kp
	}

	none := dial(nil)
	if _, err := hostv1.NewHostServiceClient(none).ListPlugins(ctx, &hostv1.ListPluginsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("TLS without a client certificate: %v, want UNAUTHENTICATED", err)
	}
	if hc, err := healthpb.NewHealthClient(none).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without a client certificate: %v %v, want SERVING", hc, err)
	}
	if _, err := hostv1.NewHostServiceClient(dial(pair(rogue))).ListPlugins(ctx, &hostv1.ListPluginsRequest{}); err == nil {
		t.Errorf("a certificate from another CA was accepted")
	}
	plain, err := grpc.NewClient(d.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := hostv1.NewHostServiceClient(plain).ListPlugins(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer x"), &hostv1.ListPluginsRequest{}); err == nil {
		t.Errorf("a plaintext caller was answered")
	}
	good := hostv1.NewHostServiceClient(dial(pair(ca)))
	if err := loadtest.WaitRunning(ctx, good); err != nil {
		t.Errorf("with a good client certificate: %v", err)
	}
}

// testCA is a throwaway certificate authority.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a leaf certificate: a server one for 127.0.0.1, or a client one.
func (c *testCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

package plugin_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// startByHand starts the test plugin as a go-plugin host would, with
// clientPEM in PLUGIN_CLIENT_CERT, and returns the fields of its handshake
// line.
func startByHand(t *testing.T, clientPEM string, env ...string) []string {
	t.Helper()
	bin := plugintest.Build(t, testPluginPkg)
	cmd := exec.Command(bin)
	cmd.Env = append([]string{
		plugin.MagicCookie, "PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_CLIENT_CERT=" + clientPEM,
		"PLUGIN_UNIX_SOCKET_DIR=" + t.TempDir(),
	}, env...)
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("handshake line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return strings.Split(strings.TrimSuffix(line, "\n"), "|")
}

// TestServeAutoMTLSCertificate checks what the SDK's plugin puts in its
// handshake line and serves: its own P-256 certificate (go-plugin's would be
// P-521), which trusts the host's certificate and nobody else's.
func TestServeAutoMTLSCertificate(t *testing.T) {
	t.Parallel()
	hostCfg, hostPEM, err := plugin.ClientTLS(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	strangerCfg, _, err := plugin.ClientTLS(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	parts := startByHand(t, hostPEM)
	if len(parts) != 6 || parts[2] != "unix" || parts[4] != "grpc" {
		t.Fatalf("handshake line %q, want 6 fields for gRPC on a unix socket", strings.Join(parts, "|"))
	}
	der, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		t.Fatalf("6th field: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("plugin certificate key %T, want ECDSA P-256", cert.PublicKey)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)

	for name, tc := range map[string]struct {
		client *tls.Config
		ok     bool
	}{
		"the host's certificate": {client: hostCfg, ok: true},
		"another certificate":    {client: strangerCfg},
		"no certificate":         {client: &tls.Config{MinVersion: tls.VersionTLS12, ServerName: "localhost"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.client.Clone()
			cfg.RootCAs = roots // as go-plugin's client loads the 6th field
			conn, err := grpc.NewClient("unix:"+parts[3], grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = provisioningv1.NewProvisioningAdapterClient(conn).GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{})
			if tc.ok && err != nil {
				t.Fatalf("GetPluginInfo with the host's certificate: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("the plugin answered a client without the host's certificate")
			}
		})
	}
}

// The 7th field, broker multiplexing, survives the certificate's insertion.
func TestServeHandshakeKeepsMultiplexField(t *testing.T) {
	t.Parallel()
	_, hostPEM, err := plugin.ClientTLS(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	parts := startByHand(t, hostPEM, "PLUGIN_MULTIPLEX_GRPC=true")
	if len(parts) != 7 || len(parts[5]) < 100 {
		t.Fatalf("handshake line %q, want 7 fields with a certificate in the 6th", strings.Join(parts, "|"))
	}
	if diff := cmp.Diff("true", parts[6]); diff != "" {
		t.Errorf("7th field (-want +got):\n%s", diff)
	}
}

// A certificate the plugin cannot read stops it, with a message, before the
// handshake: go-plugin would serve a TLS nobody can connect to.
func TestServeRefusesUnreadableClientCert(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, testPluginPkg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{plugin.MagicCookie, "PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_CLIENT_CERT=not a certificate"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		t.Fatal("plugin served with an unreadable PLUGIN_CLIENT_CERT")
	}
	if len(out) != 0 {
		t.Errorf("stdout = %q, want no handshake line", out)
	}
	if !strings.Contains(stderr.String(), "PLUGIN_CLIENT_CERT") {
		t.Errorf("stderr does not say what is wrong:\n%s", stderr.String())
	}
}

package plugin

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestClientTLS checks what the plugin's side of the handshake relies on:
// the PEM it receives is a CA certificate for "localhost" that may sign and
// authenticate a client, valid now, with the P-256 key of the returned
// config.
func TestClientTLS(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	cfg, certPEM, err := clientTLS(now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the plugin would refuse the certificate: %v", err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("IsCA=%t KeyUsage=%v: go-plugin trusts it as a CA", cert.IsCA, cert.KeyUsage)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", cert.PublicKey)
	}
	key, ok := cfg.Certificates[0].PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(pub) {
		t.Error("the config's key is not the certificate's")
	}
	if cfg.ServerName != "localhost" || cfg.ClientAuth.String() != "RequireAndVerifyClientCert" {
		t.Errorf("ServerName %q, ClientAuth %v", cfg.ServerName, cfg.ClientAuth)
	}
}

// TestServerTLS checks the plugin's side: a P-256 CA certificate for
// "localhost" that the host's go-plugin accepts as a server's, and a config
// that trusts only the host's certificate.
func TestServerTLS(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	_, hostPEM, err := clientTLS(now)
	if err != nil {
		t.Fatal(err)
	}
	cfg, der, err := serverTLS([]byte(hostPEM), now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the host would refuse the certificate: %v", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", cert.PublicKey)
	}
	key, ok := cfg.Certificates[0].PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(pub) {
		t.Error("the config's key is not the certificate's")
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("ClientAuth %v, MinVersion %#x", cfg.ClientAuth, cfg.MinVersion)
	}
	_, strangerPEM, err := clientTLS(now)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pem   string
		trust bool
	}{{hostPEM, true}, {strangerPEM, false}} {
		b, _ := pem.Decode([]byte(c.pem))
		_, err := mustParse(t, b.Bytes).Verify(x509.VerifyOptions{Roots: cfg.ClientCAs, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if c.trust != (err == nil) {
			t.Errorf("ClientCAs trust a host certificate: %v (error %v), want %v", err == nil, err, c.trust)
		}
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServerTLSWithoutCertificate(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"x", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		if _, _, err := serverTLS([]byte(in), time.Now()); err == nil || !strings.Contains(err.Error(), clientCertEnv) {
			t.Errorf("serverTLS(%q) = %v, want an error naming %s", in, err, clientCertEnv)
		}
	}
}

// TestMutualTLS runs the TLS handshake between the host's config (as
// go-plugin's client completes it from the handshake line) and the plugin's:
// the host's certificate is accepted, any other client, or none, refused.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	now := time.Now()
	hostCfg, hostPEM, err := clientTLS(now)
	if err != nil {
		t.Fatal(err)
	}
	strangerCfg, _, err := clientTLS(now)
	if err != nil {
		t.Fatal(err)
	}
	srvCfg, der, err := serverTLS([]byte(hostPEM), now)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(mustParse(t, der))
	for name, tc := range map[string]struct {
		client *tls.Config
		ok     bool
	}{
		"the host":              {client: hostCfg, ok: true},
		"another certificate":   {client: strangerCfg},
		"no client certificate": {client: &tls.Config{MinVersion: tls.VersionTLS12, ServerName: tlsHost}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.client.Clone()
			cfg.RootCAs = roots
			cerr, serr := handshake2(cfg, srvCfg)
			if tc.ok && (cerr != nil || serr != nil) {
				t.Fatalf("refused: client %v, server %v", cerr, serr)
			}
			if !tc.ok && serr == nil {
				t.Fatal("the plugin accepted the client")
			}
		})
	}
	t.Run("a plugin the host does not know", func(t *testing.T) {
		t.Parallel()
		other, _, err := serverTLS([]byte(hostPEM), now)
		if err != nil {
			t.Fatal(err)
		}
		cfg := hostCfg.Clone()
		cfg.RootCAs = roots
		if cerr, _ := handshake2(cfg, other); cerr == nil {
			t.Fatal("the host accepted a certificate not from the handshake line")
		}
	})
}

// handshake2 runs a TLS handshake over an in-memory connection, then sends
// a byte from the server, so that the server's verdict on the client's
// certificate (TLS 1.3 gives it after the client's side is done) reaches the
// client. The raw connections are closed: tls.Conn.Close would wait up to 5s
// to send close_notify on an unbuffered pipe nobody reads.
func handshake2(client, server *tls.Config) (cerr, serr error) {
	c, s := net.Pipe()
	tc, ts := tls.Client(c, client), tls.Server(s, server)
	done := make(chan error, 1)
	go func() {
		err := ts.Handshake()
		if err == nil {
			_, err = ts.Write([]byte{1})
		}
		_ = s.Close()
		done <- err
	}()
	cerr = tc.Handshake()
	if cerr == nil {
		_, cerr = tc.Read(make([]byte, 1))
	}
	_ = c.Close()
	return cerr, <-done
}

func TestWithServerCert(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ in, want string }{
		"go-plugin's line with TLSProvider":   {"1|1|unix|/tmp/p/plugin.sock|grpc|\n", "1|1|unix|/tmp/p/plugin.sock|grpc|CERT\n"},
		"the 7th field, multiplexing, stays":  {"1|1|unix|/tmp/p/plugin.sock|grpc||true\n", "1|1|unix|/tmp/p/plugin.sock|grpc|CERT|true\n"},
		"without a newline":                   {"1|1|tcp|127.0.0.1:1234|grpc|", "1|1|tcp|127.0.0.1:1234|grpc|CERT"},
		"a certificate already there is kept": {"1|1|unix|/s|grpc|OTHER\n", "1|1|unix|/s|grpc|OTHER\n"},
		"not a handshake line":                {"hello\n", "hello\n"},
		"too few fields":                      {"1|1|unix|/s|grpc\n", "1|1|unix|/s|grpc\n"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, withServerCert(tc.in, "CERT")); diff != "" {
				t.Errorf("withServerCert(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestHandshakeCertWriter feeds the pipe as go-plugin's Serve does: the line,
// then (before go-plugin takes os.Stdout over) possibly more output.
func TestHandshakeCertWriter(t *testing.T) {
	t.Parallel()
	r, out, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := handshakeCertWriter(out, []byte{0xde, 0xad, 0xbe, 0xef})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(w, "%s\n", "1|1|unix|/tmp/p/plugin.sock|grpc||true"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "later\n"); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	br := bufio.NewReader(r)
	var got []string
	for range 2 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, line)
	}
	want := []string{"1|1|unix|/tmp/p/plugin.sock|grpc|3q2+7w|true\n", "later\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

// BenchmarkAutoMTLS is the TLS work of one plugin start: both certificates
// and one handshake, with go-plugin's P-521 and with P-256. In a benchmark
// loop P-521's base-point table is built once; a fresh plugin process
// builds it at every start, which costs more than this shows.
func BenchmarkAutoMTLS(b *testing.B) {
	for _, curve := range []elliptic.Curve{elliptic.P521(), elliptic.P256()} {
		b.Run("curve="+curve.Params().Name, func(b *testing.B) {
			for b.Loop() {
				now := time.Now()
				hostCert, err := selfSigned(curve, "host", now)
				if err != nil {
					b.Fatal(err)
				}
				plugCert, err := selfSigned(curve, "plugin", now)
				if err != nil {
					b.Fatal(err)
				}
				hostPool, plugPool := x509.NewCertPool(), x509.NewCertPool()
				hostPool.AddCert(mustParseB(b, hostCert.Certificate[0]))
				plugPool.AddCert(mustParseB(b, plugCert.Certificate[0]))
				client := &tls.Config{Certificates: []tls.Certificate{hostCert}, RootCAs: plugPool, ServerName: tlsHost, MinVersion: tls.VersionTLS12}
				server := &tls.Config{Certificates: []tls.Certificate{plugCert}, ClientCAs: hostPool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
				if cerr, serr := handshake2(client, server); cerr != nil || serr != nil {
					b.Fatal(cerr, serr)
				}
			}
		})
	}
}

func mustParseB(b *testing.B, der []byte) *x509.Certificate {
	b.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

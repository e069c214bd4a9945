package plugin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
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

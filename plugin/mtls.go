package plugin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// clientCertEnv is the variable in which go-plugin's AutoMTLS hands the
// host's certificate to the plugin; a plugin that finds it makes its own
// certificate and returns it in the handshake line.
const clientCertEnv = "PLUGIN_CLIENT_CERT"

// clientTLS makes the host's side of the plugin's mutual TLS: what
// go-plugin's AutoMTLS does on the client, with an ECDSA P-256 key instead
// of P-521. The plugin cannot tell the difference: it gets the certificate
// in [clientCertEnv] as from AutoMTLS, trusts only it, makes its own and
// sends it back in the handshake line, which go-plugin loads into the
// returned config (RootCAs and ClientCAs) whether or not AutoMTLS is set.
//
// Why: P-256 has constant-time assembly and a precomputed base-point table in
// Go's crypto; P-521 has neither, and its table is built on first use, so in
// a fresh process the P-521 key, the certificate's signature and the TLS
// handshake's signature and verification cost milliseconds, more on a busy
// machine. That is time at every plugin start (and restart) before the first
// answer.
//
// The key is made for one start and lives only in this process's memory; the
// certificate names "localhost", as go-plugin's does and as the TLS
// handshake expects.
func clientTLS(now time.Time) (*tls.Config, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("plugin TLS key: %w", err)
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, "", fmt.Errorf("plugin TLS serial number: %w", err)
	}
	const host = "localhost"
	tmpl := &x509.Certificate{
		Subject:  pkix.Name{CommonName: host, Organization: []string{"provisioning host"}},
		DNSNames: []string{host},
		// The plugin's go-plugin adds this certificate as its only client
		// CA: it must be a CA that may sign, as AutoMTLS's is.
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SerialNumber:          sn,
		NotBefore:             now.Add(-30 * time.Second),
		// A plugin process may run as long as its host; gRPC re-verifies
		// the certificate when it reconnects. go-plugin uses 30 years.
		NotAfter: now.Add(10 * 365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, "", fmt.Errorf("plugin TLS certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		ServerName:   host,
	}, string(certPEM), nil
}

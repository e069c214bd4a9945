package plugin

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"
)

// clientCertEnv is the variable in which go-plugin's AutoMTLS hands the
// host's certificate to the plugin; a plugin that finds it makes its own
// certificate and returns it in the handshake line.
const clientCertEnv = "PLUGIN_CLIENT_CERT"

// Both sides of the plugin's mutual TLS use ECDSA P-256 keys where
// go-plugin's AutoMTLS uses P-521. P-256 has constant-time assembly and a
// precomputed base-point table in Go's crypto; P-521 has neither, and its
// table is built on first use, so in a fresh process the P-521 key, the
// certificate's signature (which x509.CreateCertificate also verifies) and
// the TLS handshake's signature and verification cost milliseconds of CPU,
// more on a busy machine. That is time at every plugin start (and restart)
// before the first answer: measured on the Panda plugin, go-plugin's own
// P-521 certificate and handshake were about half of the plugin's CPU time
// from exec to its first answered call.
//
// Neither side can tell: the certificates have the shape of go-plugin's
// (self-signed CA for "localhost", client and server authentication), and a
// TLS peer accepts any key type TLS 1.2 supports.

// clientTLS makes the host's side of the plugin's mutual TLS: what
// go-plugin's AutoMTLS does on the client, with a P-256 key. The plugin gets
// the certificate in [clientCertEnv] as from AutoMTLS, trusts only it, makes
// its own and sends it back in the handshake line, which go-plugin loads
// into the returned config (RootCAs and ClientCAs) whether or not AutoMTLS
// is set.
//
// The key is made for one start and lives only in this process's memory; the
// certificate names "localhost", as go-plugin's does and as the TLS
// handshake expects.
func clientTLS(now time.Time) (*tls.Config, string, error) {
	cert, err := selfSigned(elliptic.P256(), "provisioning host", now)
	if err != nil {
		return nil, "", err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		ServerName:   tlsHost,
	}, string(certPEM), nil
}

// serverTLS makes the plugin's side: what go-plugin's Serve does when it
// finds the host's certificate (clientPEM, from [clientCertEnv]), with a
// P-256 key. The config trusts only clientPEM and requires the host to
// present it; the returned DER is the plugin's certificate, which the
// handshake line carries back to the host (see [handshakeCertWriter]).
func serverTLS(clientPEM []byte, now time.Time) (*tls.Config, []byte, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(clientPEM) {
		return nil, nil, fmt.Errorf("%s holds no PEM certificate", clientCertEnv)
	}
	cert, err := selfSigned(elliptic.P256(), "provisioning plugin", now)
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, cert.Certificate[0], nil
}

// tlsHost is the name in both certificates, and the name go-plugin's client
// verifies.
const tlsHost = "localhost"

// selfSigned makes a key on curve and a self-signed CA certificate for
// [tlsHost] of the shape go-plugin's AutoMTLS makes: the peer adds it as its
// only root (RootCAs on the host, ClientCAs on the plugin), so it must be a
// CA that may sign, and it authenticates both a client and a server.
func selfSigned(curve elliptic.Curve, org string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("plugin TLS key: %w", err)
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("plugin TLS serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: tlsHost, Organization: []string{org}},
		DNSNames:              []string{tlsHost},
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
		return tls.Certificate{}, fmt.Errorf("plugin TLS certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// handshakeCertWriter returns a pipe to stand in for os.Stdout while
// go-plugin's Serve prints the handshake line, and copies what it receives
// to out, the real standard output, with the plugin's certificate (der) put
// into the line's 6th field.
//
// go-plugin prints that field only for a certificate it made itself: given
// the config of [serverTLS] through ServeConfig.TLSProvider, it leaves the
// field empty, and the host, which learns the certificate only from that
// field, would refuse the plugin. The line is otherwise passed on as printed
// (the 7th field, broker multiplexing, included). go-plugin replaces
// os.Stdout with its own stdio pipe right after the line; anything written to
// the pipe after the line still reaches out.
func handshakeCertWriter(out io.Writer, der []byte) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("handshake pipe: %w", err)
	}
	cert := base64.RawStdEncoding.EncodeToString(der)
	go func() {
		defer r.Close()
		br := bufio.NewReader(r)
		line, err := br.ReadString('\n')
		if _, werr := io.WriteString(out, withServerCert(line, cert)); werr != nil || err != nil {
			return
		}
		_, _ = io.Copy(out, br)
	}()
	return w, nil
}

// withServerCert puts cert into the 6th field of the handshake line, when
// that field is empty. Anything else is returned unchanged.
func withServerCert(line, cert string) string {
	body, nl := strings.CutSuffix(line, "\n")
	parts := strings.Split(body, "|")
	if len(parts) < 6 || parts[5] != "" {
		return line
	}
	parts[5] = cert
	out := strings.Join(parts, "|")
	if nl {
		out += "\n"
	}
	return out
}

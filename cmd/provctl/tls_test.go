package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	ca                            *x509.Certificate
	caFile                        string
	serverCert                    tls.Certificate
	clientCertFile, clientKeyFile string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "provctl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, ips ...net.IP) ([]byte, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "provctl test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := testPKI{ca: ca, caFile: write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))}
	sc, sk := issue(2, x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	if p.serverCert, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	cc, ck := issue(3, x509.ExtKeyUsageClientAuth)
	p.clientCertFile, p.clientKeyFile = write("client.pem", cc), write("client-key.pem", ck)
	return p
}

// mTLS: provctl verifies the daemon with --ca and presents --cert/--key; a
// token may then go to any host.
func TestMTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	f := newFakeHost()
	f.token = fakeSecret
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pki.serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})), grpc.UnaryInterceptor(f.authUnary))
	hostv1.RegisterHostServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	addr := lis.Addr().String()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(fakeSecret), 0o600); err != nil {
		t.Fatal(err)
	}

	r := provctl(t, "", nil, "--host", addr, "--ca", pki.caFile, "--cert", pki.clientCertFile, "--key", pki.clientKeyFile, "--token-file", token, "plugins")
	if r.code != exitOK || !strings.Contains(r.stdout, "panda") {
		t.Errorf("plugins over mTLS: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = provctl(t, "", nil, "--host", addr, "--ca", pki.caFile, "--token-file", token, "plugins")
	if r.code != exitUnavailable {
		t.Errorf("plugins without a client certificate: exit %d, want %d\n%s", r.code, exitUnavailable, r.stderr)
	}
	r = provctl(t, "", nil, "--host", addr, "--token-file", token, "plugins")
	if r.code != exitUnavailable {
		t.Errorf("plugins in clear text to a TLS daemon: exit %d, want %d\n%s", r.code, exitUnavailable, r.stderr)
	}
	r = provctl(t, "", nil, "--host", addr, "--ca", pki.caFile, "--cert", pki.clientCertFile, "plugins")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--cert and --key go together") {
		t.Errorf("--cert without --key: exit %d\n%s", r.code, r.stderr)
	}
	r = provctl(t, "", nil, "--host", addr, "--ca", pki.clientKeyFile, "plugins")
	if r.code != exitUsage || !strings.Contains(r.stderr, "no PEM certificate") {
		t.Errorf("--ca with a key in it: exit %d\n%s", r.code, r.stderr)
	}
}

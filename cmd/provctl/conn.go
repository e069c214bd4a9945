package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cloudbss/provisioning/plugin"
)

// connOptions says how to reach and authenticate to a daemon.
type connOptions struct {
	// target is the daemon address: host:port, unix:///path or a socket path.
	target string
	// tokenFile holds the daemon's bearer token. The token is sent as
	// "authorization: Bearer …" and never printed.
	tokenFile string
	// ca verifies the daemon's certificate; setting it (or cert) turns TLS on.
	ca string
	// cert and key are the client certificate for mTLS.
	cert, key string
}

func (o connOptions) tls() bool { return o.ca != "" || o.cert != "" || o.key != "" }

// grpcTarget turns what a person types into a gRPC target, the way
// provisioning-host reads its --listen: "unix:///path" and other URLs with a
// scheme pass through, "tcp://host:port" drops its scheme, a path (anything
// with a slash) is a unix socket, and anything else is host:port.
func grpcTarget(addr string) string {
	switch {
	case strings.HasPrefix(addr, "tcp://"):
		return strings.TrimPrefix(addr, "tcp://")
	case strings.HasPrefix(addr, "unix:"), strings.HasPrefix(addr, "unix-abstract:"), strings.Contains(addr, ":///"):
		return addr
	case strings.HasPrefix(addr, "/"):
		return "unix://" + addr
	case strings.Contains(addr, "/"):
		return "unix:" + addr
	}
	return addr
}

// isLocalTarget reports whether target stays on this machine (a unix socket or
// a loopback address), where a token may travel without TLS.
func isLocalTarget(target string) bool {
	if strings.HasPrefix(target, "unix:") || strings.HasPrefix(target, "unix-abstract:") {
		return true
	}
	if i := strings.Index(target, ":///"); i >= 0 {
		target = target[i+4:]
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dial opens a client connection to the daemon. gRPC connects lazily: an
// unreachable daemon shows up as UNAVAILABLE on the first call.
func dial(o connOptions) (*grpc.ClientConn, error) {
	target := grpcTarget(o.target)
	// Static windows, as between the daemon and its plugins: no
	// bandwidth-delay PING for the daemon to answer after nearly every
	// result of a batch (see plugin.FlowControlWindow).
	opts := []grpc.DialOption{
		grpc.WithInitialWindowSize(plugin.FlowControlWindow),
		grpc.WithInitialConnWindowSize(plugin.FlowControlWindow),
	}
	if o.tls() {
		cfg, err := tlsConfig(o)
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if o.tokenFile != "" {
		tok, err := readToken(o.tokenFile)
		if err != nil {
			return nil, err
		}
		if !o.tls() && !isLocalTarget(target) {
			return nil, usagef("refusing to send the token in clear text to %s: pass --ca to use TLS", o.target)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: tok, requireTLS: o.tls()}))
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, usagef("daemon address %q: %v", o.target, err)
	}
	return conn, nil
}

// readToken reads a bearer token file. Errors name the file, never the
// content.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageError{fmt.Errorf("token file: %w", err)}
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", usagef("token file %s is empty", path)
	}
	if strings.ContainsAny(tok, "\r\n") {
		return "", usagef("token file %s holds more than one line", path)
	}
	return tok, nil
}

func tlsConfig(o connOptions) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, usageError{fmt.Errorf("--ca: %w", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("--ca %s: no PEM certificate in it", o.ca)
		}
		cfg.RootCAs = pool
	}
	if (o.cert == "") != (o.key == "") {
		return nil, usagef("--cert and --key go together")
	}
	if o.cert != "" {
		pair, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			// tls errors describe the PEM structure, never key material.
			return nil, usageError{fmt.Errorf("client certificate: %w", err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// bearer sends the daemon's token with every call.
type bearer struct {
	token      string
	requireTLS bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }

// String keeps the token out of any %v of the credentials.
func (b bearer) String() string { return "bearer(hidden)" }

package main

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// healthPrefix is exempt from authentication: load balancers and
// orchestrators probe health without credentials.
const healthPrefix = "/grpc.health.v1.Health/"

// auth checks callers: a bearer token, a verified client certificate, or
// both when both are configured.
type auth struct {
	token    []byte
	tls      *tls.Config
	clientCA bool
}

func newAuth(cfg *config) (*auth, error) {
	a := &auth{}
	if cfg.authTokenFile != "" {
		fi, err := os.Stat(cfg.authTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--auth-token-file: %w", err)
		}
		// As ssh with private keys: a token others can change lets them
		// in, one everyone can read is no secret.
		if m := fi.Mode().Perm(); m&0o026 != 0 {
			return nil, fmt.Errorf("--auth-token-file: %s is mode %#o: it must not be group- or world-writable nor world-readable (chmod 600 %s)", cfg.authTokenFile, m, cfg.authTokenFile)
		}
		b, err := os.ReadFile(cfg.authTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--auth-token-file: %w", err)
		}
		a.token = []byte(strings.TrimSpace(string(b)))
		if len(a.token) == 0 {
			return nil, errors.New("--auth-token-file: the file is empty")
		}
		if len(a.token) < minTokenLen {
			return nil, fmt.Errorf("--auth-token-file: the token is %d characters; at least %d are required (e.g. openssl rand -hex 16)", len(a.token), minTokenLen)
		}
	}
	if cfg.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		a.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.clientCA != "" {
		pem, err := os.ReadFile(cfg.clientCA)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("--client-ca: no PEM certificate in the file")
		}
		a.tls.ClientCAs = pool
		// Verified when given, required by the interceptor: a health probe
		// must get through without a certificate.
		a.tls.ClientAuth = tls.VerifyClientCertIfGiven
		a.clientCA = true
	}
	return a, nil
}

// minTokenLen is the shortest bearer token accepted: 16 random bytes
// written in hex. A short token can be guessed over the network.
const minTokenLen = 32

// authenticates tells whether callers must prove who they are.
func (a *auth) authenticates() bool { return a.token != nil || a.clientCA }

// checkExposure refuses to serve HostService beyond this machine without
// caller authentication, unless --insecure-listen says so: anyone who can
// reach it can create and change vendor accounts.
func checkExposure(cfg *config, a *auth) error {
	if a.authenticates() || cfg.insecureListen || isLocal(cfg.listen) {
		return nil
	}
	return fmt.Errorf("--listen %s is reachable from other machines and no caller authentication is set: "+
		"add --auth-token-file or --client-ca, listen on 127.0.0.1 or a unix socket, "+
		"or pass --insecure-listen to serve anyone who can reach it", cfg.listen)
}

// isLocal tells whether a --listen or --metrics-listen address is reachable
// only from this machine: a unix socket, or a TCP address on a loopback IP
// or "localhost". An empty host listens on every interface.
func isLocal(addr string) bool {
	if strings.HasPrefix(addr, "unix://") || strings.Contains(addr, "/") {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (a *auth) describe() string {
	var parts []string
	if a.token != nil {
		parts = append(parts, "bearer token")
	}
	if a.clientCA {
		parts = append(parts, "client certificate")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

func (a *auth) serverOptions() []grpc.ServerOption {
	var opts []grpc.ServerOption
	if a.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(a.tls)))
	}
	if a.token != nil || a.clientCA {
		opts = append(opts, grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream))
	}
	return opts
}

func (a *auth) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := a.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (a *auth) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := a.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}

func (a *auth) check(ctx context.Context, method string) error {
	if strings.HasPrefix(method, healthPrefix) {
		return nil
	}
	if a.clientCA {
		var ti credentials.TLSInfo
		p, ok := peer.FromContext(ctx)
		if ok {
			ti, ok = p.AuthInfo.(credentials.TLSInfo)
		}
		if !ok || len(ti.State.VerifiedChains) == 0 {
			return status.Error(codes.Unauthenticated, "a client certificate signed by the host's client CA is required")
		}
	}
	if a.token != nil {
		md, _ := metadata.FromIncomingContext(ctx)
		var got string
		for _, v := range md.Get("authorization") {
			if t, ok := strings.CutPrefix(v, "Bearer "); ok {
				got = t
			}
		}
		// Constant time, so the token cannot be guessed byte by byte.
		if got == "" || subtle.ConstantTimeCompare([]byte(got), a.token) != 1 {
			return status.Error(codes.Unauthenticated, "a valid bearer token is required (authorization: Bearer ...)")
		}
	}
	return nil
}

package main

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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
		b, err := os.ReadFile(cfg.authTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--auth-token-file: %w", err)
		}
		a.token = []byte(strings.TrimSpace(string(b)))
		if len(a.token) == 0 {
			return nil, errors.New("--auth-token-file: the file is empty")
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

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/servicemanager"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// serviceManager is the interworks endpoint of the daemon: an HTTP server
// whose calls reach the daemon's own HostService in-process, over a
// bufconn, so they take exactly the path (validation, store, plugin) a
// gRPC caller's do, without the network or the gRPC caller authentication
// (the endpoint authenticates its callers itself).
type serviceManager struct {
	addr string
	// tls is decided before serving: http.Server.Serve itself sets a
	// TLSConfig (for HTTP/2), so the field says nothing once it serves.
	tls   bool
	http  *http.Server
	inner *grpc.Server
	conn  *grpc.ClientConn
}

// errNoServiceManagerCredentials: --service-manager-listen with a catalog
// whose entries have no service_manager.
var errNoServiceManagerCredentials = errors.New("--service-manager-listen: no plugin in the catalog has service_manager credentials (application_id, api_key); an endpoint that nobody may call is refused")

func serviceManagerCredentials(cat *catalog.Config) map[string]servicemanager.Credentials {
	creds := map[string]servicemanager.Credentials{}
	for _, e := range cat.Plugins {
		if e.ServiceManager != nil {
			creds[e.Name] = servicemanager.Credentials{ApplicationID: e.ServiceManager.ApplicationID, APIKey: e.ServiceManager.APIKey}
		}
	}
	return creds
}

func checkServiceManagerCredentials(cat *catalog.Config) error {
	if len(serviceManagerCredentials(cat)) == 0 {
		return errNoServiceManagerCredentials
	}
	return nil
}

func startServiceManager(cfg *config, cat *catalog.Config, hostSrv hostv1.HostServiceServer, reg prometheus.Registerer, log *slog.Logger) (_ *serviceManager, err error) {
	creds := serviceManagerCredentials(cat)
	if len(creds) == 0 {
		return nil, errNoServiceManagerCredentials
	}
	sm := &serviceManager{}
	defer func() {
		if err != nil {
			sm.close()
		}
	}()
	bl := bufconn.Listen(1 << 20)
	sm.inner = grpc.NewServer(grpc.MaxRecvMsgSize(maxRecvMsgSize))
	hostv1.RegisterHostServiceServer(sm.inner, hostSrv)
	go func() { _ = sm.inner.Serve(bl) }()
	sm.conn, err = grpc.NewClient("passthrough:///service-manager",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return bl.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("--service-manager-listen: %w", err)
	}
	h, err := servicemanager.New(hostv1.NewHostServiceClient(sm.conn), creds,
		servicemanager.WithLogger(log.With("component", "service-manager")),
		servicemanager.WithMetrics(reg),
		servicemanager.WithCallTimeout(cfg.callTimeout+5*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("--service-manager-listen: %w", err)
	}
	lis, err := net.Listen("tcp", cfg.serviceManager)
	if err != nil {
		return nil, fmt.Errorf("--service-manager-listen: %w", err)
	}
	sm.addr = lis.Addr().String()
	sm.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// The host call's own bound, plus room to write the answer.
		WriteTimeout:   cfg.callTimeout + 15*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if sm.http.TLSConfig, err = serviceManagerTLS(cfg); err != nil {
		lis.Close()
		return nil, err
	}
	sm.tls = sm.http.TLSConfig != nil
	go func() {
		var err error
		if sm.tls {
			err = sm.http.ServeTLS(lis, "", "")
		} else {
			err = sm.http.Serve(lis)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("service manager stopped serving", "error", err)
		}
	}()
	plugins := make([]string, 0, len(creds))
	for name := range creds {
		plugins = append(plugins, name)
	}
	log.Info("service manager listening", "addr", sm.addr, "tls", sm.tls, "plugins", plugins)
	return sm, nil
}

// shutdown stops taking calls and waits for those in flight.
func (sm *serviceManager) shutdown(ctx context.Context, log *slog.Logger) {
	if sm.http != nil {
		if err := sm.http.Shutdown(ctx); err != nil {
			log.Warn("service manager calls still running after the grace period; cutting them", "error", err)
			_ = sm.http.Close()
		}
	}
}

func (sm *serviceManager) close() {
	if sm.http != nil {
		_ = sm.http.Close()
	}
	if sm.conn != nil {
		_ = sm.conn.Close()
	}
	if sm.inner != nil {
		sm.inner.Stop()
	}
}

// serviceManagerTLS serves the endpoint over HTTPS with --tls-cert and
// --tls-key when they are set (interworks expects HTTPS in production).
// The gRPC --client-ca does not apply: interworks authenticates with its
// application id and API key, not a certificate.
func serviceManagerTLS(cfg *config) (*tls.Config, error) {
	if cfg.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// url is the endpoint's base URL; plugins are below it (/{plugin}/api/).
func (sm *serviceManager) url() string {
	if sm.tls {
		return "https://" + sm.addr
	}
	return "http://" + sm.addr
}

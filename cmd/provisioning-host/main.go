// Command provisioning-host is the provisioning host daemon: it runs the
// provisioning plugins of a catalog file and serves
// provisioning.host.v1.HostService over gRPC, with gRPC health, server
// reflection (grpcurl needs no .proto files), optional caller
// authentication (a bearer token, or mTLS with a client CA) and Prometheus
// metrics.
//
//	provisioning-host --config host.yaml --listen 127.0.0.1:7443 --data-dir ./data
//
// With reflection, grpcurl needs nothing but the address:
//
//	grpcurl -plaintext 127.0.0.1:7443 list
//	grpcurl -plaintext -d '{"plugin":"panda","account_id":"ACC-42"}' \
//	    127.0.0.1:7443 provisioning.host.v1.HostService/GetSyncRecord
//
// (with --auth-token-file, add -H "authorization: Bearer $(cat token)").
//
// With --service-manager-listen it also serves interworks Cloud BSS's
// Service Management API (HTTP/JSON, /{plugin}/api/...) for the plugins
// whose catalog entry has service_manager credentials; see
// docs/interworks.md.
//
// Records live in an embedded SQLite database in --data-dir (one daemon), or
// with --store postgres://... in PostgreSQL, which several daemons behind a
// gRPC load balancer can share; `provisioning-host migrate-store` copies a
// SQLite store into PostgreSQL. See docs/deploy.md.
//
// It prints "provisioning-host listening on ADDR" on stdout once it serves,
// so scripts that pass port 0 can find the address, then, with
// --service-manager-listen, "provisioning-host service manager listening on
// URL". SIGTERM or SIGINT stop
// it gracefully: in-flight calls finish, then every plugin process group is
// stopped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/server"
	"github.com/cloudbss/provisioning/internal/logging"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	catalog         string
	listen          string
	dataDir         string
	store           string
	metricsListen   string
	pprof           bool
	insecureListen  bool
	logFormat       string
	logLevel        string
	authTokenFile   string
	clientCA        string
	tlsCert         string
	tlsKey          string
	callTimeout     time.Duration
	settleInterval  time.Duration
	shutdownTimeout time.Duration
	serviceManager  string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	var c config
	fs := flag.NewFlagSet("provisioning-host", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.catalog, "config", "", "plugin catalog file (YAML); required")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:7443", "gRPC address: host:port, or a unix socket as unix:///path or a path")
	fs.StringVar(&c.dataDir, "data-dir", "data", "folder of the sync-record database and the plugins' data")
	fs.StringVar(&c.store, "store", "", "keep records in PostgreSQL (postgres://user@host:port/db?sslmode=...; password from PGPASSWORD or a password file) so several daemons can share them; default: SQLite in --data-dir")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "address serving Prometheus /metrics (off when empty)")
	fs.BoolVar(&c.pprof, "pprof", false, "also serve Go profiles (/debug/pprof/) on --metrics-listen, which must then be a loopback address")
	fs.BoolVar(&c.insecureListen, "insecure-listen", false, "allow a --listen address other machines can reach without --auth-token-file or --client-ca")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.authTokenFile, "auth-token-file", "", "require callers to send this file's content as a bearer token")
	fs.StringVar(&c.clientCA, "client-ca", "", "require callers to present a client certificate signed by this CA (PEM); needs --tls-cert and --tls-key")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve TLS with this certificate (PEM)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	fs.DurationVar(&c.callTimeout, "call-timeout", 30*time.Second, "deadline of a plugin call when the caller sets none")
	fs.DurationVar(&c.settleInterval, "settle-interval", 10*time.Second, "how often PENDING records are refreshed (by one daemon at a time on a shared --store)")
	fs.StringVar(&c.serviceManager, "service-manager-listen", "", "address serving interworks' Service Management API (HTTP, /{plugin}/api/...) for the plugins whose catalog entry has service_manager credentials (off when empty)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown may take before plugins are killed")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: provisioning-host --config host.yaml [flags]\n\n"+
			"Runs the provisioning plugins of the catalog and serves provisioning.host.v1.HostService.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.catalog == "" {
		return nil, errors.New("--config is required")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if c.pprof && c.metricsListen == "" {
		return nil, errors.New("--pprof needs --metrics-listen")
	}
	if c.pprof && !isLocal(c.metricsListen) {
		// Profiles show memory contents and cost CPU on demand.
		return nil, fmt.Errorf("--pprof needs a loopback --metrics-listen (e.g. 127.0.0.1:9090), not %s", c.metricsListen)
	}
	if c.clientCA != "" && c.tlsCert == "" {
		return nil, errors.New("--client-ca needs --tls-cert and --tls-key")
	}
	if c.settleInterval <= 0 {
		return nil, errors.New("--settle-interval must be positive")
	}
	if err := checkStoreFlag(c.store); err != nil {
		return nil, err
	}
	return &c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "migrate-store" {
		return runMigrateStore(ctx, args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "provisioning-host:", err)
		return 2
	}
	log, err := logging.New(cfg.logFormat, cfg.logLevel, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "provisioning-host:", err)
		return 2
	}
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("provisioning-host stopped", "error", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg *config, log *slog.Logger, stdout io.Writer) error {
	cat, err := catalog.Load(cfg.catalog)
	if err != nil {
		return err
	}
	if cfg.serviceManager != "" {
		// Before anything starts: an endpoint nobody may call is a mistake.
		if err := checkServiceManagerCredentials(cat); err != nil {
			return err
		}
	}
	auth, err := newAuth(cfg)
	if err != nil {
		return err
	}
	if err := checkExposure(cfg, auth); err != nil {
		return err
	}
	lock, err := lockDataDir(cfg.dataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	st, err := openStore(ctx, cfg.store, cfg.dataDir, log)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h, err := host.New(cat,
		host.WithLogger(log),
		host.WithStore(st),
		host.WithDataDir(cfg.dataDir),
		host.WithCallTimeout(cfg.callTimeout),
		host.WithSettleInterval(cfg.settleInterval),
		host.WithMetrics(reg),
		// Serve health and the other plugins while a plugin starts.
		host.WithStartInBackground(),
	)
	if err != nil {
		return err
	}
	// Bound the whole shutdown, whatever happens next.
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
		defer cancel()
		if err := h.Close(sctx); err != nil {
			log.Error("stop plugins", "error", err)
		}
	}()

	lis, addr, err := listen(cfg.listen)
	if err != nil {
		return err
	}
	// The plugins start in the background: ListPlugins shows each one's
	// state (STARTING, RESTARTING, FAILED with last_error); the others serve.
	if err := h.Start(ctx); err != nil {
		lis.Close()
		return err
	}

	opts := append(auth.serverOptions(), server.GRPCOptions()...)
	gs := grpc.NewServer(opts...)
	hostSrv := server.New(h, st, server.WithLogger(log), server.WithDrain(ctx))
	hostv1.RegisterHostServiceServer(gs, hostSrv)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	hs.SetServingStatus(hostv1.HostService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	if c, ok := st.(storeChecker); ok {
		go watchStore(ctx, c, hs, log)
	}
	reflection.Register(gs)

	var metricsSrv *http.Server
	if cfg.metricsListen != "" {
		mlis, err := net.Listen("tcp", cfg.metricsListen)
		if err != nil {
			lis.Close()
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		if cfg.pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = metricsSrv.Serve(mlis) }()
		log.Info("metrics listening", "addr", "http://"+mlis.Addr().String()+"/metrics")
	}

	var sm *serviceManager
	if cfg.serviceManager != "" {
		if sm, err = startServiceManager(cfg, cat, hostSrv, reg, log); err != nil {
			lis.Close()
			if metricsSrv != nil {
				_ = metricsSrv.Close()
			}
			return err
		}
		defer sm.close()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- gs.Serve(lis) }()
	fmt.Fprintf(stdout, "provisioning-host listening on %s\n", addr)
	if sm != nil {
		// After the gRPC line: scripts take the first "listening on" as the
		// gRPC address.
		fmt.Fprintf(stdout, "provisioning-host service manager listening on %s\n", sm.url())
	}
	log.Info("provisioning-host listening", "addr", addr, "plugins", len(cat.Plugins), "auth", auth.describe())

	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", "signal")
	case err := <-serveErr:
		return fmt.Errorf("serve gRPC: %w", err)
	}
	hs.Shutdown()
	if sm != nil {
		// Stop taking BSS calls first; the ones in flight finish through the
		// host, which is still serving.
		sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout/2)
		sm.shutdown(sctx, log)
		cancel()
	}
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(cfg.shutdownTimeout / 2):
		log.Warn("calls still running after the grace period; cutting them")
		gs.Stop()
		<-stopped
	}
	if metricsSrv != nil {
		_ = metricsSrv.Close()
	}
	return nil
}

// listen opens the gRPC listener. A unix socket is named unix:///path or by
// a path containing a slash; anything else is a TCP host:port.
func listen(addr string) (net.Listener, string, error) {
	network, a := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix://"); ok {
		network, a = "unix", p
	} else if strings.Contains(addr, "/") {
		network = "unix"
	}
	if network == "unix" {
		// A stale socket from a previous run would make Listen fail.
		if fi, err := os.Stat(a); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(a)
		}
	}
	lis, err := net.Listen(network, a)
	if err != nil {
		return nil, "", fmt.Errorf("--listen: %w", err)
	}
	if network == "unix" {
		return lis, "unix://" + a, nil
	}
	return lis, lis.Addr().String(), nil
}

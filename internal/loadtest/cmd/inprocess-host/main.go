// Command inprocess-host is a provisioning host daemon for load tests with
// the Panda adapter linked in (host.WithInProcessPlugin): the same host
// library, store and HostService as provisioning-host, but no plugin
// process, no go-plugin and no gRPC between host and adapter. Comparing a
// batch through it with the same batch through provisioning-host measures
// what the plugin boundary costs.
//
//	inprocess-host --config host.yaml --listen 127.0.0.1:0 --data-dir DIR
//
// It takes the catalog of provisioning-host (the panda entry's settings are
// used, its path is not) and prints "provisioning-host listening on ADDR".
// It has no authentication, TLS, reflection or metrics listener: it is a
// measuring instrument, not a daemon to deploy.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/server"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/panda"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "inprocess-host:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfgPath := flag.String("config", "", "plugin catalog (YAML), as for provisioning-host")
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to serve on")
	dataDir := flag.String("data-dir", "data", "folder of the sync-record database")
	level := flag.String("log-level", "info", "log level")
	flag.Parse()

	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	cat, err := catalog.Load(*cfgPath)
	if err != nil {
		return err
	}
	st, err := store.OpenSQLite(*dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	// The adapter logs as it does in its binary, through the host's logger,
	// and keeps its journal where provisioning-host would give the plugin
	// process its data folder: the two daemons then differ only by the
	// boundary (the journal's fsyncs are the adapter's, not the boundary's).
	pluginDir := filepath.Join(*dataDir, "plugins", panda.Name)
	if err := os.MkdirAll(pluginDir, 0o700); err != nil {
		return err
	}
	adapter := panda.New(panda.WithLogger(log.With("plugin", panda.Name)), panda.WithDataDir(pluginDir))
	h, err := host.New(cat,
		host.WithInProcessPlugin(panda.Name, adapter),
		host.WithLogger(log), host.WithStore(st), host.WithDataDir(*dataDir),
		host.WithMetrics(prometheus.NewRegistry()),
	)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.Close(sctx)
	}()
	if err := h.Start(ctx); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(256 << 20))
	hostv1.RegisterHostServiceServer(gs, server.New(h, st, server.WithLogger(log)))
	go func() { _ = gs.Serve(lis) }()
	fmt.Printf("provisioning-host listening on %s\n", lis.Addr())
	<-ctx.Done()
	gs.GracefulStop()
	return nil
}

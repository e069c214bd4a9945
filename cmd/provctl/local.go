package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/server"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// closeTimeout bounds the shutdown of the in-process host: drain, SIGTERM,
// then kill the plugin's process group.
const closeTimeout = 20 * time.Second

// openLocal starts an in-process host with one plugin, serves its
// HostService on an in-memory connection and returns a session over it: the
// commands then run the same code as against a daemon.
func (a *app) openLocal(ctx context.Context) (_ *session, err error) {
	name := a.g.pluginName
	if name == "" {
		n, ok := pluginNameFromPath(a.g.pluginPath)
		if !ok {
			return nil, usagef("cannot tell the plugin's name from %s (not provisioning-plugin-NAME): pass --plugin-name", a.g.pluginPath)
		}
		name = n
	}
	var reattach *plugin.ReattachInfo
	if v := a.getenv(plugin.ReattachEnv); v != "" {
		ri, err := plugin.ParseReattach(v)
		if err != nil {
			return nil, usagef("%v", err)
		}
		reattach = &ri
		fmt.Fprintf(a.stderr, "provctl: attaching to the plugin in debug mode (pid %d, %s); %s is not launched\n", ri.Pid, plugin.ReattachEnv, a.g.pluginPath)
	}
	entry, err := localEntry(name, a.g.pluginPath, a.g.settings)
	if err != nil {
		return nil, err
	}
	var st store.Store
	if a.g.dataDir != "" {
		if st, err = store.OpenSQLite(a.g.dataDir); err != nil {
			return nil, fmt.Errorf("--data-dir: %w", err)
		}
	} else {
		st = store.NewMemory()
	}
	var cleanup []func() error
	closeAll := func() error {
		var errs []error
		for i := len(cleanup) - 1; i >= 0; i-- {
			errs = append(errs, cleanup[i]())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_ = closeAll()
		}
	}()
	cleanup = append(cleanup, st.Close)

	logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := []host.Option{host.WithLogger(logger), host.WithStore(st)}
	if a.g.dataDir != "" {
		opts = append(opts, host.WithDataDir(a.g.dataDir))
	}
	if reattach != nil {
		opts = append(opts, host.WithReattach(name, *reattach))
	}
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{entry}}, opts...)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		return h.Close(cctx)
	})
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("start plugin %s: %w", name, err)
	}

	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(server.GRPCOptions()...)
	hostv1.RegisterHostServiceServer(srv, server.New(h, st, server.WithLogger(logger)))
	go func() { _ = srv.Serve(lis) }()
	cleanup = append(cleanup, func() error { srv.Stop(); return nil })
	conn, err := grpc.NewClient("passthrough:///provctl-local",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		return nil, fmt.Errorf("in-process host: %w", err)
	}
	cleanup = append(cleanup, conn.Close)
	return &session{client: hostv1.NewHostServiceClient(conn), plugin: name, close: closeAll}, nil
}

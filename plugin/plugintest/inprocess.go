package plugintest

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/cloudbss/provisioning/plugin"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// InProcess serves impl on an in-memory gRPC connection and returns a client
// for it. Calls go through real gRPC marshalling, status codes and details,
// without a process boundary. impl is served as [plugin.Serve] serves it:
// SynchronizeStream by the SDK, from impl's Synchronize (see
// [plugin.Served]). Everything is closed when the test ends.
func InProcess(tb testing.TB, impl provisioningv1.ProvisioningAdapterServer, opts ...grpc.ServerOption) provisioningv1.ProvisioningAdapterClient {
	tb.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(opts...)
	provisioningv1.RegisterProvisioningAdapterServer(srv, plugin.Served(impl))
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		tb.Fatalf("plugintest: dial in-process server: %v", err)
	}
	tb.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
	})
	return provisioningv1.NewProvisioningAdapterClient(conn)
}

package server_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/server"
	"github.com/cloudbss/provisioning/host/store"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// Serving HostService for one plugin binary on an in-memory connection, with
// no daemon: what a tool such as provctl does for plugin authors.
func Example_inMemory() {
	ctx := context.Background()
	cfg := &catalog.Config{Plugins: []catalog.Entry{{
		Name:     "panda",
		Path:     "./bin/provisioning-plugin-panda",
		Settings: map[string]string{"api_url": "http://127.0.0.1:8085"},
	}}}
	st := store.NewMemory()
	h, err := host.New(cfg, host.WithStore(st))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Start(ctx); err != nil {
		log.Fatal(err)
	}

	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	hostv1.RegisterHostServiceServer(gs, server.New(h, st))
	go func() { _ = gs.Serve(lis) }() // ends with gs.Stop
	defer gs.Stop()

	conn, err := grpc.NewClient("passthrough:///host",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	resp, err := hostv1.NewHostServiceClient(conn).ListPlugins(ctx, &hostv1.ListPluginsRequest{})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range resp.GetPlugins() {
		fmt.Println(p.GetName(), p.GetState())
	}
}

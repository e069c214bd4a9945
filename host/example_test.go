package host_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/store"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// demoAdapter is an adapter linked into the example: it "registers" every
// account as remote object R-<id>.
type demoAdapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
}

func (demoAdapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{Name: "demo", Version: "1.0.0"}, nil
}

func (demoAdapter) Configure(context.Context, *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	return &provisioningv1.ConfigureResponse{}, nil
}

func (demoAdapter) Synchronize(_ context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	return &provisioningv1.SynchronizeResponse{
		Record:  &provisioningv1.SyncRecord{Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: "R-" + req.GetAccount().GetId()},
		Created: req.GetRecord() == nil,
	}, nil
}

// A host for one plugin, here an adapter linked into the process (a real
// catalog entry names a plugin binary instead), and a synchronization
// through [host.Records], which stores the record before answering.
func ExampleNew() {
	ctx := context.Background()
	cfg := &catalog.Config{Plugins: []catalog.Entry{{Name: "demo"}}}
	st := store.NewMemory()
	h, err := host.New(cfg,
		host.WithInProcessPlugin("demo", demoAdapter{}),
		host.WithStore(st), // settles PENDING records in the background
		host.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	for _, p := range h.Plugins() {
		fmt.Println(p.GetName(), p.GetVersion(), p.GetState())
	}

	recs := host.NewRecords(h, st, nil)
	for range 2 { // a replay finds the stored record: not created again
		resp, err := recs.Synchronize(ctx, "demo", &provisioningv1.SynchronizeRequest{
			Account: &provisioningv1.Account{Id: "A1", Name: "Acme"},
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(resp.GetRecord().GetRemoteId(), "created:", resp.GetCreated())
	}
	e, err := recs.Get(ctx, "demo", "A1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored:", e.Record.GetStatus(), e.Account.GetName(), e.Record.GetUpdatedAt() != nil)
	// Output:
	// demo 1.0.0 PLUGIN_STATE_RUNNING
	// R-A1 created: true
	// R-A1 created: false
	// stored: SYNC_STATUS_SYNCED Acme true
}

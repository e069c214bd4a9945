package host_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// linkedAdapter is a minimal adapter linked into the test binary.
type linkedAdapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	settings map[string]string
}

func (a *linkedAdapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{Name: "linked", Version: "1.0.0"}, nil
}

func (a *linkedAdapter) Configure(_ context.Context, req *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	a.settings = req.GetSettings()
	return &provisioningv1.ConfigureResponse{}, nil
}

func (a *linkedAdapter) Synchronize(_ context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	if req.GetAccount().GetParentId() != "" {
		return nil, diag.FailedPrecondition(diag.CodeParentNotSynced, "parent_account", "the parent is not synchronized")
	}
	req.Account.Name = "mutated by the adapter"
	return &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{AccountId: req.GetAccount().GetId(), RemoteId: "R-1"}, Created: true}, nil
}

func TestInProcessPlugin(t *testing.T) {
	ctx := context.Background()
	impl := &linkedAdapter{}
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: "linked", Settings: map[string]string{"k": "v"}}}},
		host.WithInProcessPlugin("linked", impl))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if impl.settings["k"] != "v" {
		t.Errorf("Configure got %v", impl.settings)
	}
	if p := h.Plugins()[0]; p.GetState() != hostv1.PluginState_PLUGIN_STATE_RUNNING || p.GetVersion() != "1.0.0" {
		t.Errorf("Plugins: %v", p)
	}
	c, err := h.Plugin("linked")
	if err != nil {
		t.Fatal(err)
	}
	acct := &provisioningv1.Account{Id: "A-1", Name: "Acme"}
	resp, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acct})
	if err != nil || resp.GetRecord().GetRemoteId() != "R-1" || !resp.GetCreated() {
		t.Fatalf("Synchronize: %v %v", resp, err)
	}
	if acct.GetName() != "Acme" {
		t.Errorf("the adapter mutated the caller's request: %q", acct.GetName())
	}
	_, err = c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "A-2", ParentId: "R"}})
	if d := diag.Parse(err); d.Code != codes.FailedPrecondition || d.Reason != diag.CodeParentNotSynced {
		t.Errorf("error details lost: %+v", d)
	}
	if _, err := c.Probe(ctx, &provisioningv1.ProbeRequest{}); diag.Parse(err).Code != codes.Unimplemented {
		t.Errorf("Probe: %v, want UNIMPLEMENTED", err)
	}
}

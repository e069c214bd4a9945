package host_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// shopAdapter is demoAdapter that also takes orders: it allocates what the
// desired state asks, under the account's remote id.
type shopAdapter struct{ demoAdapter }

func (shopAdapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{Name: "shop", Version: "1.0.0"}, nil
}

func (shopAdapter) ProvisionSubscription(_ context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	sub := req.GetSubscription()
	return &provisioningv1.ProvisionSubscriptionResponse{
		Record: &provisioningv1.SubscriptionRecord{Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
			ProductId: sub.GetProductId(), Quantity: sub.GetQuantity(), RemoteId: req.GetAccountRecord().GetRemoteId() + "/" + sub.GetProductId()},
		Created: req.GetRecord() == nil,
	}, nil
}

func (shopAdapter) SuspendSubscription(_ context.Context, req *provisioningv1.SuspendSubscriptionRequest) (*provisioningv1.SuspendSubscriptionResponse, error) {
	rec := req.GetRecord()
	rec.Status = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED
	return &provisioningv1.SuspendSubscriptionResponse{Record: rec, Updated: true}, nil
}

// Orders through [host.Records]: the host refuses an order for an account it
// has not synchronized, fills the plugin's request from its store (the
// account's record gives the remote id), and suspends by subscription id
// alone.
func ExampleRecords_ProvisionSubscription() {
	ctx := context.Background()
	st := store.NewMemory()
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: "shop"}}},
		host.WithInProcessPlugin("shop", shopAdapter{}), host.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	recs := host.NewRecords(h, st, nil)

	order := &provisioningv1.Subscription{Id: "S1", AccountId: "A1", ProductId: "EPDR", Quantity: 25}
	_, err = recs.ProvisionSubscription(ctx, "shop", &provisioningv1.ProvisionSubscriptionRequest{Subscription: order})
	fmt.Println("before the account:", diag.Parse(err).Code, diag.Parse(err).Reason)

	if _, err := recs.Synchronize(ctx, "shop", &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "A1", Name: "Acme"}}); err != nil {
		log.Fatal(err)
	}
	resp, err := recs.ProvisionSubscription(ctx, "shop", &provisioningv1.ProvisionSubscriptionRequest{Subscription: order})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("provisioned:", resp.GetRecord().GetRemoteId(), resp.GetRecord().GetQuantity(), "created:", resp.GetCreated())

	if _, err := recs.SuspendSubscription(ctx, "shop", &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "S1"}); err != nil {
		log.Fatal(err)
	}
	e, err := recs.GetSubscription(ctx, "shop", "S1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored:", e.Record.GetStatus(), e.Record.GetQuantity(), "desired:", e.Subscription.GetQuantity())
	// Output:
	// before the account: FailedPrecondition ACCOUNT_NOT_SYNCED
	// provisioned: R-A1/EPDR 25 created: true
	// stored: SUBSCRIPTION_STATUS_SUSPENDED 25 desired: 25
}

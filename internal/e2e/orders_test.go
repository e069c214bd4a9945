package e2e_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/internal/loadtest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestOrderLifecycle: one order of a synchronized customer through the
// daemon and the Panda plugin against pandasim, sending only the desired
// state or the subscription id: provisioned (allocated in Panda, stored by
// the host), replayed without a second allocation, suspended (released),
// resumed (allocated again) and cancelled (released for good). It skips
// while the Panda plugin answers the orders RPCs UNIMPLEMENTED.
func TestOrderLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startStack(t, ctx, loadtest.StackConfig{Sim: loadtest.SimConfig{Credentials: testCredentials(t)}, Logs: newLogs(t)})
	c := s.Client

	defs, err := c.GetServiceDefinition(ctx, &hostv1.GetServiceDefinitionRequest{Plugin: loadtest.PluginName})
	if status.Code(err) == codes.Unimplemented {
		t.Skip("the Panda plugin does not serve orders yet (GetServiceDefinition answers UNIMPLEMENTED); this test runs once it does")
	}
	if err != nil {
		t.Fatal(err)
	}
	var product *provisioningv1.Product
	for _, p := range defs.GetResponse().GetProducts() {
		if p.GetKind() == provisioningv1.ProductKind_PRODUCT_KIND_BASE && (product == nil || p.GetId() == "EPDR") {
			product = p
		}
	}
	if product == nil {
		t.Fatalf("no base product in %v", defs.GetResponse())
	}

	h := loadtest.Hierarchy{Prefix: "O", Direct: 1}
	var acct loadtest.Account
	h.Each(func(a loadtest.Account) { acct = a })
	syncResp, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: loadtest.PluginName, Request: &provisioningv1.SynchronizeRequest{
		Account: &provisioningv1.Account{
			Id: acct.ID, Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: acct.Name, CorporateEmail: acct.Email,
			Contact: &provisioningv1.Contact{FirstName: "Order", LastName: "Test"}, Country: "ES", Language: "es-ES",
		},
		Values:   map[string]string{"username": acct.Username},
		AutoFill: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	remoteAccount := syncResp.GetResponse().GetRecord().GetRemoteId()

	sub := &provisioningv1.Subscription{Id: "SUB-1", AccountId: acct.ID, ProductId: product.GetId(), Quantity: 10, Attributes: map[string]string{}}
	for _, f := range product.GetAttributes() {
		if f.GetValue() != "" {
			sub.Attributes[f.GetKey()] = f.GetValue()
		}
	}
	// allocated is the quantity pandasim holds for the customer.
	allocated := func() int {
		t.Helper()
		snap, err := s.Sim.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range snap.Allocations {
			if a.AccountID == remoteAccount {
				n += a.Quantity
			}
		}
		return n
	}
	// settle refreshes a PENDING record through the host until it settles.
	settle := func(rec *provisioningv1.SubscriptionRecord) *provisioningv1.SubscriptionRecord {
		t.Helper()
		waitFor(t, ctx, func() bool {
			if rec.GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING {
				return true
			}
			resp, err := c.GetSubscriptionStatus(ctx, &hostv1.GetSubscriptionStatusRequest{Plugin: loadtest.PluginName, Request: &provisioningv1.GetSubscriptionStatusRequest{
				Record: &provisioningv1.SubscriptionRecord{SubscriptionId: sub.GetId()},
			}})
			if err != nil {
				t.Fatal(err)
			}
			rec = resp.GetResponse().GetRecord()
			return false
		})
		return rec
	}
	provision := func() *provisioningv1.ProvisionSubscriptionResponse {
		t.Helper()
		resp, err := c.ProvisionSubscription(ctx, &hostv1.ProvisionSubscriptionRequest{Plugin: loadtest.PluginName, Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetResponse()
	}

	first := provision()
	if rec := settle(first.GetRecord()); !first.GetCreated() || rec.GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE {
		t.Fatalf("ProvisionSubscription = %v, settled %v", first, rec)
	}
	if got := allocated(); got != 10 {
		t.Errorf("pandasim holds %d licences for the customer, want 10", got)
	}
	if replay := provision(); replay.GetCreated() || replay.GetUpdated() || allocated() != 10 {
		t.Errorf("replay = %v; pandasim holds %d", replay, allocated())
	}
	stored, err := c.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: loadtest.PluginName, SubscriptionId: sub.GetId()})
	if err != nil || stored.GetRecord().GetQuantity() != 10 || stored.GetSubscription().GetQuantity() != 10 {
		t.Fatalf("stored = %v, %v", stored, err)
	}

	steps := []struct {
		name          string
		call          func() (*provisioningv1.SubscriptionRecord, error)
		wantStatus    provisioningv1.SubscriptionStatus
		wantAllocated int
	}{
		{"suspend", func() (*provisioningv1.SubscriptionRecord, error) {
			r, err := c.SuspendSubscription(ctx, &hostv1.SuspendSubscriptionRequest{Plugin: loadtest.PluginName, Request: &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: sub.GetId()}})
			return r.GetResponse().GetRecord(), err
		}, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED, 0},
		{"resume", func() (*provisioningv1.SubscriptionRecord, error) {
			r, err := c.ResumeSubscription(ctx, &hostv1.ResumeSubscriptionRequest{Plugin: loadtest.PluginName, Request: &provisioningv1.ResumeSubscriptionRequest{SubscriptionId: sub.GetId()}})
			return r.GetResponse().GetRecord(), err
		}, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, 10},
		{"cancel", func() (*provisioningv1.SubscriptionRecord, error) {
			r, err := c.CancelSubscription(ctx, &hostv1.CancelSubscriptionRequest{Plugin: loadtest.PluginName, Request: &provisioningv1.CancelSubscriptionRequest{SubscriptionId: sub.GetId()}})
			return r.GetResponse().GetRecord(), err
		}, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED, 0},
	}
	for _, st := range steps {
		rec, err := st.call()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if rec = settle(rec); rec.GetStatus() != st.wantStatus {
			t.Fatalf("%s = %v, want %v", st.name, rec, st.wantStatus)
		}
		if got := allocated(); got != st.wantAllocated {
			t.Errorf("after %s pandasim holds %d licences for the customer, want %d", st.name, got, st.wantAllocated)
		}
	}
	list, err := c.ListSubscriptionRecords(ctx, &hostv1.ListSubscriptionRecordsRequest{Plugin: loadtest.PluginName, AccountId: acct.ID})
	if err != nil || len(list.GetRecords()) != 1 || list.GetRecords()[0].GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
		t.Errorf("ListSubscriptionRecords = %v, %v", list, err)
	}
}

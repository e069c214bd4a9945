package panda_test

// Integration tests of orders: the real plugin process against a real
// pandasim, checking Panda's state after every call.

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

const (
	subActive    = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	subSuspended = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED
	subCancelled = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
)

// sync synchronizes acc (auto-filled) and returns its record.
func (e *simEnv) sync(ctx context.Context, acc *provisioningv1.Account, ancestors ...*provisioningv1.Ancestor) *provisioningv1.SyncRecord {
	e.t.Helper()
	resp, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, Ancestors: ancestors, AutoFill: true})
	if err != nil {
		e.t.Fatalf("Synchronize %s: %v", acc.GetId(), err)
	}
	return resp.GetRecord()
}

// holdings is what Panda allocates to account: product → "type:quantity".
func (e *simEnv) holdings(account string) map[string]string {
	out := map[string]string{}
	for _, a := range e.sim.Snapshot().Allocations {
		if a.AccountID == account {
			out[a.ProductName] = a.AllocationType + ":" + itoa(a.Quantity)
		}
	}
	return out
}

// unallocated is account's unallocated stock of product.
//
//nolint:unparam // the orders tests use EPDR so far; the helper is for any product
func (e *simEnv) unallocated(account, product string) int {
	for _, inv := range e.sim.Snapshot().Inventory {
		if inv.AccountID != account {
			continue
		}
		for _, it := range inv.Items {
			if it.ProductName == product {
				return it.Unallocated
			}
		}
	}
	return 0
}

func itoa(n int) string { return strconv.Itoa(n) }

// allAllocations is every allocation in Panda, for "nothing changed" checks.
func (e *simEnv) allAllocations() []pandasim.AccountAllocation { return e.sim.Snapshot().Allocations }

// orderer calls the subscription RPCs of one account and keeps the record.
type orderer struct {
	e         *simEnv
	acc       *provisioningv1.Account
	accRec    *provisioningv1.SyncRecord
	ancestors []*provisioningv1.Ancestor
	others    []*provisioningv1.SubscriptionRecord
}

func (o *orderer) provision(ctx context.Context, sub *provisioningv1.Subscription, rec *provisioningv1.SubscriptionRecord) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	return o.e.client.ProvisionSubscription(ctx, &provisioningv1.ProvisionSubscriptionRequest{
		Subscription: sub, Account: o.acc, AccountRecord: o.accRec, Ancestors: o.ancestors, Record: rec, AccountSubscriptions: o.others,
	})
}

func (o *orderer) validate(ctx context.Context, sub *provisioningv1.Subscription, rec *provisioningv1.SubscriptionRecord) []string {
	o.e.t.Helper()
	resp, err := o.e.client.ValidateSubscription(ctx, &provisioningv1.ValidateSubscriptionRequest{
		Subscription: sub, Account: o.acc, AccountRecord: o.accRec, Ancestors: o.ancestors, Record: rec, AccountSubscriptions: o.others,
	})
	if err != nil {
		o.e.t.Fatalf("ValidateSubscription: %v", err)
	}
	var out []string
	for _, d := range resp.GetDiagnostics() {
		out = append(out, d.GetCode()+" "+d.GetField())
	}
	return out
}

func (o *orderer) suspend(ctx context.Context, rec *provisioningv1.SubscriptionRecord) (*provisioningv1.SuspendSubscriptionResponse, error) {
	return o.e.client.SuspendSubscription(ctx, &provisioningv1.SuspendSubscriptionRequest{
		SubscriptionId: rec.GetSubscriptionId(), Record: rec, Account: o.acc, AccountRecord: o.accRec, Ancestors: o.ancestors,
	})
}

func (o *orderer) resume(ctx context.Context, rec *provisioningv1.SubscriptionRecord) (*provisioningv1.ResumeSubscriptionResponse, error) {
	return o.e.client.ResumeSubscription(ctx, &provisioningv1.ResumeSubscriptionRequest{
		SubscriptionId: rec.GetSubscriptionId(), Record: rec, Account: o.acc, AccountRecord: o.accRec, Ancestors: o.ancestors, AccountSubscriptions: o.others,
	})
}

func (o *orderer) cancel(ctx context.Context, rec *provisioningv1.SubscriptionRecord) (*provisioningv1.CancelSubscriptionResponse, error) {
	return o.e.client.CancelSubscription(ctx, &provisioningv1.CancelSubscriptionRequest{
		SubscriptionId: rec.GetSubscriptionId(), Record: rec, Account: o.acc, AccountRecord: o.accRec, Ancestors: o.ancestors,
	})
}

func epdr(id, accountID string, qty int32, addons ...*provisioningv1.Addon) *provisioningv1.Subscription {
	return &provisioningv1.Subscription{Id: id, AccountId: accountID, ProductId: "EPDR", Quantity: qty, Addons: addons}
}

func patch(qty int32) *provisioningv1.Addon {
	return &provisioningv1.Addon{Id: "L-PM", ProductId: "PATCH_MANAGEMENT", Quantity: qty}
}

// replayChangesNothing fails when Panda's allocations or the API request count moved
// across f: a replay must change nothing and write nothing.
func (e *simEnv) replayChangesNothing(what string, f func()) {
	e.t.Helper()
	before := e.allAllocations()
	writes := e.sim.Stats().ByRoute
	f()
	if diff := cmp.Diff(before, e.allAllocations()); diff != "" {
		e.t.Errorf("%s changed Panda's allocations (-before +after):\n%s", what, diff)
	}
	after := e.sim.Stats().ByRoute
	for _, route := range []string{"POST " + pandasim.AllocationsPrefix + "/{accountId}/assets", "PUT " + pandasim.AllocationsPrefix + "/{accountId}/assets", "DELETE " + pandasim.AllocationsPrefix + "/{accountId}/assets"} {
		if after[route] != writes[route] {
			e.t.Errorf("%s sent %d %q", what, after[route]-writes[route], route)
		}
	}
}

// TestIntegrationOrdersDirectCustomer walks one order of a direct customer
// through its life, with a replay of every call.
func TestIntegrationOrdersDirectCustomer(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	c := e.client
	accRec := e.sync(ctx, directCustomer())
	pacc := accRec.GetRemoteId()
	o := &orderer{e: e, acc: directCustomer(), accRec: accRec}
	rootFree := e.unallocated(pandasim.DefaultRootAccountID, "EPDR")

	def, err := c.GetServiceDefinition(ctx, &provisioningv1.GetServiceDefinitionRequest{})
	if err != nil || len(def.GetProducts()) != 9 || def.GetProducts()[0].GetKind() != provisioningv1.ProductKind_PRODUCT_KIND_BASE {
		t.Fatalf("GetServiceDefinition = %v, %v", def, err)
	}

	// Order 10 EPDR.
	resp, err := o.provision(ctx, epdr("S-1", "C-100", 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := resp.GetRecord()
	if !resp.GetCreated() || rec.GetStatus() != subActive || rec.GetQuantity() != 10 || rec.GetRemoteId() != pacc+"/EPDR/subscription" {
		t.Errorf("order 10 EPDR = %v", resp)
	}
	if diff := cmp.Diff(map[string]string{"EPDR": "subscription:10"}, e.holdings(pacc)); diff != "" {
		t.Errorf("Panda after order (-want +got):\n%s", diff)
	}
	if got := e.unallocated(pandasim.DefaultRootAccountID, "EPDR"); got != rootFree-10 {
		t.Errorf("root unallocated EPDR = %d, want %d", got, rootFree-10)
	}
	e.replayChangesNothing("a replayed order", func() {
		again, err := o.provision(ctx, epdr("S-1", "C-100", 10), rec)
		if err != nil || again.GetCreated() || again.GetUpdated() {
			t.Errorf("replay = %v, %v", again, err)
		}
		if diff := cmp.Diff(rec, again.GetRecord(), protocmp.Transform()); diff != "" {
			t.Errorf("replay changed the record:\n%s", diff)
		}
	})

	// Raise to 25, then add 25 PATCH_MANAGEMENT.
	resp, err = o.provision(ctx, epdr("S-1", "C-100", 25), rec)
	if err != nil || resp.GetCreated() || !resp.GetUpdated() || resp.GetRecord().GetQuantity() != 25 {
		t.Fatalf("raise to 25 = %v, %v", resp, err)
	}
	rec = resp.GetRecord()
	resp, err = o.provision(ctx, epdr("S-1", "C-100", 25, patch(25)), rec)
	if err != nil || !resp.GetUpdated() {
		t.Fatalf("add PATCH_MANAGEMENT = %v, %v", resp, err)
	}
	rec = resp.GetRecord()
	if diff := cmp.Diff(map[string]string{"EPDR": "subscription:25", "PATCH_MANAGEMENT": "subscription:25"}, e.holdings(pacc)); diff != "" {
		t.Errorf("Panda after add-on (-want +got):\n%s", diff)
	}
	e.replayChangesNothing("a replayed add-on", func() {
		if again, err := o.provision(ctx, epdr("S-1", "C-100", 25, patch(25)), rec); err != nil || again.GetUpdated() || again.GetCreated() {
			t.Errorf("replay = %v, %v", again, err)
		}
	})

	// 30 of the add-on is refused, by Validate and Provision alike.
	e.replayChangesNothing("a refused add-on", func() {
		_, err = o.provision(ctx, epdr("S-1", "C-100", 25, patch(30)), rec)
		if got := errKey(err); got != "InvalidArgument ADDON_EXCEEDS_BASE subscription.addons[0].quantity" {
			t.Errorf("add-on 30 over 25: %s", got)
		}
		if diff := cmp.Diff([]string{"ADDON_EXCEEDS_BASE subscription.addons[0].quantity"}, o.validate(ctx, epdr("S-1", "C-100", 25, patch(30)), rec)); diff != "" {
			t.Errorf("Validate (-want +got):\n%s", diff)
		}
	})

	// A second base product: refused from the records, and by Panda when
	// the caller did not send them.
	e.replayChangesNothing("a second base product", func() {
		second := &provisioningv1.Subscription{Id: "S-2", AccountId: "C-100", ProductId: "EDR", Quantity: 5}
		o.others = []*provisioningv1.SubscriptionRecord{rec}
		_, err = o.provision(ctx, second, nil)
		if got := errKey(err); got != "FailedPrecondition BASE_PRODUCT_LIMIT subscription.product_id" {
			t.Errorf("second base product: %s", got)
		}
	})
	before := e.allAllocations()
	o.others = nil
	_, err = o.provision(ctx, &provisioningv1.Subscription{Id: "S-2", AccountId: "C-100", ProductId: "EDR", Quantity: 5}, nil)
	if got := errKey(err); got != "FailedPrecondition BASE_PRODUCT_LIMIT subscription.product_id" {
		t.Errorf("second base product, Panda's refusal: %s", got)
	}
	if diff := cmp.Diff(before, e.allAllocations()); diff != "" {
		t.Errorf("Panda's refusal changed the allocations:\n%s", diff)
	}

	// Drift: Panda's quantity changed behind the adapter's back.
	api, err := pandaapi.New(pandaapi.Config{BaseURL: e.url, AccessID: "bss-owner", Password: testPassword, APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.SetAllocationQuantity(ctx, pacc, pandaapi.AllocationRequest{Product: "EPDR", Type: "subscription", Quantity: 30}); err != nil {
		t.Fatal(err)
	}
	stat, err := c.GetSubscriptionStatus(ctx, &provisioningv1.GetSubscriptionStatusRequest{Record: rec, AccountRecord: accRec})
	if err != nil || len(stat.GetDiagnostics()) != 1 || stat.GetDiagnostics()[0].GetCode() != diag.CodeRemoteDrift || stat.GetDiagnostics()[0].GetField() != "record.quantity" {
		t.Errorf("GetSubscriptionStatus with drift = %v, %v", stat, err)
	}
	// ProvisionSubscription corrects it.
	if resp, err = o.provision(ctx, epdr("S-1", "C-100", 25, patch(25)), rec); err != nil || !resp.GetUpdated() {
		t.Fatalf("correcting drift = %v, %v", resp, err)
	}
	if stat, err = c.GetSubscriptionStatus(ctx, &provisioningv1.GetSubscriptionStatusRequest{Record: rec, AccountRecord: accRec}); err != nil || len(stat.GetDiagnostics()) != 0 {
		t.Errorf("GetSubscriptionStatus after the fix = %v, %v", stat, err)
	}

	// Suspend: licences back in the root's inventory, record kept.
	sus, err := o.suspend(ctx, rec)
	if err != nil || !sus.GetUpdated() || sus.GetRecord().GetStatus() != subSuspended || sus.GetRecord().GetQuantity() != 25 || len(sus.GetRecord().GetAddons()) != 1 {
		t.Fatalf("suspend = %v, %v", sus, err)
	}
	rec = sus.GetRecord()
	if got := e.holdings(pacc); len(got) != 0 {
		t.Errorf("Panda after suspend: %v", got)
	}
	if got := e.unallocated(pandasim.DefaultRootAccountID, "EPDR"); got != rootFree {
		t.Errorf("root unallocated EPDR after suspend = %d, want %d", got, rootFree)
	}
	e.replayChangesNothing("a replayed suspend", func() {
		if again, err := o.suspend(ctx, rec); err != nil || again.GetUpdated() {
			t.Errorf("suspend replay = %v, %v", again, err)
		}
	})

	// Resume restores them.
	res, err := o.resume(ctx, rec)
	if err != nil || !res.GetUpdated() || res.GetRecord().GetStatus() != subActive {
		t.Fatalf("resume = %v, %v", res, err)
	}
	rec = res.GetRecord()
	if diff := cmp.Diff(map[string]string{"EPDR": "subscription:25", "PATCH_MANAGEMENT": "subscription:25"}, e.holdings(pacc)); diff != "" {
		t.Errorf("Panda after resume (-want +got):\n%s", diff)
	}
	e.replayChangesNothing("a replayed resume", func() {
		if again, err := o.resume(ctx, rec); err != nil || again.GetUpdated() {
			t.Errorf("resume replay = %v, %v", again, err)
		}
	})

	// Cancel: released, terminal.
	can, err := o.cancel(ctx, rec)
	if err != nil || !can.GetUpdated() || can.GetRecord().GetStatus() != subCancelled {
		t.Fatalf("cancel = %v, %v", can, err)
	}
	rec = can.GetRecord()
	if got := e.holdings(pacc); len(got) != 0 {
		t.Errorf("Panda after cancel: %v", got)
	}
	e.replayChangesNothing("calls after cancel", func() {
		if again, err := o.cancel(ctx, rec); err != nil || again.GetUpdated() {
			t.Errorf("cancel replay = %v, %v", again, err)
		}
		_, err := o.provision(ctx, epdr("S-1", "C-100", 25), rec)
		if got := errKey(err); got != "FailedPrecondition SUBSCRIPTION_CANCELLED subscription.id" {
			t.Errorf("provision after cancel: %s", got)
		}
		_, err = o.resume(ctx, rec)
		if got := errKey(err); got != "FailedPrecondition SUBSCRIPTION_CANCELLED subscription.id" {
			t.Errorf("resume after cancel: %s", got)
		}
		_, err = o.suspend(ctx, rec)
		if got := errKey(err); got != "FailedPrecondition SUBSCRIPTION_CANCELLED subscription.id" {
			t.Errorf("suspend after cancel: %s", got)
		}
	})
}

// TestIntegrationOrdersEndCustomer: an end customer's licences come from
// its reseller's stock, which grows first and keeps what a cancel returns.
func TestIntegrationOrdersEndCustomer(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	rRec := e.sync(ctx, resellerAccount())
	anc := []*provisioningv1.Ancestor{{Account: resellerAccount(), Record: rRec}}
	eRec := e.sync(ctx, endCustomer(), anc...)
	reseller, cust := rRec.GetRemoteId(), eRec.GetRemoteId()
	o := &orderer{e: e, acc: endCustomer(), accRec: eRec, ancestors: anc}

	resp, err := o.provision(ctx, epdr("S-E1", "E-300", 10, patch(5)), nil)
	if err != nil || !resp.GetCreated() {
		t.Fatalf("order = %v, %v", resp, err)
	}
	rec := resp.GetRecord()
	if diff := cmp.Diff(map[string]string{"EPDR": "subscription:10", "PATCH_MANAGEMENT": "subscription:5"}, e.holdings(reseller)); diff != "" {
		t.Errorf("reseller after the order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"EPDR": "subscription:10", "PATCH_MANAGEMENT": "subscription:5"}, e.holdings(cust)); diff != "" {
		t.Errorf("end customer after the order (-want +got):\n%s", diff)
	}
	e.replayChangesNothing("a replayed end-customer order", func() {
		if again, err := o.provision(ctx, epdr("S-E1", "E-300", 10, patch(5)), rec); err != nil || again.GetCreated() || again.GetUpdated() {
			t.Errorf("replay = %v, %v", again, err)
		}
	})
	// Raise: the reseller grows by what is missing.
	if resp, err = o.provision(ctx, epdr("S-E1", "E-300", 15, patch(5)), rec); err != nil {
		t.Fatal(err)
	}
	rec = resp.GetRecord()
	if got := e.holdings(reseller)["EPDR"]; got != "subscription:15" {
		t.Errorf("reseller EPDR after the raise = %s", got)
	}
	// Cancel returns the licences to the reseller's stock; its allocation
	// stays.
	if _, err := o.cancel(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got := e.holdings(cust); len(got) != 0 {
		t.Errorf("end customer after cancel: %v", got)
	}
	if got, free := e.holdings(reseller)["EPDR"], e.unallocated(reseller, "EPDR"); got != "subscription:15" || free != 15 {
		t.Errorf("reseller after cancel: %s, %d unallocated", got, free)
	}
	// The next order uses that stock: no top-up.
	if _, err := o.provision(ctx, epdr("S-E2", "E-300", 12), nil); err != nil {
		t.Fatal(err)
	}
	if got, free := e.holdings(reseller)["EPDR"], e.unallocated(reseller, "EPDR"); got != "subscription:15" || free != 3 {
		t.Errorf("reseller after a second order: %s, %d unallocated", got, free)
	}

	// An end customer whose reseller is not synchronized.
	o.ancestors = []*provisioningv1.Ancestor{{Account: resellerAccount()}}
	_, err = o.provision(ctx, epdr("S-E3", "E-300", 1), nil)
	if got := errKey(err); got != "FailedPrecondition PARENT_NOT_SYNCED account.parent_id" {
		t.Errorf("reseller not synced: %s", got)
	}
}

// TestIntegrationOrdersInventory: the root runs out; nothing is
// half-allocated.
func TestIntegrationOrdersInventory(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true, pandasim.WithRootInventory(map[string]int{"EPDR": 20, "PATCH_MANAGEMENT": 5}))
	ctx := ctxT(t)
	rRec := e.sync(ctx, resellerAccount())
	anc := []*provisioningv1.Ancestor{{Account: resellerAccount(), Record: rRec}}
	eRec := e.sync(ctx, endCustomer(), anc...)
	o := &orderer{e: e, acc: endCustomer(), accRec: eRec, ancestors: anc}

	e.replayChangesNothing("an order the root cannot supply", func() {
		_, err := o.provision(ctx, epdr("S-E1", "E-300", 15, patch(10)), nil)
		d := wantCode(t, err, codes.FailedPrecondition)
		if got := errKey(err); d.Reason != diag.CodeInsufficientInventory || got != "FailedPrecondition INSUFFICIENT_INVENTORY subscription.addons[0].quantity" {
			t.Errorf("add-on beyond the root's stock: %s", got)
		}
	})
	if n := len(e.allAllocations()); n != 0 {
		t.Errorf("%d allocations after a refused order, want none", n)
	}
	if _, err := o.provision(ctx, epdr("S-E1", "E-300", 15), nil); err != nil {
		t.Fatal(err)
	}
	// A direct customer meets the 5 left.
	dRec := e.sync(ctx, directCustomer())
	d := &orderer{e: e, acc: directCustomer(), accRec: dRec}
	if diff := cmp.Diff([]string{"INSUFFICIENT_INVENTORY subscription.quantity"}, d.validate(ctx, epdr("S-D1", "C-100", 10), nil)); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
	e.replayChangesNothing("a direct order the root cannot supply", func() {
		_, err := d.provision(ctx, epdr("S-D1", "C-100", 10), nil)
		if got := errKey(err); got != "FailedPrecondition INSUFFICIENT_INVENTORY subscription.quantity" {
			t.Errorf("direct customer beyond the root's stock: %s", got)
		}
	})
	if _, err := d.provision(ctx, epdr("S-D1", "C-100", 5), nil); err != nil {
		t.Errorf("the last 5: %v", err)
	}
}

// TestIntegrationOrdersLostAnswers: creates whose answers are lost, and
// racing calls for one subscription, allocate once.
func TestIntegrationOrdersLostAnswers(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true, pandasim.WithSeed(11))
	ctx := ctxT(t)
	accRec := e.sync(ctx, directCustomer())
	o := &orderer{e: e, acc: directCustomer(), accRec: accRec}

	e.setFaults(pandasim.Faults{CommitThenFailRate: 1, CommitThenFailMode: pandasim.CommitThenFailMixed})
	var rec *provisioningv1.SubscriptionRecord
	for attempt := 1; ; attempt++ {
		resp, err := o.provision(ctx, epdr("S-1", "C-100", 10, patch(5)), nil)
		if err == nil {
			rec = resp.GetRecord()
			break
		}
		if c := diag.Parse(err).Code; c != codes.Unavailable || attempt == 10 {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
	}
	e.setFaults(pandasim.Faults{})
	if e.sim.Stats().CommitThenFail == 0 {
		t.Error("no answer was lost: the test proves nothing")
	}
	if diff := cmp.Diff(map[string]string{"EPDR": "subscription:10", "PATCH_MANAGEMENT": "subscription:5"}, e.holdings(accRec.GetRemoteId())); diff != "" {
		t.Errorf("Panda after lost answers (-want +got):\n%s", diff)
	}
	if rec.GetStatus() != subActive {
		t.Errorf("record = %v", rec)
	}

	// Eight racing calls for one new subscription of a reseller account.
	rRec := e.sync(ctx, resellerAccount())
	r := &orderer{e: e, acc: resellerAccount(), accRec: rRec}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = r.provision(ctx, epdr("S-R1", "R-200", 7), nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("racing call %d: %v", i, err)
		}
	}
	if diff := cmp.Diff(map[string]string{"EPDR": "subscription:7"}, e.holdings(rRec.GetRemoteId())); diff != "" {
		t.Errorf("Panda after racing calls (-want +got):\n%s", diff)
	}
}

// TestIntegrationOrdersTrialToPaid: a trial order becomes paid in place;
// Panda's paid allocation replaces the trial.
func TestIntegrationOrdersTrialToPaid(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	accRec := e.sync(ctx, directCustomer())
	pacc := accRec.GetRemoteId()
	o := &orderer{e: e, acc: directCustomer(), accRec: accRec}

	trial := epdr("S-T", "C-100", 300)
	trial.Trial = true
	_, err := o.provision(ctx, trial, nil)
	if got := errKey(err); got != "InvalidArgument TRIAL_LIMIT subscription.quantity" {
		t.Errorf("trial of 300: %s", got)
	}
	trial = epdr("S-T", "C-100", 20, patch(20))
	trial.Trial = true
	resp, err := o.provision(ctx, trial, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := resp.GetRecord()
	if !rec.GetTrial() || rec.GetTrialEndsAt() == nil || rec.GetRemoteId() != pacc+"/EPDR/trial" {
		t.Errorf("trial record = %v", rec)
	}
	if diff := cmp.Diff(map[string]string{"EPDR": "trial:20", "PATCH_MANAGEMENT": "trial:20"}, e.holdings(pacc)); diff != "" {
		t.Errorf("Panda after the trial order (-want +got):\n%s", diff)
	}
	paid := epdr("S-T", "C-100", 50, patch(50))
	resp, err = o.provision(ctx, paid, rec)
	if err != nil || resp.GetCreated() || !resp.GetUpdated() {
		t.Fatalf("trial to paid = %v, %v", resp, err)
	}
	rec = resp.GetRecord()
	if rec.GetTrial() || rec.GetTrialEndsAt() != nil || rec.GetRemoteId() != pacc+"/EPDR/subscription" {
		t.Errorf("paid record = %v", rec)
	}
	if diff := cmp.Diff(map[string]string{"EPDR": "subscription:50", "PATCH_MANAGEMENT": "subscription:50"}, e.holdings(pacc)); diff != "" {
		t.Errorf("Panda after trial to paid (-want +got):\n%s", diff)
	}
	// A paid subscription never goes back.
	_, err = o.provision(ctx, trial, rec)
	if got := errKey(err); got != "FailedPrecondition TRIAL_DOWNGRADE subscription.trial" {
		t.Errorf("paid back to trial: %s", got)
	}
}

// TestIntegrationOrdersSuspendedTrial: Panda has no pause, so a suspended
// trial has ended; it resumes only as paid.
func TestIntegrationOrdersSuspendedTrial(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	accRec := e.sync(ctx, directCustomer())
	o := &orderer{e: e, acc: directCustomer(), accRec: accRec}
	trial := epdr("S-T", "C-100", 20)
	trial.Trial = true
	resp, err := o.provision(ctx, trial, nil)
	if err != nil {
		t.Fatal(err)
	}
	sus, err := o.suspend(ctx, resp.GetRecord())
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.resume(ctx, sus.GetRecord())
	if got := errKey(err); got != "FailedPrecondition TRIAL_EXPIRED subscription.trial" {
		t.Errorf("resume of a suspended trial: %s", got)
	}
	paid, err := o.provision(ctx, epdr("S-T", "C-100", 20), sus.GetRecord())
	if err != nil || paid.GetRecord().GetStatus() != subSuspended || paid.GetRecord().GetTrial() {
		t.Fatalf("paid order while suspended = %v, %v", paid, err)
	}
	res, err := o.resume(ctx, paid.GetRecord())
	if err != nil || res.GetRecord().GetStatus() != subActive {
		t.Fatalf("resume as paid = %v, %v", res, err)
	}
	if diff := cmp.Diff(map[string]string{"EPDR": "subscription:20"}, e.holdings(accRec.GetRemoteId())); diff != "" {
		t.Errorf("Panda after resuming paid (-want +got):\n%s", diff)
	}
}

// TestIntegrationOrdersRacingEndCustomers: end customers of one reseller
// ordering at once each top up exactly what they need: the reseller ends
// with the sum, and no order meets a stock another one counted.
func TestIntegrationOrdersRacingEndCustomers(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	rRec := e.sync(ctx, resellerAccount())
	anc := []*provisioningv1.Ancestor{{Account: resellerAccount(), Record: rRec}}
	const n = 6
	orderers := make([]*orderer, n)
	for i := range orderers {
		acc := endCustomer()
		acc.Id, acc.Name, acc.CorporateEmail = "E-"+strconv.Itoa(i), "Racer "+strconv.Itoa(i), "it"+strconv.Itoa(i)+"@racer.example"
		orderers[i] = &orderer{e: e, acc: acc, accRec: e.sync(ctx, acc, anc...), ancestors: anc}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, o := range orderers {
		wg.Go(func() {
			_, errs[i] = o.provision(ctx, epdr("S-"+o.acc.GetId(), o.acc.GetId(), 5), nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("order %d: %v", i, err)
		}
	}
	if got, free := e.holdings(rRec.GetRemoteId())["EPDR"], e.unallocated(rRec.GetRemoteId(), "EPDR"); got != "subscription:30" || free != 0 {
		t.Errorf("reseller after %d racing orders of 5: %s, %d unallocated", n, got, free)
	}
}

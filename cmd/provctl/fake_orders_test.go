package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// fakeOrders is the subscription side of fakeHost: a two-product catalogue
// with one add-on, the contract's rules provctl's output depends on, stored
// records and desired states, and a log of what provctl sent.
type fakeOrders struct {
	mu      sync.Mutex
	records map[string]*provisioningv1.SubscriptionRecord
	desired map[string]*provisioningv1.Subscription
	// sent logs every ProvisionSubscription and ValidateSubscription
	// request as received.
	sent []proto.Message
	// fail answers ProvisionSubscription for a subscription id with an error.
	fail map[string]error
	// drift makes GetSubscriptionStatus warn that the remote quantity differs.
	drift bool

	inFlight, maxInFlight atomic.Int32
}

// fakeUpdated is the fixed updated_at of every fake record.
var fakeUpdated = timestamppb.New(mustTime("2026-11-30T04:00:00Z"))

func fakeCatalogue() []*provisioningv1.Product {
	return []*provisioningv1.Product{
		{Id: "EPDR", Name: "Endpoint Protection Detection and Response", Kind: provisioningv1.ProductKind_PRODUCT_KIND_BASE,
			MinQuantity: 1, TrialAvailable: true, TrialMaxQuantity: 250, TrialDays: 30,
			Attributes: []*provisioningv1.Field{{Key: "allocation_type", Kind: provisioningv1.FieldKind_FIELD_KIND_ENUM}}},
		{Id: "EPP", Name: "Endpoint Protection Platform", Kind: provisioningv1.ProductKind_PRODUCT_KIND_BASE, MaxQuantity: 5000},
		{Id: "PATCH_MANAGEMENT", Name: "Patch Management", Kind: provisioningv1.ProductKind_PRODUCT_KIND_ADDON, AddonOf: []string{"EPDR"}},
	}
}

func (f *fakeHost) GetServiceDefinition(_ context.Context, req *hostv1.GetServiceDefinitionRequest) (*hostv1.GetServiceDefinitionResponse, error) {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return nil, err
	}
	return &hostv1.GetServiceDefinitionResponse{Response: &provisioningv1.GetServiceDefinitionResponse{Products: fakeCatalogue()}}, nil
}

// orderDiagnostics applies the fake's order rules: a known base product, a
// quantity of at least 1, add-ons within the quantity, a synchronized
// account, a subscription not cancelled.
func (f *fakeHost) orderDiagnostics(sub *provisioningv1.Subscription) []*provisioningv1.Diagnostic {
	var ds []*provisioningv1.Diagnostic
	if !slices.Contains([]string{"EPDR", "EPP"}, sub.GetProductId()) {
		ds = append(ds, diag.Error("subscription.product_id", diag.CodeUnknownProduct, "no base product "+sub.GetProductId(), ""))
	}
	if sub.GetQuantity() < 1 {
		ds = append(ds, diag.Error("subscription.quantity", diag.CodeQuantityOutOfRange, "the quantity is below 1", ""))
	}
	for i, a := range sub.GetAddons() {
		if a.GetQuantity() > sub.GetQuantity() {
			ds = append(ds, diag.Error(fmt.Sprintf("subscription.addons[%d].quantity", i), diag.CodeAddonExceedsBase,
				fmt.Sprintf("add-on %s holds %d licences, above the subscription's %d", a.GetProductId(), a.GetQuantity(), sub.GetQuantity()), ""))
		}
	}
	f.mu.Lock()
	_, synced := f.records[sub.GetAccountId()]
	f.mu.Unlock()
	if !synced {
		ds = append(ds, diag.Error("account", diag.CodeAccountNotSynced, "account "+sub.GetAccountId()+" is not synchronized", "Synchronize it first."))
	}
	f.orders.mu.Lock()
	r := f.orders.records[sub.GetId()]
	f.orders.mu.Unlock()
	if r.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
		ds = append(ds, diag.Error("subscription.id", diag.CodeSubscriptionCancelled, "subscription "+sub.GetId()+" is cancelled", ""))
	}
	return ds
}

func checkOrderRequest(sub *provisioningv1.Subscription) error {
	if sub.GetId() == "" || sub.GetAccountId() == "" {
		return diag.InvalidArgument("subscription.id", diag.CodeInvalidValue, "subscription.id and subscription.account_id are required")
	}
	return nil
}

func (f *fakeHost) ValidateSubscription(_ context.Context, req *hostv1.ValidateSubscriptionRequest) (*hostv1.ValidateSubscriptionResponse, error) {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return nil, err
	}
	f.orders.mu.Lock()
	f.orders.sent = append(f.orders.sent, proto.Clone(req))
	f.orders.mu.Unlock()
	sub := req.GetRequest().GetSubscription()
	if err := checkOrderRequest(sub); err != nil {
		return nil, err
	}
	return &hostv1.ValidateSubscriptionResponse{Response: &provisioningv1.ValidateSubscriptionResponse{Diagnostics: f.orderDiagnostics(sub)}}, nil
}

func (f *fakeHost) ProvisionSubscription(_ context.Context, req *hostv1.ProvisionSubscriptionRequest) (*hostv1.ProvisionSubscriptionResponse, error) {
	n := f.orders.inFlight.Add(1)
	defer f.orders.inFlight.Add(-1)
	for {
		m := f.orders.maxInFlight.Load()
		if n <= m || f.orders.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if err := f.plugin(req.GetPlugin()); err != nil {
		return nil, err
	}
	sub := req.GetRequest().GetSubscription()
	f.orders.mu.Lock()
	f.orders.sent = append(f.orders.sent, proto.Clone(req))
	injected := f.orders.fail[sub.GetId()]
	f.orders.mu.Unlock()
	if injected != nil {
		return nil, injected
	}
	if err := checkOrderRequest(sub); err != nil {
		return nil, err
	}
	if err := diag.ToError(f.orderDiagnostics(sub)); err != nil {
		return nil, err
	}
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	if f.orders.records == nil {
		f.orders.records = map[string]*provisioningv1.SubscriptionRecord{}
		f.orders.desired = map[string]*provisioningv1.Subscription{}
	}
	old, existed := f.orders.records[sub.GetId()]
	rec := &provisioningv1.SubscriptionRecord{Plugin: req.GetPlugin(), SubscriptionId: sub.GetId(), AccountId: sub.GetAccountId(),
		ProductId: sub.GetProductId(), Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, Quantity: sub.GetQuantity(),
		Addons: sub.GetAddons(), Trial: sub.GetTrial(), Attributes: sub.GetAttributes(),
		RemoteId: "ACC-0000042/" + sub.GetProductId() + "/subscription", UpdatedAt: fakeUpdated}
	if existed && old.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED {
		rec.Status = old.GetStatus()
	}
	updated := existed && !proto.Equal(old, rec)
	f.orders.records[sub.GetId()] = rec
	f.orders.desired[sub.GetId()] = proto.CloneOf(sub)
	return &hostv1.ProvisionSubscriptionResponse{Response: &provisioningv1.ProvisionSubscriptionResponse{
		Record: rec, Created: !existed, Updated: updated,
	}}, nil
}

// storedOrder answers the host's NOT_FOUND for a subscription it never
// provisioned.
func (f *fakeHost) storedOrder(plugin, id string) (*provisioningv1.SubscriptionRecord, error) {
	if err := f.plugin(plugin); err != nil {
		return nil, err
	}
	r, ok := f.orders.records[id]
	if !ok {
		st, _ := status.New(codes.NotFound, "subscription "+id+" was never provisioned").
			WithDetails(&errdetails.ErrorInfo{Reason: diag.ReasonSubscriptionNotFound, Domain: diag.HostDomain})
		return nil, st.Err()
	}
	return r, nil
}

// setStatus is suspend, resume and cancel: cancelled is terminal but for
// cancel; a replay answers updated=false.
func (f *fakeHost) setStatus(plugin, id string, to provisioningv1.SubscriptionStatus) (*provisioningv1.SubscriptionRecord, bool, error) {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	r, err := f.storedOrder(plugin, id)
	if err != nil {
		return nil, false, err
	}
	cancelled := provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
	if r.GetStatus() == cancelled && to != cancelled {
		return nil, false, diag.FailedPrecondition(diag.CodeSubscriptionCancelled, "subscription", "subscription "+id+" is cancelled")
	}
	if r.GetStatus() == to {
		return r, false, nil
	}
	r = proto.CloneOf(r)
	r.Status = to
	f.orders.records[id] = r
	return r, true, nil
}

func (f *fakeHost) SuspendSubscription(_ context.Context, req *hostv1.SuspendSubscriptionRequest) (*hostv1.SuspendSubscriptionResponse, error) {
	r, updated, err := f.setStatus(req.GetPlugin(), req.GetRequest().GetSubscriptionId(), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED)
	if err != nil {
		return nil, err
	}
	return &hostv1.SuspendSubscriptionResponse{Response: &provisioningv1.SuspendSubscriptionResponse{Record: r, Updated: updated}}, nil
}

func (f *fakeHost) ResumeSubscription(_ context.Context, req *hostv1.ResumeSubscriptionRequest) (*hostv1.ResumeSubscriptionResponse, error) {
	r, updated, err := f.setStatus(req.GetPlugin(), req.GetRequest().GetSubscriptionId(), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE)
	if err != nil {
		return nil, err
	}
	return &hostv1.ResumeSubscriptionResponse{Response: &provisioningv1.ResumeSubscriptionResponse{Record: r, Updated: updated}}, nil
}

func (f *fakeHost) CancelSubscription(_ context.Context, req *hostv1.CancelSubscriptionRequest) (*hostv1.CancelSubscriptionResponse, error) {
	r, updated, err := f.setStatus(req.GetPlugin(), req.GetRequest().GetSubscriptionId(), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED)
	if err != nil {
		return nil, err
	}
	return &hostv1.CancelSubscriptionResponse{Response: &provisioningv1.CancelSubscriptionResponse{Record: r, Updated: updated}}, nil
}

func (f *fakeHost) GetSubscriptionStatus(_ context.Context, req *hostv1.GetSubscriptionStatusRequest) (*hostv1.GetSubscriptionStatusResponse, error) {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	r, err := f.storedOrder(req.GetPlugin(), req.GetRequest().GetRecord().GetSubscriptionId())
	if err != nil {
		return nil, err
	}
	resp := &provisioningv1.GetSubscriptionStatusResponse{Record: r}
	if f.orders.drift {
		resp.Diagnostics = append(resp.Diagnostics, diag.Warning("record.quantity", diag.CodeRemoteDrift,
			fmt.Sprintf("the remote allocation holds %d licences, the record %d", r.GetQuantity()+3, r.GetQuantity()), ""))
	}
	return &hostv1.GetSubscriptionStatusResponse{Response: resp}, nil
}

func (f *fakeHost) GetSubscriptionRecord(_ context.Context, req *hostv1.GetSubscriptionRecordRequest) (*hostv1.GetSubscriptionRecordResponse, error) {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	r, err := f.storedOrder(req.GetPlugin(), req.GetSubscriptionId())
	if err != nil {
		return nil, err
	}
	return &hostv1.GetSubscriptionRecordResponse{Record: r, Subscription: f.orders.desired[req.GetSubscriptionId()]}, nil
}

func (f *fakeHost) ListSubscriptionRecords(_ context.Context, req *hostv1.ListSubscriptionRecordsRequest) (*hostv1.ListSubscriptionRecordsResponse, error) {
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	var all []*provisioningv1.SubscriptionRecord
	for _, r := range f.orders.records {
		if (req.GetStatus() == 0 || r.GetStatus() == req.GetStatus()) && (req.GetAccountId() == "" || r.GetAccountId() == req.GetAccountId()) &&
			(req.GetPlugin() == "" || r.GetPlugin() == req.GetPlugin()) {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, func(a, b *provisioningv1.SubscriptionRecord) int {
		return strings.Compare(a.GetSubscriptionId(), b.GetSubscriptionId())
	})
	start := 0
	if t := req.GetPageToken(); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(all) {
			return nil, diag.InvalidArgument("page_token", diag.CodeInvalidValue, "bad page_token")
		}
		start = n
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = 100
	}
	end := min(len(all), start+size)
	resp := &hostv1.ListSubscriptionRecordsResponse{Records: all[start:end]}
	if end < len(all) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

package main

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// The test plugin's orders: a catalogue of one base product "BASIC" and one
// add-on "EXTRA". It keeps no state of its own: every answer is computed
// from the request (the desired state and the records the host filled in),
// so the host's tests see exactly what the host sent.
//
//   - attribute "pending" = "true": ProvisionSubscription answers a PENDING
//     record that GetSubscriptionStatus settles as ACTIVE.
//   - another live subscription of the account with the same product:
//     FAILED_PRECONDITION PRODUCT_ALREADY_SUBSCRIBED (a rule that spans
//     orders, read from account_subscriptions).
//   - a record CANCELLED: every change but Cancel fails
//     SUBSCRIPTION_CANCELLED.

const (
	baseProduct  = "BASIC"
	addonProduct = "EXTRA"
)

var (
	subPending   = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING
	subActive    = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	subSuspended = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED
	subCancelled = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
	subFailed    = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED
)

func (a *adapter) GetServiceDefinition(context.Context, *provisioningv1.GetServiceDefinitionRequest) (*provisioningv1.GetServiceDefinitionResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	return &provisioningv1.GetServiceDefinitionResponse{Products: []*provisioningv1.Product{
		{Id: baseProduct, Name: "Basic", Kind: provisioningv1.ProductKind_PRODUCT_KIND_BASE, MaxQuantity: 1000},
		{Id: addonProduct, Name: "Extra", Kind: provisioningv1.ProductKind_PRODUCT_KIND_ADDON, AddonOf: []string{baseProduct}},
	}}, nil
}

// orderProblems are the diagnostics of a desired state against the account,
// the subscription's record and the account's other subscriptions.
func orderProblems(sub *provisioningv1.Subscription, acctRec *provisioningv1.SyncRecord, rec *provisioningv1.SubscriptionRecord, others []*provisioningv1.SubscriptionRecord) []*provisioningv1.Diagnostic {
	var ds []*provisioningv1.Diagnostic
	if sub.GetProductId() != baseProduct {
		ds = append(ds, diag.Error("subscription.product_id", diag.CodeUnknownProduct, "unknown product "+sub.GetProductId(), ""))
	}
	if sub.GetQuantity() < 1 || sub.GetQuantity() > 1000 {
		ds = append(ds, diag.Error("subscription.quantity", diag.CodeQuantityOutOfRange, "quantity must be 1 to 1000", ""))
	}
	for i, ad := range sub.GetAddons() {
		if ad.GetQuantity() > sub.GetQuantity() {
			ds = append(ds, diag.Error(fmt.Sprintf("subscription.addons[%d].quantity", i), diag.CodeAddonExceedsBase, "add-on above the base quantity", ""))
		}
	}
	switch acctRec.GetStatus() {
	case provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE, provisioningv1.SyncStatus_SYNC_STATUS_PENDING:
	default:
		ds = append(ds, diag.Error("account", diag.CodeAccountNotSynced, "the account is not synchronized", ""))
	}
	if rec.GetStatus() == subCancelled {
		ds = append(ds, diag.Error("subscription", diag.CodeSubscriptionCancelled, "the subscription is cancelled", ""))
	}
	if slices.ContainsFunc(others, func(o *provisioningv1.SubscriptionRecord) bool {
		return o.GetProductId() == sub.GetProductId() && o.GetStatus() != subCancelled && o.GetStatus() != subFailed
	}) {
		ds = append(ds, diag.Error("subscription.product_id", diag.CodeProductAlreadySubscribed, "another subscription of the account holds "+sub.GetProductId(), ""))
	}
	return ds
}

func (a *adapter) ValidateSubscription(_ context.Context, req *provisioningv1.ValidateSubscriptionRequest) (*provisioningv1.ValidateSubscriptionResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	if req.GetSubscription().GetId() == "" || req.GetAccount() == nil {
		return nil, diag.InvalidArgument("subscription.id", diag.CodeRequired, "subscription and account are required")
	}
	return &provisioningv1.ValidateSubscriptionResponse{
		Diagnostics: orderProblems(req.GetSubscription(), req.GetAccountRecord(), req.GetRecord(), req.GetAccountSubscriptions()),
	}, nil
}

func (a *adapter) ProvisionSubscription(_ context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	sub := req.GetSubscription()
	if sub.GetId() == "" || req.GetAccount().GetId() != sub.GetAccountId() {
		return nil, diag.InvalidArgument("subscription.account_id", diag.CodeInvalidValue, "subscription.account_id must be account.id")
	}
	if err := diag.ToError(orderProblems(sub, req.GetAccountRecord(), req.GetRecord(), req.GetAccountSubscriptions())); err != nil {
		return nil, err
	}
	prev := req.GetRecord()
	rec := &provisioningv1.SubscriptionRecord{
		SubscriptionId: sub.GetId(), AccountId: sub.GetAccountId(), ProductId: sub.GetProductId(),
		Status: subActive, Quantity: sub.GetQuantity(), Addons: sub.GetAddons(), Trial: sub.GetTrial(), Attributes: sub.GetAttributes(),
		RemoteId: req.GetAccountRecord().GetRemoteId() + "/" + sub.GetProductId(),
	}
	if prev.GetStatus() == subSuspended {
		rec.Status = subSuspended
	}
	if sub.GetAttributes()["pending"] == "true" && prev.GetStatus() != subActive {
		rec.Status, rec.Private = subPending, []byte("txn-"+sub.GetId())
	}
	same := prev != nil && prev.GetStatus() == rec.GetStatus() && prev.GetQuantity() == rec.GetQuantity() &&
		proto.Equal(&provisioningv1.Subscription{Addons: prev.GetAddons()}, &provisioningv1.Subscription{Addons: rec.GetAddons()})
	if same {
		return &provisioningv1.ProvisionSubscriptionResponse{Record: prev}, nil
	}
	rec.UpdatedAt = timestamppb.Now()
	return &provisioningv1.ProvisionSubscriptionResponse{Record: rec, Created: prev == nil || prev.GetStatus() == subFailed && prev.GetQuantity() == 0, Updated: prev != nil}, nil
}

// change answers a Suspend, Resume or Cancel: the record with status to,
// updated unless it already had it.
func (a *adapter) change(id string, rec *provisioningv1.SubscriptionRecord, to provisioningv1.SubscriptionStatus) (*provisioningv1.SubscriptionRecord, bool, error) {
	if err := a.ready(); err != nil {
		return nil, false, err
	}
	if rec == nil || rec.GetSubscriptionId() != id {
		return nil, false, diag.InvalidArgument("record", diag.CodeRequired, "the record of subscription "+id+" is required")
	}
	if rec.GetStatus() == to {
		return rec, false, nil
	}
	if rec.GetStatus() == subCancelled {
		return nil, false, diag.FailedPrecondition(diag.CodeSubscriptionCancelled, "subscription", "subscription "+id+" is cancelled")
	}
	out := proto.Clone(rec).(*provisioningv1.SubscriptionRecord)
	out.Status, out.UpdatedAt, out.ErrorReason = to, timestamppb.Now(), ""
	return out, true, nil
}

func (a *adapter) SuspendSubscription(_ context.Context, req *provisioningv1.SuspendSubscriptionRequest) (*provisioningv1.SuspendSubscriptionResponse, error) {
	rec, updated, err := a.change(req.GetSubscriptionId(), req.GetRecord(), subSuspended)
	if err != nil {
		return nil, err
	}
	return &provisioningv1.SuspendSubscriptionResponse{Record: rec, Updated: updated}, nil
}

func (a *adapter) ResumeSubscription(_ context.Context, req *provisioningv1.ResumeSubscriptionRequest) (*provisioningv1.ResumeSubscriptionResponse, error) {
	rec, updated, err := a.change(req.GetSubscriptionId(), req.GetRecord(), subActive)
	if err != nil {
		return nil, err
	}
	return &provisioningv1.ResumeSubscriptionResponse{Record: rec, Updated: updated}, nil
}

func (a *adapter) CancelSubscription(_ context.Context, req *provisioningv1.CancelSubscriptionRequest) (*provisioningv1.CancelSubscriptionResponse, error) {
	if req.GetRecord().GetStatus() == subCancelled {
		return &provisioningv1.CancelSubscriptionResponse{Record: req.GetRecord()}, nil
	}
	rec, updated, err := a.change(req.GetSubscriptionId(), req.GetRecord(), subCancelled)
	if err != nil {
		return nil, err
	}
	return &provisioningv1.CancelSubscriptionResponse{Record: rec, Updated: updated}, nil
}

func (a *adapter) GetSubscriptionStatus(_ context.Context, req *provisioningv1.GetSubscriptionStatusRequest) (*provisioningv1.GetSubscriptionStatusResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	if req.GetRecord().GetSubscriptionId() == "" {
		return nil, diag.InvalidArgument("record.subscription_id", diag.CodeRequired, "record.subscription_id is required")
	}
	rec := proto.Clone(req.GetRecord()).(*provisioningv1.SubscriptionRecord)
	var ds []*provisioningv1.Diagnostic
	if rec.GetStatus() == subPending {
		rec.Status, rec.Private, rec.UpdatedAt = subActive, nil, timestamppb.Now()
	}
	if sub := req.GetSubscription(); sub != nil && sub.GetQuantity() != rec.GetQuantity() {
		ds = append(ds, diag.Warning("record.quantity", diag.CodeRemoteDrift, "quantity differs", fmt.Sprintf("remote %d, BSS %d", rec.GetQuantity(), sub.GetQuantity())))
	}
	return &provisioningv1.GetSubscriptionStatusResponse{Record: rec, Diagnostics: ds}, nil
}

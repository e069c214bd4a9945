package servicemanager_test

import (
	"context"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// fakeHost is a small in-memory host with a Panda-like form: role
// (User|Reseller), username (no "@"; suggestion "suggested.user"), and
// parent_account for an end customer. It records every request.
type fakeHost struct {
	mu      sync.Mutex
	records map[string]*provisioningv1.SyncRecord
	stored  map[string]*provisioningv1.Account
	// fail makes every call for the account id fail with this error.
	fail map[string]error
	// down makes every call fail UNAVAILABLE with a 7s RetryInfo.
	down bool
	// noSubscriptions makes the subscription RPCs and DeleteAccount answer
	// UNIMPLEMENTED, as a host without them does.
	noSubscriptions bool
	// pending makes Synchronize answer a PENDING record without a remote
	// id, as a plugin whose remote transaction still runs does.
	pending bool
	subs    map[string]*provisioningv1.SubscriptionRecord
	// calls lists the requests, in order.
	calls []proto.Message
}

func newFakeHost() *fakeHost {
	return &fakeHost{records: map[string]*provisioningv1.SyncRecord{}, stored: map[string]*provisioningv1.Account{}, fail: map[string]error{},
		subs: map[string]*provisioningv1.SubscriptionRecord{}}
}

func (f *fakeHost) record(m proto.Message, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, proto.Clone(m))
	if f.down {
		return diag.Unavailable(diag.CodeRemoteUnavailable, "the remote system is down", 7*time.Second)
	}
	return f.fail[id]
}

// requests returns the recorded requests.
func (f *fakeHost) requests() []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]proto.Message(nil), f.calls...)
}

func (f *fakeHost) form(acc *provisioningv1.Account) []*provisioningv1.Field {
	role := "User"
	if acc.GetType() == provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER {
		role = "Reseller"
	}
	var fields []*provisioningv1.Field
	if acc.GetParentId() != "" {
		fields = append(fields, &provisioningv1.Field{Key: "parent_account", Label: "Parent Account", Order: 1,
			Kind: provisioningv1.FieldKind_FIELD_KIND_ACCOUNT_REF, ReadOnly: true, AutoFill: true, Description: "The reseller's account."})
	}
	fields = append(fields,
		&provisioningv1.Field{Key: "role", Label: "Role", Order: 2, Kind: provisioningv1.FieldKind_FIELD_KIND_ENUM, Required: true, AutoFill: true,
			Choices: []*provisioningv1.Choice{{Value: "User", Label: "User"}, {Value: "Reseller", Label: "Reseller"}}, Value: role},
		&provisioningv1.Field{Key: "username", Label: "Username", Order: 3, Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Required: true,
			AutoFill: true, Value: "suggested.user", Description: "Sign-in name."},
		&provisioningv1.Field{Key: "seats", Label: "", Order: 4, Kind: provisioningv1.FieldKind_FIELD_KIND_INTEGER},
		&provisioningv1.Field{Key: "secret", Label: "Secret", Order: 5, Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Sensitive: true},
	)
	if acc.GetType() == provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER {
		fields = append(fields, &provisioningv1.Field{Key: "white_label", Label: "White label", Order: 6, Kind: provisioningv1.FieldKind_FIELD_KIND_BOOL, Required: true})
	}
	return fields
}

func (f *fakeHost) check(acc *provisioningv1.Account, values map[string]string, autoFill bool) ([]*provisioningv1.Diagnostic, map[string]string) {
	var ds []*provisioningv1.Diagnostic
	out := map[string]string{}
	role := values["role"]
	if role == "" && autoFill {
		role = "User"
		if acc.GetType() == provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER {
			role = "Reseller"
		}
	}
	switch {
	case role == "Reseller" && acc.GetType() != provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER:
		ds = append(ds, diag.Error("role", diag.CodeRoleNotAllowed, "a customer account can only be a User", ""))
	case role != "User" && role != "Reseller":
		ds = append(ds, diag.Error("role", diag.CodeInvalidValue, "role must be User or Reseller", ""))
	}
	out["role"] = role
	u := values["username"]
	if u == "" && autoFill {
		u = "suggested.user"
	}
	if strings.Contains(u, "@") {
		ds = append(ds, diag.Error("username", "INVALID_USERNAME", "username must be 5 to 65 characters of A-Z a-z 0-9 . - _ +", ""))
	}
	if u == "taken.user" {
		ds = append(ds, diag.Error("username", diag.CodeUsernameTaken, "username \"taken.user\" belongs to another account", ""))
	}
	out["username"] = u
	if p := acc.GetParentId(); p != "" {
		f.mu.Lock()
		prec := f.records[p]
		f.mu.Unlock()
		if prec == nil {
			ds = append(ds, diag.Error("parent_account", diag.CodeParentNotSynced, "reseller "+p+" is not synchronized", ""))
		} else {
			out["parent_account"] = prec.GetRemoteId()
		}
	}
	if !strings.Contains(acc.GetCorporateEmail(), "@") {
		ds = append(ds, diag.Error("account.corporate_email", diag.CodeInvalidEmail, "the corporate email is missing", ""))
	}
	return ds, out
}

func (f *fakeHost) GetSyncOptions(_ context.Context, in *hostv1.GetSyncOptionsRequest, _ ...grpc.CallOption) (*hostv1.GetSyncOptionsResponse, error) {
	if err := f.record(in, in.GetRequest().GetAccount().GetId()); err != nil {
		return nil, err
	}
	return &hostv1.GetSyncOptionsResponse{Response: &provisioningv1.GetSyncOptionsResponse{Fields: f.form(in.GetRequest().GetAccount())}}, nil
}

func (f *fakeHost) ValidateSyncOptions(_ context.Context, in *hostv1.ValidateSyncOptionsRequest, _ ...grpc.CallOption) (*hostv1.ValidateSyncOptionsResponse, error) {
	r := in.GetRequest()
	if err := f.record(in, r.GetAccount().GetId()); err != nil {
		return nil, err
	}
	ds, values := f.check(r.GetAccount(), r.GetValues(), r.GetAutoFill())
	return &hostv1.ValidateSyncOptionsResponse{Response: &provisioningv1.ValidateSyncOptionsResponse{Diagnostics: ds, Values: values}}, nil
}

func (f *fakeHost) Synchronize(_ context.Context, in *hostv1.SynchronizeRequest, _ ...grpc.CallOption) (*hostv1.SynchronizeResponse, error) {
	r := in.GetRequest()
	acc := r.GetAccount()
	if err := f.record(in, acc.GetId()); err != nil {
		return nil, err
	}
	ds, values := f.check(acc, r.GetValues(), r.GetAutoFill())
	if err := diag.ToError(ds); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending {
		return &hostv1.SynchronizeResponse{Response: &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{
			Plugin: in.GetPlugin(), AccountId: acc.GetId(), Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING, Values: values}}}, nil
	}
	if rec, ok := f.records[acc.GetId()]; ok {
		return &hostv1.SynchronizeResponse{Response: &provisioningv1.SynchronizeResponse{Record: rec}}, nil
	}
	rec := &provisioningv1.SyncRecord{Plugin: in.GetPlugin(), AccountId: acc.GetId(), Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED,
		RemoteId: "REMOTE-" + acc.GetId(), RemoteParentId: values["parent_account"], Values: values}
	f.records[acc.GetId()] = rec
	f.stored[acc.GetId()] = proto.Clone(acc).(*provisioningv1.Account)
	return &hostv1.SynchronizeResponse{Response: &provisioningv1.SynchronizeResponse{Record: rec, Created: true}}, nil
}

func (f *fakeHost) GetSyncRecord(_ context.Context, in *hostv1.GetSyncRecordRequest, _ ...grpc.CallOption) (*hostv1.GetSyncRecordResponse, error) {
	if err := f.record(in, in.GetAccountId()); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[in.GetAccountId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no sync record for account %q", in.GetAccountId())
	}
	return &hostv1.GetSyncRecordResponse{Record: rec, Account: f.stored[in.GetAccountId()]}, nil
}

// put stores a synchronized record, as if an earlier call made it.
func (f *fakeHost) put(acc *provisioningv1.Account, rec *provisioningv1.SyncRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records[acc.GetId()] = rec
	f.stored[acc.GetId()] = acc
}

// catalogue is the fake's: one base product, one add-on.
var catalogue = []*provisioningv1.Product{
	{Id: "EPDR", Name: "Endpoint Protection, Detection and Response", Description: "EPDR.", Kind: provisioningv1.ProductKind_PRODUCT_KIND_BASE,
		MinQuantity: 1, MaxQuantity: 1000, TrialAvailable: true, TrialMaxQuantity: 250, TrialDays: 30,
		Attributes: []*provisioningv1.Field{{Key: "allocation_type", Label: "Allocation type", Order: 1, Kind: provisioningv1.FieldKind_FIELD_KIND_ENUM,
			Required: true, AutoFill: true, Value: "subscription",
			Choices: []*provisioningv1.Choice{{Value: "subscription", Label: "Subscription"}, {Value: "term", Label: "Term"}}}}},
	{Id: "PATCH_MANAGEMENT", Name: "Patch Management", Kind: provisioningv1.ProductKind_PRODUCT_KIND_ADDON, AddonOf: []string{"EPDR"}, MaxQuantity: 1000,
		Attributes: []*provisioningv1.Field{{Key: "allocation_type", Label: "Allocation type", Kind: provisioningv1.FieldKind_FIELD_KIND_ENUM}}},
}

func (f *fakeHost) unimplemented(m proto.Message, id string) error {
	if err := f.record(m, id); err != nil {
		return err
	}
	if f.noSubscriptions {
		return status.Error(codes.Unimplemented, "unknown method")
	}
	return nil
}

func (f *fakeHost) validate(sub *provisioningv1.Subscription) []*provisioningv1.Diagnostic {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ds []*provisioningv1.Diagnostic
	if _, ok := f.records[sub.GetAccountId()]; !ok {
		ds = append(ds, diag.Error("subscription.account_id", diag.CodeAccountNotSynced, "account "+sub.GetAccountId()+" is not synchronized", ""))
	}
	if sub.GetProductId() != "EPDR" {
		ds = append(ds, diag.Error("subscription.product_id", diag.CodeUnknownProduct, "unknown product "+sub.GetProductId(), ""))
	}
	if q := sub.GetQuantity(); q < 1 || q > 1000 || (sub.GetTrial() && q > 250) {
		ds = append(ds, diag.Error("subscription.quantity", diag.CodeQuantityOutOfRange, "quantity out of range", ""))
	}
	for _, a := range sub.GetAddons() {
		if a.GetQuantity() > sub.GetQuantity() {
			ds = append(ds, diag.Error("subscription.addons", diag.CodeAddonExceedsBase, "add-on "+a.GetProductId()+" exceeds the base quantity", ""))
		}
	}
	if rec := f.subs[sub.GetId()]; rec.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
		ds = append(ds, diag.Error("subscription.id", diag.CodeSubscriptionCancelled, "the subscription is cancelled", ""))
	}
	return ds
}

func (f *fakeHost) DeleteAccount(_ context.Context, in *hostv1.DeleteAccountRequest, _ ...grpc.CallOption) (*hostv1.DeleteAccountResponse, error) {
	id := in.GetRequest().GetAccount().GetId()
	if err := f.unimplemented(in, id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no sync record for account %q", id)
	}
	rec = proto.Clone(rec).(*provisioningv1.SyncRecord)
	rec.Status = provisioningv1.SyncStatus_SYNC_STATUS_DELETED
	f.records[id] = rec
	return &hostv1.DeleteAccountResponse{Response: &provisioningv1.DeleteAccountResponse{Record: rec, Deleted: true}}, nil
}

func (f *fakeHost) GetServiceDefinition(_ context.Context, in *hostv1.GetServiceDefinitionRequest, _ ...grpc.CallOption) (*hostv1.GetServiceDefinitionResponse, error) {
	if err := f.unimplemented(in, ""); err != nil {
		return nil, err
	}
	return &hostv1.GetServiceDefinitionResponse{Response: &provisioningv1.GetServiceDefinitionResponse{Products: catalogue}}, nil
}

func (f *fakeHost) ValidateSubscription(_ context.Context, in *hostv1.ValidateSubscriptionRequest, _ ...grpc.CallOption) (*hostv1.ValidateSubscriptionResponse, error) {
	if err := f.unimplemented(in, in.GetRequest().GetSubscription().GetAccountId()); err != nil {
		return nil, err
	}
	return &hostv1.ValidateSubscriptionResponse{Response: &provisioningv1.ValidateSubscriptionResponse{Diagnostics: f.validate(in.GetRequest().GetSubscription())}}, nil
}

func (f *fakeHost) ProvisionSubscription(_ context.Context, in *hostv1.ProvisionSubscriptionRequest, _ ...grpc.CallOption) (*hostv1.ProvisionSubscriptionResponse, error) {
	sub := in.GetRequest().GetSubscription()
	if err := f.unimplemented(in, sub.GetAccountId()); err != nil {
		return nil, err
	}
	if err := diag.ToError(f.validate(sub)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old, existed := f.subs[sub.GetId()]
	rec := &provisioningv1.SubscriptionRecord{Plugin: in.GetPlugin(), SubscriptionId: sub.GetId(), AccountId: sub.GetAccountId(), ProductId: sub.GetProductId(),
		Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, Quantity: sub.GetQuantity(), Addons: sub.GetAddons(), Trial: sub.GetTrial(),
		RemoteId: "ALLOC-" + sub.GetId(), Attributes: sub.GetAttributes()}
	if existed && old.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED {
		rec.Status = old.GetStatus()
	}
	f.subs[sub.GetId()] = rec
	return &hostv1.ProvisionSubscriptionResponse{Response: &provisioningv1.ProvisionSubscriptionResponse{Record: rec, Created: !existed, Updated: existed}}, nil
}

// transition moves a stored subscription to st.
func (f *fakeHost) transition(id string, st provisioningv1.SubscriptionStatus) (*provisioningv1.SubscriptionRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.subs[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "subscription %q was never provisioned", id)
	}
	if rec.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED && st != rec.GetStatus() {
		return nil, diag.FailedPrecondition(diag.CodeSubscriptionCancelled, "subscription.id", "the subscription is cancelled")
	}
	rec = proto.Clone(rec).(*provisioningv1.SubscriptionRecord)
	rec.Status = st
	f.subs[id] = rec
	return rec, nil
}

func (f *fakeHost) SuspendSubscription(_ context.Context, in *hostv1.SuspendSubscriptionRequest, _ ...grpc.CallOption) (*hostv1.SuspendSubscriptionResponse, error) {
	if err := f.unimplemented(in, in.GetRequest().GetSubscriptionId()); err != nil {
		return nil, err
	}
	rec, err := f.transition(in.GetRequest().GetSubscriptionId(), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED)
	if err != nil {
		return nil, err
	}
	return &hostv1.SuspendSubscriptionResponse{Response: &provisioningv1.SuspendSubscriptionResponse{Record: rec}}, nil
}

func (f *fakeHost) ResumeSubscription(_ context.Context, in *hostv1.ResumeSubscriptionRequest, _ ...grpc.CallOption) (*hostv1.ResumeSubscriptionResponse, error) {
	if err := f.unimplemented(in, in.GetRequest().GetSubscriptionId()); err != nil {
		return nil, err
	}
	rec, err := f.transition(in.GetRequest().GetSubscriptionId(), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE)
	if err != nil {
		return nil, err
	}
	return &hostv1.ResumeSubscriptionResponse{Response: &provisioningv1.ResumeSubscriptionResponse{Record: rec}}, nil
}

func (f *fakeHost) CancelSubscription(_ context.Context, in *hostv1.CancelSubscriptionRequest, _ ...grpc.CallOption) (*hostv1.CancelSubscriptionResponse, error) {
	if err := f.unimplemented(in, in.GetRequest().GetSubscriptionId()); err != nil {
		return nil, err
	}
	rec, err := f.transition(in.GetRequest().GetSubscriptionId(), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED)
	if err != nil {
		return nil, err
	}
	return &hostv1.CancelSubscriptionResponse{Response: &provisioningv1.CancelSubscriptionResponse{Record: rec}}, nil
}

func (f *fakeHost) GetSubscriptionRecord(_ context.Context, in *hostv1.GetSubscriptionRecordRequest, _ ...grpc.CallOption) (*hostv1.GetSubscriptionRecordResponse, error) {
	if err := f.unimplemented(in, in.GetSubscriptionId()); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.subs[in.GetSubscriptionId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "subscription %q was never provisioned", in.GetSubscriptionId())
	}
	return &hostv1.GetSubscriptionRecordResponse{Record: rec}, nil
}

// putSubscription stores a subscription record, as if provisioned before.
func (f *fakeHost) putSubscription(rec *provisioningv1.SubscriptionRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[rec.GetSubscriptionId()] = rec
}

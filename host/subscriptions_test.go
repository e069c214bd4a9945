package host_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

var (
	subActive    = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	subPending   = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING
	subSuspended = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED
	subCancelled = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
	subFailed    = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED
)

// orderAdapter is an in-process adapter that keeps every subscription
// request it gets, so tests see what the host sent. Its answers carry the
// wrong keys and no UpdatedAt, which the host must fix before storing them.
// provision, when set, answers ProvisionSubscription instead.
type orderAdapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	provision func(*provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error)

	mu   sync.Mutex
	got  []proto.Message
	seen chan struct{} // optional: signalled on every request
}

func (a *orderAdapter) keep(req proto.Message) {
	a.mu.Lock()
	a.got = append(a.got, proto.Clone(req))
	a.mu.Unlock()
}

func (a *orderAdapter) requests() []proto.Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

func (*orderAdapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{Name: "orders", Version: "1.0.0"}, nil
}

func (*orderAdapter) Configure(context.Context, *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	return &provisioningv1.ConfigureResponse{}, nil
}

func (a *orderAdapter) GetServiceDefinition(_ context.Context, req *provisioningv1.GetServiceDefinitionRequest) (*provisioningv1.GetServiceDefinitionResponse, error) {
	a.keep(req)
	return &provisioningv1.GetServiceDefinitionResponse{Products: []*provisioningv1.Product{{Id: "EPDR", Kind: provisioningv1.ProductKind_PRODUCT_KIND_BASE}}}, nil
}

func (a *orderAdapter) ValidateSubscription(_ context.Context, req *provisioningv1.ValidateSubscriptionRequest) (*provisioningv1.ValidateSubscriptionResponse, error) {
	a.keep(req)
	return &provisioningv1.ValidateSubscriptionResponse{}, nil
}

func sloppy(st provisioningv1.SubscriptionStatus, q int32) *provisioningv1.SubscriptionRecord {
	return &provisioningv1.SubscriptionRecord{Plugin: "other", SubscriptionId: "other", AccountId: "other", ProductId: "EPDR", Status: st, Quantity: q, RemoteId: "ALLOC"}
}

func (a *orderAdapter) ProvisionSubscription(_ context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	a.keep(req)
	if a.provision != nil {
		return a.provision(req)
	}
	return &provisioningv1.ProvisionSubscriptionResponse{Record: sloppy(subActive, req.GetSubscription().GetQuantity()), Created: req.GetRecord() == nil}, nil
}

func (a *orderAdapter) SuspendSubscription(_ context.Context, req *provisioningv1.SuspendSubscriptionRequest) (*provisioningv1.SuspendSubscriptionResponse, error) {
	a.keep(req)
	return &provisioningv1.SuspendSubscriptionResponse{Record: sloppy(subSuspended, req.GetRecord().GetQuantity()), Updated: true}, nil
}

func (a *orderAdapter) ResumeSubscription(_ context.Context, req *provisioningv1.ResumeSubscriptionRequest) (*provisioningv1.ResumeSubscriptionResponse, error) {
	a.keep(req)
	return &provisioningv1.ResumeSubscriptionResponse{Record: sloppy(subActive, req.GetRecord().GetQuantity()), Updated: true}, nil
}

func (a *orderAdapter) CancelSubscription(_ context.Context, req *provisioningv1.CancelSubscriptionRequest) (*provisioningv1.CancelSubscriptionResponse, error) {
	a.keep(req)
	return &provisioningv1.CancelSubscriptionResponse{Record: sloppy(subCancelled, req.GetRecord().GetQuantity()), Updated: true}, nil
}

func (a *orderAdapter) GetSubscriptionStatus(_ context.Context, req *provisioningv1.GetSubscriptionStatusRequest) (*provisioningv1.GetSubscriptionStatusResponse, error) {
	a.keep(req)
	st := req.GetRecord().GetStatus()
	if st == subPending {
		st = subActive
	}
	return &provisioningv1.GetSubscriptionStatusResponse{Record: sloppy(st, req.GetRecord().GetQuantity())}, nil
}

// The seeded store: reseller R1 and its customer C1 synchronized, C2 FAILED,
// C3 PENDING with a remote id (synchronized for orders), C4 PENDING without
// one; C1 holds S0 (ACTIVE, 10 licences), C2 holds S2.
var (
	accR1 = &provisioningv1.Account{Id: "R1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Reseller"}
	accC1 = &provisioningv1.Account{Id: "C1", ParentId: "R1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Customer"}
	t0    = timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
)

func syncRec(id string, st provisioningv1.SyncStatus, remote string) *provisioningv1.SyncRecord {
	return &provisioningv1.SyncRecord{Plugin: "orders", AccountId: id, Status: st, RemoteId: remote, UpdatedAt: t0}
}

func subRec(id, account string, st provisioningv1.SubscriptionStatus, q int32) *provisioningv1.SubscriptionRecord {
	return &provisioningv1.SubscriptionRecord{Plugin: "orders", SubscriptionId: id, AccountId: account, ProductId: "EPDR", Status: st,
		Quantity: q, RemoteId: "ALLOC-" + id, Private: []byte("p-" + id), UpdatedAt: t0}
}

func desired(id, account string, q int32) *provisioningv1.Subscription {
	return &provisioningv1.Subscription{Id: id, AccountId: account, ProductId: "EPDR", Quantity: q}
}

func seed(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	puts := []struct {
		rec  *provisioningv1.SyncRecord
		acct *provisioningv1.Account
	}{
		{syncRec("R1", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, "RR1"), accR1},
		{syncRec("C1", provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE, "RC1"), accC1},
		{syncRec("C2", provisioningv1.SyncStatus_SYNC_STATUS_FAILED, ""), &provisioningv1.Account{Id: "C2"}},
		{syncRec("C3", provisioningv1.SyncStatus_SYNC_STATUS_PENDING, "RC3"), &provisioningv1.Account{Id: "C3"}},
		{syncRec("C4", provisioningv1.SyncStatus_SYNC_STATUS_PENDING, ""), &provisioningv1.Account{Id: "C4"}},
	}
	for _, p := range puts {
		if err := st.Put(ctx, p.rec, p.acct); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutSubscription(ctx, subRec("S0", "C1", subActive, 10), desired("S0", "C1", 10)); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSubscription(ctx, subRec("S2", "C2", subActive, 5), nil); err != nil {
		t.Fatal(err)
	}
}

// ordersHost runs a in an in-process host and returns Records over st.
func ordersHost(t *testing.T, a *orderAdapter, st store.Store, opts ...host.Option) (*host.Host, *host.Records) {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	opts = append([]host.Option{host.WithInProcessPlugin("orders", a), host.WithLogger(quiet)}, opts...)
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: "orders"}}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h, host.NewRecords(h, st, quiet)
}

// TestSubscriptionRequestsFilledFromStore checks that every orders RPC
// reaches the plugin with the account, its record, its ancestors, the
// subscription's record and the account's other subscriptions as the store
// holds them, whatever little the caller sent.
func TestSubscriptionRequestsFilledFromStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ancestors := []*provisioningv1.Ancestor{{Account: accR1, Record: syncRec("R1", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, "RR1")}}
	c1Rec := syncRec("C1", provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE, "RC1")
	s0 := subRec("S0", "C1", subActive, 10)
	tests := map[string]struct {
		call func(*host.Records) error
		want proto.Message
	}{
		"ValidateSubscription of a new order": {
			call: func(r *host.Records) error {
				_, err := r.ValidateSubscription(ctx, "orders", &provisioningv1.ValidateSubscriptionRequest{Subscription: desired("S1", "C1", 3)})
				return err
			},
			want: &provisioningv1.ValidateSubscriptionRequest{Subscription: desired("S1", "C1", 3), Account: accC1, AccountRecord: c1Rec,
				Ancestors: ancestors, AccountSubscriptions: []*provisioningv1.SubscriptionRecord{s0}},
		},
		"ProvisionSubscription of a new order": {
			call: func(r *host.Records) error {
				_, err := r.ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 3)})
				return err
			},
			want: &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 3), Account: accC1, AccountRecord: c1Rec,
				Ancestors: ancestors, AccountSubscriptions: []*provisioningv1.SubscriptionRecord{s0}},
		},
		"ProvisionSubscription of a stored order, with what the caller got from the host": {
			call: func(r *host.Records) error {
				_, err := r.ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{
					Subscription: desired("S0", "C1", 20), Account: &provisioningv1.Account{Id: "C1", Name: "Renamed"},
					Record: subRec("S0", "C1", subActive, 10), AccountRecord: c1Rec, Ancestors: ancestors,
				})
				return err
			},
			want: &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S0", "C1", 20), Account: accC1, AccountRecord: c1Rec,
				Ancestors: ancestors, Record: s0},
		},
		"SuspendSubscription by id alone": {
			call: func(r *host.Records) error {
				_, err := r.SuspendSubscription(ctx, "orders", &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "S0"})
				return err
			},
			want: &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "S0", Record: s0, Account: accC1, AccountRecord: c1Rec, Ancestors: ancestors},
		},
		"ResumeSubscription by the record's id": {
			call: func(r *host.Records) error {
				_, err := r.ResumeSubscription(ctx, "orders", &provisioningv1.ResumeSubscriptionRequest{Record: &provisioningv1.SubscriptionRecord{SubscriptionId: "S0"}})
				return err
			},
			want: &provisioningv1.ResumeSubscriptionRequest{SubscriptionId: "S0", Record: s0, Account: accC1, AccountRecord: c1Rec, Ancestors: ancestors},
		},
		"CancelSubscription by id alone": {
			call: func(r *host.Records) error {
				_, err := r.CancelSubscription(ctx, "orders", &provisioningv1.CancelSubscriptionRequest{SubscriptionId: "S0"})
				return err
			},
			want: &provisioningv1.CancelSubscriptionRequest{SubscriptionId: "S0", Record: s0, Account: accC1, AccountRecord: c1Rec, Ancestors: ancestors},
		},
		"GetSubscriptionStatus by id alone gets the stored desired state": {
			call: func(r *host.Records) error {
				_, err := r.GetSubscriptionStatus(ctx, "orders", &provisioningv1.GetSubscriptionStatusRequest{Record: &provisioningv1.SubscriptionRecord{SubscriptionId: "S0"}})
				return err
			},
			want: &provisioningv1.GetSubscriptionStatusRequest{Record: s0, Account: accC1, AccountRecord: c1Rec, Subscription: desired("S0", "C1", 10)},
		},
		"GetServiceDefinition passes through": {
			call: func(r *host.Records) error {
				_, err := r.GetServiceDefinition(ctx, "orders", &provisioningv1.GetServiceDefinitionRequest{})
				return err
			},
			want: &provisioningv1.GetServiceDefinitionRequest{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := store.NewMemory()
			seed(t, st)
			a := &orderAdapter{}
			_, r := ordersHost(t, a, st)
			if err := tc.call(r); err != nil {
				t.Fatal(err)
			}
			got := a.requests()
			if len(got) != 1 {
				t.Fatalf("the plugin got %d requests, want 1", len(got))
			}
			if diff := cmp.Diff(tc.want, got[0], protocmp.Transform()); diff != "" {
				t.Errorf("request the plugin got (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSubscriptionRefusals checks what the host answers itself, before any
// plugin call, and that it stores nothing then.
func TestSubscriptionRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	provision := func(req *provisioningv1.ProvisionSubscriptionRequest) func(*host.Records) error {
		return func(r *host.Records) error { _, err := r.ProvisionSubscription(ctx, "orders", req); return err }
	}
	forged := subRec("S0", "C1", subActive, 10)
	forged.RemoteId = "FORGED"
	tests := map[string]struct {
		call       func(*host.Records) error
		wantCode   codes.Code
		wantReason string
		wantField  string
	}{
		"no subscription": {
			call:     provision(&provisioningv1.ProvisionSubscriptionRequest{}),
			wantCode: codes.InvalidArgument, wantReason: diag.CodeRequired, wantField: "request.subscription",
		},
		"no account id": {
			call:     provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: &provisioningv1.Subscription{Id: "S1"}}),
			wantCode: codes.InvalidArgument, wantReason: diag.CodeRequired, wantField: "request.subscription.account_id",
		},
		"no plugin": {
			call: func(r *host.Records) error {
				_, err := r.ProvisionSubscription(ctx, "", &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 1)})
				return err
			},
			wantCode: codes.InvalidArgument, wantReason: diag.CodeRequired, wantField: "plugin",
		},
		"unknown plugin": {
			call: func(r *host.Records) error {
				_, err := r.SuspendSubscription(ctx, "nope", &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "S0"})
				return err
			},
			wantCode: codes.NotFound,
		},
		"account never synchronized": {
			call:     provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C9", 1)}),
			wantCode: codes.FailedPrecondition, wantReason: diag.CodeAccountNotSynced, wantField: "account",
		},
		"account record FAILED, whatever record the caller claims": {
			call: provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C2", 1),
				AccountRecord: syncRec("C2", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, "X")}),
			wantCode: codes.FailedPrecondition, wantReason: diag.CodeAccountNotSynced, wantField: "account",
		},
		"account PENDING without a remote id": {
			call:     provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C4", 1)}),
			wantCode: codes.FailedPrecondition, wantReason: diag.CodeAccountNotSynced, wantField: "account",
		},
		"suspend on an account no longer synchronized": {
			call: func(r *host.Records) error {
				_, err := r.SuspendSubscription(ctx, "orders", &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "S2"})
				return err
			},
			wantCode: codes.FailedPrecondition, wantReason: diag.CodeAccountNotSynced, wantField: "account",
		},
		"a record that contradicts the stored one": {
			call:     provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S0", "C1", 20), Record: forged}),
			wantCode: codes.InvalidArgument, wantReason: diag.ReasonRecordMismatch, wantField: "request.record.remote_id",
		},
		"a record of a subscription the host never stored": {
			call:     provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 1), Record: subRec("S1", "C1", subActive, 1)}),
			wantCode: codes.InvalidArgument, wantReason: diag.ReasonRecordMismatch, wantField: "request.record",
		},
		"an account record that contradicts the stored one": {
			call: provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 1),
				AccountRecord: syncRec("C1", provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE, "FORGED")}),
			wantCode: codes.InvalidArgument, wantReason: diag.ReasonRecordMismatch, wantField: "request.account_record.remote_id",
		},
		"an ancestor record that contradicts the stored one": {
			call: provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 1),
				Ancestors: []*provisioningv1.Ancestor{{Account: accR1, Record: syncRec("R1", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, "FORGED")}}}),
			wantCode: codes.InvalidArgument, wantReason: diag.ReasonRecordMismatch, wantField: "request.ancestors[0].record.remote_id",
		},
		"another subscription's record that contradicts the stored one": {
			call: provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 1),
				AccountSubscriptions: []*provisioningv1.SubscriptionRecord{forged}}),
			wantCode: codes.InvalidArgument, wantReason: diag.ReasonRecordMismatch, wantField: "request.account_subscriptions[0].remote_id",
		},
		"a status refresh of a record that contradicts the stored one": {
			call: func(r *host.Records) error {
				_, err := r.GetSubscriptionStatus(ctx, "orders", &provisioningv1.GetSubscriptionStatusRequest{Record: forged})
				return err
			},
			wantCode: codes.InvalidArgument, wantReason: diag.ReasonRecordMismatch, wantField: "request.record.remote_id",
		},
		"a record of another product": {
			call: provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S0", "C1", 20),
				Record: &provisioningv1.SubscriptionRecord{SubscriptionId: "S0", ProductId: "EDR"}}),
			wantCode: codes.InvalidArgument, wantReason: diag.ReasonRecordMismatch, wantField: "request.record.product_id",
		},
		"other plugin state": {
			call: provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S0", "C1", 20),
				Record: &provisioningv1.SubscriptionRecord{SubscriptionId: "S0", Private: []byte("forged")}}),
			wantCode: codes.InvalidArgument, wantReason: diag.ReasonRecordMismatch, wantField: "request.record.private",
		},
		"a subscription of the account the host does not hold": {
			call: provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 1),
				AccountSubscriptions: []*provisioningv1.SubscriptionRecord{{SubscriptionId: "S7"}}}),
			wantCode: codes.InvalidArgument, wantReason: diag.ReasonRecordMismatch, wantField: "request.account_subscriptions[0].subscription_id",
		},
		"an order moved to another account": {
			call:     provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S0", "C3", 10)}),
			wantCode: codes.FailedPrecondition, wantReason: diag.CodeSubscriptionAccountChanged, wantField: "subscription.account_id",
		},
		"an account that is not the subscription's": {
			call:     provision(&provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 1), Account: &provisioningv1.Account{Id: "C3"}}),
			wantCode: codes.InvalidArgument, wantReason: diag.CodeInvalidValue, wantField: "request.account.id",
		},
		"suspend of an unknown subscription": {
			call: func(r *host.Records) error {
				_, err := r.SuspendSubscription(ctx, "orders", &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "S9"})
				return err
			},
			wantCode: codes.NotFound, wantReason: diag.ReasonSubscriptionNotFound,
		},
		"resume of an unknown subscription": {
			call: func(r *host.Records) error {
				_, err := r.ResumeSubscription(ctx, "orders", &provisioningv1.ResumeSubscriptionRequest{SubscriptionId: "S9"})
				return err
			},
			wantCode: codes.NotFound, wantReason: diag.ReasonSubscriptionNotFound,
		},
		"cancel of an unknown subscription": {
			call: func(r *host.Records) error {
				_, err := r.CancelSubscription(ctx, "orders", &provisioningv1.CancelSubscriptionRequest{SubscriptionId: "S9"})
				return err
			},
			wantCode: codes.NotFound, wantReason: diag.ReasonSubscriptionNotFound,
		},
		"status of an unknown subscription, even with a record": {
			call: func(r *host.Records) error {
				_, err := r.GetSubscriptionStatus(ctx, "orders", &provisioningv1.GetSubscriptionStatusRequest{Record: subRec("S9", "C1", subPending, 1)})
				return err
			},
			wantCode: codes.NotFound, wantReason: diag.ReasonSubscriptionNotFound,
		},
		"suspend without an id": {
			call: func(r *host.Records) error {
				_, err := r.SuspendSubscription(ctx, "orders", &provisioningv1.SuspendSubscriptionRequest{})
				return err
			},
			wantCode: codes.InvalidArgument, wantReason: diag.CodeRequired, wantField: "request.subscription_id",
		},
		"suspend with a record of another subscription": {
			call: func(r *host.Records) error {
				_, err := r.SuspendSubscription(ctx, "orders", &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "S0", Record: &provisioningv1.SubscriptionRecord{SubscriptionId: "S2"}})
				return err
			},
			wantCode: codes.InvalidArgument, wantReason: diag.CodeInvalidValue, wantField: "request.record.subscription_id",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := store.NewMemory()
			seed(t, st)
			a := &orderAdapter{}
			_, r := ordersHost(t, a, st)
			err := tc.call(r)
			d := diag.Parse(err)
			if d.Code != tc.wantCode || d.Reason != tc.wantReason {
				t.Fatalf("error = %v, want %v %s", err, tc.wantCode, tc.wantReason)
			}
			if tc.wantField != "" && !slices.ContainsFunc(d.Violations, func(v diag.Violation) bool { return v.Field == tc.wantField }) {
				t.Errorf("violations %v, want one on %q", d.Violations, tc.wantField)
			}
			if n := len(a.requests()); n != 0 {
				t.Errorf("the plugin was called %d times", n)
			}
			p, err := st.ListSubscriptions(ctx, store.SubscriptionQuery{})
			if err != nil {
				t.Fatal(err)
			}
			want := []store.SubscriptionEntry{{Record: subRec("S0", "C1", subActive, 10), Subscription: desired("S0", "C1", 10)}, {Record: subRec("S2", "C2", subActive, 5)}}
			if diff := cmp.Diff(want, p.Entries, protocmp.Transform()); diff != "" {
				t.Errorf("store changed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSubscriptionAccepted checks the requests the host must not refuse: an
// account PENDING with a remote id, records sent back as the host stored
// them (the plugin name left out), a record bare but for its id.
func TestSubscriptionAccepted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	noPlugin := subRec("S0", "C1", subActive, 10)
	noPlugin.Plugin = ""
	tests := map[string]func(*host.Records) error{
		"an account PENDING with a remote id": func(r *host.Records) error {
			_, err := r.ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S3", "C3", 1)})
			return err
		},
		"the stored record without its plugin": func(r *host.Records) error {
			_, err := r.ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S0", "C1", 12), Record: noPlugin,
				AccountSubscriptions: nil, AccountRecord: &provisioningv1.SyncRecord{}})
			return err
		},
		"an older copy of the stored records (status, quantity since changed)": func(r *host.Records) error {
			stale := subRec("S0", "C1", subPending, 4)
			staleAcct := syncRec("C1", provisioningv1.SyncStatus_SYNC_STATUS_PENDING, "RC1")
			_, err := r.ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S0", "C1", 12),
				Record: stale, AccountRecord: staleAcct})
			return err
		},
		"a bare record": func(r *host.Records) error {
			_, err := r.CancelSubscription(ctx, "orders", &provisioningv1.CancelSubscriptionRequest{SubscriptionId: "S0", Record: &provisioningv1.SubscriptionRecord{SubscriptionId: "S0", AccountId: "C1"}})
			return err
		},
		"cancel on an account no longer synchronized": func(r *host.Records) error {
			_, err := r.CancelSubscription(ctx, "orders", &provisioningv1.CancelSubscriptionRequest{SubscriptionId: "S2"})
			return err
		},
	}
	for name, call := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := store.NewMemory()
			seed(t, st)
			_, r := ordersHost(t, &orderAdapter{}, st)
			if err := call(r); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestValidateSubscriptionAccountNotSynced: the check-only pass answers the
// problem as a diagnostic, not an error.
func TestValidateSubscriptionAccountNotSynced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := map[string]struct {
		account   string
		wantCalls int
	}{
		"never synchronized: the host answers alone": {account: "C9", wantCalls: 0},
		"FAILED: the plugin checks the rest":         {account: "C2", wantCalls: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := store.NewMemory()
			seed(t, st)
			a := &orderAdapter{}
			_, r := ordersHost(t, a, st)
			resp, err := r.ValidateSubscription(ctx, "orders", &provisioningv1.ValidateSubscriptionRequest{Subscription: desired("S1", tc.account, 1)})
			if err != nil {
				t.Fatal(err)
			}
			ds := resp.GetDiagnostics()
			if len(ds) != 1 || ds[0].GetCode() != diag.CodeAccountNotSynced || ds[0].GetSeverity() != provisioningv1.Severity_SEVERITY_ERROR || ds[0].GetField() != "subscription.account_id" {
				t.Errorf("diagnostics = %v, want one ACCOUNT_NOT_SYNCED error", ds)
			}
			if n := len(a.requests()); n != tc.wantCalls {
				t.Errorf("the plugin was called %d times, want %d", n, tc.wantCalls)
			}
		})
	}
}

// TestSubscriptionStoredDurablyBeforeAnswer checks the call-then-persist path
// of every changing RPC against SQLite: the record is keyed by the host,
// stamped, and in the database (reopened) once the call returned.
func TestSubscriptionStoredDurablyBeforeAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := map[string]struct {
		call       func(*host.Records) (*provisioningv1.SubscriptionRecord, error)
		id         string
		wantStatus provisioningv1.SubscriptionStatus
		wantSub    *provisioningv1.Subscription
	}{
		"ProvisionSubscription stores the desired state too": {
			call: func(r *host.Records) (*provisioningv1.SubscriptionRecord, error) {
				resp, err := r.ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 7)})
				return resp.GetRecord(), err
			},
			id: "S1", wantStatus: subActive, wantSub: desired("S1", "C1", 7),
		},
		"SuspendSubscription keeps the desired state": {
			call: func(r *host.Records) (*provisioningv1.SubscriptionRecord, error) {
				resp, err := r.SuspendSubscription(ctx, "orders", &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "S0"})
				return resp.GetRecord(), err
			},
			id: "S0", wantStatus: subSuspended, wantSub: desired("S0", "C1", 10),
		},
		"CancelSubscription": {
			call: func(r *host.Records) (*provisioningv1.SubscriptionRecord, error) {
				resp, err := r.CancelSubscription(ctx, "orders", &provisioningv1.CancelSubscriptionRequest{SubscriptionId: "S0"})
				return resp.GetRecord(), err
			},
			id: "S0", wantStatus: subCancelled, wantSub: desired("S0", "C1", 10),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			st, err := store.OpenSQLite(dir)
			if err != nil {
				t.Fatal(err)
			}
			seed(t, st)
			_, r := ordersHost(t, &orderAdapter{}, st)
			rec, err := tc.call(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			if rec.GetUpdatedAt() == nil {
				t.Error("answered record has no UpdatedAt")
			}
			st, err = store.OpenSQLite(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			e, err := st.GetSubscription(ctx, "orders", tc.id)
			if err != nil {
				t.Fatal(err)
			}
			q := int32(10)
			if tc.id == "S1" {
				q = 7
			}
			want := store.SubscriptionEntry{
				Record: &provisioningv1.SubscriptionRecord{Plugin: "orders", SubscriptionId: tc.id, AccountId: "C1", ProductId: "EPDR",
					Status: tc.wantStatus, Quantity: q, RemoteId: "ALLOC", UpdatedAt: rec.GetUpdatedAt()},
				Subscription: tc.wantSub,
			}
			if diff := cmp.Diff(want, e, protocmp.Transform()); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want.Record, rec, protocmp.Transform()); diff != "" {
				t.Errorf("answered (-want +got):\n%s", diff)
			}
		})
	}
}

// failingSubscriptions fails every subscription write.
type failingSubscriptions struct{ store.Store }

func (failingSubscriptions) PutSubscription(context.Context, *provisioningv1.SubscriptionRecord, *provisioningv1.Subscription) error {
	return errors.New("disk full")
}

func TestSubscriptionStoreFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := map[string]func(*host.Records) (proto.Message, error){
		"ProvisionSubscription": func(r *host.Records) (proto.Message, error) {
			return r.ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 1)})
		},
		"ResumeSubscription": func(r *host.Records) (proto.Message, error) {
			return r.ResumeSubscription(ctx, "orders", &provisioningv1.ResumeSubscriptionRequest{SubscriptionId: "S0"})
		},
		"GetSubscriptionStatus": func(r *host.Records) (proto.Message, error) {
			return r.GetSubscriptionStatus(ctx, "orders", &provisioningv1.GetSubscriptionStatusRequest{Record: &provisioningv1.SubscriptionRecord{SubscriptionId: "S0"}})
		},
	}
	for name, call := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mem := store.NewMemory()
			seed(t, mem)
			_, r := ordersHost(t, &orderAdapter{}, failingSubscriptions{mem})
			resp, err := call(r)
			d := diag.Parse(err)
			if d.Code != codes.Unavailable || d.Reason != diag.ReasonStoreUnavailable || errorDomain(err) != diag.HostDomain {
				t.Fatalf("error = %v, want UNAVAILABLE STORE_UNAVAILABLE in %s", err, diag.HostDomain)
			}
			if resp.ProtoReflect().IsValid() {
				t.Errorf("answered %v with the error", resp)
			}
		})
	}
}

// TestProvisionFailureStored checks which failures of ProvisionSubscription
// become FAILED records, and what those keep.
func TestProvisionFailureStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inventory := diag.FailedPrecondition(diag.CodeInsufficientInventory, "subscription.quantity", "the root lacks 10 licences")
	s0 := subRec("S0", "C1", subActive, 10)
	failedS0 := subRec("S0", "C1", subFailed, 10)
	failedS0.ErrorReason, failedS0.Message = diag.CodeInsufficientInventory, "the root lacks 10 licences"
	cancelled := subRec("S0", "C1", subCancelled, 10)
	tests := map[string]struct {
		stored  *provisioningv1.SubscriptionRecord // S0 before the call
		sub     *provisioningv1.Subscription
		err     error
		want    *provisioningv1.SubscriptionRecord // nil: nothing stored for sub.id
		wantSub *provisioningv1.Subscription
	}{
		"a new order refused": {
			stored: s0, sub: desired("S1", "C1", 500), err: inventory,
			want: &provisioningv1.SubscriptionRecord{Plugin: "orders", SubscriptionId: "S1", AccountId: "C1", ProductId: "EPDR", Status: subFailed,
				ErrorReason: diag.CodeInsufficientInventory, Message: "the root lacks 10 licences"},
			wantSub: desired("S1", "C1", 500),
		},
		"a change refused keeps what is allocated": {
			stored: s0, sub: desired("S0", "C1", 500), err: inventory, want: failedS0, wantSub: desired("S0", "C1", 500),
		},
		"a bad request": {
			stored: s0, sub: desired("S1", "C1", 0), err: diag.InvalidArgument("subscription.quantity", diag.CodeQuantityOutOfRange, "at least 1"),
			want: &provisioningv1.SubscriptionRecord{Plugin: "orders", SubscriptionId: "S1", AccountId: "C1", ProductId: "EPDR", Status: subFailed,
				ErrorReason: diag.CodeQuantityOutOfRange, Message: "subscription.quantity: at least 1"},
			wantSub: desired("S1", "C1", 0),
		},
		"a transient failure leaves the record": {
			stored: s0, sub: desired("S0", "C1", 500), err: diag.Unavailable(diag.CodeRemoteUnavailable, "down", time.Second),
			want: s0, wantSub: desired("S0", "C1", 10),
		},
		"an unconfigured plugin says nothing of the order": {
			stored: s0, sub: desired("S0", "C1", 500), err: diag.NotConfigured(), want: s0, wantSub: desired("S0", "C1", 10),
		},
		"a cancelled subscription stays cancelled": {
			stored: cancelled, sub: desired("S0", "C1", 500),
			err:  diag.FailedPrecondition(diag.CodeSubscriptionCancelled, "subscription", "cancelled"),
			want: cancelled, wantSub: desired("S0", "C1", 10),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := store.NewMemory()
			seed(t, st)
			if err := st.PutSubscription(ctx, tc.stored, nil); err != nil {
				t.Fatal(err)
			}
			a := &orderAdapter{provision: func(*provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
				return nil, tc.err
			}}
			_, r := ordersHost(t, a, st)
			_, err := r.ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{Subscription: tc.sub})
			if got, want := diag.Parse(err), diag.Parse(tc.err); got.Code != want.Code || got.Reason != want.Reason {
				t.Fatalf("error = %v, want the plugin's %v", err, tc.err)
			}
			e, err := st.GetSubscription(ctx, "orders", tc.sub.GetId())
			if tc.want == nil {
				if !errors.Is(err, store.ErrSubscriptionNotFound) {
					t.Fatalf("stored %v, %v; want nothing", e, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Record.GetStatus() == subFailed && e.Record.GetUpdatedAt() == nil {
				t.Error("FAILED record has no UpdatedAt")
			}
			if diff := cmp.Diff(tc.want, e.Record, protocmp.Transform(), protocmp.IgnoreFields(&provisioningv1.SubscriptionRecord{}, "updated_at")); diff != "" {
				t.Errorf("stored record (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSub, e.Subscription, protocmp.Transform()); diff != "" {
				t.Errorf("stored desired state (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSettlePendingSubscriptions runs one settling round: PENDING
// subscription records are refreshed through GetSubscriptionStatus (with the
// stored desired state) and stored; the others are left alone.
func TestSettlePendingSubscriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	seed(t, st)
	for _, id := range []string{"P1", "P2"} {
		if err := st.PutSubscription(ctx, subRec(id, "C1", subPending, 3), desired(id, "C1", 3)); err != nil {
			t.Fatal(err)
		}
	}
	a := &orderAdapter{}
	h, _ := ordersHost(t, a, st, host.WithStore(st), host.WithSettleInterval(time.Hour))
	if n := h.SettleOnce(ctx, "orders"); n != 2 {
		t.Errorf("settled %d records, want 2", n)
	}
	for _, id := range []string{"P1", "P2"} {
		e, err := st.GetSubscription(ctx, "orders", id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Record.GetStatus() != subActive || e.Record.GetSubscriptionId() != id || e.Subscription.GetQuantity() != 3 {
			t.Errorf("%s after settling: %v, %v", id, e.Record, e.Subscription)
		}
	}
	var ids []string
	for _, req := range a.requests() {
		r, ok := req.(*provisioningv1.GetSubscriptionStatusRequest)
		if !ok {
			t.Fatalf("settling sent %T", req)
		}
		if r.GetSubscription() == nil || r.GetAccount().GetId() != "C1" {
			t.Errorf("settling request not filled from the store: %v", r)
		}
		ids = append(ids, r.GetRecord().GetSubscriptionId())
	}
	if diff := cmp.Diff([]string{"P1", "P2"}, ids); diff != "" {
		t.Errorf("refreshed (-want +got):\n%s", diff)
	}
	if n := h.SettleOnce(ctx, "orders"); n != 0 {
		t.Errorf("second round settled %d records, want 0", n)
	}
}

// TestSettlePendingSubscriptionThroughPlugin: the settling round reaches a
// real plugin process, which settles the PENDING order it answered.
func TestSettlePendingSubscriptionThroughPlugin(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	f := start(t, catalog.Entry{}, host.WithStore(st), host.WithSettleInterval(time.Hour))
	if err := f.h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r := host.NewRecords(f.h, st, slog.New(slog.DiscardHandler))
	if _, err := r.Synchronize(ctx, "testplugin", &provisioningv1.SynchronizeRequest{Account: account("C1")}); err != nil {
		t.Fatal(err)
	}
	sub := &provisioningv1.Subscription{Id: "S1", AccountId: "C1", ProductId: "BASIC", Quantity: 3, Attributes: map[string]string{"pending": "true"}}
	resp, err := r.ProvisionSubscription(ctx, "testplugin", &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub})
	if err != nil || resp.GetRecord().GetStatus() != subPending {
		t.Fatalf("ProvisionSubscription = %v, %v", resp, err)
	}
	if n := f.h.SettleOnce(ctx, "testplugin"); n != 1 {
		t.Errorf("settled %d records, want 1", n)
	}
	e, err := st.GetSubscription(ctx, "testplugin", "S1")
	if err != nil {
		t.Fatal(err)
	}
	if e.Record.GetStatus() != subActive || len(e.Record.GetPrivate()) != 0 || e.Subscription.GetAttributes()["pending"] != "true" {
		t.Errorf("after settling: %v, desired %v", e.Record, e.Subscription)
	}
	// The orders calls are measured like every plugin call.
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "provisioning_host_plugin_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "rpc" {
					calls[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	if calls["ProvisionSubscription"] != 1 || calls["GetSubscriptionStatus"] != 1 {
		t.Errorf("plugin_calls_total by rpc = %v, want one ProvisionSubscription and one GetSubscriptionStatus", calls)
	}
}

// TestOrdersRetriedAcrossACrash: the host replays a call that met a crashed
// plugin when the contract declares the RPC idempotent; every orders RPC
// must be.
func TestOrdersRetriedAcrossACrash(t *testing.T) {
	t.Parallel()
	methods := provisioningv1.File_provisioning_v1_adapter_proto.Services().ByName("ProvisioningAdapter").Methods()
	for _, m := range []string{"GetServiceDefinition", "ValidateSubscription", "ProvisionSubscription", "SuspendSubscription", "ResumeSubscription", "CancelSubscription", "GetSubscriptionStatus"} {
		md := methods.ByName(protoreflect.Name(m))
		if md == nil {
			t.Fatalf("no method %s", m)
		}
		switch md.Options().(*descriptorpb.MethodOptions).GetIdempotencyLevel() {
		case descriptorpb.MethodOptions_IDEMPOTENT, descriptorpb.MethodOptions_NO_SIDE_EFFECTS:
		default:
			t.Errorf("%s is not idempotent in the contract: the host would not retry it across a crash", m)
		}
	}
}

// gatedSubscriptions holds every subscription write until released.
type gatedSubscriptions struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (g gatedSubscriptions) PutSubscription(ctx context.Context, rec *provisioningv1.SubscriptionRecord, sub *provisioningv1.Subscription) error {
	g.entered <- struct{}{}
	<-g.release
	return g.Store.PutSubscription(ctx, rec, sub)
}

// TestSubscriptionAnswerWaitsForTheWrite: the caller gets no answer while
// the write is under way, even when it gives up: the write is not cancelled
// with the call.
func TestSubscriptionAnswerWaitsForTheWrite(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory()
	seed(t, mem)
	g := gatedSubscriptions{Store: mem, entered: make(chan struct{}), release: make(chan struct{})}
	_, r := ordersHost(t, &orderAdapter{}, g)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired("S1", "C1", 4)})
		done <- err
	}()
	<-g.entered
	cancel() // the caller gives up while the record is being written
	select {
	case err := <-done:
		t.Fatalf("answered (%v) before the write finished", err)
	default:
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatalf("ProvisionSubscription: %v", err)
	}
	if e, err := mem.GetSubscription(context.Background(), "orders", "S1"); err != nil || e.Record.GetQuantity() != 4 {
		t.Errorf("stored = %v, %v", e, err)
	}
}

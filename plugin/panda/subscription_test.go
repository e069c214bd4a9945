package panda_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/panda"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

const (
	customerPanda = "ACC-2000001"
	endPanda      = "ACC-3000001"
)

func customerRecord() *provisioningv1.SyncRecord {
	return &provisioningv1.SyncRecord{
		Plugin: "panda", AccountId: "C-100", Status: stSynced, RemoteId: customerPanda, RemoteParentId: root,
		Values: map[string]string{panda.FieldRole: panda.RoleUser, panda.FieldUsername: "jane.doe"},
	}
}

func endRecord() *provisioningv1.SyncRecord {
	return &provisioningv1.SyncRecord{
		Plugin: "panda", AccountId: "E-300", Status: stSynced, RemoteId: endPanda, RemoteParentId: resellerPanda,
		Values: map[string]string{panda.FieldRole: panda.RoleUser, panda.FieldUsername: "it.beta"},
	}
}

func order(mod func(*provisioningv1.Subscription)) *provisioningv1.Subscription {
	s := &provisioningv1.Subscription{Id: "S-1", AccountId: "C-100", ProductId: "EPDR", Quantity: 10,
		Addons: []*provisioningv1.Addon{{Id: "L-1", ProductId: "PATCH_MANAGEMENT", Quantity: 5}}}
	if mod != nil {
		mod(s)
	}
	return s
}

func activeRecord(mod func(*provisioningv1.SubscriptionRecord)) *provisioningv1.SubscriptionRecord {
	r := &provisioningv1.SubscriptionRecord{Plugin: "panda", SubscriptionId: "S-1", AccountId: "C-100", ProductId: "EPDR",
		Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, Quantity: 10, RemoteId: customerPanda + "/EPDR/subscription"}
	if mod != nil {
		mod(r)
	}
	return r
}

// plenty is a summary with a large unallocated stock of every product.
func plenty() *panda.SoftwareSummary {
	s := &panda.SoftwareSummary{}
	for _, p := range []string{"EPP", "EDR", "EPDR", "ADVANCED_EPDR", "PATCH_MANAGEMENT", "FULL_ENCRYPTION", "ADVANCED_REPORTING", "DATA_CONTROL", "SIEM_FEEDER"} {
		s.Inventory = append(s.Inventory, panda.InventoryItem{Product: p, Total: 1000, Unallocated: 1000})
	}
	return s
}

// TestValidateSubscription checks every rule of the check-only pass: each
// case breaks one and expects exactly its diagnostic.
func TestValidateSubscription(t *testing.T) {
	t.Parallel()
	other := func(product string) *provisioningv1.SubscriptionRecord {
		return activeRecord(func(r *provisioningv1.SubscriptionRecord) { r.SubscriptionId, r.ProductId = "S-9", product })
	}
	tests := map[string]struct {
		sub       *provisioningv1.Subscription
		accRec    *provisioningv1.SyncRecord
		account   *provisioningv1.Account
		ancestors []*provisioningv1.Ancestor
		rec       *provisioningv1.SubscriptionRecord
		others    []*provisioningv1.SubscriptionRecord
		root      *panda.SoftwareSummary
		want      []string
	}{
		"valid":           {sub: order(nil)},
		"unknown product": {sub: order(func(s *provisioningv1.Subscription) { s.ProductId, s.Addons = "XDR", nil }), want: []string{"UNKNOWN_PRODUCT subscription.product_id"}},
		"add-on as base": {sub: order(func(s *provisioningv1.Subscription) { s.ProductId, s.Addons = "DATA_CONTROL", nil }),
			want: []string{"PRODUCT_KIND_MISMATCH subscription.product_id"}},
		"base as add-on": {sub: order(func(s *provisioningv1.Subscription) { s.Addons[0].ProductId = "EDR" }),
			want: []string{"PRODUCT_KIND_MISMATCH subscription.addons[0].product_id"}},
		"unknown add-on": {sub: order(func(s *provisioningv1.Subscription) { s.Addons[0].ProductId = "MDR" }),
			want: []string{"UNKNOWN_PRODUCT subscription.addons[0].product_id"}},
		"no quantity": {sub: order(func(s *provisioningv1.Subscription) { s.Quantity, s.Addons = 0, nil }),
			want: []string{"QUANTITY_OUT_OF_RANGE subscription.quantity"}},
		"add-on above base": {sub: order(func(s *provisioningv1.Subscription) { s.Addons[0].Quantity = 11 }),
			want: []string{"ADDON_EXCEEDS_BASE subscription.addons[0].quantity"}},
		"add-on of zero": {sub: order(func(s *provisioningv1.Subscription) { s.Addons[0].Quantity = 0 }),
			want: []string{"QUANTITY_OUT_OF_RANGE subscription.addons[0].quantity"}},
		"duplicate add-on": {
			sub: order(func(s *provisioningv1.Subscription) {
				s.Addons = append(s.Addons, &provisioningv1.Addon{Id: "L-1", ProductId: "PATCH_MANAGEMENT", Quantity: 1})
			}),
			want: []string{"DUPLICATE_ADDON subscription.addons[1].id", "DUPLICATE_ADDON subscription.addons[1].product_id"},
		},
		"add-on without id": {sub: order(func(s *provisioningv1.Subscription) { s.Addons[0].Id = "" }),
			want: []string{"REQUIRED subscription.addons[0].id"}},
		"unknown attribute": {sub: order(func(s *provisioningv1.Subscription) { s.Attributes = map[string]string{"colour": "red"} }),
			want: []string{"INVALID_ATTRIBUTE subscription.attributes.colour"}},
		"bad allocation type": {sub: order(func(s *provisioningv1.Subscription) { s.Attributes = map[string]string{"allocation_type": "trial"} }),
			want: []string{"INVALID_ATTRIBUTE subscription.attributes.allocation_type"}},
		"trial above 250": {sub: order(func(s *provisioningv1.Subscription) { s.Trial, s.Quantity = true, 300 }),
			want: []string{"TRIAL_LIMIT subscription.quantity"}},
		"paid back to trial": {sub: order(func(s *provisioningv1.Subscription) { s.Trial = true }), rec: activeRecord(nil),
			want: []string{"TRIAL_DOWNGRADE subscription.trial"}},
		"trial past its end": {
			sub: order(func(s *provisioningv1.Subscription) { s.Trial = true }),
			rec: activeRecord(func(r *provisioningv1.SubscriptionRecord) {
				r.Trial, r.TrialEndsAt = true, timestamppb.New(fixedNow.Add(-time.Hour))
			}),
			want: []string{"TRIAL_EXPIRED subscription.trial"},
		},
		"cancelled": {sub: order(nil), rec: activeRecord(func(r *provisioningv1.SubscriptionRecord) {
			r.Status = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
		}), want: []string{"SUBSCRIPTION_CANCELLED subscription.id"}},
		"account changed": {sub: order(nil), rec: activeRecord(func(r *provisioningv1.SubscriptionRecord) { r.AccountId = "C-999" }),
			want: []string{"SUBSCRIPTION_ACCOUNT_CHANGED subscription.account_id"}},
		"product changed": {sub: order(nil), rec: activeRecord(func(r *provisioningv1.SubscriptionRecord) { r.ProductId = "EDR" }),
			want: []string{"PRODUCT_CHANGED subscription.product_id"}},
		"allocation type changed": {sub: order(func(s *provisioningv1.Subscription) { s.Attributes = map[string]string{"allocation_type": "term"} }),
			rec: activeRecord(nil), want: []string{"INVALID_ATTRIBUTE subscription.attributes.allocation_type"}},
		"account not synchronized": {sub: order(nil), accRec: &provisioningv1.SyncRecord{Status: stFailed},
			want: []string{"ACCOUNT_NOT_SYNCED account"}},
		"product already subscribed": {sub: order(nil), others: []*provisioningv1.SubscriptionRecord{other("EPDR")},
			want: []string{"PRODUCT_ALREADY_SUBSCRIBED subscription.product_id"}},
		"a subscriber's second base product": {sub: order(nil), others: []*provisioningv1.SubscriptionRecord{other("EDR")},
			want: []string{"BASE_PRODUCT_LIMIT subscription.product_id"}},
		"a cancelled other order does not count": {sub: order(nil), others: []*provisioningv1.SubscriptionRecord{
			activeRecord(func(r *provisioningv1.SubscriptionRecord) {
				r.SubscriptionId, r.ProductId, r.Status = "S-9", "EDR", provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
			}),
		}},
		"reseller not synchronized": {
			sub: order(func(s *provisioningv1.Subscription) { s.AccountId = "E-300" }), account: endCustomer(), accRec: endRecord(),
			ancestors: []*provisioningv1.Ancestor{resellerAncestor(0, "")},
			want:      []string{"PARENT_NOT_SYNCED account.parent_id"},
		},
		"root out of stock": {
			sub:  order(nil),
			root: &panda.SoftwareSummary{Inventory: []panda.InventoryItem{{Product: "EPDR", Unallocated: 100}, {Product: "PATCH_MANAGEMENT", Unallocated: 2}}},
			want: []string{"INSUFFICIENT_INVENTORY subscription.addons[0].quantity"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, api := newMocked(t)
			if tc.root == nil {
				tc.root = plenty()
			}
			api.EXPECT().GetSoftwareSummary(gomock.Any(), customerPanda).Return(&panda.SoftwareSummary{}, nil).AnyTimes()
			api.EXPECT().GetSoftwareSummary(gomock.Any(), root).Return(tc.root, nil).AnyTimes()
			if tc.account == nil {
				tc.account = directCustomer()
			}
			if tc.accRec == nil {
				tc.accRec = customerRecord()
			}
			resp, err := a.ValidateSubscription(context.Background(), &provisioningv1.ValidateSubscriptionRequest{
				Subscription: tc.sub, Account: tc.account, AccountRecord: tc.accRec, Ancestors: tc.ancestors, Record: tc.rec, AccountSubscriptions: tc.others,
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range resp.GetDiagnostics() {
				got = append(got, d.GetCode()+" "+d.GetField())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			// Provision fails with the same reason, or succeeds (then the
			// mock would have been asked to write: not here).
			if len(tc.want) > 0 {
				_, perr := a.ProvisionSubscription(context.Background(), &provisioningv1.ProvisionSubscriptionRequest{
					Subscription: tc.sub, Account: tc.account, AccountRecord: tc.accRec, Ancestors: tc.ancestors, Record: tc.rec, AccountSubscriptions: tc.others,
				})
				if got := errKey(perr); !containsReason(got, tc.want[0]) {
					t.Errorf("ProvisionSubscription = %s, want reason of %q", got, tc.want[0])
				}
			}
		})
	}
}

func containsReason(key, diagKey string) bool {
	reason, field, _ := cutSpace(diagKey)
	return len(key) > 0 && contains(key, " "+reason+" ") && contains(key, field)
}

// TestValidateSubscriptionRequest: a request that cannot be evaluated is
// an error, not a diagnostic.
func TestValidateSubscriptionRequest(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		sub     *provisioningv1.Subscription
		account *provisioningv1.Account
		want    string
	}{
		"no subscription":    {account: directCustomer(), want: "InvalidArgument REQUIRED subscription"},
		"no id":              {sub: order(func(s *provisioningv1.Subscription) { s.Id = "" }), account: directCustomer(), want: "InvalidArgument REQUIRED subscription.id"},
		"no account":         {sub: order(nil), want: "InvalidArgument REQUIRED account"},
		"another account id": {sub: order(func(s *provisioningv1.Subscription) { s.AccountId = "C-1" }), account: directCustomer(), want: "InvalidArgument INVALID_VALUE subscription.account_id"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, _ := newMocked(t)
			_, err := a.ValidateSubscription(context.Background(), &provisioningv1.ValidateSubscriptionRequest{Subscription: tc.sub, Account: tc.account})
			if got := errKey(err); got != tc.want {
				t.Errorf("error = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestProvisionEndCustomerOrder states the exact remote sequence of an end
// customer's first order: read, check the reseller's stock and the root's,
// grow the reseller, then allocate.
func TestProvisionEndCustomerOrder(t *testing.T) {
	t.Parallel()
	a, api := newMocked(t)
	ctx := context.Background()
	gomock.InOrder(
		api.EXPECT().GetSoftwareSummary(gomock.Any(), endPanda).Return(&panda.SoftwareSummary{}, nil),
		api.EXPECT().GetSoftwareSummary(gomock.Any(), resellerPanda).Return(&panda.SoftwareSummary{
			Allocations: []panda.Allocation{{Product: "EPDR", Type: "subscription", Quantity: 4}},
			Inventory:   []panda.InventoryItem{{Product: "EPDR", Total: 4, Unallocated: 4}},
		}, nil),
		api.EXPECT().GetSoftwareSummary(gomock.Any(), root).Return(plenty(), nil),
		api.EXPECT().SetAllocationQuantity(gomock.Any(), resellerPanda, panda.AllocationRequest{Product: "EPDR", Type: "subscription", Quantity: 10}).
			Return(&panda.Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}, nil),
		api.EXPECT().CreateAllocation(gomock.Any(), resellerPanda, panda.AllocationRequest{Product: "PATCH_MANAGEMENT", Type: "subscription", Quantity: 5}).
			Return(&panda.Allocation{Product: "PATCH_MANAGEMENT", Type: "subscription", Quantity: 5}, nil),
		api.EXPECT().CreateAllocation(gomock.Any(), endPanda, panda.AllocationRequest{Product: "EPDR", Type: "subscription", Quantity: 10}).
			Return(&panda.Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}, nil),
		api.EXPECT().CreateAllocation(gomock.Any(), endPanda, panda.AllocationRequest{Product: "PATCH_MANAGEMENT", Type: "subscription", Quantity: 5}).
			Return(&panda.Allocation{Product: "PATCH_MANAGEMENT", Type: "subscription", Quantity: 5}, nil),
	)
	resp, err := a.ProvisionSubscription(ctx, &provisioningv1.ProvisionSubscriptionRequest{
		Subscription: order(func(s *provisioningv1.Subscription) { s.AccountId = "E-300" }), Account: endCustomer(), AccountRecord: endRecord(),
		Ancestors: []*provisioningv1.Ancestor{resellerAncestor(stSynced, panda.RoleReseller)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetRecord(); !resp.GetCreated() || r.GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE || r.GetRemoteId() != endPanda+"/EPDR/subscription" {
		t.Errorf("record = %v", resp)
	}
}

// TestProvisionLostCreate: a create whose answer was lost is looked for
// before anything is sent again; found, it is not sent again.
func TestProvisionLostCreate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		found   *panda.SoftwareSummary
		resends bool
	}{
		"committed":     {found: &panda.SoftwareSummary{Allocations: []panda.Allocation{{Product: "EPDR", Type: "subscription", Quantity: 10}}}},
		"not committed": {found: &panda.SoftwareSummary{}, resends: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, api := newMocked(t)
			lost := &panda.RemoteError{Kind: panda.ErrUnavailable, MayHaveCommitted: true, Message: "connection reset"}
			req := panda.AllocationRequest{Product: "EPDR", Type: "subscription", Quantity: 10}
			calls := []any{
				api.EXPECT().GetSoftwareSummary(gomock.Any(), customerPanda).Return(&panda.SoftwareSummary{}, nil),
				api.EXPECT().GetSoftwareSummary(gomock.Any(), root).Return(plenty(), nil),
				api.EXPECT().CreateAllocation(gomock.Any(), customerPanda, req).Return(nil, lost),
				api.EXPECT().GetSoftwareSummary(gomock.Any(), customerPanda).Return(tc.found, nil),
			}
			if tc.resends {
				calls = append(calls, api.EXPECT().CreateAllocation(gomock.Any(), customerPanda, req).Return(&panda.Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}, nil))
			}
			gomock.InOrder(calls...)
			sub := order(func(s *provisioningv1.Subscription) { s.Addons = nil })
			resp, err := a.ProvisionSubscription(context.Background(), &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub, Account: directCustomer(), AccountRecord: customerRecord()})
			if err != nil || resp.GetRecord().GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE {
				t.Fatalf("ProvisionSubscription = %v, %v", resp, err)
			}
		})
	}
}

// TestProvisionPandaRefusals maps each 409 of the Allocations API to its
// reason and field.
func TestProvisionPandaRefusals(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		panda.AllocationCodeOneBaseProduct:      "FailedPrecondition BASE_PRODUCT_LIMIT subscription.product_id",
		panda.AllocationCodeTypeConflict:        "FailedPrecondition ALLOCATION_TYPE_MISMATCH subscription.quantity",
		panda.AllocationCodeTrialUnavailable:    "FailedPrecondition TRIAL_EXPIRED subscription.trial",
		panda.AllocationCodeTrialLimit:          "InvalidArgument TRIAL_LIMIT subscription.quantity",
		panda.AllocationCodeAddonExceedsBase:    "InvalidArgument ADDON_EXCEEDS_BASE subscription.quantity",
		panda.AllocationCodeNoBaseProduct:       "InvalidArgument ADDON_WITHOUT_BASE subscription.quantity",
		panda.AllocationCodeAllocatedToChildren: "InvalidArgument REMOTE_REJECTED subscription.quantity",
		panda.AllocationCodeInsufficient:        "FailedPrecondition INSUFFICIENT_INVENTORY subscription.quantity",
	}
	for code, want := range tests {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			a, api := newMocked(t)
			api.EXPECT().GetSoftwareSummary(gomock.Any(), gomock.Any()).Return(plenty(), nil).AnyTimes()
			api.EXPECT().CreateAllocation(gomock.Any(), customerPanda, gomock.Any()).Return(nil, &panda.RemoteError{Kind: panda.ErrConflict, Code: code, Message: "refused"})
			sub := order(func(s *provisioningv1.Subscription) { s.Addons = nil })
			_, err := a.ProvisionSubscription(context.Background(), &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub, Account: directCustomer(), AccountRecord: customerRecord()})
			if got := errKey(err); got != want {
				t.Errorf("Panda's %s = %s, want %s", code, got, want)
			}
		})
	}
}

func cutSpace(s string) (string, string, bool) { return strings.Cut(s, " ") }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestProvisionSuspended: a new desired state for a suspended subscription
// is recorded without any remote call (the mock expects none); Resume
// allocates it.
func TestProvisionSuspended(t *testing.T) {
	t.Parallel()
	a, _ := newMocked(t)
	rec := activeRecord(func(r *provisioningv1.SubscriptionRecord) {
		r.Status = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED
	})
	resp, err := a.ProvisionSubscription(context.Background(), &provisioningv1.ProvisionSubscriptionRequest{
		Subscription: order(func(s *provisioningv1.Subscription) { s.Quantity = 40 }), Account: directCustomer(), AccountRecord: customerRecord(), Record: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetRecord(); r.GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED || r.GetQuantity() != 40 || len(r.GetAddons()) != 1 || r.GetTrialEndsAt() != nil {
		t.Errorf("record = %v", r)
	}
}

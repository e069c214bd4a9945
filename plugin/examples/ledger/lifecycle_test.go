package ledger_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/examples/ledger"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

var protocmpOpts = []cmp.Option{protocmp.Transform(), protocmp.IgnoreFields(&provisioningv1.SyncRecord{}, "updated_at")}

// syncAll synchronizes accounts in order and returns their records by id.
func syncAll(t *testing.T, c provisioningv1.ProvisioningAdapterClient, accounts ...*provisioningv1.Account) map[string]*provisioningv1.SyncRecord {
	t.Helper()
	recs := map[string]*provisioningv1.SyncRecord{}
	for _, a := range accounts {
		resp, err := c.Synchronize(t.Context(), &provisioningv1.SynchronizeRequest{Account: a, AutoFill: true})
		if err != nil {
			t.Fatalf("Synchronize(%s): %v", a.GetId(), err)
		}
		recs[a.GetId()] = resp.GetRecord()
	}
	return recs
}

func TestSynchronizeConverges(t *testing.T) {
	t.Parallel()
	c := configured(t)
	ctx := t.Context()
	acct := &provisioningv1.Account{Id: "a", Type: customer, Name: "Acme", CorporateEmail: "it@acme.example"}
	first := syncAll(t, c, acct, &provisioningv1.Account{Id: "res", Type: reseller})["a"]

	renamed := &provisioningv1.Account{Id: "a", Type: customer, Name: "Acme Ltd", CorporateEmail: "it@acme.example"}
	up, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: renamed, AutoFill: true, Record: first})
	if err != nil || up.GetCreated() || !up.GetUpdated() || up.GetRecord().GetRemoteId() != first.GetRemoteId() {
		t.Fatalf("Synchronize of the renamed account = created %v updated %v %q, %v; want updated on %q", up.GetCreated(), up.GetUpdated(), up.GetRecord().GetRemoteId(), err, first.GetRemoteId())
	}
	st, err := c.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: up.GetRecord(), Account: acct})
	if err != nil {
		t.Fatal(err)
	}
	var drift []string
	for _, d := range st.GetDiagnostics() {
		drift = append(drift, d.GetField()+" "+d.GetCode())
	}
	if diff := cmp.Diff([]string{"account.name REMOTE_DRIFT"}, drift); diff != "" {
		t.Errorf("GetSyncStatus with the old name (-want +got):\n%s", diff)
	}

	cases := map[string]struct {
		account *provisioningv1.Account
		code    codes.Code
		reason  string
	}{
		"self-parent":    {&provisioningv1.Account{Id: "b", Type: customer, ParentId: "b"}, codes.InvalidArgument, diag.CodeSelfParent},
		"parent changed": {&provisioningv1.Account{Id: "a", Type: customer, Name: "Acme Ltd", ParentId: "res"}, codes.FailedPrecondition, diag.CodeParentChanged},
		"type changed":   {&provisioningv1.Account{Id: "a", Type: reseller, Name: "Acme Ltd"}, codes.FailedPrecondition, diag.CodeTypeChangeUnsupported},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Synchronize(t.Context(), &provisioningv1.SynchronizeRequest{Account: tc.account, AutoFill: true})
			if d := diag.Parse(err); d.Code != tc.code || d.Reason != tc.reason {
				t.Errorf("Synchronize: %v, want %s %s", err, tc.code, tc.reason)
			}
		})
	}
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	c := configured(t)
	ctx := t.Context()
	recs := syncAll(t, c,
		&provisioningv1.Account{Id: "top", Type: reseller},
		&provisioningv1.Account{Id: "mid", Type: reseller, ParentId: "top"},
		&provisioningv1.Account{Id: "leaf", Type: customer, ParentId: "mid"},
		&provisioningv1.Account{Id: "held", Type: customer},
	)
	del := func(id string, typ provisioningv1.AccountType, rec *provisioningv1.SyncRecord, cascade bool) (*provisioningv1.DeleteAccountResponse, error) {
		return c.DeleteAccount(ctx, &provisioningv1.DeleteAccountRequest{Account: &provisioningv1.Account{Id: id, Type: typ}, Record: rec, Cascade: cascade})
	}

	_, err := del("top", reseller, nil, false)
	if d := diag.Parse(err); d.Code != codes.InvalidArgument || d.Violations[0].Field != "record" {
		t.Errorf("DeleteAccount without a record: %v, want INVALID_ARGUMENT on record", err)
	}
	_, err = del("top", reseller, recs["mid"], false)
	if d := diag.Parse(err); d.Code != codes.InvalidArgument || d.Violations[0].Field != "record.account_id" {
		t.Errorf("DeleteAccount with another account's record: %v, want INVALID_ARGUMENT on record.account_id", err)
	}
	_, err = del("top", reseller, recs["top"], false)
	if d := diag.Parse(err); d.Code != codes.FailedPrecondition || d.Reason != diag.CodeHasChildren ||
		!cmp.Equal(d.Violations, []diag.Violation{{Field: recs["mid"].GetRemoteId(), Reason: diag.CodeHasChildren, Description: "child account mid"}}) {
		t.Errorf("DeleteAccount of a reseller with a child: %+v, want HAS_CHILDREN naming the child", d)
	}

	// A live subscription holds its account, and with cascade its ancestors.
	sub := &provisioningv1.Subscription{Id: "s", AccountId: "leaf", ProductId: ledger.ProductBasic, Quantity: 1}
	prov, err := c.ProvisionSubscription(ctx, &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub, Account: &provisioningv1.Account{Id: "leaf", Type: customer}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = del("top", reseller, recs["top"], true)
	if d := diag.Parse(err); d.Code != codes.FailedPrecondition || d.Reason != diag.CodeHasSubscriptions {
		t.Errorf("DeleteAccount with cascade over a live subscription: %v, want HAS_SUBSCRIPTIONS", err)
	}
	_, err = c.CancelSubscription(ctx, &provisioningv1.CancelSubscriptionRequest{SubscriptionId: "s", Record: prov.GetRecord()})
	if err != nil {
		t.Fatal(err)
	}
	// The caller's records count too: it still sees the subscription live.
	_, err = c.DeleteAccount(ctx, &provisioningv1.DeleteAccountRequest{Account: &provisioningv1.Account{Id: "top", Type: reseller}, Record: recs["top"], Cascade: true,
		Subscriptions: []*provisioningv1.SubscriptionRecord{prov.GetRecord()}})
	if d := diag.Parse(err); d.Code != codes.FailedPrecondition || d.Reason != diag.CodeHasSubscriptions {
		t.Errorf("DeleteAccount with a live subscription record in the request: %v, want HAS_SUBSCRIPTIONS", err)
	}

	resp, err := del("top", reseller, recs["top"], true)
	if err != nil {
		t.Fatalf("DeleteAccount with cascade: %v", err)
	}
	want := &provisioningv1.DeleteAccountResponse{
		Record:           &provisioningv1.SyncRecord{Plugin: ledger.Name, AccountId: "top", Status: provisioningv1.SyncStatus_SYNC_STATUS_DELETED, RemoteId: recs["top"].GetRemoteId(), Values: recs["top"].GetValues(), Message: "deleted from the ledger"},
		Deleted:          true,
		DeletedRemoteIds: []string{recs["leaf"].GetRemoteId(), recs["mid"].GetRemoteId()}, // deepest first
	}
	if diff := cmp.Diff(want, resp, protocmpOpts...); diff != "" {
		t.Errorf("DeleteAccount with cascade (-want +got):\n%s", diff)
	}
	for name, rec := range map[string]*provisioningv1.SyncRecord{"DELETED record": resp.GetRecord(), "stale SYNCED record": recs["top"]} {
		again, err := del("top", reseller, rec, true)
		if err != nil || again.GetDeleted() || again.GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
			t.Errorf("DeleteAccount replay with the %s = deleted %v %s, %v; want DELETED, deleted=false", name, again.GetDeleted(), again.GetRecord().GetStatus(), err)
		}
	}
	anew, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "top", Type: reseller}, AutoFill: true, Record: resp.GetRecord()})
	if err != nil || !anew.GetCreated() || anew.GetRecord().GetRemoteId() == recs["top"].GetRemoteId() {
		t.Errorf("Synchronize after the delete = created %v %q, %v; want a new entry", anew.GetCreated(), anew.GetRecord().GetRemoteId(), err)
	}
}

func TestValidateSubscription(t *testing.T) {
	t.Parallel()
	c := configured(t)
	syncAll(t, c, &provisioningv1.Account{Id: "a", Type: customer})
	holder := &provisioningv1.Account{Id: "a", Type: customer}
	if _, err := c.ProvisionSubscription(t.Context(), &provisioningv1.ProvisionSubscriptionRequest{Account: holder,
		Subscription: &provisioningv1.Subscription{Id: "held", AccountId: "a", ProductId: ledger.ProductBasic, Quantity: 2}}); err != nil {
		t.Fatal(err)
	}
	archive := func(id string, q int32) *provisioningv1.Addon {
		return &provisioningv1.Addon{Id: id, ProductId: ledger.ProductArchive, Quantity: q}
	}
	type diagnostic struct{ Field, Code string }
	cases := map[string]struct {
		sub  *provisioningv1.Subscription
		want []diagnostic
	}{
		"fine":            {&provisioningv1.Subscription{ProductId: ledger.ProductPro, Quantity: 5, Addons: []*provisioningv1.Addon{archive("x", 5)}}, nil},
		"unknown product": {&provisioningv1.Subscription{ProductId: "GOLD", Quantity: 5}, []diagnostic{{"subscription.product_id", diag.CodeUnknownProduct}}},
		"add-on as base":  {&provisioningv1.Subscription{ProductId: ledger.ProductArchive, Quantity: 5}, []diagnostic{{"subscription.product_id", diag.CodeProductKindMismatch}}},
		"below minimum":   {&provisioningv1.Subscription{ProductId: ledger.ProductPro, Quantity: 3}, []diagnostic{{"subscription.quantity", diag.CodeQuantityOutOfRange}}},
		"add-on exceeds":  {&provisioningv1.Subscription{ProductId: ledger.ProductPro, Quantity: 5, Addons: []*provisioningv1.Addon{archive("x", 6)}}, []diagnostic{{"subscription.addons[0].quantity", diag.CodeAddonExceedsBase}}},
		"duplicate add-on": {&provisioningv1.Subscription{ProductId: ledger.ProductPro, Quantity: 5, Addons: []*provisioningv1.Addon{archive("x", 1), archive("y", 1)}},
			[]diagnostic{{"subscription.addons[1].id", diag.CodeDuplicateAddon}}},
		"base as add-on": {&provisioningv1.Subscription{ProductId: ledger.ProductPro, Quantity: 5, Addons: []*provisioningv1.Addon{{Id: "x", ProductId: ledger.ProductBasic, Quantity: 1}}},
			[]diagnostic{{"subscription.addons[0].product_id", diag.CodeProductKindMismatch}}},
		"attribute":    {&provisioningv1.Subscription{ProductId: ledger.ProductPro, Quantity: 5, Attributes: map[string]string{"colour": "red"}}, []diagnostic{{"subscription.attributes.colour", diag.CodeInvalidAttribute}}},
		"trial":        {&provisioningv1.Subscription{ProductId: ledger.ProductPro, Quantity: 5, Trial: true}, []diagnostic{{"subscription.trial", diag.CodeTrialNotAvailable}}},
		"product held": {&provisioningv1.Subscription{ProductId: ledger.ProductBasic, Quantity: 1}, []diagnostic{{"subscription.product_id", diag.CodeProductAlreadySubscribed}}},
		"account not synced": {&provisioningv1.Subscription{AccountId: "nobody", ProductId: ledger.ProductPro, Quantity: 5},
			[]diagnostic{{"account", diag.CodeAccountNotSynced}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc.sub.Id = "new"
			acct := holder
			if tc.sub.AccountId == "" {
				tc.sub.AccountId = "a"
			} else {
				acct = &provisioningv1.Account{Id: tc.sub.AccountId, Type: customer}
			}
			resp, err := c.ValidateSubscription(t.Context(), &provisioningv1.ValidateSubscriptionRequest{Subscription: tc.sub, Account: acct})
			if err != nil {
				t.Fatal(err)
			}
			var got []diagnostic
			for _, d := range resp.GetDiagnostics() {
				got = append(got, diagnostic{d.GetField(), d.GetCode()})
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

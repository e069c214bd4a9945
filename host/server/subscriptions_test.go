package server_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

var (
	subActive    = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	subPending   = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING
	subSuspended = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED
	subCancelled = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
	subFailed    = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED
)

func order(id, account string, q int32) *provisioningv1.Subscription {
	return &provisioningv1.Subscription{Id: id, AccountId: account, ProductId: "BASIC", Quantity: q}
}

func syncAccounts(t *testing.T, c hostv1.HostServiceClient, accts ...*provisioningv1.Account) {
	t.Helper()
	for _, a := range accts {
		if _, err := c.Synchronize(context.Background(), &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: a}}); err != nil {
			t.Fatalf("Synchronize %s: %v", a.GetId(), err)
		}
	}
}

// TestSubscriptionLifecycle drives one order through the test plugin (a
// real subprocess) over HostService, sending nothing but the desired state
// or the subscription id: the host fills the rest from its store and keeps
// every answer.
func TestSubscriptionLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	c := newClient(t, st)
	syncAccounts(t, c, acct("R1", reseller, ""), acct("C1", customer, "R1"))

	defs, err := c.GetServiceDefinition(ctx, &hostv1.GetServiceDefinitionRequest{Plugin: plug})
	if err != nil || len(defs.GetResponse().GetProducts()) != 2 {
		t.Fatalf("GetServiceDefinition = %v, %v", defs, err)
	}
	val, err := c.ValidateSubscription(ctx, &hostv1.ValidateSubscriptionRequest{Plugin: plug, Request: &provisioningv1.ValidateSubscriptionRequest{Subscription: order("S1", "C1", 0)}})
	if ds := val.GetResponse().GetDiagnostics(); err != nil || len(ds) != 1 || ds[0].GetCode() != diag.CodeQuantityOutOfRange {
		t.Fatalf("ValidateSubscription of quantity 0 = %v, %v", ds, err)
	}

	prov := func(sub *provisioningv1.Subscription) (*provisioningv1.ProvisionSubscriptionResponse, error) {
		resp, err := c.ProvisionSubscription(ctx, &hostv1.ProvisionSubscriptionRequest{Plugin: plug, Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub}})
		return resp.GetResponse(), err
	}
	created, err := prov(order("S1", "C1", 10))
	if err != nil {
		t.Fatal(err)
	}
	c1, err := c.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: plug, AccountId: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if r := created.GetRecord(); !created.GetCreated() || r.GetStatus() != subActive || r.GetRemoteId() != c1.GetRecord().GetRemoteId()+"/BASIC" {
		t.Errorf("first ProvisionSubscription = %v", created)
	}
	// A replay reaches the plugin with the stored record: nothing new.
	replay, err := prov(order("S1", "C1", 10))
	if err != nil || replay.GetCreated() || replay.GetUpdated() {
		t.Errorf("replayed ProvisionSubscription = %v, %v", replay, err)
	}
	if diff := cmp.Diff(created.GetRecord(), replay.GetRecord(), protocmp.Transform()); diff != "" {
		t.Errorf("replay changed the record (-first +replay):\n%s", diff)
	}
	// A second order of the same product: the plugin sees the first among
	// the account's subscriptions and refuses; the host keeps it FAILED.
	_, err = prov(order("S2", "C1", 5))
	if d := diag.Parse(err); d.Code != codes.FailedPrecondition || d.Reason != diag.CodeProductAlreadySubscribed {
		t.Fatalf("second order of BASIC: %v", err)
	}
	failed, err := c.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: plug, SubscriptionId: "S2"})
	if err != nil || failed.GetRecord().GetStatus() != subFailed || failed.GetRecord().GetErrorReason() != diag.CodeProductAlreadySubscribed || failed.GetSubscription().GetQuantity() != 5 {
		t.Errorf("S2 after its refusal = %v, %v", failed, err)
	}

	steps := []struct {
		name string
		call func() (*provisioningv1.SubscriptionRecord, bool, error)
		want provisioningv1.SubscriptionStatus
	}{
		{"suspend", func() (*provisioningv1.SubscriptionRecord, bool, error) {
			r, err := c.SuspendSubscription(ctx, &hostv1.SuspendSubscriptionRequest{Plugin: plug, Request: &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "S1"}})
			return r.GetResponse().GetRecord(), r.GetResponse().GetUpdated(), err
		}, subSuspended},
		{"resume", func() (*provisioningv1.SubscriptionRecord, bool, error) {
			r, err := c.ResumeSubscription(ctx, &hostv1.ResumeSubscriptionRequest{Plugin: plug, Request: &provisioningv1.ResumeSubscriptionRequest{SubscriptionId: "S1"}})
			return r.GetResponse().GetRecord(), r.GetResponse().GetUpdated(), err
		}, subActive},
		{"cancel", func() (*provisioningv1.SubscriptionRecord, bool, error) {
			r, err := c.CancelSubscription(ctx, &hostv1.CancelSubscriptionRequest{Plugin: plug, Request: &provisioningv1.CancelSubscriptionRequest{SubscriptionId: "S1"}})
			return r.GetResponse().GetRecord(), r.GetResponse().GetUpdated(), err
		}, subCancelled},
	}
	for _, s := range steps {
		rec, updated, err := s.call()
		if err != nil || rec.GetStatus() != s.want || !updated || rec.GetQuantity() != 10 {
			t.Fatalf("%s = %v (updated %v), %v", s.name, rec, updated, err)
		}
		got, err := c.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: plug, SubscriptionId: "S1"})
		if err != nil || got.GetRecord().GetStatus() != s.want {
			t.Fatalf("stored after %s = %v, %v", s.name, got, err)
		}
	}
	// Cancellation is terminal: a change is refused and the record stays
	// CANCELLED; a second cancel is a replay.
	if _, err := prov(order("S1", "C1", 20)); diag.Parse(err).Reason != diag.CodeSubscriptionCancelled {
		t.Errorf("ProvisionSubscription after cancel: %v", err)
	}
	again, err := c.CancelSubscription(ctx, &hostv1.CancelSubscriptionRequest{Plugin: plug, Request: &provisioningv1.CancelSubscriptionRequest{SubscriptionId: "S1"}})
	if err != nil || again.GetResponse().GetUpdated() || again.GetResponse().GetRecord().GetStatus() != subCancelled {
		t.Errorf("second cancel = %v, %v", again, err)
	}
	// With S1 cancelled the product is free again: S2 replaces its FAILED
	// record.
	if r, err := prov(order("S2", "C1", 5)); err != nil || r.GetRecord().GetStatus() != subActive {
		t.Errorf("S2 after S1's cancellation = %v, %v", r, err)
	}
}

// TestSubscriptionPendingSettles: a PENDING order is refreshed by
// GetSubscriptionStatus with nothing but its id, drift reported against the
// stored desired state.
func TestSubscriptionPendingSettles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	c := newClient(t, st)
	syncAccounts(t, c, acct("C1", customer, ""))
	sub := order("S1", "C1", 4)
	sub.Attributes = map[string]string{"pending": "true"}
	resp, err := c.ProvisionSubscription(ctx, &hostv1.ProvisionSubscriptionRequest{Plugin: plug, Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub}})
	if err != nil || resp.GetResponse().GetRecord().GetStatus() != subPending {
		t.Fatalf("ProvisionSubscription = %v, %v", resp, err)
	}
	pend, err := c.ListSubscriptionRecords(ctx, &hostv1.ListSubscriptionRecordsRequest{Plugin: plug, Status: subPending})
	if err != nil || len(pend.GetRecords()) != 1 {
		t.Fatalf("PENDING records = %v, %v", pend, err)
	}
	stat, err := c.GetSubscriptionStatus(ctx, &hostv1.GetSubscriptionStatusRequest{Plugin: plug, Request: &provisioningv1.GetSubscriptionStatusRequest{
		Record: &provisioningv1.SubscriptionRecord{SubscriptionId: "S1"},
	}})
	if err != nil || stat.GetResponse().GetRecord().GetStatus() != subActive || len(stat.GetResponse().GetRecord().GetPrivate()) != 0 {
		t.Fatalf("GetSubscriptionStatus = %v, %v", stat, err)
	}
	e, err := st.GetSubscription(ctx, plug, "S1")
	if err != nil || e.Record.GetStatus() != subActive {
		t.Errorf("stored after the refresh = %v, %v", e, err)
	}
	// A caller's desired state is the one drift is reported against.
	stat, err = c.GetSubscriptionStatus(ctx, &hostv1.GetSubscriptionStatusRequest{Plugin: plug, Request: &provisioningv1.GetSubscriptionStatusRequest{
		Record: &provisioningv1.SubscriptionRecord{SubscriptionId: "S1"}, Subscription: order("S1", "C1", 9),
	}})
	if ds := stat.GetResponse().GetDiagnostics(); err != nil || len(ds) != 1 || ds[0].GetCode() != diag.CodeRemoteDrift {
		t.Errorf("drift against the caller's desired state = %v, %v", ds, err)
	}
}

func TestListSubscriptionRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	c := newClient(t, st)
	syncAccounts(t, c, acct("C1", customer, ""), acct("C2", customer, ""))
	// Each account holds one BASIC order; the others are refused (FAILED).
	for i := range 7 {
		a := fmt.Sprintf("C%d", i%2+1)
		_, _ = c.ProvisionSubscription(ctx, &hostv1.ProvisionSubscriptionRequest{Plugin: plug, Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: order(fmt.Sprintf("S%d", i), a, 1)}})
	}
	list := func(req *hostv1.ListSubscriptionRecordsRequest) (ids []string) {
		t.Helper()
		for {
			resp, err := c.ListSubscriptionRecords(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range resp.GetRecords() {
				ids = append(ids, r.GetSubscriptionId()+":"+r.GetAccountId()+":"+r.GetStatus().String()[len("SUBSCRIPTION_STATUS_"):])
			}
			if resp.GetNextPageToken() == "" {
				return ids
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}
	tests := map[string]struct {
		req  *hostv1.ListSubscriptionRecordsRequest
		want []string
	}{
		"all, in pages of 2": {
			req:  &hostv1.ListSubscriptionRecordsRequest{PageSize: 2},
			want: []string{"S0:C1:ACTIVE", "S1:C2:ACTIVE", "S2:C1:FAILED", "S3:C2:FAILED", "S4:C1:FAILED", "S5:C2:FAILED", "S6:C1:FAILED"},
		},
		"one account":           {req: &hostv1.ListSubscriptionRecordsRequest{Plugin: plug, AccountId: "C2"}, want: []string{"S1:C2:ACTIVE", "S3:C2:FAILED", "S5:C2:FAILED"}},
		"one status":            {req: &hostv1.ListSubscriptionRecordsRequest{Status: subActive, PageSize: 1}, want: []string{"S0:C1:ACTIVE", "S1:C2:ACTIVE"}},
		"account and status":    {req: &hostv1.ListSubscriptionRecordsRequest{AccountId: "C1", Status: subFailed}, want: []string{"S2:C1:FAILED", "S4:C1:FAILED", "S6:C1:FAILED"}},
		"another plugin's none": {req: &hostv1.ListSubscriptionRecordsRequest{Plugin: "other"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, list(tc.req)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}

	first, err := c.ListSubscriptionRecords(ctx, &hostv1.ListSubscriptionRecordsRequest{AccountId: "C1", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]struct {
		call       func() error
		wantCode   codes.Code
		wantReason string
		wantField  string
	}{
		"negative page size": {func() error {
			_, err := c.ListSubscriptionRecords(ctx, &hostv1.ListSubscriptionRecordsRequest{PageSize: -1})
			return err
		}, codes.InvalidArgument, diag.CodeInvalidValue, "page_size"},
		"a token of another filter": {func() error {
			_, err := c.ListSubscriptionRecords(ctx, &hostv1.ListSubscriptionRecordsRequest{AccountId: "C2", PageToken: first.GetNextPageToken()})
			return err
		}, codes.InvalidArgument, diag.CodeInvalidValue, "page_token"},
		"a garbage token": {func() error {
			_, err := c.ListSubscriptionRecords(ctx, &hostv1.ListSubscriptionRecordsRequest{PageToken: "x"})
			return err
		}, codes.InvalidArgument, diag.CodeInvalidValue, "page_token"},
		"get without an id": {func() error {
			_, err := c.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: plug})
			return err
		}, codes.InvalidArgument, diag.CodeRequired, "subscription_id"},
		"get without a plugin": {func() error {
			_, err := c.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{SubscriptionId: "S0"})
			return err
		}, codes.InvalidArgument, diag.CodeRequired, "plugin"},
		"get of an unknown id": {func() error {
			_, err := c.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: plug, SubscriptionId: "nope"})
			return err
		}, codes.NotFound, diag.ReasonSubscriptionNotFound, ""},
		"suspend of an unknown id": {func() error {
			_, err := c.SuspendSubscription(ctx, &hostv1.SuspendSubscriptionRequest{Plugin: plug, Request: &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: "nope"}})
			return err
		}, codes.NotFound, diag.ReasonSubscriptionNotFound, ""},
		"suspend without a request": {func() error {
			_, err := c.SuspendSubscription(ctx, &hostv1.SuspendSubscriptionRequest{Plugin: plug})
			return err
		}, codes.InvalidArgument, diag.CodeRequired, "request.subscription_id"},
		"an order for an account never synchronized": {func() error {
			_, err := c.ProvisionSubscription(ctx, &hostv1.ProvisionSubscriptionRequest{Plugin: plug, Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: order("S9", "C9", 1)}})
			return err
		}, codes.FailedPrecondition, diag.CodeAccountNotSynced, "account"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			d := diag.Parse(tc.call())
			if d.Code != tc.wantCode || d.Reason != tc.wantReason {
				t.Fatalf("error = %v %s (%s), want %v %s", d.Code, d.Reason, d.Message, tc.wantCode, tc.wantReason)
			}
			if tc.wantField != "" && !slices.ContainsFunc(d.Violations, func(v diag.Violation) bool { return v.Field == tc.wantField }) {
				t.Errorf("violations %v, want one on %q", d.Violations, tc.wantField)
			}
		})
	}
}

// TestConcurrentOrdersOfOneAccount: orders of one account are serialized, so
// each sees the others' stored records and the rule "one BASIC per account"
// holds under a race: exactly one of eight concurrent orders wins.
func TestConcurrentOrdersOfOneAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	c := newClient(t, st)
	syncAccounts(t, c, acct("C1", customer, ""))
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := c.ProvisionSubscription(ctx, &hostv1.ProvisionSubscriptionRequest{Plugin: plug, Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: order(fmt.Sprintf("S%d", i), "C1", 1)}})
			errs <- err
		}()
	}
	won := 0
	for range 8 {
		err := <-errs
		switch d := diag.Parse(err); {
		case err == nil:
			won++
		case d.Reason != diag.CodeProductAlreadySubscribed:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d orders of BASIC won, want 1", won)
	}
	active, err := c.ListSubscriptionRecords(ctx, &hostv1.ListSubscriptionRecordsRequest{AccountId: "C1", Status: subActive})
	if err != nil || len(active.GetRecords()) != 1 {
		t.Errorf("ACTIVE records = %v, %v", active, err)
	}
}

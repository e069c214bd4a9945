package panda_test

// Integration tests of the account lifecycle: convergence, refusals,
// adoption, drift and deletion, with the real plugin process and a real
// pandasim.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// simCall sends a request to one of the simulator's /_sim hooks.
func (e *simEnv) simCall(method, path, body string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

// errorMetadata is the ErrorInfo metadata of a gRPC error.
func errorMetadata(err error) map[string]string {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetMetadata()
		}
	}
	return nil
}

func twin(id string) *provisioningv1.Account {
	return &provisioningv1.Account{
		Id: id, Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Twin Corp",
		CorporateEmail: "it@twin.example", Contact: &provisioningv1.Contact{FirstName: "Tom", LastName: "Twin"},
	}
}

// TestIntegrationLookAlikes is issue #11's S-1/S-2/S-4: three BSS accounts
// with the same company name and email are three Panda accounts, and the
// one that asks for another's username is told it is taken.
func TestIntegrationLookAlikes(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	s1, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: twin("S-1"), AutoFill: true})
	if err != nil || !s1.GetCreated() {
		t.Fatalf("S-1: %v, %v", s1, err)
	}
	s2, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: twin("S-2"), AutoFill: true})
	if err != nil || !s2.GetCreated() {
		t.Fatalf("S-2: %v, %v", s2, err)
	}
	_, err = e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: twin("S-4"),
		Values: map[string]string{"role": "User", "username": s1.GetRecord().GetValues()["username"]}})
	if got := errKey(err); got != "AlreadyExists USERNAME_TAKEN username" {
		t.Errorf("S-4 with S-1's username: %q", got)
	}
	s4, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: twin("S-4"), AutoFill: true})
	if err != nil || !s4.GetCreated() {
		t.Fatalf("S-4: %v, %v", s4, err)
	}
	ids := []string{s1.GetRecord().GetRemoteId(), s2.GetRecord().GetRemoteId(), s4.GetRecord().GetRemoteId()}
	if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 3 {
		t.Errorf("remote ids %v, want three distinct", ids)
	}
	st := e.state()
	if n := len(st.byName["Twin Corp"]); n != 3 {
		t.Errorf("%d Panda accounts named Twin Corp, want 3", n)
	}
	for i, id := range ids {
		if ops := st.operators[id]; len(ops) != 1 {
			t.Errorf("account %d (%s) has operators %+v, want one", i, id, ops)
		}
	}
	// A replay of S-2 without its record (the answer was lost) is S-2's own
	// account, not S-1's.
	again, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: twin("S-2"), AutoFill: true})
	if err != nil || again.GetCreated() || again.GetRecord().GetRemoteId() != ids[1] {
		t.Errorf("S-2 replay: %v, %v; want %s", again, err, ids[1])
	}
}

// TestIntegrationLookAlikesCommitThenFail: look-alike accounts synchronized
// while half of Panda's answers get lost still end with one Panda account
// and one operator per BSS account.
func TestIntegrationLookAlikesCommitThenFail(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true, pandasim.WithSeed(11))
	ctx := ctxT(t)
	e.setFaults(pandasim.Faults{CommitThenFailRate: 0.5, CommitThenFailMode: pandasim.CommitThenFailMixed})
	recs := map[string]*provisioningv1.SyncRecord{}
	for i := range 4 {
		acc := twin(fmt.Sprintf("T-%d", i))
		for attempt := 1; ; attempt++ {
			resp, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, AutoFill: true})
			if err == nil {
				recs[acc.GetId()] = resp.GetRecord()
				break
			}
			if c := diag.Parse(err).Code; c != codes.Unavailable || attempt == 20 {
				t.Fatalf("%s attempt %d: %v", acc.GetId(), attempt, err)
			}
		}
	}
	e.setFaults(pandasim.Faults{})
	st := e.state()
	seen := map[string]string{}
	for id, rec := range recs {
		if other, dup := seen[rec.GetRemoteId()]; dup {
			t.Errorf("%s and %s share Panda account %s", id, other, rec.GetRemoteId())
		}
		seen[rec.GetRemoteId()] = id
		ops := st.operators[rec.GetRemoteId()]
		if len(ops) != 1 || ops[0].Username != rec.GetValues()["username"] {
			t.Errorf("%s: operators %+v on %s, want %s", id, ops, rec.GetRemoteId(), rec.GetValues()["username"])
		}
	}
	if n := len(st.byName["Twin Corp"]); n != 4 {
		t.Errorf("%d Twin Corp accounts in Panda, want 4: %+v", n, st.byName["Twin Corp"])
	}
	if e.sim.Stats().CommitThenFail == 0 {
		t.Error("no answer was lost: the test proves nothing")
	}
}

// TestIntegrationConverge: a renamed account with a new email is pushed to
// Panda (updated); a replay touches nothing; what cannot converge is
// refused with the documented codes and creates nothing.
func TestIntegrationConverge(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	first, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := first.GetRecord()
	acc := directCustomer()
	acc.Name, acc.CorporateEmail, acc.Contact.FirstName = "Acme Group", "it@acme-group.example", "Juana"
	requests := e.sim.Stats().APIRequests
	up, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, Record: rec, AutoFill: true})
	if err != nil || !up.GetUpdated() || up.GetCreated() || up.GetRecord().GetRemoteId() != rec.GetRemoteId() {
		t.Fatalf("rename: %v, %v", up, err)
	}
	if n := e.sim.Stats().APIRequests - requests; n != 3 {
		t.Errorf("a rename made %d API requests, want 3 (GetOperator, GetAccount, PATCH)", n)
	}
	pa := e.state().accounts[rec.GetRemoteId()]
	if pa.Name != "Acme Group" || pa.Email != "it@acme-group.example" || pa.FirstName != "Juana" {
		t.Errorf("Panda after the rename: %+v", pa)
	}
	before := e.sim.Version()
	replay, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, Record: up.GetRecord(), AutoFill: true})
	if err != nil || replay.GetUpdated() || replay.GetCreated() {
		t.Errorf("replay: %v, %v", replay, err)
	}
	if after := e.sim.Version(); after != before {
		t.Errorf("a replay changed Panda's state (version %d -> %d)", before, after)
	}

	accounts := len(e.state().accounts)
	refusals := map[string]struct {
		acc       *provisioningv1.Account
		ancestors []*provisioningv1.Ancestor
		want      string
	}{
		"self-parent": {acc: withParent(directCustomer(), "C-100"), want: "InvalidArgument SELF_PARENT account.parent_id"},
		"now under a reseller": {acc: withParent(directCustomer(), "R-200"),
			ancestors: []*provisioningv1.Ancestor{syncedReseller()}, want: "FailedPrecondition PARENT_CHANGED account.parent_id"},
		"now a reseller": {acc: withType(directCustomer(), provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER),
			want: "FailedPrecondition TYPE_CHANGE_UNSUPPORTED account.type"},
	}
	for name, tc := range refusals {
		_, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: tc.acc, Ancestors: tc.ancestors, Record: up.GetRecord(), AutoFill: true})
		if got := errKey(err); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
	if n := len(e.state().accounts); n != accounts {
		t.Errorf("refusals changed the number of Panda accounts: %d -> %d", accounts, n)
	}
}

// TestIntegrationFailedReseller: the end customer of a reseller whose last
// synchronization failed is told why it failed.
func TestIntegrationFailedReseller(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	reseller := resellerAccount()
	reseller.CorporateEmail = "not-an-address"
	_, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: reseller, AutoFill: true})
	d := diag.Parse(err)
	if d.Reason != "INVALID_EMAIL" {
		t.Fatalf("reseller: %v", err)
	}
	// What a host stores for the failed call.
	failed := &provisioningv1.SyncRecord{Plugin: "panda", AccountId: "R-200", Status: provisioningv1.SyncStatus_SYNC_STATUS_FAILED,
		ErrorReason: d.Reason, Message: d.Message}
	_, err = e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: endCustomer(), AutoFill: true,
		Ancestors: []*provisioningv1.Ancestor{{Account: reseller, Record: failed}}})
	if got := errKey(err); got != "FailedPrecondition PARENT_NOT_SYNCED parent_account" {
		t.Errorf("end customer: %q", got)
	}
	if md := errorMetadata(err); md["parent_error_reason"] != "INVALID_EMAIL" {
		t.Errorf("ErrorInfo metadata = %v", md)
	}
	if !strings.Contains(diag.Parse(err).Message, "last synchronization failed (INVALID_EMAIL") {
		t.Errorf("message %q does not say the reseller's sync failed and why", diag.Parse(err).Message)
	}
}

// TestIntegrationConversion: a customer that became a reseller is refused
// until its Panda User is converted in the console; GetSyncStatus then
// adopts the service provider, and end customers can be created under it.
func TestIntegrationConversion(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	acc := resellerAccount()
	acc.Type = provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER
	first, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, AutoFill: true})
	if err != nil {
		t.Fatal(err)
	}
	acc.Type = provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
	_, err = e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, Record: first.GetRecord(), AutoFill: true})
	if got := errKey(err); got != "FailedPrecondition TYPE_CHANGE_UNSUPPORTED account.type" {
		t.Fatalf("after becoming a reseller: %q", got)
	}
	for _, want := range []string{"console", "one way", "Administrator->Owner", "GetSyncStatus"} {
		if !strings.Contains(diag.Parse(err).Violations[0].Description, want) {
			t.Errorf("detail %q does not say %q", diag.Parse(err).Violations[0].Description, want)
		}
	}
	st, err := e.client.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: first.GetRecord(), Account: acc})
	if err != nil || len(st.GetDiagnostics()) != 1 || st.GetDiagnostics()[0].GetField() != "account.type" {
		t.Errorf("before the conversion: %v, %v; want one type drift", st, err)
	}

	e.simCall(http.MethodPost, "/_sim/accounts/"+first.GetRecord().GetRemoteId()+"/convert", "")
	st, err = e.client.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: first.GetRecord(), Account: acc})
	if err != nil {
		t.Fatal(err)
	}
	rec := st.GetRecord()
	if rec.GetStatus() != stSynced || rec.GetValues()["role"] != "Reseller" || rec.GetRemoteId() != first.GetRecord().GetRemoteId() || len(st.GetDiagnostics()) != 0 {
		t.Fatalf("after the conversion: %v", st)
	}
	again, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, Record: rec, AutoFill: true})
	if err != nil || again.GetCreated() || again.GetUpdated() {
		t.Errorf("Synchronize after adoption: %v, %v", again, err)
	}
	child, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: endCustomer(), AutoFill: true,
		Ancestors: []*provisioningv1.Ancestor{{Account: acc, Record: rec}}})
	if err != nil || child.GetRecord().GetRemoteParentId() != rec.GetRemoteId() {
		t.Errorf("end customer under the converted reseller: %v, %v", child, err)
	}
}

// TestIntegrationDrift: a rename in the console behind the BSS's back is a
// REMOTE_DRIFT warning; Synchronize puts the BSS value back.
func TestIntegrationDrift(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	first, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := first.GetRecord()
	st, err := e.client.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: rec, Account: directCustomer()})
	if err != nil || len(st.GetDiagnostics()) != 0 {
		t.Fatalf("before the drift: %v, %v", st, err)
	}
	e.simCall(http.MethodPatch, "/_sim/accounts/"+rec.GetRemoteId(), `{"name":"Behind Your Back","email":"x@elsewhere.example"}`)
	st, err = e.client.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: rec, Account: directCustomer()})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := diagKeys(st.GetDiagnostics()), []string{"WARNING REMOTE_DRIFT account.corporate_email", "WARNING REMOTE_DRIFT account.name"}; !slices.Equal(got, want) {
		t.Errorf("drift = %v, want %v", got, want)
	}
	if !strings.Contains(st.GetDiagnostics()[0].GetSummary(), "Behind Your Back") && !strings.Contains(st.GetDiagnostics()[1].GetSummary(), "Behind Your Back") {
		t.Errorf("no summary gives the remote value: %v", st.GetDiagnostics())
	}
	up, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), Record: rec, AutoFill: true})
	if err != nil || !up.GetUpdated() {
		t.Errorf("Synchronize after drift: %v, %v", up, err)
	}
	if pa := e.state().accounts[rec.GetRemoteId()]; pa.Name != "Acme Corp" {
		t.Errorf("Panda after Synchronize: %+v", pa)
	}
}

// TestIntegrationDelete: a reseller with an end customer is refused without
// cascade, deleted with it, and deleting again answers the DELETED record.
func TestIntegrationDelete(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true, pandasim.WithRootInventory(map[string]int{"EPP": 100}))
	ctx := ctxT(t)
	r, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: resellerAccount(), AutoFill: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: endCustomer(), AutoFill: true,
		Ancestors: []*provisioningv1.Ancestor{{Account: resellerAccount(), Record: r.GetRecord()}}})
	if err != nil {
		t.Fatal(err)
	}
	del := &provisioningv1.DeleteAccountRequest{Account: resellerAccount(), Record: r.GetRecord()}
	_, err = e.client.DeleteAccount(ctx, del)
	if got := errKey(err); got != "FailedPrecondition HAS_CHILDREN "+c.GetRecord().GetRemoteId() {
		t.Errorf("without cascade: %q", got)
	}
	del.Cascade = true
	del.Subscriptions = []*provisioningv1.SubscriptionRecord{{SubscriptionId: "SUB-1", Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE}}
	_, err = e.client.DeleteAccount(ctx, del)
	if got := errKey(err); got != "FailedPrecondition HAS_SUBSCRIPTIONS SUB-1" {
		t.Errorf("with a live subscription: %q", got)
	}
	del.Subscriptions[0].Status = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
	// Licences Panda holds that no given record knows of refuse it too.
	api, err := pandaapi.New(pandaapi.Config{BaseURL: e.url, AccessID: "bss-owner", Password: testPassword, APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	epp := pandaapi.AllocationRequest{Product: pandaapi.ProductEPP, Type: pandaapi.AllocationSubscription, Quantity: 10}
	if _, err := api.CreateAllocation(ctx, c.GetRecord().GetRemoteId(), epp); err == nil {
		t.Fatal("an end customer got licences its reseller does not have")
	}
	if _, err := api.CreateAllocation(ctx, r.GetRecord().GetRemoteId(), epp); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.DeleteAccount(ctx, del)
	if got := errKey(err); got != "FailedPrecondition HAS_SUBSCRIPTIONS "+r.GetRecord().GetRemoteId() {
		t.Errorf("with licences in Panda: %q", got)
	}
	if err := api.DeleteAllocation(ctx, r.GetRecord().GetRemoteId(), epp.Product, epp.Type); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.state().accounts[r.GetRecord().GetRemoteId()]; !ok {
		t.Fatal("a refused delete deleted the account")
	}
	resp, err := e.client.DeleteAccount(ctx, del)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetDeleted() || resp.GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED ||
		!slices.Equal(resp.GetDeletedRemoteIds(), []string{c.GetRecord().GetRemoteId()}) {
		t.Errorf("cascade: %v", resp)
	}
	st := e.state()
	if _, ok := st.accounts[r.GetRecord().GetRemoteId()]; ok || len(st.operators[r.GetRecord().GetRemoteId()]) != 0 {
		t.Error("the reseller's account or operator is still in Panda")
	}
	for _, replay := range []*provisioningv1.SyncRecord{resp.GetRecord(), r.GetRecord()} {
		del.Record = replay
		again, err := e.client.DeleteAccount(ctx, del)
		if err != nil || again.GetDeleted() || again.GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
			t.Errorf("delete again from %v: %v, %v", replay.GetStatus(), again, err)
		}
	}
	// A DELETED record is synchronized anew.
	anew, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: resellerAccount(), Record: resp.GetRecord(), AutoFill: true})
	if err != nil || !anew.GetCreated() || anew.GetRecord().GetRemoteId() == r.GetRecord().GetRemoteId() {
		t.Errorf("Synchronize after delete: %v, %v", anew, err)
	}
}

package host_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

const fakeName = "fake"

var (
	statusSynced  = provisioningv1.SyncStatus_SYNC_STATUS_SYNCED
	statusFailed  = provisioningv1.SyncStatus_SYNC_STATUS_FAILED
	statusDeleted = provisioningv1.SyncStatus_SYNC_STATUS_DELETED
	statusMissing = provisioningv1.SyncStatus_SYNC_STATUS_MISSING
	statusPending = provisioningv1.SyncStatus_SYNC_STATUS_PENDING
)

// fakeAdapter answers what its funcs say and keeps every request it got, so
// a test can tell what the plugin was sent (and whether it was called).
type fakeAdapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	sync   func(*provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error)
	status func(*provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error)
	del    func(*provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error)

	mu  sync.Mutex
	got []proto.Message
}

func (f *fakeAdapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{Name: fakeName, Version: "1.0.0"}, nil
}

func (f *fakeAdapter) Configure(context.Context, *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	return &provisioningv1.ConfigureResponse{}, nil
}

func (f *fakeAdapter) record(m proto.Message) {
	f.mu.Lock()
	f.got = append(f.got, proto.Clone(m))
	f.mu.Unlock()
}

func (f *fakeAdapter) calls() []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]proto.Message(nil), f.got...)
}

func (f *fakeAdapter) ValidateSyncOptions(_ context.Context, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
	f.record(req)
	return &provisioningv1.ValidateSyncOptionsResponse{}, nil
}

func (f *fakeAdapter) Synchronize(_ context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	f.record(req)
	if f.sync != nil {
		return f.sync(req)
	}
	return &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{Status: statusSynced, RemoteId: "R-" + req.GetAccount().GetId()}}, nil
}

func (f *fakeAdapter) GetSyncStatus(_ context.Context, req *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
	f.record(req)
	if f.status != nil {
		return f.status(req)
	}
	return &provisioningv1.GetSyncStatusResponse{Record: req.GetRecord()}, nil
}

func (f *fakeAdapter) DeleteAccount(_ context.Context, req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error) {
	f.record(req)
	if f.del != nil {
		return f.del(req)
	}
	rec := proto.CloneOf(req.GetRecord())
	deleted := rec.GetStatus() != statusDeleted
	rec.Status = statusDeleted
	return &provisioningv1.DeleteAccountResponse{Record: rec, Deleted: deleted}, nil
}

// inProcess is a host running f in process, over a memory store holding the
// given entries.
func inProcess(t *testing.T, f *fakeAdapter, entries ...store.Entry) (*host.Records, store.Store) {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: fakeName}}}, host.WithInProcessPlugin(fakeName, f), host.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(ctx) })
	st := store.NewMemory()
	for _, e := range entries {
		if err := st.Put(ctx, e.Record, e.Account); err != nil {
			t.Fatal(err)
		}
	}
	return host.NewRecords(h, st, quiet), st
}

// entry is a stored record of account id (parent pid) with remote id rid.
func entry(id, pid string, s provisioningv1.SyncStatus, rid string) store.Entry {
	typ := provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
	if pid != "" {
		typ = provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER
	}
	return store.Entry{
		Record:  &provisioningv1.SyncRecord{Plugin: fakeName, AccountId: id, Status: s, RemoteId: rid, Private: []byte("state-" + id)},
		Account: &provisioningv1.Account{Id: id, ParentId: pid, Type: typ, Name: "Co " + id},
	}
}

func stored(t *testing.T, st store.Store) map[string]*provisioningv1.SyncRecord {
	t.Helper()
	p, err := st.List(context.Background(), store.Query{Plugin: fakeName})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*provisioningv1.SyncRecord{}
	for _, e := range p.Entries {
		out[e.Record.GetAccountId()] = e.Record
	}
	return out
}

// sub is a stored subscription record (the statuses are those of
// subscriptions_test.go).
func sub(id, account string, s provisioningv1.SubscriptionStatus) *provisioningv1.SubscriptionRecord {
	return &provisioningv1.SubscriptionRecord{Plugin: fakeName, SubscriptionId: id, AccountId: account, Status: s, ProductId: "P"}
}

var ignoreTimes = protocmp.IgnoreFields(&provisioningv1.SyncRecord{}, "updated_at")

// TestSynchronizeStoresFailures: a definite failure becomes a FAILED record
// with its reason, keeping the remote objects; a transient one changes
// nothing; a success replaces a failure; a remote id another record holds is
// never stored.
func TestSynchronizeStoresFailures(t *testing.T) {
	t.Parallel()
	emailErr := diag.InvalidArgument("account.corporate_email", diag.CodeInvalidEmail, "not an address")
	tests := map[string]struct {
		entries    []store.Entry
		answer     error
		remoteID   string // answered on success
		wantCode   codes.Code
		wantReason string
		want       *provisioningv1.SyncRecord // A's stored record after; nil: none
	}{
		"a first failure is stored": {
			answer: emailErr, wantCode: codes.InvalidArgument, wantReason: diag.CodeInvalidEmail,
			want: &provisioningv1.SyncRecord{Plugin: fakeName, AccountId: "A", Status: statusFailed, ErrorReason: diag.CodeInvalidEmail,
				Message: "account.corporate_email: not an address"},
		},
		"a failure keeps the remote objects": {
			entries:  []store.Entry{entry("A", "", statusSynced, "RA")},
			answer:   diag.FailedPrecondition(diag.CodeParentChanged, "account.parent_id", "cannot move"),
			wantCode: codes.FailedPrecondition, wantReason: diag.CodeParentChanged,
			want: &provisioningv1.SyncRecord{Plugin: fakeName, AccountId: "A", Status: statusFailed, ErrorReason: diag.CodeParentChanged,
				Message: "cannot move", RemoteId: "RA", Private: []byte("state-A")},
		},
		"a failure after a delete keeps nothing of the deleted objects": {
			entries:  []store.Entry{entry("A", "", statusDeleted, "RA")},
			answer:   diag.AlreadyExists("username", diag.CodeUsernameTaken, "taken"),
			wantCode: codes.AlreadyExists, wantReason: diag.CodeUsernameTaken,
			want: &provisioningv1.SyncRecord{Plugin: fakeName, AccountId: "A", Status: statusFailed, ErrorReason: diag.CodeUsernameTaken, Message: "taken"},
		},
		"a failure without ErrorInfo is named by its code": {
			answer: status.Error(codes.InvalidArgument, "bad"), wantCode: codes.InvalidArgument,
			want: &provisioningv1.SyncRecord{Plugin: fakeName, AccountId: "A", Status: statusFailed, ErrorReason: "INVALID_ARGUMENT", Message: "bad"},
		},
		"a transient failure leaves the record": {
			entries:  []store.Entry{entry("A", "", statusSynced, "RA")},
			answer:   diag.Unavailable(diag.CodeRemoteUnavailable, "down", 0),
			wantCode: codes.Unavailable, wantReason: diag.CodeRemoteUnavailable,
			want: entry("A", "", statusSynced, "RA").Record,
		},
		"a transient failure stores nothing": {
			answer: diag.ResourceExhausted(diag.CodeRateLimited, "slow down", 0), wantCode: codes.ResourceExhausted, wantReason: diag.CodeRateLimited,
		},
		"a success replaces a failure": {
			entries:  []store.Entry{{Record: &provisioningv1.SyncRecord{Plugin: fakeName, AccountId: "A", Status: statusFailed, ErrorReason: diag.CodeInvalidEmail, Message: "x"}}},
			remoteID: "RA",
			want:     &provisioningv1.SyncRecord{Plugin: fakeName, AccountId: "A", Status: statusSynced, RemoteId: "RA"},
		},
		"a remote id another record holds is never stored": {
			entries:  []store.Entry{entry("B", "", statusSynced, "RB"), entry("A", "", statusSynced, "RA")},
			remoteID: "RB", wantCode: codes.FailedPrecondition, wantReason: diag.ReasonRemoteIDTaken,
			want: entry("A", "", statusSynced, "RA").Record,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAdapter{sync: func(*provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
				if tc.answer != nil {
					return nil, tc.answer
				}
				return &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{Status: statusSynced, RemoteId: tc.remoteID}}, nil
			}}
			recs, st := inProcess(t, f, tc.entries...)
			_, err := recs.Synchronize(context.Background(), fakeName, &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "A", Name: "Acme"}})
			if d := diag.Parse(err); d.Code != tc.wantCode || d.Reason != tc.wantReason {
				t.Errorf("error = %v, want %v %s", err, tc.wantCode, tc.wantReason)
			}
			got := stored(t, st)["A"]
			if diff := cmp.Diff(tc.want, got, protocmp.Transform(), ignoreTimes); diff != "" {
				t.Errorf("stored record (-want +got):\n%s", diff)
			}
			if got.GetStatus() == statusFailed && got.GetUpdatedAt() == nil {
				t.Error("FAILED record without a time")
			}
		})
	}
}

// TestStoreWinsOverCaller: a caller-supplied record or ancestor that
// contradicts the store is RECORD_MISMATCH on its field, the plugin is not
// called and the store is unchanged; one that agrees (even a stale copy)
// passes, and the plugin gets the stored one.
func TestStoreWinsOverCaller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := []store.Entry{
		entry("R1", "", statusSynced, "RR1"),
		entry("R2", "", statusSynced, "RR2"),
		entry("C1", "R1", statusSynced, "RC1"),
	}
	forged := func(id, rid string) *provisioningv1.SyncRecord {
		return &provisioningv1.SyncRecord{AccountId: id, Status: statusSynced, RemoteId: rid}
	}
	child := &provisioningv1.Account{Id: "C2", ParentId: "R1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER}
	tests := map[string]struct {
		call      func(*host.Records) error
		wantField string // "" means the call succeeds
	}{
		"Synchronize: an ancestor record holding another reseller's remote id": {
			call: func(r *host.Records) error {
				_, err := r.Synchronize(ctx, fakeName, &provisioningv1.SynchronizeRequest{Account: child,
					Ancestors: []*provisioningv1.Ancestor{{Account: &provisioningv1.Account{Id: "R1"}, Record: forged("R1", "RR2")}}})
				return err
			},
			wantField: "request.ancestors[0].record.remote_id",
		},
		"Synchronize: another account as the parent's ancestor": {
			call: func(r *host.Records) error {
				_, err := r.Synchronize(ctx, fakeName, &provisioningv1.SynchronizeRequest{Account: child,
					Ancestors: []*provisioningv1.Ancestor{{Account: &provisioningv1.Account{Id: "R2"}, Record: entry("R2", "", statusSynced, "RR2").Record}}})
				return err
			},
			wantField: "request.ancestors[0].account.id",
		},
		"Synchronize: an ancestor for an account without a parent": {
			call: func(r *host.Records) error {
				_, err := r.Synchronize(ctx, fakeName, &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "D"},
					Ancestors: []*provisioningv1.Ancestor{{Record: forged("R2", "RR2")}}})
				return err
			},
			wantField: "request.ancestors[0].record",
		},
		"Synchronize: its own record rebound": {
			call: func(r *host.Records) error {
				_, err := r.Synchronize(ctx, fakeName, &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "C1", ParentId: "R1"}, Record: forged("C1", "RR2")})
				return err
			},
			wantField: "request.record.remote_id",
		},
		"ValidateSyncOptions: a forged plugin state": {
			call: func(r *host.Records) error {
				_, err := r.ValidateSyncOptions(ctx, fakeName, &provisioningv1.ValidateSyncOptionsRequest{Account: &provisioningv1.Account{Id: "C1", ParentId: "R1"},
					Record: &provisioningv1.SyncRecord{AccountId: "C1", Private: []byte("txn-of-someone-else")}})
				return err
			},
			wantField: "request.record.private",
		},
		"GetSyncStatus: a record rebound to another tenant's remote account": {
			call: func(r *host.Records) error {
				_, err := r.GetSyncStatus(ctx, fakeName, &provisioningv1.GetSyncStatusRequest{Record: forged("C1", "RR2")})
				return err
			},
			wantField: "request.record.remote_id",
		},
		"GetSyncStatus: a record of an account never synchronized": {
			call: func(r *host.Records) error {
				_, err := r.GetSyncStatus(ctx, fakeName, &provisioningv1.GetSyncStatusRequest{Record: forged("NEW", "RR2")})
				return err
			},
			wantField: "request.record",
		},
		"DeleteAccount: a forged record": {
			call: func(r *host.Records) error {
				_, _, err := r.DeleteAccount(ctx, fakeName, &provisioningv1.DeleteAccountRequest{Record: forged("C1", "RR2")})
				return err
			},
			wantField: "request.record.remote_id",
		},
		"Synchronize: a stale copy of the stored ancestor passes": {
			call: func(r *host.Records) error {
				_, err := r.Synchronize(ctx, fakeName, &provisioningv1.SynchronizeRequest{Account: child,
					Ancestors: []*provisioningv1.Ancestor{{Account: &provisioningv1.Account{Id: "R1"},
						Record: &provisioningv1.SyncRecord{AccountId: "R1", Status: statusPending, RemoteId: "RR1"}}}})
				return err
			},
		},
		"GetSyncStatus: the stored record itself passes": {
			call: func(r *host.Records) error {
				_, err := r.GetSyncStatus(ctx, fakeName, &provisioningv1.GetSyncStatusRequest{Record: entry("C1", "R1", statusSynced, "RC1").Record})
				return err
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAdapter{}
			recs, st := inProcess(t, f, base...)
			before := stored(t, st)
			err := tc.call(recs)
			if tc.wantField == "" {
				if err != nil {
					t.Fatal(err)
				}
				// The plugin got the stored records, never the caller's.
				for _, m := range f.calls() {
					var anc []*provisioningv1.Ancestor
					var rec *provisioningv1.SyncRecord
					switch m := m.(type) {
					case *provisioningv1.SynchronizeRequest:
						anc, rec = m.GetAncestors(), m.GetRecord()
					case *provisioningv1.GetSyncStatusRequest:
						anc, rec = m.GetAncestors(), m.GetRecord()
					}
					for i, a := range anc {
						if want := before[a.GetAccount().GetId()]; !proto.Equal(a.GetRecord(), want) {
							t.Errorf("plugin got ancestor %d record %v, want the stored %v", i, a.GetRecord(), want)
						}
					}
					if rec != nil && !proto.Equal(rec, before[rec.GetAccountId()]) {
						t.Errorf("plugin got record %v, want the stored one", rec)
					}
				}
				return
			}
			d := diag.Parse(err)
			if d.Code != codes.InvalidArgument || d.Reason != diag.ReasonRecordMismatch {
				t.Fatalf("error = %v, want INVALID_ARGUMENT RECORD_MISMATCH", err)
			}
			if len(d.Violations) != 1 || d.Violations[0].Field != tc.wantField {
				t.Errorf("violations = %+v, want one on %q", d.Violations, tc.wantField)
			}
			if got := errorDomain(err); got != diag.HostDomain {
				t.Errorf("domain = %q, want %q", got, diag.HostDomain)
			}
			if n := len(f.calls()); n != 0 {
				t.Errorf("the plugin was called %d times", n)
			}
			if diff := cmp.Diff(before, stored(t, st), protocmp.Transform()); diff != "" {
				t.Errorf("the store changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestDeleteAccount covers the host's side of deletion: filled from the
// store, HAS_CHILDREN from the store, cascade marking, idempotence.
func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	tree := []store.Entry{
		entry("R1", "", statusSynced, "RR1"),
		entry("R2", "R1", statusSynced, "RR2"), // a sub-reseller
		entry("C1", "R2", statusSynced, "RC1"),
		entry("C2", "R1", statusFailed, ""), // never created remotely: blocks nothing
		entry("X", "", statusSynced, "RX"),
	}
	tests := map[string]struct {
		entries     []store.Entry
		subs        []*provisioningv1.SubscriptionRecord
		id          string
		cascade     bool
		answerIDs   []string // the plugin's deleted_remote_ids
		wantCode    codes.Code
		wantReason  string
		wantSubject []string // HAS_CHILDREN violation subjects
		wantIDs     []string
		wantDeleted []string // stored DELETED after, sorted
		wantCalled  bool
		wantSubs    []string // the subscription ids the plugin got
	}{
		"a leaf": {
			entries: tree, id: "C1", wantDeleted: []string{"C1"}, wantCalled: true,
		},
		"children in the store refuse it": {
			entries: tree, id: "R1", wantCode: codes.FailedPrecondition, wantReason: diag.CodeHasChildren, wantSubject: []string{"R2"},
		},
		"deleted children do not": {
			entries: []store.Entry{entry("R1", "", statusSynced, "RR1"), entry("C1", "R1", statusDeleted, "RC1")},
			id:      "R1", wantDeleted: []string{"C1", "R1"}, wantCalled: true,
		},
		"cascade marks the descendants the plugin deleted": {
			entries: tree, id: "R1", cascade: true, answerIDs: []string{"RC1", "RR2", "R-UNKNOWN", "RX"},
			wantIDs: []string{"C1", "R2"}, wantDeleted: []string{"C1", "R1", "R2"}, wantCalled: true,
		},
		"a subscription that holds licences refuses it": {
			entries: tree, id: "C1", subs: []*provisioningv1.SubscriptionRecord{sub("S1", "C1", subActive), sub("S2", "C1", subCancelled)},
			wantCode: codes.FailedPrecondition, wantReason: diag.CodeHasSubscriptions, wantSubject: []string{"S1"},
		},
		"cancelled and failed subscriptions are sent along": {
			entries: tree, id: "C1", subs: []*provisioningv1.SubscriptionRecord{sub("S1", "C1", subFailed), sub("S2", "C1", subCancelled), sub("S3", "X", subActive)},
			wantDeleted: []string{"C1"}, wantCalled: true, wantSubs: []string{"S1", "S2"},
		},
		"cascade covers the descendants' subscriptions": {
			entries: tree, id: "R1", cascade: true, subs: []*provisioningv1.SubscriptionRecord{sub("S1", "C1", subActive)},
			wantCode: codes.FailedPrecondition, wantReason: diag.CodeHasSubscriptions, wantSubject: []string{"S1"},
		},
		"a replay": {
			entries: []store.Entry{entry("A", "", statusDeleted, "RA")}, id: "A", wantDeleted: []string{"A"}, wantCalled: true,
		},
		"never synchronized": {
			entries: tree, id: "NOPE", wantCode: codes.NotFound,
		},
		"a plugin without DeleteAccount": {
			entries: tree, id: "X", wantCode: codes.Unimplemented, wantCalled: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAdapter{}
			if tc.wantCode == codes.Unimplemented {
				f.del = func(*provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error) {
					return nil, status.Error(codes.Unimplemented, "no DeleteAccount")
				}
			} else {
				f.del = func(req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error) {
					rec := proto.CloneOf(req.GetRecord())
					rec.Status = statusDeleted
					return &provisioningv1.DeleteAccountResponse{Record: rec, Deleted: true, DeletedRemoteIds: tc.answerIDs}, nil
				}
			}
			recs, st := inProcess(t, f, tc.entries...)
			for _, sr := range tc.subs {
				if err := st.PutSubscription(context.Background(), sr, nil); err != nil {
					t.Fatal(err)
				}
			}
			before := stored(t, st)
			resp, ids, err := recs.DeleteAccount(context.Background(), fakeName, &provisioningv1.DeleteAccountRequest{
				Account: &provisioningv1.Account{Id: tc.id}, Cascade: tc.cascade,
			})
			d := diag.Parse(err)
			if d.Code != tc.wantCode || d.Reason != tc.wantReason {
				t.Fatalf("error = %v, want %v %s", err, tc.wantCode, tc.wantReason)
			}
			var subjects []string
			for _, det := range status.Convert(err).Details() {
				if pf, ok := det.(*errdetails.PreconditionFailure); ok {
					for _, v := range pf.GetViolations() {
						subjects = append(subjects, v.GetSubject())
					}
				}
			}
			if diff := cmp.Diff(tc.wantSubject, subjects); diff != "" {
				t.Errorf("HAS_CHILDREN subjects (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantIDs, ids); diff != "" {
				t.Errorf("deleted account ids (-want +got):\n%s", diff)
			}
			calls := f.calls()
			if (len(calls) > 0) != tc.wantCalled {
				t.Fatalf("plugin calls = %d, want called %v", len(calls), tc.wantCalled)
			}
			if tc.wantCalled {
				// Filled from the store.
				got := calls[0].(*provisioningv1.DeleteAccountRequest)
				if e := before[tc.id]; !proto.Equal(got.GetRecord(), e) || got.GetAccount().GetName() != "Co "+tc.id || got.GetCascade() != tc.cascade {
					t.Errorf("plugin got %v, want the stored record and account", got)
				}
				var subIDs []string
				for _, s := range got.GetSubscriptions() {
					subIDs = append(subIDs, s.GetSubscriptionId())
				}
				if diff := cmp.Diff(tc.wantSubs, subIDs); diff != "" {
					t.Errorf("subscriptions sent (-want +got):\n%s", diff)
				}
			}
			after := stored(t, st)
			var deleted []string
			for id, r := range after {
				if r.GetStatus() == statusDeleted {
					deleted = append(deleted, id)
				}
				if r.GetStatus() != statusDeleted && !proto.Equal(r, before[id]) {
					t.Errorf("record %s changed: %v", id, r)
				}
			}
			if diff := cmp.Diff(tc.wantDeleted, deleted, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("DELETED records (-want +got):\n%s", diff)
			}
			if err == nil && resp.GetRecord().GetStatus() != statusDeleted {
				t.Errorf("answered record %v", resp.GetRecord())
			}
		})
	}
}

// TestReconcile: every stored record refreshed and reported in account
// order, DELETED ones without a call, failures as results.
func TestReconcile(t *testing.T) {
	t.Parallel()
	drift := diag.Warning("account.name", diag.CodeRemoteDrift, "name differs", `remote "Acme Old", BSS "Co A"`)
	f := &fakeAdapter{status: func(req *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
		rec := proto.CloneOf(req.GetRecord())
		switch rec.GetAccountId() {
		case "A":
			return &provisioningv1.GetSyncStatusResponse{Record: rec, Diagnostics: []*provisioningv1.Diagnostic{drift}}, nil
		case "B":
			rec.Status = statusMissing
			return &provisioningv1.GetSyncStatusResponse{Record: rec}, nil
		case "C":
			return nil, diag.Unavailable(diag.CodeRemoteUnavailable, "down", 0)
		}
		rec.Status = statusSynced
		return &provisioningv1.GetSyncStatusResponse{Record: rec}, nil
	}}
	recs, st := inProcess(t, f,
		entry("D", "", statusPending, "RD"),
		entry("C", "", statusSynced, "RC"),
		entry("B", "", statusSynced, "RB"),
		entry("A", "", statusSynced, "RA"),
		entry("E", "", statusDeleted, "RE"),
	)
	var got []host.Reconciled
	err := recs.Reconcile(context.Background(), fakeName, func(rc host.Reconciled) error {
		got = append(got, rc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID       string
		Prev     provisioningv1.SyncStatus
		Now      provisioningv1.SyncStatus
		Drifted  bool
		Failed   codes.Code
		NumDiags int
	}
	var rows []row
	for _, rc := range got {
		rows = append(rows, row{rc.AccountID, rc.PreviousStatus, rc.Record.GetStatus(), rc.Drifted(), status.Code(rc.Err), len(rc.Diagnostics)})
	}
	want := []row{
		{"A", statusSynced, statusSynced, true, codes.OK, 1},
		{"B", statusSynced, statusMissing, true, codes.OK, 0},
		{"C", statusSynced, statusSynced, false, codes.Unavailable, 0},
		{"D", statusPending, statusSynced, false, codes.OK, 0},
		{"E", statusDeleted, statusDeleted, false, codes.OK, 0},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if n := len(f.calls()); n != 4 {
		t.Errorf("%d GetSyncStatus calls, want 4 (none for the DELETED record)", n)
	}
	now := stored(t, st)
	if now["B"].GetStatus() != statusMissing || now["D"].GetStatus() != statusSynced || now["C"].GetStatus() != statusSynced {
		t.Errorf("refreshed records not stored: %v", now)
	}
	if code := status.Code(recs.Reconcile(context.Background(), "nope", nil)); code != codes.NotFound {
		t.Errorf("Reconcile of an unknown plugin: %v, want NOT_FOUND", code)
	}
}

// TestFailureDoesNotOverwriteANewerRecord: a Synchronize fails definitively
// while another call stored the account's record: the failure describes an
// older state and is not stored over the newer record's remote objects.
func TestFailureDoesNotOverwriteANewerRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &fakeAdapter{}
	recs, st := inProcess(t, f)
	newer := entry("A", "", statusSynced, "RA")
	f.sync = func(*provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
		if err := st.Put(ctx, newer.Record, newer.Account); err != nil { // the concurrent call's answer
			t.Error(err)
		}
		return nil, diag.FailedPrecondition(diag.CodeParentNotSynced, "parent_account", "not yet")
	}
	_, err := recs.Synchronize(ctx, fakeName, &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "A"}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("error = %v", err)
	}
	if diff := cmp.Diff(newer.Record, stored(t, st)["A"], protocmp.Transform()); diff != "" {
		t.Errorf("stored record (-want +got):\n%s", diff)
	}
}

// TestUnfinishedAttempt: the plugin is told unfinished_attempt exactly when
// an earlier Synchronize of the account, made without a live remote id in
// its record, never had a record with a remote id stored; the caller's
// value is never passed on.
func TestUnfinishedAttempt(t *testing.T) {
	t.Parallel()
	// Not definite, so no record is stored; with details, as a plugin sends
	// it (a bare UNAVAILABLE looks like a crash to the host, which waits).
	lost := diag.Unavailable(diag.CodeRemoteUnavailable, "the answer was lost", time.Second)
	refused := status.Error(codes.InvalidArgument, "refused")
	tests := map[string]struct {
		entries []store.Entry
		// answers are the plugin's answers, one per call: nil is SYNCED
		// with remote id R-A.
		answers []error
		// callerSays is the caller's unfinished_attempt on every call.
		callerSays bool
		want       []bool // what the plugin got, per call
	}{
		"answer stored":                 {answers: []error{nil, nil}, want: []bool{false, false}},
		"answer lost":                   {answers: []error{lost, nil, nil}, want: []bool{false, true, false}},
		"lost twice":                    {answers: []error{lost, lost, nil}, want: []bool{false, true, true}},
		"definite failure keeps it":     {answers: []error{refused, nil}, want: []bool{false, true}},
		"caller's value ignored":        {answers: []error{nil, nil}, callerSays: true, want: []bool{false, false}},
		"live remote id: no marker":     {entries: []store.Entry{entry("A", "", statusSynced, "R-A")}, answers: []error{lost, nil}, want: []bool{false, false}},
		"DELETED record: marked again":  {entries: []store.Entry{entry("A", "", statusDeleted, "R-A")}, answers: []error{lost, nil}, want: []bool{false, true}},
		"FAILED without remote: marked": {entries: []store.Entry{entry("A", "", statusFailed, "")}, answers: []error{lost, nil}, want: []bool{false, true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got []bool
			f := &fakeAdapter{sync: func(req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
				err := tc.answers[len(got)]
				got = append(got, req.GetUnfinishedAttempt())
				if err != nil {
					return nil, err
				}
				return &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{Status: statusSynced, RemoteId: "R-A"}}, nil
			}}
			recs, _ := inProcess(t, f, tc.entries...)
			for range tc.answers {
				_, _ = recs.Synchronize(context.Background(), fakeName, &provisioningv1.SynchronizeRequest{
					Account: &provisioningv1.Account{Id: "A", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Co A"}, UnfinishedAttempt: tc.callerSays,
				})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("unfinished_attempt per call (-want +got):\n%s", diff)
			}
		})
	}
}

package panda_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/mock/gomock"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/plugin/panda"
	"github.com/cloudbss/provisioning/plugin/panda/internal/remotemock"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestGetSyncStatusDrift(t *testing.T) {
	t.Parallel()
	const stDeleted = provisioningv1.SyncStatus_SYNC_STATUS_DELETED
	synced := func() *provisioningv1.SyncRecord {
		r := syncedRecord(stSynced)
		r.Message = msgSynced
		return r
	}
	op := func(m *remotemock.MockRemote) {
		m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: newPanda}, nil)
	}
	remote := func(edit func(*panda.RemoteAccount)) func(m *remotemock.MockRemote) {
		return func(m *remotemock.MockRemote) {
			op(m)
			pa := janeRemote()
			edit(pa)
			m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(pa, nil)
		}
	}
	tests := map[string]struct {
		record    *provisioningv1.SyncRecord
		account   *provisioningv1.Account
		remote    func(m *remotemock.MockRemote)
		wantDiags []string
		wantRole  string
	}{
		"no account: no drift check": {
			record: synced(), remote: op, wantRole: "User",
		},
		"in step": {
			record: synced(), account: directCustomer(), remote: remote(func(*panda.RemoteAccount) {}), wantRole: "User",
		},
		"renamed and re-addressed behind the BSS's back": {
			record: synced(), account: directCustomer(),
			remote:    remote(func(pa *panda.RemoteAccount) { pa.Name, pa.Email = "Other", "x@other.example" }),
			wantDiags: []string{"WARNING REMOTE_DRIFT account.corporate_email", "WARNING REMOTE_DRIFT account.name"},
			wantRole:  "User",
		},
		"under another parent": {
			record: synced(), account: directCustomer(),
			remote:    remote(func(pa *panda.RemoteAccount) { pa.ParentID = "ACC-4444444" }),
			wantDiags: []string{"WARNING REMOTE_DRIFT account.parent_id"},
			wantRole:  "User",
		},
		"customer converted in the console: type drift, not adopted": {
			record: synced(), account: directCustomer(),
			remote:    remote(func(pa *panda.RemoteAccount) { pa.Type = panda.AccountTypeServiceProvider }),
			wantDiags: []string{"WARNING REMOTE_DRIFT account.type"},
			wantRole:  "User",
		},
		"reseller converted in the console: adopted": {
			record: withPrivate(synced(), `{"v":1,"type":"customer"}`), account: withType(directCustomer(), provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER),
			remote:   remote(func(pa *panda.RemoteAccount) { pa.Type = panda.AccountTypeServiceProvider }),
			wantRole: "Reseller",
		},
		"customer become reseller, not converted yet: type drift": {
			record: withPrivate(synced(), `{"v":1,"type":"customer"}`), account: withType(directCustomer(), provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER),
			remote:    remote(func(*panda.RemoteAccount) {}),
			wantDiags: []string{"WARNING REMOTE_DRIFT account.type"},
			wantRole:  "User",
		},
		"deleted record: answered as is": {
			record: func() *provisioningv1.SyncRecord { r := synced(); r.Status = stDeleted; return r }(), account: directCustomer(),
			wantRole: "User",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t)
			if tc.remote != nil {
				tc.remote(m)
			}
			resp, err := a.GetSyncStatus(context.Background(), &provisioningv1.GetSyncStatusRequest{Record: tc.record, Account: tc.account})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantDiags, diagKeys(resp.GetDiagnostics()), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if got := resp.GetRecord().GetValues()["role"]; got != tc.wantRole {
				t.Errorf("role = %q, want %q", got, tc.wantRole)
			}
		})
	}
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	const stDeleted = provisioningv1.SyncStatus_SYNC_STATUS_DELETED
	live := []*provisioningv1.SubscriptionRecord{{SubscriptionId: "SUB-1", Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED}}
	done := []*provisioningv1.SubscriptionRecord{
		{SubscriptionId: "SUB-1", Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED},
		{SubscriptionId: "SUB-2", Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED},
	}
	exists := func(m *remotemock.MockRemote) *gomock.Call {
		return m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(janeRemote(), nil)
	}
	noChildren := func(m *remotemock.MockRemote) *gomock.Call {
		return m.EXPECT().ListChildren(gomock.Any(), newPanda, panda.ListChildrenOptions{Limit: 100}).Return(&panda.AccountPage{}, nil)
	}
	tests := map[string]struct {
		req         *provisioningv1.DeleteAccountRequest
		remote      func(m *remotemock.MockRemote)
		wantDeleted bool
		wantIDs     []string
		wantErr     string
	}{
		"childless: deleted": {
			req: &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: syncedRecord(stSynced), Subscriptions: done},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(exists(m), noChildren(m), m.EXPECT().DeleteAccount(gomock.Any(), newPanda).Return(nil))
			},
			wantDeleted: true,
		},
		"children without cascade: HAS_CHILDREN, one violation per child": {
			req: &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: syncedRecord(stSynced)},
			remote: func(m *remotemock.MockRemote) {
				exists(m)
				m.EXPECT().ListChildren(gomock.Any(), newPanda, gomock.Any()).Return(&panda.AccountPage{Total: 2, Accounts: []panda.RemoteAccount{{ID: "ACC-5"}, {ID: "ACC-6"}}}, nil)
			},
			wantErr: "FailedPrecondition HAS_CHILDREN ACC-5,ACC-6",
		},
		"cascade: the tree, descendants listed": {
			req: &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: syncedRecord(stSynced), Cascade: true},
			remote: func(m *remotemock.MockRemote) {
				exists(m)
				m.EXPECT().DeleteAccountTree(gomock.Any(), newPanda).Return([]string{"ACC-7", "ACC-5"}, nil)
			},
			wantDeleted: true,
			wantIDs:     []string{"ACC-7", "ACC-5"},
		},
		"live subscription: HAS_SUBSCRIPTIONS, nothing read": {
			req:     &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: syncedRecord(stSynced), Subscriptions: live},
			wantErr: "FailedPrecondition HAS_SUBSCRIPTIONS SUB-1",
		},
		"Panda says it holds licences: HAS_SUBSCRIPTIONS": {
			req: &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: syncedRecord(stSynced), Cascade: true},
			remote: func(m *remotemock.MockRemote) {
				exists(m)
				m.EXPECT().DeleteAccountTree(gomock.Any(), newPanda).Return(nil, &panda.RemoteError{Kind: panda.ErrConflict, Code: "HAS_ALLOCATIONS"})
			},
			wantErr: "FailedPrecondition HAS_SUBSCRIPTIONS " + newPanda,
		},
		"already gone: DELETED, not deleted by this call": {
			req: &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: syncedRecord(stMissing)},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(nil, notFound("GetAccount"))
			},
		},
		"DELETED record: no remote call": {
			req: &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: syncedRecord(stDeleted)},
		},
		"never synchronized remotely: no remote call": {
			req: &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: &provisioningv1.SyncRecord{AccountId: "C-100", Status: stFailed}},
		},
		"Panda down: UNAVAILABLE": {
			req: &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: syncedRecord(stSynced)},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(nil, unavailable("GetAccount"))
			},
			wantErr: "Unavailable REMOTE_UNAVAILABLE",
		},
		"no record": {
			req:     &provisioningv1.DeleteAccountRequest{Account: directCustomer()},
			wantErr: "InvalidArgument REQUIRED record",
		},
		"another account's record": {
			req:     &provisioningv1.DeleteAccountRequest{Account: endCustomer(), Record: syncedRecord(stSynced)},
			wantErr: "InvalidArgument INVALID_VALUE record.account_id",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t)
			if tc.remote != nil {
				tc.remote(m)
			}
			resp, err := a.DeleteAccount(context.Background(), tc.req)
			if tc.wantErr != "" {
				if got := errKey(err); got != tc.wantErr {
					t.Fatalf("error = %q, want %q", got, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetRecord().GetStatus() != stDeleted || resp.GetDeleted() != tc.wantDeleted {
				t.Errorf("record %v, deleted %v; want DELETED, %v", resp.GetRecord(), resp.GetDeleted(), tc.wantDeleted)
			}
			if diff := cmp.Diff(tc.wantIDs, resp.GetDeletedRemoteIds()); diff != "" {
				t.Errorf("deleted_remote_ids (-want +got):\n%s", diff)
			}
			if got := resp.GetRecord(); got.GetRemoteId() != tc.req.GetRecord().GetRemoteId() || got.GetAccountId() != tc.req.GetRecord().GetAccountId() {
				t.Errorf("record lost what it was: %v", got)
			}
		})
	}
}

// A DELETED record answered twice is the same record.
func TestDeleteAccountReplayUnchanged(t *testing.T) {
	t.Parallel()
	a, _ := newMocked(t)
	rec := syncedRecord(provisioningv1.SyncStatus_SYNC_STATUS_DELETED)
	resp, err := a.DeleteAccount(context.Background(), &provisioningv1.DeleteAccountRequest{Account: directCustomer(), Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, resp.GetRecord(), protocmp.Transform()); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

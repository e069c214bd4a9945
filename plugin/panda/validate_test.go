package panda_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"

	"github.com/cloudbss/provisioning/plugin/panda"
	"github.com/cloudbss/provisioning/plugin/panda/internal/remotemock"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestValidateSyncOptions(t *testing.T) {
	t.Parallel()
	free := func(u string) func(m *remotemock.MockRemote) {
		return func(m *remotemock.MockRemote) {
			m.EXPECT().GetOperator(gomock.Any(), u).Return(nil, notFound("GetOperator"))
		}
	}
	ok := map[string]string{"role": "User", "username": "jane.doe"}
	tests := map[string]struct {
		account    *provisioningv1.Account
		ancestors  []*provisioningv1.Ancestor
		record     *provisioningv1.SyncRecord
		values     map[string]string
		autoFill   bool
		remote     func(m *remotemock.MockRemote)
		wantDiags  []string
		wantValues map[string]string
	}{
		"valid": {
			account: directCustomer(), values: ok, remote: free("jane.doe"),
			wantValues: ok,
		},
		"auto_fill fills role and username": {
			account: directCustomer(), autoFill: true, remote: free("jane.doe"),
			wantValues: ok,
		},
		"auto_fill keeps given values": {
			account: resellerAccount(), autoFill: true, values: map[string]string{"role": "User", "username": "olga.p"}, remote: free("olga.p"),
			wantValues: map[string]string{"role": "User", "username": "olga.p"},
		},
		"missing values without auto_fill": {
			account:   directCustomer(),
			wantDiags: []string{"ERROR REQUIRED role", "ERROR REQUIRED username"},
		},
		"empty values without auto_fill": {
			account:   directCustomer(),
			values:    map[string]string{"role": "", "username": ""},
			wantDiags: []string{"ERROR REQUIRED role", "ERROR REQUIRED username"},
		},
		"unknown key": {
			account: directCustomer(), values: map[string]string{"role": "User", "username": "jane.doe", "colour": "blue"}, remote: free("jane.doe"),
			wantDiags:  []string{"ERROR UNKNOWN_FIELD colour"},
			wantValues: ok,
		},
		"empty unknown key": {
			account: directCustomer(), values: map[string]string{"role": "User", "username": "jane.doe", "": "x"}, remote: free("jane.doe"),
			wantDiags:  []string{"ERROR UNKNOWN_FIELD values"},
			wantValues: ok,
		},
		"parent_account on a direct account": {
			account: directCustomer(), values: map[string]string{"role": "User", "username": "jane.doe", "parent_account": "ACC-1234567"}, remote: free("jane.doe"),
			wantDiags:  []string{"ERROR UNKNOWN_FIELD parent_account"},
			wantValues: ok,
		},
		"empty parent_account on a direct account is tolerated": {
			account: directCustomer(), values: map[string]string{"role": "User", "username": "jane.doe", "parent_account": ""}, remote: free("jane.doe"),
			wantValues: ok,
		},
		"role not a choice": {
			account: directCustomer(), values: map[string]string{"role": "Admin", "username": "jane.doe"}, remote: free("jane.doe"),
			wantDiags:  []string{"ERROR INVALID_VALUE role"},
			wantValues: map[string]string{"username": "jane.doe"},
		},
		"customer as Reseller": {
			account: directCustomer(), values: map[string]string{"role": "Reseller", "username": "jane.doe"}, remote: free("jane.doe"),
			wantDiags:  []string{"ERROR ROLE_NOT_ALLOWED role"},
			wantValues: map[string]string{"username": "jane.doe"},
		},
		"reseller as User is allowed": {
			account: resellerAccount(), values: map[string]string{"role": "User", "username": "olga.p"}, remote: free("olga.p"),
			wantValues: map[string]string{"role": "User", "username": "olga.p"},
		},
		"username too short": {
			account: directCustomer(), values: map[string]string{"role": "User", "username": "jd"},
			wantDiags:  []string{"ERROR INVALID_USERNAME username"},
			wantValues: map[string]string{"role": "User"},
		},
		"username with a space": {
			account: directCustomer(), values: map[string]string{"role": "User", "username": "jane doe"},
			wantDiags:  []string{"ERROR INVALID_USERNAME username"},
			wantValues: map[string]string{"role": "User"},
		},
		"username too long": {
			account: directCustomer(), values: map[string]string{"role": "User", "username": "a123456789a123456789a123456789a123456789a123456789a123456789abcdef"},
			wantDiags:  []string{"ERROR INVALID_USERNAME username"},
			wantValues: map[string]string{"role": "User"},
		},
		"username taken": {
			account: directCustomer(), values: ok,
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-5555555"}, nil)
			},
			wantDiags:  []string{"ERROR USERNAME_TAKEN username"},
			wantValues: ok,
		},
		"username held by a look-alike (same parent, type, name, email): taken, never adopted": {
			account: directCustomer(), values: ok,
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-7777777"}, nil)
			},
			wantDiags:  []string{"ERROR USERNAME_TAKEN username"},
			wantValues: ok,
		},
		"self-parent: SELF_PARENT": {
			account: &provisioningv1.Account{Id: "C-100", ParentId: "C-100", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme Corp", CorporateEmail: "jane.doe@acme.example"},
			values:  map[string]string{"role": "User", "username": "jane.doe"},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(nil, notFound("GetOperator"))
			},
			wantDiags:  []string{"ERROR SELF_PARENT account.parent_id"},
			wantValues: map[string]string{"role": "User", "username": "jane.doe"},
		},
		"invalid corporate email is an error here": {
			account: &provisioningv1.Account{Id: "C-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme", CorporateEmail: "not-an-email"},
			values:  ok, remote: free("jane.doe"),
			wantDiags:  []string{"ERROR INVALID_EMAIL account.corporate_email"},
			wantValues: ok,
		},
		"end customer: parent_account filled in": {
			account: endCustomer(), ancestors: []*provisioningv1.Ancestor{syncedReseller()},
			values: map[string]string{"role": "User", "username": "beta.admin"}, remote: free("beta.admin"),
			wantValues: map[string]string{"role": "User", "username": "beta.admin", "parent_account": resellerPanda},
		},
		"end customer: parent_account sent as computed": {
			account: endCustomer(), ancestors: []*provisioningv1.Ancestor{syncedReseller()},
			values: map[string]string{"role": "User", "username": "beta.admin", "parent_account": resellerPanda}, remote: free("beta.admin"),
			wantValues: map[string]string{"role": "User", "username": "beta.admin", "parent_account": resellerPanda},
		},
		"end customer: parent_account changed": {
			account: endCustomer(), ancestors: []*provisioningv1.Ancestor{syncedReseller()},
			values: map[string]string{"role": "User", "username": "beta.admin", "parent_account": "ACC-9999999"}, remote: free("beta.admin"),
			wantDiags:  []string{"ERROR READ_ONLY parent_account"},
			wantValues: map[string]string{"role": "User", "username": "beta.admin", "parent_account": resellerPanda},
		},
		"end customer: reseller not synchronized": {
			account: endCustomer(), ancestors: []*provisioningv1.Ancestor{resellerAncestor(0, "")},
			values: map[string]string{"role": "User", "username": "beta.admin"}, remote: free("beta.admin"),
			wantDiags:  []string{"ERROR PARENT_NOT_SYNCED parent_account"},
			wantValues: map[string]string{"role": "User", "username": "beta.admin"},
		},
		"synchronized: same values, no remote call": {
			account: directCustomer(), record: syncedRecord(provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), values: ok,
			wantValues: ok,
		},
		"synchronized: values may be omitted": {
			account: directCustomer(), record: syncedRecord(provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE),
			wantValues: ok,
		},
		"synchronized: username is read-only": {
			account: directCustomer(), record: syncedRecord(provisioningv1.SyncStatus_SYNC_STATUS_SYNCED),
			values:     map[string]string{"role": "User", "username": "jane.other"},
			wantDiags:  []string{"ERROR READ_ONLY username"},
			wantValues: ok,
		},
		"synchronized: role is read-only": {
			account: resellerAccount(),
			record: &provisioningv1.SyncRecord{AccountId: "R-200", Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: resellerPanda,
				Values: map[string]string{"role": "Reseller", "username": "ops.resell-ltd"}},
			values:     map[string]string{"role": "User"},
			wantDiags:  []string{"ERROR READ_ONLY role"},
			wantValues: map[string]string{"role": "Reseller", "username": "ops.resell-ltd"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t)
			if tc.remote != nil {
				tc.remote(m)
			}
			resp, err := a.ValidateSyncOptions(context.Background(), &provisioningv1.ValidateSyncOptionsRequest{
				Account: tc.account, Ancestors: tc.ancestors, Record: tc.record, Values: tc.values, AutoFill: tc.autoFill,
			})
			if err != nil {
				t.Fatalf("ValidateSyncOptions: %v", err)
			}
			if diff := cmp.Diff(tc.wantDiags, diagKeys(resp.GetDiagnostics()), cmpEmpty); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantValues, resp.GetValues(), cmpEmptyMap); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			for _, d := range resp.GetDiagnostics() {
				if d.GetField() == "" || d.GetSummary() == "" {
					t.Errorf("diagnostic %v lacks a field or a summary", d)
				}
			}
		})
	}
}

var cmpEmptyMap = cmp.FilterValues(func(a, b map[string]string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

// TestAccountChecks: requests every RPC rejects before looking at anything.
func TestAccountChecks(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		account *provisioningv1.Account
		record  *provisioningv1.SyncRecord
		want    string
	}{
		"no account":       {nil, nil, "InvalidArgument INVALID_ACCOUNT account"},
		"no id":            {&provisioningv1.Account{Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER}, nil, "InvalidArgument INVALID_ACCOUNT account.id"},
		"no type":          {&provisioningv1.Account{Id: "C-1"}, nil, "InvalidArgument INVALID_ACCOUNT account.type"},
		"unknown type":     {&provisioningv1.Account{Id: "C-1", Type: 42}, nil, "InvalidArgument INVALID_ACCOUNT account.type"},
		"neither":          {&provisioningv1.Account{}, nil, "InvalidArgument INVALID_ACCOUNT account.id,account.type"},
		"another's record": {directCustomer(), &provisioningv1.SyncRecord{AccountId: "C-999"}, "InvalidArgument INVALID_VALUE record.account_id"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, _ := newMocked(t) // no remote call expected
			ctx := context.Background()
			_, err1 := a.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: tc.account, Record: tc.record})
			_, err2 := a.ValidateSyncOptions(ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: tc.account, Record: tc.record})
			_, err3 := a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: tc.account, Record: tc.record, AutoFill: true})
			for i, err := range []error{err1, err2, err3} {
				if got := errKey(err); got != tc.want {
					t.Errorf("rpc %d: error = %q (%v), want %q", i, got, err, tc.want)
				}
			}
		})
	}
}

// TestSameRulesEverywhere: what ValidateSyncOptions reports as error
// diagnostics is exactly what makes Synchronize fail, field for field.
func TestSameRulesEverywhere(t *testing.T) {
	t.Parallel()
	reqs := map[string]*provisioningv1.SynchronizeRequest{
		"parent not synced": {Account: endCustomer(), Values: map[string]string{"role": "User", "username": "beta.admin"}},
		"parent a user": {Account: endCustomer(), Ancestors: []*provisioningv1.Ancestor{resellerAncestor(provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, panda.RoleUser)},
			Values: map[string]string{"role": "User", "username": "beta.admin"}},
		"role and unknown key": {Account: directCustomer(), Values: map[string]string{"role": "Reseller", "username": "jane.doe", "x": "y"}},
		"bad email and username": {Account: &provisioningv1.Account{Id: "C-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "A", CorporateEmail: "@"},
			Values: map[string]string{"role": "User", "username": "a b"}},
	}
	for name, req := range reqs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t)
			m.EXPECT().GetOperator(gomock.Any(), gomock.Any()).Return(nil, notFound("GetOperator")).AnyTimes()
			v, err := a.ValidateSyncOptions(context.Background(), &provisioningv1.ValidateSyncOptionsRequest{
				Account: req.Account, Ancestors: req.Ancestors, Values: req.Values, AutoFill: req.AutoFill,
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, d := range v.GetDiagnostics() {
				if d.GetSeverity() == provisioningv1.Severity_SEVERITY_ERROR {
					want = append(want, d.GetField())
				}
			}
			_, err = a.Synchronize(context.Background(), req)
			if err == nil {
				t.Fatal("Synchronize succeeded")
			}
			got := errKey(err)
			for _, f := range want {
				if !strings.Contains(got, f) {
					t.Errorf("Synchronize error %q lacks field %q reported by ValidateSyncOptions", got, f)
				}
			}
		})
	}
}

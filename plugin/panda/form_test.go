package panda_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/plugin/panda"
	"github.com/cloudbss/provisioning/plugin/panda/internal/remotemock"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestGetSyncOptions(t *testing.T) {
	t.Parallel()
	const (
		synced  = provisioningv1.SyncStatus_SYNC_STATUS_SYNCED
		pending = provisioningv1.SyncStatus_SYNC_STATUS_PENDING
		failed  = provisioningv1.SyncStatus_SYNC_STATUS_FAILED
	)
	free := func(usernames ...string) func(m *remotemock.MockRemote) {
		return func(m *remotemock.MockRemote) {
			for _, u := range usernames {
				m.EXPECT().GetOperator(gomock.Any(), u).Return(nil, notFound("GetOperator"))
			}
		}
	}
	sub := func(acc *provisioningv1.Account, parentID string) *provisioningv1.Account {
		acc.Id, acc.ParentId = "E-400", parentID
		return acc
	}
	tests := map[string]struct {
		account   *provisioningv1.Account
		ancestors []*provisioningv1.Ancestor
		record    *provisioningv1.SyncRecord
		settings  []string
		remote    func(m *remotemock.MockRemote)
		want      []string
		wantDiags []string
	}{
		"direct customer": {
			account: directCustomer(),
			remote:  free("jane.doe"),
			want:    []string{"role=User", "username=jane.doe"},
		},
		"reseller": {
			account: resellerAccount(),
			remote:  free("ops.resell-ltd"),
			want:    []string{"role=Reseller", "username=ops.resell-ltd"},
		},
		"end customer, reseller never synchronized": {
			account:   endCustomer(),
			ancestors: []*provisioningv1.Ancestor{resellerAncestor(0, "")},
			remote:    free("it.beta-sl"),
			want:      []string{"parent_account= (read-only)", "role=User", "username=it.beta-sl"},
			wantDiags: []string{"ERROR PARENT_NOT_SYNCED parent_account"},
		},
		"end customer, no ancestors sent": {
			account:   endCustomer(),
			remote:    free("it.beta-sl"),
			want:      []string{"parent_account= (read-only)", "role=User", "username=it.beta-sl"},
			wantDiags: []string{"ERROR PARENT_NOT_SYNCED parent_account"},
		},
		"end customer, reseller pending": {
			account:   endCustomer(),
			ancestors: []*provisioningv1.Ancestor{resellerAncestor(pending, panda.RoleReseller)},
			remote:    free("it.beta-sl"),
			want:      []string{"parent_account= (read-only)", "role=User", "username=it.beta-sl"},
			wantDiags: []string{"ERROR PARENT_NOT_SYNCED parent_account"},
		},
		"end customer, reseller failed": {
			account:   endCustomer(),
			ancestors: []*provisioningv1.Ancestor{resellerAncestor(failed, panda.RoleReseller)},
			remote:    free("it.beta-sl"),
			want:      []string{"parent_account= (read-only)", "role=User", "username=it.beta-sl"},
			wantDiags: []string{"ERROR PARENT_NOT_SYNCED parent_account"},
		},
		"end customer, reseller synchronized as a User": {
			account:   endCustomer(),
			ancestors: []*provisioningv1.Ancestor{resellerAncestor(synced, panda.RoleUser)},
			remote:    free("it.beta-sl"),
			want:      []string{"parent_account= (read-only)", "role=User", "username=it.beta-sl"},
			wantDiags: []string{"ERROR PARENT_NOT_RESELLER parent_account"},
		},
		"end customer, reseller synchronized": {
			account:   endCustomer(),
			ancestors: []*provisioningv1.Ancestor{syncedReseller()},
			remote:    free("it.beta-sl"),
			want:      []string{"parent_account=" + resellerPanda + " (read-only)", "role=User", "username=it.beta-sl"},
		},
		"end customer, reseller active": {
			account:   endCustomer(),
			ancestors: []*provisioningv1.Ancestor{resellerAncestor(provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE, panda.RoleReseller)},
			remote:    free("it.beta-sl"),
			want:      []string{"parent_account=" + resellerPanda + " (read-only)", "role=User", "username=it.beta-sl"},
		},
		"ancestors that are not the parent": {
			account:   sub(endCustomer(), "R-999"),
			ancestors: []*provisioningv1.Ancestor{syncedReseller()},
			remote:    free("it.beta-sl"),
			want:      []string{"parent_account= (read-only)", "role=User", "username=it.beta-sl"},
			wantDiags: []string{"ERROR PARENT_NOT_SYNCED parent_account"},
		},
		"tier limit": {
			// root → R-200 → R-201 → E-400 is tier 3; max_tiers 2 refuses it.
			account: sub(endCustomer(), "R-201"),
			ancestors: []*provisioningv1.Ancestor{
				{Account: &provisioningv1.Account{Id: "R-201", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Sub", ParentId: "R-200"},
					Record: &provisioningv1.SyncRecord{Status: synced, RemoteId: "ACC-1000002", Values: map[string]string{"role": "Reseller"}}},
				syncedReseller(),
			},
			settings:  []string{panda.SettingMaxTiers, "2"},
			remote:    free("it.beta-sl"),
			want:      []string{"parent_account=ACC-1000002 (read-only)", "role=User", "username=it.beta-sl"},
			wantDiags: []string{"ERROR TIER_LIMIT parent_account"},
		},
		"tier 3 within the default limit": {
			account: sub(endCustomer(), "R-201"),
			ancestors: []*provisioningv1.Ancestor{
				{Account: &provisioningv1.Account{Id: "R-201", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Sub", ParentId: "R-200"},
					Record: &provisioningv1.SyncRecord{Status: synced, RemoteId: "ACC-1000002", Values: map[string]string{"role": "Reseller"}}},
				syncedReseller(),
			},
			remote: free("it.beta-sl"),
			want:   []string{"parent_account=ACC-1000002 (read-only)", "role=User", "username=it.beta-sl"},
		},
		"no corporate email: a warning, username from the company": {
			account:   &provisioningv1.Account{Id: "C-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Müller & Söhne GmbH"},
			remote:    free("muller-sohne-gmbh"),
			want:      []string{"role=User", "username=muller-sohne-gmbh"},
			wantDiags: []string{"WARNING INVALID_EMAIL account.corporate_email"},
		},
		"invalid corporate email: a warning": {
			account:   &provisioningv1.Account{Id: "C-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme", CorporateEmail: "Jane <jane@acme.example>"},
			remote:    free("acme0"),
			want:      []string{"role=User", "username=acme0"},
			wantDiags: []string{"WARNING INVALID_EMAIL account.corporate_email"},
		},
		"no company name": {
			account:   &provisioningv1.Account{Id: "C-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, CorporateEmail: "jane.doe@acme.example"},
			remote:    free("jane.doe"),
			want:      []string{"role=User", "username=jane.doe"},
			wantDiags: []string{"ERROR REQUIRED account.name"},
		},
		"suggestion taken: the next free variant": {
			account: directCustomer(),
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-5555555"}, nil)
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe-2").Return(&panda.Operator{Username: "jane.doe-2", AccountID: "ACC-5555555"}, nil)
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe-3").Return(nil, notFound("GetOperator"))
			},
			want: []string{"role=User", "username=jane.doe-3"},
		},
		"suggestion held by a look-alike account (same parent, name, email): taken, not ours": {
			account: directCustomer(),
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-7777777"}, nil)
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe-2").Return(nil, notFound("GetOperator"))
			},
			want: []string{"role=User", "username=jane.doe-2"},
		},
		"suggestion held by the failed record's own account: ours": {
			account: directCustomer(),
			record:  &provisioningv1.SyncRecord{AccountId: "C-100", Status: failed, RemoteId: "ACC-7777777"},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-7777777"}, nil)
			},
			want: []string{"role=User", "username=jane.doe"},
		},
		"synchronized: read-only, no remote call": {
			account: directCustomer(),
			record:  syncedRecord(synced),
			want:    []string{"role=User (read-only)", "username=jane.doe (read-only)"},
		},
		"failed record: editable again": {
			account: directCustomer(),
			record:  &provisioningv1.SyncRecord{AccountId: "C-100", Status: failed, Values: map[string]string{"username": "old.name"}},
			remote:  free("jane.doe"),
			want:    []string{"role=User", "username=jane.doe"},
		},
		"synchronized end customer: parent from the record even if the reseller is gone": {
			account: endCustomer(),
			record: &provisioningv1.SyncRecord{AccountId: "E-300", Status: synced, RemoteId: "ACC-3000003", RemoteParentId: resellerPanda,
				Values: map[string]string{"role": "User", "username": "it.beta-sl", "parent_account": resellerPanda}},
			want: []string{"parent_account=" + resellerPanda + " (read-only)", "role=User (read-only)", "username=it.beta-sl (read-only)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t, tc.settings...)
			if tc.remote != nil {
				tc.remote(m)
			}
			resp, err := a.GetSyncOptions(context.Background(), &provisioningv1.GetSyncOptionsRequest{
				Account: tc.account, Ancestors: tc.ancestors, Record: tc.record,
			})
			if err != nil {
				t.Fatalf("GetSyncOptions: %v", err)
			}
			if diff := cmp.Diff(tc.want, fieldValues(resp.GetFields())); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDiags, diagKeys(resp.GetDiagnostics()), cmpEmpty); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

func TestGetSyncOptionsFieldShape(t *testing.T) {
	t.Parallel()
	a, m := newMocked(t)
	m.EXPECT().GetOperator(gomock.Any(), "it.beta-sl").Return(nil, notFound("GetOperator"))
	resp, err := a.GetSyncOptions(context.Background(), &provisioningv1.GetSyncOptionsRequest{
		Account: endCustomer(), Ancestors: []*provisioningv1.Ancestor{syncedReseller()},
	})
	if err != nil {
		t.Fatal(err)
	}
	type shape struct {
		Key      string
		Kind     provisioningv1.FieldKind
		Order    int32
		Required bool
		ReadOnly bool
		AutoFill bool
		Choices  []string
	}
	var got []shape
	for _, f := range resp.GetFields() {
		s := shape{f.GetKey(), f.GetKind(), f.GetOrder(), f.GetRequired(), f.GetReadOnly(), f.GetAutoFill(), nil}
		for _, c := range f.GetChoices() {
			s.Choices = append(s.Choices, c.GetValue())
		}
		if f.GetLabel() == "" || f.GetDescription() == "" {
			t.Errorf("field %s lacks a label or description", f.GetKey())
		}
		got = append(got, s)
	}
	want := []shape{
		{"parent_account", provisioningv1.FieldKind_FIELD_KIND_ACCOUNT_REF, 1, false, true, true, nil},
		{"role", provisioningv1.FieldKind_FIELD_KIND_ENUM, 2, true, false, true, []string{"User", "Reseller"}},
		{"username", provisioningv1.FieldKind_FIELD_KIND_STRING, 3, true, false, true, nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestGetSyncOptionsRemoteErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err  error
		want string
	}{
		"unavailable":  {unavailable("GetOperator"), "Unavailable REMOTE_UNAVAILABLE"},
		"rate limited": {rateLimited("GetOperator"), "ResourceExhausted RATE_LIMITED"},
		"unauthorized": {unauthorized("GetOperator"), "FailedPrecondition REMOTE_UNAUTHORIZED settings"},
		"other":        {errBoom, "Internal"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t)
			m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(nil, tc.err)
			_, err := a.GetSyncOptions(context.Background(), &provisioningv1.GetSyncOptionsRequest{Account: directCustomer()})
			if got := errKey(err); got != tc.want {
				t.Errorf("error = %q (%v), want %q", got, err, tc.want)
			}
		})
	}
	t.Run("retry info carries Retry-After", func(t *testing.T) {
		t.Parallel()
		a, m := newMocked(t)
		m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(nil, rateLimited("GetOperator"))
		_, err := a.GetSyncOptions(context.Background(), &provisioningv1.GetSyncOptionsRequest{Account: directCustomer()})
		if d := wantCode(t, err, codes.ResourceExhausted); d.RetryAfter.Seconds() != 7 {
			t.Errorf("RetryAfter = %v, want 7s", d.RetryAfter)
		}
	})
}

package ledger_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/examples/ledger"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

const (
	customer = provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER
	reseller = provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
)

// configured returns a client of a ledger adapter, served in process and
// configured with a fresh database file.
func configured(t *testing.T) provisioningv1.ProvisioningAdapterClient {
	t.Helper()
	a := ledger.New(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = a.Close() })
	c := plugintest.InProcess(t, a)
	_, err := c.Configure(t.Context(), &provisioningv1.ConfigureRequest{Settings: map[string]string{
		ledger.SettingDatabase: filepath.Join(t.TempDir(), "ledger.db"),
	}})
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return c
}

func TestValidate(t *testing.T) {
	t.Parallel()
	c := configured(t)
	// A recorded reseller and a recorded customer, to be parents.
	for _, a := range []*provisioningv1.Account{{Id: "res", Type: reseller}, {Id: "cust", Type: customer}} {
		if _, err := c.Synchronize(t.Context(), &provisioningv1.SynchronizeRequest{Account: a, AutoFill: true}); err != nil {
			t.Fatalf("Synchronize(%s): %v", a.Id, err)
		}
	}
	type diagnostic struct{ Field, Code string }
	cases := map[string]struct {
		account *provisioningv1.Account
		values  map[string]string
		auto    bool
		want    []diagnostic
	}{
		"defaults":           {account: &provisioningv1.Account{Id: "a", Type: customer}, auto: true},
		"all set":            {account: &provisioningv1.Account{Id: "a", Type: customer}, values: map[string]string{"plan": "basic", "seats": "3", "note": "hi"}},
		"required missing":   {account: &provisioningv1.Account{Id: "a", Type: customer}, want: []diagnostic{{"plan", diag.CodeRequired}, {"seats", diag.CodeRequired}}},
		"unknown key":        {account: &provisioningv1.Account{Id: "a", Type: customer}, auto: true, values: map[string]string{"colour": "red"}, want: []diagnostic{{"colour", diag.CodeUnknownField}}},
		"unknown plan":       {account: &provisioningv1.Account{Id: "a", Type: customer}, auto: true, values: map[string]string{"plan": "gold"}, want: []diagnostic{{"plan", diag.CodeInvalidValue}}},
		"seats not a number": {account: &provisioningv1.Account{Id: "a", Type: customer}, auto: true, values: map[string]string{"seats": "many"}, want: []diagnostic{{"seats", diag.CodeInvalidValue}}},
		"seats zero":         {account: &provisioningv1.Account{Id: "a", Type: customer}, auto: true, values: map[string]string{"seats": "0"}, want: []diagnostic{{"seats", diag.CodeInvalidValue}}},
		"parent recorded":    {account: &provisioningv1.Account{Id: "a", Type: customer, ParentId: "res"}, auto: true},
		"parent not recorded": {account: &provisioningv1.Account{Id: "a", Type: customer, ParentId: "nobody"}, auto: true,
			want: []diagnostic{{"account.parent_id", diag.CodeParentNotSynced}}},
		"parent not a reseller": {account: &provisioningv1.Account{Id: "a", Type: customer, ParentId: "cust"}, auto: true,
			want: []diagnostic{{"account.parent_id", diag.CodeParentNotReseller}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, err := c.ValidateSyncOptions(t.Context(), &provisioningv1.ValidateSyncOptionsRequest{Account: tc.account, Values: tc.values, AutoFill: tc.auto})
			if err != nil {
				t.Fatalf("ValidateSyncOptions: %v", err)
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

func TestSynchronize(t *testing.T) {
	t.Parallel()
	c := configured(t)
	ctx := t.Context()
	res := &provisioningv1.Account{Id: "res", Type: reseller}
	end := &provisioningv1.Account{Id: "end", Type: customer, ParentId: "res"}

	// The end customer before its reseller: the state is wrong, not the input.
	_, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: end, AutoFill: true})
	if d := diag.Parse(err); d.Code != codes.FailedPrecondition || d.Reason != diag.CodeParentNotSynced {
		t.Fatalf("Synchronize before the reseller: %v, want FAILED_PRECONDITION %s", err, diag.CodeParentNotSynced)
	}
	first, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: res, AutoFill: true})
	if err != nil || !first.GetCreated() {
		t.Fatalf("Synchronize(res) = created %v, %v; want created", first.GetCreated(), err)
	}
	again, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: res, AutoFill: true})
	if err != nil || again.GetCreated() {
		t.Fatalf("second Synchronize(res) = created %v, %v; want a replay", again.GetCreated(), err)
	}
	if diff := cmp.Diff(first.GetRecord(), again.GetRecord(), protocmp.Transform()); diff != "" {
		t.Errorf("replay answered another record (-first +replay):\n%s", diff)
	}
	e, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: end, Values: map[string]string{"plan": "premium", "seats": "7"}})
	if err != nil {
		t.Fatalf("Synchronize(end): %v", err)
	}
	want := &provisioningv1.SyncRecord{
		Plugin: ledger.Name, AccountId: "end", Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED,
		RemoteId: "L-000002", RemoteParentId: first.GetRecord().GetRemoteId(),
		Values: map[string]string{"plan": "premium", "seats": "7"},
	}
	if diff := cmp.Diff(want, e.GetRecord(), protocmp.Transform(), protocmp.IgnoreFields(&provisioningv1.SyncRecord{}, "updated_at")); diff != "" {
		t.Errorf("end customer's record (-want +got):\n%s", diff)
	}

	// Invalid input: INVALID_ARGUMENT with a violation on the field.
	_, err = c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: res, Values: map[string]string{"plan": "gold", "seats": "1"}})
	if d := diag.Parse(err); d.Code != codes.InvalidArgument || len(d.Violations) != 1 || d.Violations[0].Field != "plan" {
		t.Errorf("Synchronize with plan=gold: %+v, want INVALID_ARGUMENT on plan", d)
	}

	// The form shows what was recorded.
	form, err := c.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: end})
	if err != nil {
		t.Fatalf("GetSyncOptions(end): %v", err)
	}
	got := map[string]string{}
	for _, f := range form.GetFields() {
		got[f.GetKey()] = f.GetValue()
	}
	if diff := cmp.Diff(map[string]string{"plan": "premium", "seats": "7", "note": ""}, got); diff != "" {
		t.Errorf("form values of a recorded account (-want +got):\n%s", diff)
	}
}

func TestGetSyncStatus(t *testing.T) {
	t.Parallel()
	c := configured(t)
	cases := map[string]struct {
		record *provisioningv1.SyncRecord
		want   provisioningv1.SyncStatus
	}{
		"never recorded":  {&provisioningv1.SyncRecord{AccountId: "nobody"}, provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED},
		"entry gone":      {&provisioningv1.SyncRecord{AccountId: "nobody", RemoteId: "L-000042"}, provisioningv1.SyncStatus_SYNC_STATUS_MISSING},
		"entry recorded:": {&provisioningv1.SyncRecord{AccountId: "cust"}, provisioningv1.SyncStatus_SYNC_STATUS_SYNCED},
	}
	if _, err := c.Synchronize(t.Context(), &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "cust", Type: customer}, AutoFill: true}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, err := c.GetSyncStatus(t.Context(), &provisioningv1.GetSyncStatusRequest{Record: tc.record})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.GetRecord().GetStatus(); got != tc.want {
				t.Errorf("status %s, want %s", got, tc.want)
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		settings map[string]string
		field    string // the violation's field; "" for success
	}{
		"ok":               {map[string]string{"database": filepath.Join(t.TempDir(), "l.db")}, ""},
		"missing database": {map[string]string{}, "database"},
		"unknown setting":  {map[string]string{"database": filepath.Join(t.TempDir(), "l.db"), "colour": "red"}, "colour"},
		"unopenable":       {map[string]string{"database": filepath.Join(t.TempDir(), "no", "such", "dir", "l.db")}, "database"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := ledger.New(slog.New(slog.DiscardHandler))
			t.Cleanup(func() { _ = a.Close() })
			_, err := plugintest.InProcess(t, a).Configure(t.Context(), &provisioningv1.ConfigureRequest{Settings: tc.settings})
			d := diag.Parse(err)
			var got string
			if len(d.Violations) > 0 {
				got = d.Violations[0].Field
			}
			if got != tc.field || (tc.field == "") != (err == nil) {
				t.Errorf("Configure: %v (violation on %q), want one on %q", err, got, tc.field)
			}
		})
	}
}

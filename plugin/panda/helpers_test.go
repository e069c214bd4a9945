package panda_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"
	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/panda"
	"github.com/cloudbss/provisioning/plugin/panda/internal/remotemock"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

const (
	root          = "ACC-0000001"
	resellerPanda = "ACC-1000001"
	testPassword  = "pw-7c5d1e-secret"
	testAPIKey    = "key-0a9f3b-secret"
)

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// settings are valid settings with fast transaction polling.
func settings(overrides ...string) map[string]string {
	s := map[string]string{
		panda.SettingAPIURL:         "http://panda.invalid",
		panda.SettingAccessID:       "bss-owner",
		panda.SettingPassword:       testPassword,
		panda.SettingAPIKey:         testAPIKey,
		panda.SettingRootAccountID:  root,
		panda.SettingTxPollInterval: "1ms",
		panda.SettingTxDeadline:     "30ms",
	}
	for i := 0; i+1 < len(overrides); i += 2 {
		if overrides[i+1] == "<delete>" {
			delete(s, overrides[i])
			continue
		}
		s[overrides[i]] = overrides[i+1]
	}
	return s
}

// newMocked returns a configured adapter whose Panda client is a mock.
func newMocked(t *testing.T, overrides ...string) (*panda.Adapter, *remotemock.MockRemote) {
	t.Helper()
	ctrl := gomock.NewController(t)
	api := remotemock.NewMockRemote(ctrl)
	a := panda.New(
		panda.WithRemote(func(panda.Config) (panda.Remote, error) { return api, nil }),
		panda.WithClock(func() time.Time { return fixedNow }),
	)
	if _, err := a.Configure(context.Background(), &provisioningv1.ConfigureRequest{Settings: settings(overrides...)}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return a, api
}

// Accounts of the three scenarios of the form.

func directCustomer() *provisioningv1.Account {
	return &provisioningv1.Account{
		Id: "C-100", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme Corp",
		CorporateEmail: "jane.doe@acme.example", Contact: &provisioningv1.Contact{FirstName: "Jane", LastName: "Doe"},
		Country: "ES", Language: "es-ES",
	}
}

func resellerAccount() *provisioningv1.Account {
	return &provisioningv1.Account{
		Id: "R-200", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Resell Ltd",
		CorporateEmail: "ops@resell.example", Contact: &provisioningv1.Contact{FirstName: "Olga", LastName: "Petrova"},
	}
}

func endCustomer() *provisioningv1.Account {
	return &provisioningv1.Account{
		Id: "E-300", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Beta SL",
		CorporateEmail: "it@beta.example", ParentId: "R-200",
	}
}

// resellerAncestor is the reseller with a record of the given status and
// role; status 0 means no record at all.
func resellerAncestor(status provisioningv1.SyncStatus, role string) *provisioningv1.Ancestor {
	an := &provisioningv1.Ancestor{Account: resellerAccount()}
	if status != 0 {
		an.Record = &provisioningv1.SyncRecord{
			Plugin: "panda", AccountId: "R-200", Status: status, RemoteId: resellerPanda, RemoteParentId: root,
			Values: map[string]string{panda.FieldRole: role, panda.FieldUsername: "ops.resell-ltd"},
		}
	}
	return an
}

func syncedReseller() *provisioningv1.Ancestor {
	return resellerAncestor(provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, panda.RoleReseller)
}

// syncedRecord is the record of a synchronized direct customer.
func syncedRecord(status provisioningv1.SyncStatus) *provisioningv1.SyncRecord {
	return &provisioningv1.SyncRecord{
		Plugin: "panda", AccountId: "C-100", Status: status, RemoteId: "ACC-2000001", RemoteParentId: root,
		Values:  map[string]string{panda.FieldRole: panda.RoleUser, panda.FieldUsername: "jane.doe"},
		Message: "operator jane.doe created; waiting for the customer to activate it from the emailed instructions",
	}
}

// Panda client errors as the real client builds them.

func notFound(op string) error {
	return &panda.RemoteError{Kind: panda.ErrNotFound, Code: "NOT_FOUND", Message: op + ": not found"}
}

func unavailable(op string) error {
	return &panda.RemoteError{Kind: panda.ErrUnavailable, Message: op + ": service temporarily unavailable", RetryAfter: 3 * time.Second}
}

func rateLimited(op string) error {
	return &panda.RemoteError{Kind: panda.ErrRateLimited, Message: op + ": slow down", RetryAfter: 7 * time.Second}
}

func unauthorized(op string) error {
	return &panda.RemoteError{Kind: panda.ErrUnauthorized, Code: "INVALID_TOKEN", Message: op + ": token refused"}
}

func lostAnswer(op string) error {
	return &panda.RemoteError{Kind: panda.ErrUnavailable, Message: op + ": internal error", MayHaveCommitted: true}
}

// diagKeys renders diagnostics compactly for table comparisons:
// "ERROR PARENT_NOT_SYNCED parent_account".
func diagKeys(ds []*provisioningv1.Diagnostic) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s %s %s", strings.TrimPrefix(d.GetSeverity().String(), "SEVERITY_"), d.GetCode(), d.GetField()))
	}
	slices.Sort(out)
	return out
}

// fieldValues renders a form as key=value(flags).
func fieldValues(fs []*provisioningv1.Field) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		s := f.GetKey() + "=" + f.GetValue()
		if f.GetReadOnly() {
			s += " (read-only)"
		}
		out = append(out, s)
	}
	return out
}

// errKey renders an error as "CODE REASON field,field".
func errKey(err error) string {
	if err == nil {
		return "OK"
	}
	d := diag.Parse(err)
	var fields []string
	for _, v := range d.Violations {
		fields = append(fields, v.Field)
	}
	slices.Sort(fields)
	fields = slices.Compact(fields)
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", d.Code, d.Reason, strings.Join(fields, ",")))
}

func wantCode(t *testing.T, err error, code codes.Code) diag.Details {
	t.Helper()
	d := diag.Parse(err)
	if d.Code != code {
		t.Fatalf("error = %v, want code %v", err, code)
	}
	return d
}

var errBoom = errors.New("boom")

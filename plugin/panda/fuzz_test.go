package panda_test

import (
	"context"
	"hash/fnv"
	"testing"

	"go.uber.org/mock/gomock"
	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/panda"
	"github.com/cloudbss/provisioning/plugin/panda/internal/remotemock"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// fakePanda makes the mock answer everything consistently: a username is
// taken by a stranger when its hash is odd; creates succeed.
func fakePanda(m *remotemock.MockRemote) {
	taken := func(u string) bool {
		h := fnv.New32a()
		h.Write([]byte(u))
		return h.Sum32()%2 == 1
	}
	m.EXPECT().GetOperator(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u string) (*panda.Operator, error) {
		if taken(u) {
			return &panda.Operator{Username: u, AccountID: "ACC-5555555"}, nil
		}
		return nil, notFound("GetOperator")
	}).AnyTimes()
	m.EXPECT().GetAccount(gomock.Any(), gomock.Any()).Return(&panda.RemoteAccount{ID: "ACC-5555555", ParentID: root, Type: 2, Name: "Stranger", Email: "s@stranger.example"}, nil).AnyTimes()
	m.EXPECT().ListChildren(gomock.Any(), gomock.Any(), gomock.Any()).Return(&panda.AccountPage{}, nil).AnyTimes()
	m.EXPECT().CreateAccount(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, parent string, req panda.CreateAccountRequest) (*panda.RemoteAccount, error) {
		return &panda.RemoteAccount{ID: newPanda, ParentID: parent, Type: req.Type, Name: req.Name, Email: req.Email}, nil
	}).AnyTimes()
	m.EXPECT().CreateOperator(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, req panda.CreateOperatorRequest) (*panda.Transaction, error) {
		if !panda.ValidUsername(req.Username) {
			return nil, &panda.RemoteError{Kind: panda.ErrInvalid, Code: "INVALID_USERNAME"}
		}
		st, code := panda.TransactionSuccess, ""
		if taken(req.Username) {
			st, code = panda.TransactionFailed, panda.TxErrUsernameTaken
		}
		return &panda.Transaction{ID: "TX-" + req.Username, Status: panda.TransactionPending, ErrorCode: code, Error: string(st)}, nil
	}).AnyTimes()
	m.EXPECT().GetTransaction(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id string) (*panda.Transaction, error) {
		u := id[len("TX-"):]
		if taken(u) {
			return &panda.Transaction{ID: id, Status: panda.TransactionFailed, ErrorCode: panda.TxErrUsernameTaken}, nil
		}
		return &panda.Transaction{ID: id, Status: panda.TransactionSuccess}, nil
	}).AnyTimes()
	m.EXPECT().ListOperators(gomock.Any(), gomock.Any()).Return(nil, nil).AnyTimes()
	m.EXPECT().DeleteAccount(gomock.Any(), gomock.Any()).Return(nil).AnyTimes()
}

// FuzzValidateSyncOptions feeds arbitrary accounts and values to the rules.
// Whatever comes in: no panic; every error diagnostic and every violation of
// a failed call names a field; values answered are well-formed; and
// ValidateSyncOptions and Synchronize agree on whether the request is
// acceptable.
func FuzzValidateSyncOptions(f *testing.F) {
	f.Add("C-100", int32(1), "Acme Corp", "jane.doe@acme.example", "", "User", "jane.doe", "", "", false, int32(0), "")
	f.Add("C-100", int32(1), "Acme Corp", "jane.doe@acme.example", "", "", "", "", "", true, int32(0), "")
	f.Add("R-200", int32(2), "Resell Ltd", "ops@resell.example", "", "Reseller", "", "", "", true, int32(0), "")
	f.Add("E-300", int32(1), "Beta SL", "it@beta.example", "R-200", "", "", "", "", true, int32(0), "")
	f.Add("E-300", int32(1), "Beta SL", "it@beta.example", "R-200", "User", "beta.admin", "parent_account", "ACC-1000001", false, int32(3), "Reseller")
	f.Add("E-300", int32(1), "Beta SL", "it@beta.example", "R-200", "User", "beta.admin", "", "", false, int32(3), "User")
	f.Add("E-300", int32(1), "Beta SL", "it@beta.example", "R-200", "User", "beta.admin", "", "", false, int32(2), "Reseller")
	f.Add("", int32(0), "", "", "", "", "", "", "", false, int32(0), "")
	f.Add("C-1", int32(7), "x", "@", "", "Reseller", "a b", "colour", "red", false, int32(0), "")
	f.Add("C-1", int32(1), "Ünïcödé ☃ Co", "ñ@ü.example", "", "", "", "", "x", true, int32(-1), "\x00")
	f.Add("C-1", int32(1), "\xff\xfe", "a@b.c", "\xff", "User", "-----", "\xff", "", false, int32(4), "Reseller")
	f.Fuzz(func(t *testing.T, id string, typ int32, name, email, parentID, role, username, extraKey, extraVal string, autoFill bool, parentStatus int32, parentRole string) {
		a, m := newMocked(t)
		fakePanda(m)
		acc := &provisioningv1.Account{Id: id, Type: provisioningv1.AccountType(typ), Name: name, CorporateEmail: email, ParentId: parentID}
		var ancestors []*provisioningv1.Ancestor
		if parentID != "" {
			an := &provisioningv1.Ancestor{Account: &provisioningv1.Account{Id: parentID, Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Parent"}}
			if parentStatus != 0 {
				an.Record = &provisioningv1.SyncRecord{Status: provisioningv1.SyncStatus(parentStatus), RemoteId: resellerPanda, Values: map[string]string{"role": parentRole}}
			}
			ancestors = append(ancestors, an)
		}
		values := map[string]string{}
		if role != "" {
			values["role"] = role
		}
		if username != "" {
			values["username"] = username
		}
		if extraKey != "" || extraVal != "" {
			values[extraKey] = extraVal
		}
		ctx := context.Background()

		v, verr := a.ValidateSyncOptions(ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: acc, Ancestors: ancestors, Values: values, AutoFill: autoFill})
		s, serr := a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, Ancestors: ancestors, Values: values, AutoFill: autoFill})
		checkViolations(t, "ValidateSyncOptions", verr)
		checkViolations(t, "Synchronize", serr)
		if verr != nil {
			if serr == nil {
				t.Fatalf("Synchronize accepted what ValidateSyncOptions rejected: %v", verr)
			}
			return
		}
		for _, d := range v.GetDiagnostics() {
			if d.GetField() == "" || d.GetCode() == "" || d.GetSummary() == "" || d.GetSeverity() == provisioningv1.Severity_SEVERITY_UNSPECIFIED {
				t.Errorf("incomplete diagnostic: %v", d)
			}
		}
		if r := v.GetValues()["role"]; r != "" && r != panda.RoleUser && r != panda.RoleReseller {
			t.Errorf("answered role %q", r)
		}
		if u := v.GetValues()["username"]; u != "" && !panda.ValidUsername(u) {
			t.Errorf("answered username %q breaks the rule", u)
		}
		rejected := diag.HasErrors(v.GetDiagnostics())
		if rejected != (serr != nil) {
			t.Fatalf("ValidateSyncOptions rejects: %v (%v), Synchronize fails: %v", rejected, diagKeys(v.GetDiagnostics()), serr)
		}
		if serr == nil && s.GetRecord().GetValues()["username"] == "" {
			t.Errorf("synchronized without a username: %v", s.GetRecord())
		}
	})
}

// checkViolations: a failed call is a status with a code from the
// contract, and each of its violations names a field.
func checkViolations(t *testing.T, rpc string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	d := diag.Parse(err)
	switch d.Code {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists:
		if len(d.Violations) == 0 {
			t.Fatalf("%s: %v without violations", rpc, err)
		}
	default:
		t.Fatalf("%s: unexpected %v", rpc, err)
	}
	for _, v := range d.Violations {
		if v.Field == "" || v.Reason == "" {
			t.Fatalf("%s: violation without a field or reason: %+v", rpc, v)
		}
	}
}

// FuzzSuggestUsername: whatever the account, the suggestion and every
// variant satisfy Panda's username rule.
func FuzzSuggestUsername(f *testing.F) {
	f.Add("Acme Corp", "jane.doe@acme.example")
	f.Add("", "")
	f.Add("Müller & Söhne", "info@mueller.de")
	f.Add("\xff", "\xff@\xff.x")
	f.Add("ab", "a@b.cd")
	f.Fuzz(func(t *testing.T, name, email string) {
		base := panda.SuggestUsername(&provisioningv1.Account{Name: name, CorporateEmail: email})
		for n := 1; n <= 12; n++ {
			if u := panda.UsernameVariant(base, n); !panda.ValidUsername(u) {
				t.Fatalf("variant %d of %q is %q", n, base, u)
			}
		}
	})
}

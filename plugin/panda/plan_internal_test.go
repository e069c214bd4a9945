package panda

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestInterpretTx(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		tx   Transaction
		want txOutcome
	}{
		"pending":              {Transaction{Status: TransactionPending}, txPending},
		"undocumented status":  {Transaction{Status: "QUEUED"}, txPending},
		"no status":            {Transaction{}, txPending},
		"success":              {Transaction{Status: TransactionSuccess}, txCreated},
		"username taken":       {Transaction{Status: TransactionFailed, ErrorCode: TxErrUsernameTaken}, txUsernameTaken},
		"account gone":         {Transaction{Status: TransactionFailed, ErrorCode: TxErrAccountGone}, txAccountGone},
		"refused":              {Transaction{Status: TransactionFailed, ErrorCode: "QUOTA"}, txRefused},
		"refused without code": {Transaction{Status: TransactionFailed}, txRefused},
		"code without failure": {Transaction{Status: TransactionSuccess, ErrorCode: TxErrUsernameTaken}, txCreated},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := interpretTx(&tc.tx); got != tc.want {
				t.Errorf("interpretTx(%+v) = %d, want %d", tc.tx, got, tc.want)
			}
		})
	}
}

func TestPlanSync(t *testing.T) {
	t.Parallel()
	acc := &provisioningv1.Account{Id: "C-1", Name: " Acme ", CorporateEmail: "jane@acme.example", Contact: &provisioningv1.Contact{FirstName: "Jane", LastName: "Doe"}}
	pending := func(private []byte) *provisioningv1.SyncRecord {
		return &provisioningv1.SyncRecord{Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING, RemoteId: "ACC-2", Private: private}
	}
	owner := &ownedOperator{op: &Operator{Username: "jane.doe", AccountID: "ACC-2"}}
	tests := map[string]struct {
		ev        evaluation
		wantStep  syncStep
		wantTx    string
		wantPatch *UpdateAccountRequest
		wantErr   bool
	}{
		"new account":            {ev: evaluation{username: "jane.doe"}, wantStep: stepCreate},
		"operator found":         {ev: evaluation{username: "jane.doe", owner: owner}, wantStep: stepAdopt},
		"owner beats pending tx": {ev: evaluation{owner: owner, bound: pending(encodePrivate(privateState{TxID: "TX-1"}))}, wantStep: stepAdopt},
		"pending transaction":    {ev: evaluation{bound: pending(encodePrivate(privateState{TxID: "TX-1"}))}, wantStep: stepResume, wantTx: "TX-1"},
		"pending, private lost":  {ev: evaluation{bound: pending([]byte("garbage"))}, wantStep: stepCreate},
		"error diagnostic":       {ev: evaluation{diags: []*provisioningv1.Diagnostic{diag.Error("role", diag.CodeRequired, "role is required", "")}}, wantErr: true},
		"operator found, account data unchanged: adopt, nothing written": {
			ev:       evaluation{owner: owner, remote: &RemoteAccount{ID: "ACC-2", Name: "Acme", FirstName: "Jane", LastName: "Doe", Email: "jane@acme.example"}},
			wantStep: stepAdopt,
		},
		"operator found, email differs in case only: adopt": {
			ev:       evaluation{owner: owner, remote: &RemoteAccount{ID: "ACC-2", Name: "Acme", FirstName: "Jane", LastName: "Doe", Email: "JANE@acme.example"}},
			wantStep: stepAdopt,
		},
		"operator found, renamed: update": {
			ev:        evaluation{owner: owner, remote: &RemoteAccount{ID: "ACC-2", Name: "Acme Old", FirstName: "Jane", LastName: "Doe", Email: "jane@acme.example"}},
			wantStep:  stepUpdate,
			wantPatch: &UpdateAccountRequest{Name: "Acme", FirstName: "Jane", LastName: "Doe", Email: "jane@acme.example"},
		},
		"operator found, contact changed: update": {
			ev:        evaluation{owner: owner, remote: &RemoteAccount{ID: "ACC-2", Name: "Acme", FirstName: "Juana", LastName: "Doe", Email: "jane@acme.example"}},
			wantStep:  stepUpdate,
			wantPatch: &UpdateAccountRequest{Name: "Acme", FirstName: "Jane", LastName: "Doe", Email: "jane@acme.example"},
		},
		"refusal (PARENT_CHANGED): no plan": {
			ev:      evaluation{owner: owner, diags: []*provisioningv1.Diagnostic{diag.Error("account.parent_id", diag.CodeParentChanged, "moved", "")}},
			wantErr: true,
		},
		"warning only": {
			ev:       evaluation{diags: []*provisioningv1.Diagnostic{diag.Warning("account.corporate_email", diag.CodeInvalidEmail, "bad", "")}},
			wantStep: stepCreate,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := planSync(acc, &tc.ev)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("planSync = %+v, want an error", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("planSync: %v", err)
			}
			if p.step != tc.wantStep || p.txID != tc.wantTx {
				t.Errorf("planSync: step %d tx %q, want step %d tx %q", p.step, p.txID, tc.wantStep, tc.wantTx)
			}
			if diff := cmp.Diff(tc.wantPatch, p.patch); diff != "" {
				t.Errorf("planSync: patch (-want +got):\n%s", diff)
			}
			if len(p.warnings) != len(diag.Warnings(tc.ev.diags)) {
				t.Errorf("planSync: %d warnings, want %d", len(p.warnings), len(diag.Warnings(tc.ev.diags)))
			}
		})
	}
}

// The plan is the executor's only input and must not share the
// evaluation's values map: a run that moves to another username variant
// changes neither.
func TestPlanSyncCopiesValues(t *testing.T) {
	t.Parallel()
	ev := &evaluation{username: "jane.doe", values: map[string]string{FieldUsername: "jane.doe"}}
	p, err := planSync(&provisioningv1.Account{Id: "C-1"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	p.values[FieldUsername] = "other"
	if ev.values[FieldUsername] != "jane.doe" {
		t.Errorf("evaluation values changed through the plan: %v", ev.values)
	}
}

// The parent's failure reason reaches the caller as ErrorInfo metadata.
func TestPlanSyncParentErrorReason(t *testing.T) {
	t.Parallel()
	ev := &evaluation{
		diags:             []*provisioningv1.Diagnostic{diag.Error(FieldParentAccount, diag.CodeParentNotSynced, "reseller failed", "")},
		parentErrorReason: diag.CodeInvalidEmail,
	}
	_, err := planSync(&provisioningv1.Account{Id: "E-1"}, ev)
	st, _ := status.FromError(err)
	var md map[string]string
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			md = ei.GetMetadata()
		}
	}
	if want := map[string]string{"field": FieldParentAccount, "parent_error_reason": diag.CodeInvalidEmail}; !cmp.Equal(md, want) {
		t.Errorf("metadata = %v, want %v (err %v)", md, want, err)
	}
	if d := diag.Parse(err); d.Code != codes.FailedPrecondition || d.Reason != diag.CodeParentNotSynced || len(d.Violations) == 0 {
		t.Errorf("details lost on the way: %+v", d)
	}
}

func TestJournal(t *testing.T) {
	t.Parallel()
	var j journal
	j.created("S-1", "ACC-1")
	if !j.claimedByOther("S-2", "ACC-1") || j.claimedByOther("S-1", "ACC-1") {
		t.Error("ACC-1 is S-1's, and only S-1's")
	}
	j.answered(&provisioningv1.SyncRecord{AccountId: "S-1", Status: provisioningv1.SyncStatus_SYNC_STATUS_FAILED, RemoteId: "ACC-9"})
	if e, _ := j.get("S-1"); e.remoteID != "ACC-1" {
		t.Errorf("a FAILED record replaced the entry: %+v", e)
	}
	rec := &provisioningv1.SyncRecord{AccountId: "S-1", Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: "ACC-1", Values: map[string]string{FieldUsername: "u1234"}}
	j.answered(rec)
	if e, _ := j.get("S-1"); e.record != rec {
		t.Errorf("entry = %+v, want the record", e)
	}
	if ids := ownRemoteIDs(&provisioningv1.SyncRecord{AccountId: "S-1", Status: provisioningv1.SyncStatus_SYNC_STATUS_DELETED, RemoteId: "ACC-0"}, &j, "S-1"); !cmp.Equal(ids, []string{"ACC-1"}) {
		t.Errorf("own ids = %v: a DELETED record's account is no longer its own", ids)
	}
	if ids := ownRemoteIDs(nil, &j, "S-2"); len(ids) != 0 {
		t.Errorf("S-2 owns %v", ids)
	}
	j.forget("S-1")
	if _, ok := j.get("S-1"); ok {
		t.Error("forget kept the entry")
	}
	j.created("S-1", "ACC-1")
	j.forget("S-1")
	j.created("S-1", "ACC-1")
	if len(j.order) != 1 {
		t.Errorf("order = %v after forget and re-add, want S-1 once", j.order)
	}
	for i := range journalCap + 5 {
		j.created("X-"+strconv.Itoa(i), "ACC")
	}
	if _, ok := j.get("S-1"); ok {
		t.Error("the oldest entry survived eviction")
	}
	// S-1 and X-0..X-(cap+4): the six oldest go.
	_, gone := j.get("X-4")
	if _, kept := j.get("X-5"); gone || !kept || len(j.m) != journalCap || len(j.order) != journalCap {
		t.Errorf("journal holds %d entries, order %d (X-4 kept: %v, X-5 kept: %v), want %d without the six oldest", len(j.m), len(j.order), gone, kept, journalCap)
	}
}

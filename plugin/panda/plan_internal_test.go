package panda

import (
	"testing"

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
	acc := &provisioningv1.Account{Id: "C-1"}
	pending := func(private []byte) *provisioningv1.SyncRecord {
		return &provisioningv1.SyncRecord{Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING, RemoteId: "ACC-2", Private: private}
	}
	owner := &ownedOperator{op: &Operator{Username: "jane.doe", AccountID: "ACC-2"}}
	tests := map[string]struct {
		ev       evaluation
		wantStep syncStep
		wantTx   string
		wantErr  bool
	}{
		"new account":            {ev: evaluation{username: "jane.doe"}, wantStep: stepCreate},
		"operator found":         {ev: evaluation{username: "jane.doe", owner: owner}, wantStep: stepAdopt},
		"owner beats pending tx": {ev: evaluation{owner: owner, bound: pending(encodePrivate(privateState{TxID: "TX-1"}))}, wantStep: stepAdopt},
		"pending transaction":    {ev: evaluation{bound: pending(encodePrivate(privateState{TxID: "TX-1"}))}, wantStep: stepResume, wantTx: "TX-1"},
		"pending, private lost":  {ev: evaluation{bound: pending([]byte("garbage"))}, wantStep: stepCreate},
		"error diagnostic":       {ev: evaluation{diags: []*provisioningv1.Diagnostic{diag.Error("role", diag.CodeRequired, "role is required", "")}}, wantErr: true},
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

package panda

import (
	"maps"
	"strings"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// syncStep is what Synchronize does for an account, decided before anything
// is written. Each step is one executor path of syncRun; work of another
// kind (updating a changed name or email, refusing a changed parent or
// role, deleting) is a step of its own decided here from the evaluation,
// not a branch inside an executor.
type syncStep int

const (
	// stepAdopt: the operator already exists on the subject's Panda account
	// (the record's, or an earlier attempt's whose answer was lost); answer
	// it without writing anything.
	stepAdopt syncStep = iota + 1
	// stepResume: a PENDING record holds the operator transaction of an
	// earlier call; settle it. When its work turns out to be gone, create.
	stepResume
	// stepCreate: reuse the subject's own Panda account that has no
	// operator yet (the record's, or one this process created for it) or
	// create one, then create the operator.
	stepCreate
	// stepUpdate: the operator exists on the subject's Panda account, but
	// the account's name, contact or email differ from the BSS account's:
	// PATCH them (updated=true).
	stepUpdate
)

// syncPlan is Synchronize's plan for one account: the evaluation's
// conclusions and the step to take. It is built once, by planSync, and only
// read afterwards; what the executor learns on the way (a username taken
// meanwhile) lives in the executor, not here.
type syncPlan struct {
	step    syncStep
	account *provisioningv1.Account
	// bound is the record when it holds remote objects (see evaluation).
	bound *provisioningv1.SyncRecord
	// remoteParent and role say where and what the Panda account is.
	remoteParent string
	role         string
	// username is the operator's; values are the record's values with it.
	username string
	values   map[string]string
	// suggestion and variant are set when username is the plugin's
	// suggestion (auto_fill): a collision may move on to variant+1.
	suggestion string
	variant    int
	// owner is the operator to adopt (stepAdopt, stepUpdate).
	owner *ownedOperator
	// patch is what stepUpdate sends.
	patch *UpdateAccountRequest
	// own are the subject's own Panda accounts (see ownRemoteIDs).
	own []string
	// private is the private of a settled record: the synchronized type.
	private []byte
	// txID is the transaction to settle (stepResume).
	txID string
	// warnings go with every answer.
	warnings []*provisioningv1.Diagnostic
}

// planSync turns an evaluation into a plan, or into the error its error
// diagnostics make.
func planSync(acc *provisioningv1.Account, ev *evaluation) (*syncPlan, error) {
	if err := diag.ToError(ev.diags); err != nil {
		if ev.parentErrorReason != "" && diag.Parse(err).Reason == diag.CodeParentNotSynced {
			err = withErrorMetadata(err, map[string]string{"parent_error_reason": ev.parentErrorReason})
		}
		return nil, err
	}
	p := &syncPlan{
		step:         stepCreate,
		account:      acc,
		bound:        ev.bound,
		remoteParent: ev.remoteParent,
		role:         ev.role,
		username:     ev.username,
		values:       maps.Clone(ev.values),
		owner:        ev.owner,
		own:          ev.own,
		private:      settledPrivateFor(ev.bound, acc),
		warnings:     diag.Warnings(ev.diags),
	}
	if ev.suggested {
		p.suggestion, p.variant = ev.suggestion, ev.variant
	}
	switch b := ev.bound; {
	case ev.owner != nil:
		p.step = stepAdopt
		if want := wantedAccount(acc); ev.remote != nil && !sameAccountData(ev.remote, want) {
			p.step, p.patch = stepUpdate, &want
		}
	case b != nil && b.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_PENDING:
		if priv, ok := decodePrivate(b.GetPrivate()); ok && priv.TxID != "" {
			p.step, p.txID = stepResume, priv.TxID
		}
	}
	return p, nil
}

// txOutcome is what a settled or pending operator transaction means to the
// adapter.
type txOutcome int

const (
	// txPending: Panda is still creating the operator.
	txPending txOutcome = iota + 1
	// txCreated: the operator exists.
	txCreated
	// txUsernameTaken: an operator has the username; possibly ours, from a
	// request whose answer was lost, so the operator decides.
	txUsernameTaken
	// txAccountGone: the account was deleted before the operator was made.
	txAccountGone
	// txRefused: Panda refused the operator for another reason, which
	// refusedMessage reports.
	txRefused
)

// interpretTx is the one reading of a transaction. A status Panda does not
// document counts as pending: nothing is claimed until it settles.
func interpretTx(tx *Transaction) txOutcome {
	switch tx.Status {
	case TransactionSuccess:
		return txCreated
	case TransactionFailed:
		switch tx.ErrorCode {
		case TxErrUsernameTaken:
			return txUsernameTaken
		case TxErrAccountGone:
			return txAccountGone
		}
		return txRefused
	}
	return txPending
}

// settledPrivateFor is the private of the subject's settled record: a
// record created now says the account's type; a bound record keeps what it
// says (a record of an earlier version is not rewritten, so that a replay
// answers it unchanged).
func settledPrivateFor(bound *provisioningv1.SyncRecord, acc *provisioningv1.Account) []byte {
	if bound != nil {
		return settledPrivate(bound)
	}
	return encodePrivate(privateState{Type: privateTypeOf(acc.GetType())})
}

// recordType is privateState.Type for the subject's record: what the bound
// record says it was synchronized as, else the account's type now.
func recordType(bound *provisioningv1.SyncRecord, acc *provisioningv1.Account) string {
	if t := syncedType(bound); t != provisioningv1.AccountType_ACCOUNT_TYPE_UNSPECIFIED && bound != nil {
		return privateTypeOf(t)
	}
	return privateTypeOf(acc.GetType())
}

// wantedAccount is the account data Panda should hold for acc, as a create
// or an update sends it.
func wantedAccount(acc *provisioningv1.Account) UpdateAccountRequest {
	return UpdateAccountRequest{
		Name:      strings.TrimSpace(acc.GetName()),
		FirstName: clipName(acc.GetContact().GetFirstName()),
		LastName:  clipName(acc.GetContact().GetLastName()),
		Email:     acc.GetCorporateEmail(),
	}
}

// sameAccountData reports whether Panda already holds want. Emails compare
// case-insensitively: a change of case alone is not worth a write.
func sameAccountData(pa *RemoteAccount, want UpdateAccountRequest) bool {
	return pa.Name == want.Name && pa.FirstName == want.FirstName && pa.LastName == want.LastName &&
		strings.EqualFold(pa.Email, want.Email)
}

package panda

import (
	"maps"

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
	// stepCreate: find an earlier attempt's account without an operator or
	// create one, then create the operator.
	stepCreate
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
	// owner is the operator to adopt (stepAdopt).
	owner *ownedOperator
	// txID is the transaction to settle (stepResume).
	txID string
	// warnings go with every answer.
	warnings []*provisioningv1.Diagnostic
}

// planSync turns an evaluation into a plan, or into the error its error
// diagnostics make.
func planSync(acc *provisioningv1.Account, ev *evaluation) (*syncPlan, error) {
	if err := diag.ToError(ev.diags); err != nil {
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
		warnings:     diag.Warnings(ev.diags),
	}
	if ev.suggested {
		p.suggestion, p.variant = ev.suggestion, ev.variant
	}
	switch b := ev.bound; {
	case ev.owner != nil:
		p.step = stepAdopt
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

package panda

import (
	"context"
	"errors"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// GetSyncStatus refreshes a record from Panda:
//
//   - PENDING with a transaction in private: one read of the transaction.
//     Still pending stays PENDING; FAILED becomes FAILED with Panda's reason
//     (or MISSING when the account was deleted meanwhile); SUCCESS goes on
//     to the operator check.
//   - SYNCED, ACTIVE, MISSING: one read of the operator. On the record's
//     account it is SYNCED until the customer activates it, then ACTIVE.
//     Gone: one read of the account, MISSING either way, with a message
//     saying whether the account or only its operator disappeared.
//   - NOT_SYNCED, FAILED, DELETED, or no remote account: nothing remote to
//     look at; the record is returned unchanged.
//   - With the account in the request, a SYNCED or ACTIVE record's Panda
//     account is read too: a Panda User converted to a service provider in
//     WatchGuard's console is adopted when the BSS account is a reseller
//     (the record's role becomes Reseller), and every field where Panda
//     and the BSS disagree (name, email, parent, type) is a REMOTE_DRIFT
//     warning whose summary gives both values.
//
// It never creates anything: a pending transaction settles on Panda's side
// and is only read here. The record comes back unchanged (same updated_at)
// when nothing changed.
func (a *Adapter) GetSyncStatus(ctx context.Context, req *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	rec := req.GetRecord()
	switch {
	case rec == nil:
		return nil, diag.InvalidArgument(fieldRecord, diag.CodeRequired, "record is required")
	case rec.GetAccountId() == "":
		return nil, diag.InvalidArgument(fieldRecordID, diag.CodeRequired, "record.account_id is required")
	}
	out, err := a.refresh(ctx, st, rec)
	if err != nil {
		return nil, err
	}
	var ds []*provisioningv1.Diagnostic
	if acc := req.GetAccount(); acc != nil && acc.GetId() == rec.GetAccountId() && isSynced(out) {
		if out, ds, err = a.compareRemote(ctx, st, out, acc, req.GetAncestors()); err != nil {
			return nil, err
		}
	}
	if out.GetStatus() != rec.GetStatus() {
		a.logger.InfoContext(ctx, "sync status changed", "account_id", rec.GetAccountId(), "remote_id", rec.GetRemoteId(),
			"from", rec.GetStatus().String(), "to", out.GetStatus().String())
	}
	return &provisioningv1.GetSyncStatusResponse{Record: out, Diagnostics: ds}, nil
}

func (a *Adapter) refresh(ctx context.Context, st *configured, rec *provisioningv1.SyncRecord) (*provisioningv1.SyncRecord, error) {
	const (
		pending = provisioningv1.SyncStatus_SYNC_STATUS_PENDING
		failed  = provisioningv1.SyncStatus_SYNC_STATUS_FAILED
		missing = provisioningv1.SyncStatus_SYNC_STATUS_MISSING
	)
	switch rec.GetStatus() {
	case pending, provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE, missing:
	default:
		return rec, nil
	}
	remoteID := rec.GetRemoteId()
	if remoteID == "" {
		return rec, nil
	}
	username := rec.GetValues()[FieldUsername]
	now := a.now()

	if p, ok := decodePrivate(rec.GetPrivate()); ok && p.TxID != "" && rec.GetStatus() == pending {
		tx, err := st.api.GetTransaction(ctx, p.TxID)
		switch {
		case errors.Is(err, ErrNotFound):
			// Panda forgot it: the operator check below tells what happened.
		case err != nil:
			return nil, remoteError(ctx, "reading operator transaction "+p.TxID, err)
		default:
			switch interpretTx(tx) {
			case txPending:
				return updated(rec, pending, pendingMessage(username), rec.GetPrivate(), now), nil
			case txAccountGone:
				return updated(rec, missing, "the Panda account "+remoteID+" was deleted before its operator was created", settledPrivate(rec), now), nil
			case txRefused:
				return updated(rec, failed, refusedMessage(tx), settledPrivate(rec), now), nil
			}
			// txCreated, or txUsernameTaken that may be our own earlier
			// request: the operator decides.
		}
	}

	if username != "" {
		op, err := st.api.GetOperator(ctx, username)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, remoteError(ctx, "reading operator "+username, err)
		case op.AccountID == remoteID:
			return updated(rec, statusOf(op.Activated), settledMessage(username, op.Activated), settledPrivate(rec), now), nil
		case rec.GetStatus() == pending:
			return updated(rec, failed, "username "+username+" was taken by another Panda account before the operator could be created; synchronize again with another username", settledPrivate(rec), now), nil
		}
	}
	_, err := st.api.GetAccount(ctx, remoteID)
	switch {
	case errors.Is(err, ErrNotFound):
		return updated(rec, missing, "the Panda account "+remoteID+" no longer exists", settledPrivate(rec), now), nil
	case err != nil:
		return nil, remoteError(ctx, "reading Panda account "+remoteID, err)
	case rec.GetStatus() == pending:
		// The transaction is gone and no operator appeared: nothing will.
		return updated(rec, failed, "the operator of Panda account "+remoteID+" was never created; synchronize again", settledPrivate(rec), now), nil
	}
	return updated(rec, missing, "operator "+username+" no longer exists in Panda account "+remoteID, settledPrivate(rec), now), nil
}

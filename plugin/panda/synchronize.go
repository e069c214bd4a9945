package panda

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Synchronize registers the account in Panda: a Panda account under the
// resolved parent and its operator. It is idempotent, keyed by account.id:
//
//  1. The rules of ValidateSyncOptions; an error diagnostic fails the call
//     with its code (INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS).
//  2. Prior work is looked for before anything is written. The username
//     check of step 1 already read the operator: on the expected account
//     (the record's, or one matching this BSS account under the parent) it
//     is a replay, answered created=false. Otherwise an account under the
//     parent with this company name and email and no operator is an
//     earlier attempt's, and is reused.
//  3. Create the account if needed, then the operator, then poll the
//     transaction until it settles or tx_deadline (or the caller's deadline)
//     is near: still pending is a PENDING record whose private holds the
//     transaction for GetSyncStatus.
//
// Steps 1 and 2 end in a plan made before anything is written (adopt the
// operator found, resume the record's transaction, or create); step 3 is
// its execution.
//
// Calls for one account are serialized in the process, so concurrent calls
// do these steps one after the other and the later ones find the earlier
// one's work. The happy path of a new account costs five requests:
// GetOperator (free?), ListChildren (prior account?), CreateAccount,
// CreateOperator and one GetTransaction; a replay costs one GetOperator.
func (a *Adapter) Synchronize(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	acc := req.GetAccount()
	if err := checkAccount(acc, req.GetRecord()); err != nil {
		return nil, err
	}
	lk, err := a.locks.lock(ctx, acc.GetId())
	if err != nil {
		return nil, contextError(ctx, "waiting for another Synchronize of the same account")
	}
	defer a.locks.unlock(acc.GetId(), lk)

	rec := req.GetRecord()
	if boundRecord(rec) == nil && lk.last != nil {
		// A call we queued behind has just synchronized this account; its
		// caller has the record, ours could not.
		rec = lk.last
	}
	ev, err := a.evaluate(ctx, st, forSynchronize, subject{
		account: acc, ancestors: req.GetAncestors(), record: rec, values: req.GetValues(), autoFill: req.GetAutoFill(),
	})
	if err != nil {
		return nil, err
	}
	plan, err := planSync(acc, ev)
	if err != nil {
		return nil, err
	}
	r := &syncRun{a: a, st: st, log: a.logger.With("rpc", "Synchronize", "account_id", acc.GetId()), plan: plan}
	resp, err := r.run(ctx)
	if err != nil {
		return nil, err
	}
	if boundRecord(resp.GetRecord()) != nil {
		lk.last = resp.GetRecord()
	}
	return resp, nil
}

// syncRun executes one Synchronize call's plan. The plan is read-only; the
// run's own state is what it learns on the way.
type syncRun struct {
	a    *Adapter
	st   *configured
	log  *slog.Logger
	plan *syncPlan
	// createdAccount: this call created the Panda account, so it may delete
	// it again when the username turns out to be taken.
	createdAccount bool
}

func (r *syncRun) run(ctx context.Context) (*provisioningv1.SynchronizeResponse, error) {
	switch r.plan.step {
	case stepAdopt:
		return r.adopt(r.plan.owner), nil
	case stepResume:
		resp, err := r.resume(ctx)
		if resp != nil || err != nil {
			return resp, err
		}
		// The record's work is gone: create afresh.
	}
	pacc, err := r.findAccount(ctx)
	if err != nil {
		return nil, err
	}
	if pacc == nil {
		if pacc, err = r.createAccount(ctx); err != nil {
			return nil, err
		}
	}
	return r.createOperator(ctx, pacc)
}

// adopt answers the work already done: the plan's operator exists on our
// account.
func (r *syncRun) adopt(owner *ownedOperator) *provisioningv1.SynchronizeResponse {
	status := statusOf(owner.op.Activated)
	msg := settledMessage(r.plan.username, owner.op.Activated)
	if b := r.plan.bound; b != nil && b.GetRemoteId() == owner.op.AccountID {
		r.log.Debug("already synchronized", "remote_id", b.GetRemoteId())
		return &provisioningv1.SynchronizeResponse{Record: updated(b, status, msg, nil, r.a.now()), Diagnostics: r.plan.warnings}
	}
	r.log.Info("found the work of an earlier attempt", "remote_id", owner.op.AccountID, "username", r.plan.username)
	return r.answer(status, owner.op.AccountID, r.plan.username, msg, nil, false)
}

// answer builds the response for the plan's account, whose operator is
// username.
func (r *syncRun) answer(status provisioningv1.SyncStatus, remoteID, username, message string, private []byte, created bool) *provisioningv1.SynchronizeResponse {
	values := maps.Clone(r.plan.values)
	if values == nil {
		values = map[string]string{}
	}
	values[FieldUsername] = username
	rec := newRecord(r.plan.account.GetId(), status, remoteID, r.plan.remoteParent, values, message, r.a.now())
	rec.Private = private
	return &provisioningv1.SynchronizeResponse{Record: rec, Created: created, Diagnostics: r.plan.warnings}
}

// resume settles the transaction of a PENDING record. A nil response and
// error mean the record's work is gone and Synchronize starts afresh.
func (r *syncRun) resume(ctx context.Context) (*provisioningv1.SynchronizeResponse, error) {
	b, username := r.plan.bound, r.plan.username
	tx, err := r.await(ctx, r.plan.txID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil // Panda forgot the transaction; look for the work itself
	case err != nil:
		return nil, remoteError(ctx, "reading operator transaction "+r.plan.txID, err)
	}
	record := func(status provisioningv1.SyncStatus, msg string, private []byte) *provisioningv1.SynchronizeResponse {
		return &provisioningv1.SynchronizeResponse{Record: updated(b, status, msg, private, r.a.now()), Diagnostics: r.plan.warnings}
	}
	switch interpretTx(tx) {
	case txPending:
		return record(provisioningv1.SyncStatus_SYNC_STATUS_PENDING, pendingMessage(username), b.GetPrivate()), nil
	case txCreated:
		return record(provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, syncedMessage(username), nil), nil
	case txUsernameTaken:
		owner, err := r.ownOperator(ctx, username, b.GetRemoteId())
		switch {
		case err != nil:
			return nil, err
		case owner != nil:
			return r.adopt(owner), nil
		}
		return nil, diag.AlreadyExists(FieldUsername, diag.CodeUsernameTaken,
			"username "+strconv.Quote(username)+" was taken by another Panda account before the operator could be created; choose another")
	case txAccountGone:
		return nil, nil // the account was deleted: start afresh
	default: // txRefused
		// No warnings: the record, not the request, is what failed.
		return &provisioningv1.SynchronizeResponse{Record: updated(b, provisioningv1.SyncStatus_SYNC_STATUS_FAILED, refusedMessage(tx), nil, r.a.now())}, nil
	}
}

// findAccount looks under the parent for an account an earlier attempt
// created for this BSS account (same type, company name and email) that has
// no operator yet. One ListChildren; one ListOperators per match.
func (r *syncRun) findAccount(ctx context.Context) (*RemoteAccount, error) {
	p := r.plan
	name := strings.TrimSpace(p.account.GetName())
	typ := accountTypeFor(p.role)
	const limit = 100
	for offset := 0; offset < 10*limit; offset += limit {
		page, err := r.st.api.ListChildren(ctx, p.remoteParent, ListChildrenOptions{Name: name, Type: typ, Offset: offset, Limit: limit})
		if err != nil {
			return nil, r.parentError(ctx, "looking for an earlier attempt's account", err)
		}
		for i := range page.Accounts {
			pa := &page.Accounts[i]
			if !matchesSubject(pa, p.account, p.remoteParent, p.role) {
				continue
			}
			ops, err := r.st.api.ListOperators(ctx, pa.ID)
			switch {
			case errors.Is(err, ErrNotFound):
				continue // deleted since the listing
			case err != nil:
				return nil, remoteError(ctx, "listing the operators of Panda account "+pa.ID, err)
			}
			if len(ops) == 0 {
				r.log.Info("reusing the account of an earlier attempt", "remote_id", pa.ID)
				return pa, nil
			}
		}
		if offset+len(page.Accounts) >= page.Total || len(page.Accounts) == 0 {
			break
		}
	}
	return nil, nil
}

// createAccount creates the Panda account. When the answer is lost
// (commit-then-fail) it looks for the account before trying once more.
func (r *syncRun) createAccount(ctx context.Context) (*RemoteAccount, error) {
	acc := r.plan.account
	req := CreateAccountRequest{
		Type:      accountTypeFor(r.plan.role),
		Name:      strings.TrimSpace(acc.GetName()),
		FirstName: clipRunes(acc.GetContact().GetFirstName(), maxNameLen),
		LastName:  clipRunes(acc.GetContact().GetLastName(), maxNameLen),
		Email:     acc.GetCorporateEmail(),
	}
	for attempt := 1; ; attempt++ {
		pa, err := r.st.api.CreateAccount(ctx, r.plan.remoteParent, req)
		if err == nil {
			r.createdAccount = true
			// Debug: the "synchronized" line that follows says it all, and
			// every line costs the host a parse and a re-log.
			r.log.Debug("created Panda account", "remote_id", pa.ID, "remote_parent_id", r.plan.remoteParent, "type", req.Type.String())
			return pa, nil
		}
		if !mayHaveCommitted(err) || ctx.Err() != nil || attempt == 2 {
			return nil, r.parentError(ctx, "creating the Panda account", err)
		}
		r.log.Warn("lost the answer to CreateAccount; looking for the account", "err", err)
		found, ferr := r.findAccount(ctx)
		if ferr != nil {
			return nil, ferr
		}
		if found != nil {
			r.createdAccount = true
			return found, nil
		}
	}
}

// parentError maps a failure of a call about the parent account: a parent
// that is gone, a subscriber or too deep are state problems of the parent,
// not remote failures.
func (r *syncRun) parentError(ctx context.Context, doing string, err error) error {
	if ctx.Err() != nil {
		return contextError(ctx, doing)
	}
	parent := r.plan.remoteParent
	switch {
	case errors.Is(err, ErrNotFound) && r.plan.account.GetParentId() == "":
		return diag.FailedPrecondition(diag.CodeRootAccountMissing, settingsSubject,
			"the root account "+parent+" does not exist in Panda: check root_account_id and call Configure")
	case errors.Is(err, ErrNotFound):
		return diag.FailedPrecondition(diag.CodeParentNotSynced, FieldParentAccount,
			"the reseller's Panda account "+parent+" no longer exists: synchronize the reseller again")
	case errors.Is(err, ErrConflict) && remoteCode(err) == "TIER_LIMIT":
		return diag.FailedPrecondition(diag.CodeTierLimit, FieldParentAccount,
			"Panda refused the account: its parent "+parent+" is at the deepest tier allowed")
	case errors.Is(err, ErrConflict) && remoteCode(err) == "PARENT_IS_SUBSCRIBER":
		return diag.FailedPrecondition(diag.CodeParentNotReseller, FieldParentAccount,
			"Panda refused the account: its parent "+parent+" is a Panda User, not a Reseller")
	case errors.Is(err, ErrInvalid):
		return diag.InvalidArgument(fieldAccount, diag.CodeRemoteRejected, "Panda refused the account: "+err.Error())
	}
	return remoteError(ctx, doing, err)
}

// createOperator creates the operator on pacc and waits for its
// transaction. A suggested username taken meanwhile moves on to the next
// free variant; the run, not the plan, tracks which one it is at.
func (r *syncRun) createOperator(ctx context.Context, pacc *RemoteAccount) (*provisioningv1.SynchronizeResponse, error) {
	acc := r.plan.account
	username, variant := r.plan.username, r.plan.variant
	var names *usernameLookup // built on the first collision of a suggestion
	lostAnswers := 0
	for {
		req := CreateOperatorRequest{
			Username:  username,
			AccountID: pacc.ID,
			FirstName: clipRunes(acc.GetContact().GetFirstName(), maxNameLen),
			LastName:  clipRunes(acc.GetContact().GetLastName(), maxNameLen),
			Email:     acc.GetCorporateEmail(),
			Role:      operatorRoleFor(r.plan.role),
		}
		started := r.a.now()
		tx, err := r.st.api.CreateOperator(ctx, req)
		switch {
		case err == nil:
		case mayHaveCommitted(err) && ctx.Err() == nil && lostAnswers == 0:
			// Send it again: if the first one was applied, the second's
			// transaction fails USERNAME_TAKEN and the check below finds
			// the operator on our account.
			lostAnswers++
			r.log.Warn("lost the answer to CreateOperator; sending it again", "err", err)
			continue
		case errors.Is(err, ErrInvalid) && remoteCode(err) == "INVALID_USERNAME":
			return nil, diag.InvalidArgument(FieldUsername, diag.CodeInvalidUsername, "Panda refused the username: "+err.Error())
		case errors.Is(err, ErrInvalid):
			return nil, diag.InvalidArgument(fieldAccount, diag.CodeRemoteRejected, "Panda refused the operator: "+err.Error())
		case errors.Is(err, ErrNotFound) && ctx.Err() == nil:
			return nil, diag.Unavailable(diag.CodeRemoteUnavailable, "the Panda account "+pacc.ID+" vanished while its operator was being created; retry", time.Second)
		default:
			return nil, remoteError(ctx, "creating operator "+strconv.Quote(username), err)
		}

		settled, err := r.await(ctx, tx.ID)
		if err != nil {
			if ctx.Err() != nil {
				return nil, contextError(ctx, "waiting for operator transaction "+tx.ID)
			}
			// The operator is on its way; only our view of it failed.
			settled = tx
		}
		switch interpretTx(settled) {
		case txCreated:
			// Debug, not info: one line per account crosses the plugin's
			// stderr pipe and is parsed and re-logged by the host, 14% of
			// the daemon's CPU in a bulk batch, while the outcome is already
			// in the answer, which the host stores as the sync record.
			r.log.Debug("synchronized", "remote_id", pacc.ID, "remote_parent_id", r.plan.remoteParent, "role", r.plan.role, "username", username)
			return r.answer(provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, pacc.ID, username, syncedMessage(username), nil, true), nil
		case txPending:
			r.log.Info("operator transaction still pending", "remote_id", pacc.ID, "tx", tx.ID)
			return r.answer(provisioningv1.SyncStatus_SYNC_STATUS_PENDING, pacc.ID, username, pendingMessage(username),
				encodePrivate(privateState{TxID: tx.ID, Since: started}), true), nil
		case txAccountGone:
			return nil, diag.Unavailable(diag.CodeRemoteUnavailable, "the Panda account "+pacc.ID+" was deleted while its operator was being created; retry", time.Second)
		case txRefused:
			r.log.Warn("Panda refused the operator", "remote_id", pacc.ID, "code", settled.ErrorCode)
			return r.answer(provisioningv1.SyncStatus_SYNC_STATUS_FAILED, pacc.ID, username, refusedMessage(settled), nil, r.createdAccount), nil
		}

		// txUsernameTaken.
		owner, err := r.ownOperator(ctx, username, pacc.ID)
		if err != nil {
			return nil, err
		}
		if owner != nil {
			// Our own earlier request (whose answer was lost) created it.
			return r.answer(statusOf(owner.op.Activated), pacc.ID, username, settledMessage(username, owner.op.Activated), nil, true), nil
		}
		if r.plan.suggestion != "" {
			// auto_fill: the suggestion was free a moment ago; take the
			// next free variant instead of failing the storefront order.
			if names == nil {
				names = &usernameLookup{api: r.st.api, account: acc, bound: r.plan.bound, remoteParent: r.plan.remoteParent, role: r.plan.role}
			}
			next, n, _, err := names.firstFree(ctx, r.plan.suggestion, variant+1)
			if err != nil {
				return nil, err
			}
			if next != "" {
				r.log.Info("suggested username was taken meanwhile; trying the next variant", "username", next)
				username, variant = next, n
				continue
			}
		}
		if r.createdAccount {
			// Leave nothing behind for a username the caller must change.
			if err := r.st.api.DeleteAccount(ctx, pacc.ID); err != nil && !errors.Is(err, ErrNotFound) {
				r.log.Warn("could not delete the account created for a taken username; a retry reuses it", "remote_id", pacc.ID, "err", err)
			}
		}
		return nil, diag.AlreadyExists(FieldUsername, diag.CodeUsernameTaken,
			"username "+strconv.Quote(username)+" is taken by another Panda account; choose another")
	}
}

// ownOperator returns the operator named username when it is on accountID.
func (r *syncRun) ownOperator(ctx context.Context, username, accountID string) (*ownedOperator, error) {
	op, err := r.st.api.GetOperator(ctx, username)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, remoteError(ctx, "reading operator "+strconv.Quote(username), err)
	case op.AccountID == accountID:
		return &ownedOperator{op: op}, nil
	}
	return nil, nil
}

// await polls a transaction until it settles or the wait is over: at
// tx_deadline, or shortly before the caller's deadline so that the caller
// gets a PENDING record to resume instead of DEADLINE_EXCEEDED. The first
// read is immediate.
func (r *syncRun) await(ctx context.Context, txID string) (*Transaction, error) {
	// Real time, not the adapter's clock: this bounds real waiting.
	until := time.Now().Add(r.st.cfg.TxDeadline)
	if dl, ok := ctx.Deadline(); ok {
		margin := min(time.Until(dl)/5, 2*time.Second)
		if cut := dl.Add(-margin); cut.Before(until) {
			until = cut
		}
	}
	for {
		tx, err := r.st.api.GetTransaction(ctx, txID)
		if err != nil {
			return nil, err
		}
		if tx.Status.Done() || !time.Now().Add(r.st.cfg.TxPollInterval).Before(until) {
			return tx, nil
		}
		t := time.NewTimer(r.st.cfg.TxPollInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return tx, nil
		}
	}
}

// clipRunes cuts s to at most n runes.
func clipRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

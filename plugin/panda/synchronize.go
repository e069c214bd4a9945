package panda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Synchronize registers the account in Panda: a Panda account under the
// resolved parent and its operator. It is idempotent, keyed by account.id:
//
//  1. The rules of ValidateSyncOptions; an error diagnostic fails the call
//     with its code (INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS).
//  2. Prior work is looked for before anything is written, only on the
//     Panda accounts provably this BSS account's own: the record's, and the
//     one its journal says it created for it (see [journal]; a file in the
//     plugin's data folder, so it survives a restart). With such an
//     account, step 1 checked the username in Panda: an operator on an own
//     account is a replay, answered created=false; when that account's
//     company name, contact or email differ from the BSS account's they are
//     pushed (PATCH) and the answer says updated=true. An account that
//     merely has this account's parent, type, name and email is never
//     adopted: two BSS accounts may share them, except when the host says
//     an earlier attempt of this account never had its answer stored
//     (unfinished_attempt) and the journal knows nothing of it: then the
//     single look-alike provably that attempt's is adopted (see
//     adoptUnfinished) and the evaluation runs again with it as our own.
//  3. Create the account if needed (or reuse the own account that has no
//     operator yet), then the operator, then poll the transaction until it
//     settles or tx_deadline (or the caller's deadline) is near: still
//     pending is a PENDING record whose private holds the transaction for
//     GetSyncStatus.
//
// Steps 1 and 2 end in a plan made before anything is written (adopt the
// operator found, update its account, resume the record's transaction, or
// create); step 3 is its execution. What cannot converge is refused in
// step 1: a changed parent (PARENT_CHANGED), a changed type
// (TYPE_CHANGE_UNSUPPORTED, whose detail says how WatchGuard converts).
//
// Without an own account (no record with remote objects, nothing in the
// journal: a new account, or a retry after a plugin restart) the username
// is not checked in Panda before the account is created. That check could
// find nothing to adopt (an operator on any other account is someone
// else's, however alike), only say "taken" early; CreateOperator checks
// the username anyway, and a check before would not stop a race. At the
// vendor's rate limit it was a fifth of a new account's requests. The two
// ways a username is found taken then:
//
//   - a suggested one (auto_fill) moves on to the next free variant on the
//     account just created, as a race lost to another caller always did;
//   - a chosen one gets ALREADY_EXISTS and the account this call created
//     is deleted again (a failed delete stays journaled, and the caller's
//     retry with another username reuses that account).
//
// The price is paid only when the name is taken: a taken chosen name costs
// six requests instead of one GetOperator, one of them a created and
// deleted account; a taken suggestion about three more per variant. After a restart the outcome is the
// one the check gave: an earlier process's finished work is someone else's
// to this one, so a chosen username meets USERNAME_TAKEN and a suggested
// one the next variant, with or without the check; a crash between the
// create and the delete of a taken chosen name leaves an account without
// an operator, as a crash between account and operator always could.
// ValidateSyncOptions and the form still check the username first.
//
// Calls for one account are serialized in the process, so concurrent calls
// do these steps one after the other and the later ones find the earlier
// one's work. The happy path of a new account costs four requests:
// ListChildren (the look-alikes before the create, in case its answer is
// lost), CreateAccount, CreateOperator and one GetTransaction; a replay
// costs GetOperator and GetAccount, plus one PATCH when the account data
// changed.
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
	if err := a.settleIntent(ctx, st, acc.GetId()); err != nil {
		return nil, err
	}

	rec := req.GetRecord()
	if boundRecord(rec) == nil && rec.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
		if e, ok := a.journal.get(acc.GetId()); ok && e.record != nil {
			// This process synchronized the account (a call we queued
			// behind, or one whose answer was lost); its caller has the
			// record, ours could not.
			rec = e.record
		}
	}
	sub := subject{account: acc, ancestors: req.GetAncestors(), record: rec, values: req.GetValues(), autoFill: req.GetAutoFill()}
	ev, err := a.evaluate(ctx, st, forSynchronize, sub)
	if err != nil {
		return nil, err
	}
	if req.GetUnfinishedAttempt() && ev.bound == nil && len(ev.own) == 0 && ev.remoteParent != "" && ev.username != "" && !diag.HasErrors(ev.diags) {
		// An earlier attempt's answer was lost, perhaps in another
		// process: adopt its Panda account when it is provably that
		// attempt's, then evaluate again with it as our own.
		id, err := a.adoptUnfinished(ctx, st, acc, ev)
		if err != nil {
			return nil, err
		}
		if id != "" {
			if ev, err = a.evaluate(ctx, st, forSynchronize, sub); err != nil {
				return nil, err
			}
		}
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
	a.journal.answered(resp.GetRecord())
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
	case stepUpdate:
		return r.update(ctx)
	case stepResume:
		resp, err := r.resume(ctx)
		if resp != nil || err != nil {
			return resp, err
		}
		// The record's work is gone: create afresh.
	}
	pacc, err := r.ownAccount(ctx)
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
		return &provisioningv1.SynchronizeResponse{Record: updated(b, status, msg, r.plan.private, r.a.now()), Diagnostics: r.plan.warnings}
	}
	r.log.Info("found the work of an earlier attempt", "remote_id", owner.op.AccountID, "username", r.plan.username)
	return r.answer(status, owner.op.AccountID, r.plan.username, msg, r.plan.private, false)
}

// update pushes the BSS account's name, contact and email to its Panda
// account, then answers as adopt does, with updated=true.
func (r *syncRun) update(ctx context.Context) (*provisioningv1.SynchronizeResponse, error) {
	id := r.plan.owner.op.AccountID
	err := r.st.api.UpdateAccount(ctx, id, *r.plan.patch)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound) && ctx.Err() == nil:
		return nil, diag.Unavailable(diag.CodeRemoteUnavailable, "the Panda account "+id+" vanished while it was being updated; retry", time.Second)
	case errors.Is(err, ErrInvalid) && ctx.Err() == nil:
		return nil, diag.InvalidArgument(fieldAccount, diag.CodeRemoteRejected, "Panda refused the account's new data: "+err.Error())
	default:
		return nil, remoteError(ctx, "updating Panda account "+id, err)
	}
	r.log.Info("updated Panda account", "remote_id", id)
	resp := r.adopt(r.plan.owner)
	resp.Updated = true
	if resp.Record == r.plan.bound {
		resp.Record = proto.CloneOf(resp.Record)
	}
	resp.Record.UpdatedAt = timestamppb.New(r.a.now())
	return resp, nil
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
		if private == nil {
			private = r.plan.private
		}
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
		out := updated(b, provisioningv1.SyncStatus_SYNC_STATUS_FAILED, refusedMessage(tx), nil, r.a.now())
		out.ErrorReason = diag.CodeRemoteRejected
		return &provisioningv1.SynchronizeResponse{Record: out}, nil
	}
}

// ownAccount returns the subject's own Panda account (see ownRemoteIDs)
// when it still exists under the plan's parent with the plan's type and has
// no operator yet: an earlier attempt created it and failed before its
// operator. One GetAccount and one ListOperators per own account.
func (r *syncRun) ownAccount(ctx context.Context) (*RemoteAccount, error) {
	for _, id := range r.plan.own {
		pa, err := r.st.api.GetAccount(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return nil, remoteError(ctx, "reading Panda account "+id, err)
		}
		if pa.ParentID != r.plan.remoteParent || pa.Type != accountTypeFor(r.plan.role) {
			continue
		}
		ops, err := r.st.api.ListOperators(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return nil, remoteError(ctx, "listing the operators of Panda account "+id, err)
		}
		if len(ops) == 0 {
			r.log.Info("reusing the account of an earlier attempt", "remote_id", id)
			return pa, nil
		}
	}
	return nil, nil
}

// lookAlikes lists the accounts under the plan's parent that look like the
// subject's (matchesSubject), by id.
func (r *syncRun) lookAlikes(ctx context.Context) (map[string]*RemoteAccount, error) {
	p := r.plan
	out := map[string]*RemoteAccount{}
	const limit = 100
	for offset := 0; offset < 10*limit; offset += limit {
		page, err := r.st.api.ListChildren(ctx, p.remoteParent, ListChildrenOptions{
			Name: strings.TrimSpace(p.account.GetName()), Type: accountTypeFor(p.role), Offset: offset, Limit: limit,
		})
		if err != nil {
			return nil, r.parentError(ctx, "listing the accounts under "+p.remoteParent, err)
		}
		for i := range page.Accounts {
			if pa := &page.Accounts[i]; matchesSubject(pa, p.account, p.remoteParent, p.role) {
				out[pa.ID] = pa
			}
		}
		if offset+len(page.Accounts) >= page.Total || len(page.Accounts) == 0 {
			break
		}
	}
	return out, nil
}

// createAccount creates the Panda account and notes it in the journal.
//
// When the create's answer is lost (commit-then-fail) the new account has
// to be told from look-alikes (same parent, type, name and email) that
// belong to other BSS accounts. So look-alike creates are serialized in the
// process, the look-alikes are listed before the create, and after a lost
// answer the account is adopted only when exactly one look-alike appeared
// since, without an operator, that the journal does not give to another
// account: no other call of this adapter can have created it meanwhile.
func (r *syncRun) createAccount(ctx context.Context) (*RemoteAccount, error) {
	acc := r.plan.account
	want := wantedAccount(acc)
	req := CreateAccountRequest{Type: accountTypeFor(r.plan.role), Name: want.Name, FirstName: want.FirstName, LastName: want.LastName, Email: want.Email}
	key := lookAlikeKey(r.plan.remoteParent, req.Type, req.Name, req.Email)
	lk, err := r.a.createLocks.lock(ctx, key)
	if err != nil {
		return nil, contextError(ctx, "waiting for another create of a look-alike account")
	}
	defer r.a.createLocks.unlock(key, lk)
	before, err := r.lookAlikes(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.a.journal.intend(acc.GetId(), journalIntent{
		Parent: r.plan.remoteParent, Type: req.Type, Name: req.Name, Email: req.Email, Username: r.plan.username,
		Before: slices.Sorted(maps.Keys(before)), At: r.a.now(),
	}); err != nil {
		return nil, diag.Errorf(codes.Internal, "writing the journal before creating the Panda account: %v", err)
	}
	for attempt := 1; ; attempt++ {
		pa, err := r.st.api.CreateAccount(ctx, r.plan.remoteParent, req)
		if err == nil {
			r.createdAccount = true
			r.a.journal.created(acc.GetId(), pa.ID)
			// Debug: the "synchronized" line that follows says it all, and
			// every line costs the host a parse and a re-log.
			r.log.Debug("created Panda account", "remote_id", pa.ID, "remote_parent_id", r.plan.remoteParent, "type", req.Type.String())
			return pa, nil
		}
		if !mayHaveCommitted(err) || ctx.Err() != nil {
			return nil, r.parentError(ctx, "creating the Panda account", err)
		}
		// Looked for after the last attempt too: a found account is
		// journaled, so the caller's retry reuses it instead of leaving it.
		r.log.Warn("lost the answer to CreateAccount; looking for the account", "err", err)
		found, ferr := r.recoverCreate(ctx, before)
		if ferr != nil {
			return nil, ferr
		}
		if found != nil {
			r.createdAccount = true
			r.a.journal.created(acc.GetId(), found.ID)
			return found, nil
		}
		if attempt == 2 {
			return nil, r.parentError(ctx, "creating the Panda account", err)
		}
	}
}

// recoverCreate finds the account a create whose answer was lost made: the
// one look-alike that is new since before, has no operator and is not
// another account's. None: the create did not happen. Several (someone
// outside this adapter created look-alikes meanwhile): not provable, so
// UNAVAILABLE and nothing adopted.
func (r *syncRun) recoverCreate(ctx context.Context, before map[string]*RemoteAccount) (*RemoteAccount, error) {
	now, err := r.lookAlikes(ctx)
	if err != nil {
		return nil, err
	}
	var found []*RemoteAccount
	for id, pa := range now {
		if _, old := before[id]; old || r.a.journal.claimedByOther(r.plan.account.GetId(), id) {
			continue
		}
		ops, err := r.st.api.ListOperators(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return nil, remoteError(ctx, "listing the operators of Panda account "+id, err)
		}
		if len(ops) == 0 {
			found = append(found, pa)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		r.log.Info("found the account whose create answer was lost", "remote_id", found[0].ID)
		return found[0], nil
	}
	return nil, diag.Unavailable(diag.CodeRemoteUnavailable, fmt.Sprintf(
		"the answer to creating the Panda account was lost and %d new look-alike accounts appeared under %s meanwhile; which is this account's cannot be told: retry",
		len(found), r.plan.remoteParent), time.Second)
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
			FirstName: clipName(acc.GetContact().GetFirstName()),
			LastName:  clipName(acc.GetContact().GetLastName()),
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
			return r.answer(provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, pacc.ID, username, syncedMessage(username), r.plan.private, true), nil
		case txPending:
			r.log.Info("operator transaction still pending", "remote_id", pacc.ID, "tx", tx.ID)
			return r.answer(provisioningv1.SyncStatus_SYNC_STATUS_PENDING, pacc.ID, username, pendingMessage(username),
				encodePrivate(privateState{TxID: tx.ID, Since: started, Type: recordType(r.plan.bound, acc)}), true), nil
		case txAccountGone:
			return nil, diag.Unavailable(diag.CodeRemoteUnavailable, "the Panda account "+pacc.ID+" was deleted while its operator was being created; retry", time.Second)
		case txRefused:
			r.log.Warn("Panda refused the operator", "remote_id", pacc.ID, "code", settled.ErrorCode)
			resp := r.answer(provisioningv1.SyncStatus_SYNC_STATUS_FAILED, pacc.ID, username, refusedMessage(settled), nil, r.createdAccount)
			resp.Record.ErrorReason = diag.CodeRemoteRejected
			return resp, nil
		}

		// txUsernameTaken.
		owner, err := r.ownOperator(ctx, username, pacc.ID)
		if err != nil {
			return nil, err
		}
		if owner != nil {
			// Our own earlier request (whose answer was lost) created it.
			return r.answer(statusOf(owner.op.Activated), pacc.ID, username, settledMessage(username, owner.op.Activated), r.plan.private, true), nil
		}
		if r.plan.suggestion != "" {
			// auto_fill: the suggestion was free a moment ago; take the
			// next free variant instead of failing the storefront order.
			if names == nil {
				names = &usernameLookup{api: r.st.api, own: r.plan.own}
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
			} else {
				// Gone: the retry with another username need not look at it.
				r.a.journal.forget(acc.GetId())
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

// clipName cuts a contact name to Panda's maxNameLen runes.
func clipName(s string) string {
	n, i := maxNameLen, 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

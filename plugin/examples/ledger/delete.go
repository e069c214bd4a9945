package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// DeleteAccount removes the account's entry (CAPABILITY_DELETE) and answers
// its record with status DELETED. The entry must have no children unless
// cascade is set, in which case they go first, deepest first; and no live
// subscription (one not CANCELLED or FAILED), in the request or in the
// ledger, may still hold licences, of the account or, with cascade, of a
// descendant.
//
// Idempotent, keyed by account.id: a DELETED record, or an entry that is
// already gone, answers DELETED with deleted=false and writes nothing. The
// checks and the deletes share one transaction, so a cascade never stops
// half-way.
func (a *Adapter) DeleteAccount(ctx context.Context, req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error) {
	acct := req.GetAccount()
	db, err := a.ledgerFor(acct)
	if err != nil {
		return nil, err
	}
	prior := req.GetRecord()
	switch {
	case prior == nil:
		return nil, diag.InvalidArgument("record", diag.CodeRequired, "the request has no record: it names what to delete")
	case prior.GetAccountId() != acct.GetId():
		return nil, diag.InvalidArgument("record.account_id", diag.CodeInvalidValue,
			fmt.Sprintf("the record is of account %q, not %q", prior.GetAccountId(), acct.GetId()))
	}
	deleted := proto.Clone(prior).(*provisioningv1.SyncRecord)
	deleted.Plugin, deleted.Status, deleted.Message, deleted.ErrorReason = Name, provisioningv1.SyncStatus_SYNC_STATUS_DELETED, "deleted from the ledger", ""
	if prior.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
		return &provisioningv1.DeleteAccountResponse{Record: prior}, nil // a replay
	}
	// The caller's subscription records count as much as the ledger's own:
	// a host that still sees one live must not lose it to a delete.
	for _, sr := range req.GetSubscriptions() {
		if st := sr.GetStatus(); st != cancelled && st != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED {
			return nil, diag.FailedPrecondition(diag.CodeHasSubscriptions, sr.GetSubscriptionId(),
				fmt.Sprintf("subscription %q of account %q is %s; cancel it first", sr.GetSubscriptionId(), sr.GetAccountId(), st))
		}
	}
	gone, removed, err := remove(ctx, db, acct.GetId(), req.GetCascade())
	if err != nil {
		return nil, storeError(err)
	}
	deleted.UpdatedAt = timestamppb.Now()
	if gone != nil {
		deleted.RemoteId = gone.remoteID()
		a.log.Info("account deleted", "account_id", acct.GetId(), "remote_id", gone.remoteID(), "descendants", len(removed))
	}
	return &provisioningv1.DeleteAccountResponse{Record: deleted, Deleted: gone != nil, DeletedRemoteIds: removed}, nil
}

// remove deletes the entry of accountID, and with cascade its descendants
// first. It answers the entry it deleted (nil when there was none) and the
// remote ids of the descendants, deepest first.
func remove(ctx context.Context, db *sql.DB, accountID string, cascade bool) (*entry, []string, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	e, err := lookup(ctx, tx, accountID)
	if err != nil || e == nil {
		return nil, nil, err // gone already: a replay
	}
	below, err := descendants(ctx, tx, accountID)
	if err != nil {
		return nil, nil, err
	}
	if len(below) > 0 && !cascade {
		kids, err := children(ctx, tx, accountID)
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, hasChildren(accountID, kids)
	}
	for _, x := range append(below, e) {
		n, err := liveSubscriptions(ctx, tx, x.accountID)
		if err != nil {
			return nil, nil, err
		}
		if n > 0 {
			return nil, nil, diag.FailedPrecondition(diag.CodeHasSubscriptions, x.remoteID(),
				fmt.Sprintf("account %q still holds %d subscription(s); cancel them first", x.accountID, n))
		}
	}
	var removed []string
	for _, x := range append(below, e) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE seq = ?`, x.seq); err != nil {
			return nil, nil, err
		}
		if x != e {
			removed = append(removed, x.remoteID())
		}
	}
	return e, removed, tx.Commit()
}

// hasChildren is the HAS_CHILDREN error: one PreconditionFailure violation
// per child, its remote id as the subject, so a caller can show which.
func hasChildren(accountID string, kids []*entry) error {
	msg := fmt.Sprintf("account %q has %d child account(s); delete them first or set cascade", accountID, len(kids))
	pf := &errdetails.PreconditionFailure{}
	for _, k := range kids {
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type: diag.CodeHasChildren, Subject: k.remoteID(), Description: "child account " + k.accountID,
		})
	}
	st, err := status.New(codes.FailedPrecondition, msg).WithDetails(
		&errdetails.ErrorInfo{Reason: diag.CodeHasChildren, Domain: diag.Domain}, pf)
	if err != nil {
		return diag.Errorf(codes.Internal, "build HAS_CHILDREN details: %v", err)
	}
	return st.Err()
}

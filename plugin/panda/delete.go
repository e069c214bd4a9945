package panda

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// DeleteAccount deletes the account's Panda account and its operator (Panda
// deletes an account's operators with it) and answers the record DELETED.
//
//   - A record that is DELETED already, or names no Panda account, needs no
//     remote call: the DELETED record, deleted=false.
//   - A subscription record that is not CANCELLED or FAILED refuses the
//     delete (HAS_SUBSCRIPTIONS) before anything is read, as does a Panda
//     allocation the records do not know of (Panda's 409 HAS_ALLOCATIONS).
//   - The Panda account gone already: DELETED, deleted=false (a replay).
//   - Children without cascade: HAS_CHILDREN, one violation per child.
//     With cascade the whole tree goes in one request (DELETE with force),
//     and the answer lists the descendants' ids, deepest first.
//
// Calls for one account are serialized with its Synchronize calls, so a
// delete never races the create of the same account. Costs: GetAccount and
// ListChildren, then one DELETE.
func (a *Adapter) DeleteAccount(ctx context.Context, req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	acc, rec := req.GetAccount(), req.GetRecord()
	switch {
	case acc == nil || strings.TrimSpace(acc.GetId()) == "":
		return nil, diag.InvalidArgument(fieldAccountID, diag.CodeRequired, "account.id is required")
	case rec == nil:
		return nil, diag.InvalidArgument(fieldRecord, diag.CodeRequired, "record is required: its remote_id names what to delete")
	case rec.GetAccountId() != acc.GetId():
		return nil, diag.InvalidArgument(fieldRecordID, diag.CodeInvalidValue, "record.account_id does not match account.id")
	}
	log := a.logger.With("rpc", "DeleteAccount", "account_id", acc.GetId())
	lk, err := a.locks.lock(ctx, acc.GetId())
	if err != nil {
		return nil, contextError(ctx, "waiting for another call for the same account")
	}
	defer a.locks.unlock(acc.GetId(), lk)

	remoteID := rec.GetRemoteId()
	if rec.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
		return &provisioningv1.DeleteAccountResponse{Record: rec}, nil
	}
	if remoteID == "" {
		a.journal.forget(acc.GetId())
		return &provisioningv1.DeleteAccountResponse{Record: deletedRecord(rec, "the account had no Panda account; nothing to delete", a.now())}, nil
	}
	if err := liveSubscriptions(req.GetSubscriptions()); err != nil {
		return nil, err
	}
	_, err = st.api.GetAccount(ctx, remoteID)
	switch {
	case errors.Is(err, ErrNotFound):
		a.journal.forget(acc.GetId())
		return &provisioningv1.DeleteAccountResponse{Record: deletedRecord(rec, "the Panda account "+remoteID+" no longer exists", a.now())}, nil
	case err != nil:
		return nil, remoteError(ctx, "reading Panda account "+remoteID, err)
	}
	var deletedIDs []string
	if req.GetCascade() {
		deletedIDs, err = st.api.DeleteAccountTree(ctx, remoteID)
	} else {
		page, lerr := st.api.ListChildren(ctx, remoteID, ListChildrenOptions{Limit: 100})
		switch {
		case errors.Is(lerr, ErrNotFound):
			err = lerr
		case lerr != nil:
			return nil, remoteError(ctx, "listing the children of Panda account "+remoteID, lerr)
		case page.Total > 0:
			return nil, hasChildren(remoteID, page)
		default:
			err = st.api.DeleteAccount(ctx, remoteID)
		}
	}
	switch {
	case errors.Is(err, ErrNotFound):
		// Gone meanwhile (or a resend found the work done).
		a.journal.forget(acc.GetId())
		return &provisioningv1.DeleteAccountResponse{Record: deletedRecord(rec, "the Panda account "+remoteID+" no longer exists", a.now())}, nil
	case errors.Is(err, ErrConflict) && remoteCode(err) == "HAS_ALLOCATIONS":
		return nil, diag.FailedPrecondition(diag.CodeHasSubscriptions, remoteID,
			"Panda account "+remoteID+" (or, with cascade, one of its descendants) still holds licences: cancel its subscriptions first, then retry")
	case errors.Is(err, ErrConflict) && remoteCode(err) == "HAS_CHILDREN":
		return nil, diag.FailedPrecondition(diag.CodeHasChildren, remoteID,
			"Panda account "+remoteID+" has child accounts: delete them first, or set cascade")
	case err != nil:
		return nil, remoteError(ctx, "deleting Panda account "+remoteID, err)
	}
	a.journal.forget(acc.GetId())
	a.journal.forgetRemote(deletedIDs)
	log.Info("deleted Panda account", "remote_id", remoteID, "descendants", len(deletedIDs))
	msg := "the Panda account " + remoteID + " and its operator were deleted"
	if len(deletedIDs) > 0 {
		msg += ", with " + strconv.Itoa(len(deletedIDs)) + " descendant accounts"
	}
	return &provisioningv1.DeleteAccountResponse{Record: deletedRecord(rec, msg, a.now()), Deleted: true, DeletedRemoteIds: deletedIDs}, nil
}

// deletedRecord is rec, DELETED. It keeps remote_id and values: they say
// what was deleted, and a DELETED record is not live, so the id is free.
func deletedRecord(rec *provisioningv1.SyncRecord, msg string, now time.Time) *provisioningv1.SyncRecord {
	out := proto.CloneOf(rec)
	out.Plugin = Name
	out.Status = provisioningv1.SyncStatus_SYNC_STATUS_DELETED
	out.Message = msg
	out.Private = nil
	out.ErrorReason = ""
	out.UpdatedAt = timestamppb.New(now)
	return out
}

// liveSubscriptions refuses the delete while a given subscription record
// still holds licences: one violation per such subscription.
func liveSubscriptions(subs []*provisioningv1.SubscriptionRecord) error {
	pf := &errdetails.PreconditionFailure{}
	var ids []string
	for _, s := range subs {
		switch s.GetStatus() {
		case provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED:
			continue
		}
		id := clip(s.GetSubscriptionId())
		ids = append(ids, id)
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type: diag.CodeHasSubscriptions, Subject: id, Description: "subscription " + id + " is " + s.GetStatus().String(),
		})
	}
	if len(ids) == 0 {
		return nil
	}
	msg := "the account still has subscriptions that hold licences (" + strings.Join(ids, ", ") + "): cancel them first, then retry"
	return withStatusDetails(codes.FailedPrecondition, msg, diag.CodeHasSubscriptions, pf)
}

// hasChildren is HAS_CHILDREN with one violation per child (of the first
// page; Total says how many there are).
func hasChildren(remoteID string, page *AccountPage) error {
	pf := &errdetails.PreconditionFailure{}
	for _, c := range page.Accounts {
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type: diag.CodeHasChildren, Subject: c.ID, Description: "child account " + strconv.Quote(clip(c.Name)) + " (" + c.ID + ")",
		})
	}
	msg := "Panda account " + remoteID + " has " + strconv.Itoa(page.Total) + " child accounts: delete them first, or set cascade"
	return withStatusDetails(codes.FailedPrecondition, msg, diag.CodeHasChildren, pf)
}

// withStatusDetails is a status error with an ErrorInfo of reason and the
// given PreconditionFailure.
func withStatusDetails(c codes.Code, msg, reason string, pf *errdetails.PreconditionFailure) error {
	st, err := status.New(c, msg).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: diag.Domain}, pf)
	if err != nil {
		return status.Error(c, msg)
	}
	return st.Err()
}

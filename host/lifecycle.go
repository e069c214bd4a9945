package host

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// DeleteAccount deletes an account's remote objects through the plugin and
// stores the DELETED record it answers. The request names the account by
// account.id (or record.account_id); the host fills the account, record and
// ancestors from its store (a caller-supplied record or ancestor that
// contradicts it is RECORD_MISMATCH), so NOT_FOUND when nothing is stored.
//
// The subscriptions sent are the stored subscription records of the account
// and, with cascade, of its stored descendants; one that is not CANCELLED or
// FAILED refuses the delete before the plugin is called: FAILED_PRECONDITION
// HAS_SUBSCRIPTIONS, one violation per subscription (subject: its id).
// Caller-supplied subscription records must be among them (RECORD_MISMATCH).
//
// Without cascade, an account the store knows children of (a child record
// that is not DELETED and holds remote objects or is PENDING) is refused
// before the plugin is called: FAILED_PRECONDITION HAS_CHILDREN, one
// PreconditionFailure violation per child (subject: its account id), as the
// plugin would for the children it sees remotely. With cascade, the stored
// descendants whose remote ids the plugin answered in deleted_remote_ids are
// marked DELETED too, before the account itself; their account ids are
// returned, in the plugin's order (deepest first).
//
// Idempotent: a replay calls the plugin again, which answers the DELETED
// record with deleted=false. A DELETED record stays listed; a later
// Synchronize of the account creates it anew.
func (r *Records) DeleteAccount(ctx context.Context, plugin string, req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, []string, error) {
	c, err := r.Plugin(plugin)
	if err != nil {
		return nil, nil, err
	}
	id := req.GetAccount().GetId()
	if rid := req.GetRecord().GetAccountId(); id == "" {
		id = rid
	} else if rid != "" && rid != id {
		return nil, nil, diag.InvalidArgument("request.record.account_id", diag.CodeInvalidValue, "request.record.account_id differs from request.account.id")
	}
	if id == "" {
		return nil, nil, diag.InvalidArgument("request.account.id", diag.CodeRequired, "request.account.id is required")
	}
	unlock, err := r.lockAccount(ctx, plugin, id)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	e, err := r.st.Get(ctx, plugin, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, status.Errorf(codes.NotFound, "account %q was never synchronized with %q: nothing to delete", id, plugin)
	case err != nil:
		return nil, nil, r.readError(err)
	}
	if err := checkRecord(plugin, "request.record", req.GetRecord(), e.Record); err != nil {
		return nil, nil, err
	}
	acct := e.Account
	if acct == nil {
		acct = &provisioningv1.Account{Id: id}
	}
	anc, err := r.ancestors(ctx, plugin, acct)
	if err != nil {
		return nil, nil, err
	}
	if err := checkAncestors(plugin, req.GetAncestors(), anc); err != nil {
		return nil, nil, err
	}
	tree, err := r.tree(ctx, plugin)
	if err != nil {
		return nil, nil, err
	}
	if !req.GetCascade() {
		if err := hasChildren(id, tree.children[id]); err != nil {
			return nil, nil, err
		}
	}
	subs, err := r.deleteSubscriptions(ctx, plugin, id, tree, req)
	if err != nil {
		return nil, nil, err
	}
	req.Account, req.Record, req.Ancestors, req.Subscriptions = acct, e.Record, anc, subs
	var deletedIDs []string
	resp, err := callThenPersist(ctx, r, plugin, id, persist[*provisioningv1.DeleteAccountResponse]{
		rpc: "DeleteAccount",
		also: func(resp *provisioningv1.DeleteAccountResponse) []*provisioningv1.SyncRecord {
			if !req.GetCascade() {
				return nil
			}
			var recs []*provisioningv1.SyncRecord
			recs, deletedIDs = cascaded(tree.descendants(id), resp.GetDeletedRemoteIds(), id)
			return recs
		},
	}, func() (*provisioningv1.DeleteAccountResponse, error) { return c.DeleteAccount(ctx, req) })
	if err != nil {
		return nil, nil, err
	}
	return resp, deletedIDs, nil
}

// deleteSubscriptions reads the stored subscription records a delete of id
// covers and refuses the delete while one still holds licences.
func (r *Records) deleteSubscriptions(ctx context.Context, plugin, id string, tree accountTree, req *provisioningv1.DeleteAccountRequest) ([]*provisioningv1.SubscriptionRecord, error) {
	ids := []string{id}
	if req.GetCascade() {
		for _, e := range tree.descendants(id) {
			ids = append(ids, e.Record.GetAccountId())
		}
	}
	var subs []*provisioningv1.SubscriptionRecord
	for _, aid := range ids {
		s, err := store.AccountSubscriptions(ctx, r.st, plugin, aid)
		if err != nil {
			return nil, r.readError(err)
		}
		subs = append(subs, s...)
	}
	for i, g := range req.GetSubscriptions() {
		if !slices.ContainsFunc(subs, func(s *provisioningv1.SubscriptionRecord) bool {
			return s.GetSubscriptionId() == g.GetSubscriptionId() && s.GetAccountId() == g.GetAccountId()
		}) {
			return nil, mismatch(fmt.Sprintf("request.subscriptions[%d]", i), "the host stores no such subscription of the account")
		}
	}
	pf := &errdetails.PreconditionFailure{}
	for _, s := range subs {
		switch s.GetStatus() {
		case provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED:
			continue
		}
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type: diag.CodeHasSubscriptions, Subject: s.GetSubscriptionId(),
			Description: fmt.Sprintf("subscription %s of account %s is %s: cancel it first", s.GetSubscriptionId(), s.GetAccountId(), s.GetStatus()),
		})
	}
	if len(pf.Violations) > 0 {
		return nil, preconditionFailed(diag.CodeHasSubscriptions, pf,
			fmt.Sprintf("account %s has %d subscription(s) that still hold licences in the host's store: cancel them first", id, len(pf.Violations)))
	}
	return subs, nil
}

// accountTree is the parent/child structure of a plugin's stored records,
// from their account snapshots.
type accountTree struct {
	children map[string][]store.Entry // by parent account id, ordered by account id
}

// tree reads every stored record of plugin. The store keeps no index by
// parent, so a delete reads them all: deletes are rare, and this keeps the
// store a plain keyed table.
func (r *Records) tree(ctx context.Context, plugin string) (accountTree, error) {
	t := accountTree{children: map[string][]store.Entry{}}
	q := store.Query{Plugin: plugin, PageSize: 1000}
	for {
		page, err := r.st.List(ctx, q)
		if err != nil {
			return accountTree{}, r.readError(err)
		}
		for _, e := range page.Entries {
			if pid := e.Account.GetParentId(); pid != "" {
				t.children[pid] = append(t.children[pid], e)
			}
		}
		if page.NextPageToken == "" {
			return t, nil
		}
		q.PageToken = page.NextPageToken
	}
}

// descendants returns every stored descendant of id, breadth first.
func (t accountTree) descendants(id string) []store.Entry {
	var out []store.Entry
	seen := map[string]bool{id: true}
	queue := []string{id}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, e := range t.children[p] {
			cid := e.Record.GetAccountId()
			if seen[cid] { // a corrupt chain (a cycle in snapshots)
				continue
			}
			seen[cid] = true
			out = append(out, e)
			queue = append(queue, cid)
		}
	}
	return out
}

// blocksDelete reports whether a stored child keeps its parent from being
// deleted without cascade: it is not DELETED, and it holds remote objects
// or is PENDING (its remote objects may be on their way).
func blocksDelete(rec *provisioningv1.SyncRecord) bool {
	switch rec.GetStatus() {
	case provisioningv1.SyncStatus_SYNC_STATUS_DELETED:
		return false
	case provisioningv1.SyncStatus_SYNC_STATUS_PENDING:
		return true
	}
	return rec.GetRemoteId() != ""
}

// hasChildren is the HAS_CHILDREN error for the stored children of id that
// block its deletion, or nil.
func hasChildren(id string, children []store.Entry) error {
	pf := &errdetails.PreconditionFailure{}
	for _, e := range children {
		if !blocksDelete(e.Record) {
			continue
		}
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type: diag.CodeHasChildren, Subject: e.Record.GetAccountId(),
			Description: fmt.Sprintf("account %s (remote %q, %s) is a child of %s", e.Record.GetAccountId(), e.Record.GetRemoteId(),
				e.Record.GetStatus(), id),
		})
	}
	if len(pf.Violations) == 0 {
		return nil
	}
	return preconditionFailed(diag.CodeHasChildren, pf,
		fmt.Sprintf("account %s has %d child account(s) in the host's store: delete them first, or delete with cascade", id, len(pf.Violations)))
}

// preconditionFailed is a FAILED_PRECONDITION of domain provisioning.v1 (the
// reason an adapter would answer for the same condition) with the
// violations of pf.
func preconditionFailed(reason string, pf *errdetails.PreconditionFailure, msg string) error {
	st := status.New(codes.FailedPrecondition, msg)
	sd, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: diag.Domain}, pf)
	if err != nil {
		return st.Err()
	}
	return sd.Err()
}

// cascaded returns the DELETED records of the descendants whose remote ids
// a cascade from ancestor deleted, and their account ids, in the order of
// remoteIDs. Remote ids no stored descendant holds are ignored: the host
// marks only records of accounts below the one deleted.
func cascaded(descendants []store.Entry, remoteIDs []string, ancestor string) ([]*provisioningv1.SyncRecord, []string) {
	byRemote := map[string]*provisioningv1.SyncRecord{}
	for _, e := range descendants {
		if rid := e.Record.GetRemoteId(); rid != "" {
			byRemote[rid] = e.Record
		}
	}
	var recs []*provisioningv1.SyncRecord
	var ids []string
	now := timestamppb.Now()
	for _, rid := range remoteIDs {
		old, ok := byRemote[rid]
		if !ok || slices.Contains(ids, old.GetAccountId()) {
			continue
		}
		rec := proto.CloneOf(old)
		rec.Status = provisioningv1.SyncStatus_SYNC_STATUS_DELETED
		rec.Message = "deleted with its ancestor " + ancestor + " (cascade)"
		rec.ErrorReason = ""
		rec.UpdatedAt = now
		recs = append(recs, rec)
		ids = append(ids, rec.GetAccountId())
	}
	return recs, ids
}

// Reconciled is the result of refreshing one stored record
// ([Records.Reconcile]).
type Reconciled struct {
	AccountID string
	// PreviousStatus is the stored status before the refresh.
	PreviousStatus provisioningv1.SyncStatus
	// Record is the refreshed and stored record; the stored one when Err is
	// set or the record is DELETED.
	Record *provisioningv1.SyncRecord
	// Diagnostics are GetSyncStatus's warnings, e.g. REMOTE_DRIFT per field.
	Diagnostics []*provisioningv1.Diagnostic
	// Err is why the refresh failed (a gRPC status error); nil on success.
	Err error
}

// Drifted reports whether the refresh found the remote apart from the host:
// a REMOTE_DRIFT warning, or a record whose remote objects went missing.
func (rc Reconciled) Drifted() bool {
	if rc.Record.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_MISSING {
		return true
	}
	return slices.ContainsFunc(rc.Diagnostics, func(d *provisioningv1.Diagnostic) bool { return d.GetCode() == diag.CodeRemoteDrift })
}

// Reconcile refreshes every stored record of plugin through the plugin's
// GetSyncStatus (as [Records.GetSyncStatus], with the stored account and
// ancestors), stores each answer, and hands each result to yield, ordered by
// account id. DELETED records are reported as stored, without a remote
// call. A failed refresh is a result with Err, not the end: the next record
// is refreshed. Reconcile itself fails only when the plugin cannot be
// resolved, the store cannot be listed, ctx ends, or yield fails.
func (r *Records) Reconcile(ctx context.Context, plugin string, yield func(Reconciled) error) error {
	c, err := r.Plugin(plugin)
	if err != nil {
		return err
	}
	q := store.Query{Plugin: plugin, PageSize: 100}
	for {
		page, err := r.st.List(ctx, q)
		if err != nil {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return r.readError(err)
		}
		for _, e := range page.Entries {
			// Under the account's lock, as every refresh (see lockAccount);
			// released before yield, which may wait on the caller.
			unlock, err := r.lockAccount(ctx, plugin, e.Record.GetAccountId())
			if err != nil && ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			res := Reconciled{AccountID: e.Record.GetAccountId(), PreviousStatus: e.Record.GetStatus(), Record: e.Record, Err: err}
			if err == nil {
				// Read again: a Synchronize may have stored a newer record
				// since the page was listed, and the refresh must start from
				// it.
				if fresh, err := r.st.Get(ctx, plugin, e.Record.GetAccountId()); err == nil {
					e = fresh
				}
				res = Reconciled{AccountID: e.Record.GetAccountId(), PreviousStatus: e.Record.GetStatus(), Record: e.Record}
				if e.Record.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
					resp, err := r.refresh(ctx, c, plugin, e, nil)
					if err != nil {
						if ctx.Err() != nil {
							unlock()
							return status.FromContextError(ctx.Err()).Err()
						}
						res.Err = err
					} else {
						res.Record, res.Diagnostics = resp.GetRecord(), resp.GetDiagnostics()
					}
				}
				unlock()
			}
			if err := yield(res); err != nil {
				return err
			}
		}
		if page.NextPageToken == "" {
			return nil
		}
		q.PageToken = page.NextPageToken
	}
}

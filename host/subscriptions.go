package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Subscription records (orders) follow the same rules as sync records: the
// host is their system of record. Every adapter request is filled from the
// store (the account snapshot, its sync record, its ancestors, the
// subscription's record and the account's other subscriptions); a
// caller-supplied record that contradicts the stored one is refused with
// RECORD_MISMATCH rather than passed on, so a plugin never acts on a state
// the host does not hold. What the plugin answers is stored durably, keyed by
// the host, before anyone sees it.
//
// Calls that change one account's orders are serialized per account (which
// serializes them per subscription, as the contract requires): the rules that
// span orders (one base product per subscriber, one allocation per product)
// read the account's other subscriptions, and two orders racing past each
// other's records could both pass them.

// GetServiceDefinition calls the plugin's GetServiceDefinition: the
// catalogue, nothing stored.
func (r *Records) GetServiceDefinition(ctx context.Context, plugin string, req *provisioningv1.GetServiceDefinitionRequest) (*provisioningv1.GetServiceDefinitionResponse, error) {
	c, err := r.Plugin(plugin)
	if err != nil {
		return nil, err
	}
	return c.GetServiceDefinition(ctx, req)
}

// ValidateSubscription calls the plugin's ValidateSubscription with the
// account, its record, its ancestors, the subscription's record and the
// account's other subscriptions filled from the store. An account the store
// holds no record of is answered by the host alone, with one
// ACCOUNT_NOT_SYNCED error diagnostic on "subscription.account_id": without
// the account's snapshot the plugin has nothing to check the order against.
// An account whose record is not synchronized gets the same diagnostic even
// if the plugin left it out, so the check-only pass never promises what
// ProvisionSubscription refuses.
func (r *Records) ValidateSubscription(ctx context.Context, plugin string, req *provisioningv1.ValidateSubscriptionRequest) (*provisioningv1.ValidateSubscriptionResponse, error) {
	c, err := r.Plugin(plugin)
	if err != nil {
		return nil, err
	}
	if err := checkSubscription(req.GetSubscription()); err != nil {
		return nil, err
	}
	o, err := r.loadOrder(ctx, plugin, req.GetSubscription().GetId(), req.GetSubscription().GetAccountId())
	if err != nil {
		return nil, err
	}
	if err := o.fill(plugin, given{account: req.GetAccount(), accountRecord: req.GetAccountRecord(), ancestors: req.GetAncestors(), record: req.GetRecord(), others: req.GetAccountSubscriptions()},
		&req.Account, &req.AccountRecord, &req.Ancestors, &req.Record, &req.AccountSubscriptions); err != nil {
		return nil, err
	}
	notSynced := notSyncedDiagnostic(o.accountID, o.accountRecord)
	if o.accountRecord == nil {
		return &provisioningv1.ValidateSubscriptionResponse{Diagnostics: []*provisioningv1.Diagnostic{notSynced}}, nil
	}
	resp, err := c.ValidateSubscription(ctx, req)
	if err != nil {
		return nil, err
	}
	if notSynced != nil && !slices.ContainsFunc(resp.GetDiagnostics(), func(d *provisioningv1.Diagnostic) bool { return d.GetCode() == diag.CodeAccountNotSynced }) {
		resp.Diagnostics = append(resp.Diagnostics, notSynced)
	}
	return resp, nil
}

// ProvisionSubscription calls the plugin's ProvisionSubscription with
// everything but the desired state filled from the store, and stores the
// record it answers with the desired state before returning. Two refusals
// come from the host, before the plugin is called and with nothing stored:
// an account that is not synchronized (FAILED_PRECONDITION
// ACCOUNT_NOT_SYNCED) and a stored order of another account than
// subscription.account_id (FAILED_PRECONDITION SUBSCRIPTION_ACCOUNT_CHANGED:
// the host knows the order's account, and locks it, before any plugin could
// say so).
//
// A definite failure of the plugin (INVALID_ARGUMENT, FAILED_PRECONDITION,
// ALREADY_EXISTS) is stored as a FAILED record with the error's reason and
// message, keeping what the stored record says is still allocated, so that
// ListSubscriptionRecords with status FAILED finds the orders the BSS must
// fix; a later success replaces it. Three failures are not stored: a
// CANCELLED record stays CANCELLED (cancellation is terminal), and
// NOT_CONFIGURED and REMOTE_UNAUTHORIZED say nothing about the order, only
// about the plugin's settings. A transient failure leaves the stored record
// as it was.
func (r *Records) ProvisionSubscription(ctx context.Context, plugin string, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	c, err := r.Plugin(plugin)
	if err != nil {
		return nil, err
	}
	sub := req.GetSubscription()
	if err := checkSubscription(sub); err != nil {
		return nil, err
	}
	o, unlock, err := r.lockOrder(ctx, plugin, sub.GetId(), sub.GetAccountId())
	if err != nil {
		return nil, err
	}
	defer unlock()
	if o.accountID != sub.GetAccountId() {
		return nil, diag.FailedPrecondition(diag.CodeSubscriptionAccountChanged, "subscription.account_id",
			fmt.Sprintf("subscription %q belongs to account %q, not %q: an order never moves; cancel it and order anew", sub.GetId(), o.accountID, sub.GetAccountId()))
	}
	if err := o.requireSynced(); err != nil {
		return nil, err
	}
	if err := o.fill(plugin, given{account: req.GetAccount(), accountRecord: req.GetAccountRecord(), ancestors: req.GetAncestors(), record: req.GetRecord(), others: req.GetAccountSubscriptions()},
		&req.Account, &req.AccountRecord, &req.Ancestors, &req.Record, &req.AccountSubscriptions); err != nil {
		return nil, err
	}
	resp, err := callThenPersistSubscription(ctx, r, plugin, o, sub, "ProvisionSubscription",
		func() (*provisioningv1.ProvisionSubscriptionResponse, error) {
			return c.ProvisionSubscription(ctx, req)
		})
	if err != nil && definite(err) {
		if serr := r.storeFailed(ctx, plugin, o, sub, err); serr != nil {
			return nil, serr
		}
	}
	return resp, err
}

// SuspendSubscription calls the plugin's SuspendSubscription on the stored
// record, filled like [Records.ProvisionSubscription], and stores the
// result: NOT_FOUND SUBSCRIPTION_NOT_FOUND when nothing is stored under the
// id, ACCOUNT_NOT_SYNCED when the account is not synchronized.
func (r *Records) SuspendSubscription(ctx context.Context, plugin string, req *provisioningv1.SuspendSubscriptionRequest) (*provisioningv1.SuspendSubscriptionResponse, error) {
	c, o, unlock, err := r.forStoredSubscription(ctx, plugin, "request.subscription_id", &req.SubscriptionId, req.GetRecord())
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := o.requireSynced(); err != nil {
		return nil, err
	}
	if err := o.fill(plugin, given{account: req.GetAccount(), accountRecord: req.GetAccountRecord(), ancestors: req.GetAncestors(), record: req.GetRecord()},
		&req.Account, &req.AccountRecord, &req.Ancestors, &req.Record, nil); err != nil {
		return nil, err
	}
	return callThenPersistSubscription(ctx, r, plugin, o, nil, "SuspendSubscription",
		func() (*provisioningv1.SuspendSubscriptionResponse, error) { return c.SuspendSubscription(ctx, req) })
}

// ResumeSubscription calls the plugin's ResumeSubscription on the stored
// record, filled like [Records.ProvisionSubscription] (the account's other
// subscriptions included: resuming allocates again), and stores the result.
// Errors as [Records.SuspendSubscription].
func (r *Records) ResumeSubscription(ctx context.Context, plugin string, req *provisioningv1.ResumeSubscriptionRequest) (*provisioningv1.ResumeSubscriptionResponse, error) {
	c, o, unlock, err := r.forStoredSubscription(ctx, plugin, "request.subscription_id", &req.SubscriptionId, req.GetRecord())
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := o.requireSynced(); err != nil {
		return nil, err
	}
	if err := o.fill(plugin, given{account: req.GetAccount(), accountRecord: req.GetAccountRecord(), ancestors: req.GetAncestors(), record: req.GetRecord(), others: req.GetAccountSubscriptions()},
		&req.Account, &req.AccountRecord, &req.Ancestors, &req.Record, &req.AccountSubscriptions); err != nil {
		return nil, err
	}
	return callThenPersistSubscription(ctx, r, plugin, o, nil, "ResumeSubscription",
		func() (*provisioningv1.ResumeSubscriptionResponse, error) { return c.ResumeSubscription(ctx, req) })
}

// CancelSubscription calls the plugin's CancelSubscription on the stored
// record and stores the result: NOT_FOUND SUBSCRIPTION_NOT_FOUND when
// nothing is stored under the id. Unlike the other changes it does not
// require the account to be synchronized: releasing licences must stay
// possible whatever became of the account (the adapter decides what it can
// release).
func (r *Records) CancelSubscription(ctx context.Context, plugin string, req *provisioningv1.CancelSubscriptionRequest) (*provisioningv1.CancelSubscriptionResponse, error) {
	c, o, unlock, err := r.forStoredSubscription(ctx, plugin, "request.subscription_id", &req.SubscriptionId, req.GetRecord())
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := o.fill(plugin, given{account: req.GetAccount(), accountRecord: req.GetAccountRecord(), ancestors: req.GetAncestors(), record: req.GetRecord()},
		&req.Account, &req.AccountRecord, &req.Ancestors, &req.Record, nil); err != nil {
		return nil, err
	}
	return callThenPersistSubscription(ctx, r, plugin, o, nil, "CancelSubscription",
		func() (*provisioningv1.CancelSubscriptionResponse, error) { return c.CancelSubscription(ctx, req) })
}

// GetSubscriptionStatus refreshes a subscription's stored record through the
// plugin and stores the answer. The request's record may hold nothing but
// the subscription id; a fuller one must not contradict the stored record
// (RECORD_MISMATCH, see checkSubscriptionRecord). The desired state is the request's when it has one,
// else the stored one. NOT_FOUND SUBSCRIPTION_NOT_FOUND when nothing is
// stored. The settling loop refreshes PENDING records through it.
func (r *Records) GetSubscriptionStatus(ctx context.Context, plugin string, req *provisioningv1.GetSubscriptionStatusRequest) (*provisioningv1.GetSubscriptionStatusResponse, error) {
	id := req.GetRecord().GetSubscriptionId()
	if id == "" {
		id = req.GetSubscription().GetId()
	}
	c, o, unlock, err := r.forStoredSubscription(ctx, plugin, "request.record.subscription_id", &id, req.GetRecord())
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := o.fill(plugin, given{account: req.GetAccount(), accountRecord: req.GetAccountRecord(), record: req.GetRecord()},
		&req.Account, &req.AccountRecord, nil, &req.Record, nil); err != nil {
		return nil, err
	}
	if req.Subscription == nil {
		req.Subscription = o.subscription
	}
	return callThenPersistSubscription(ctx, r, plugin, o, nil, "GetSubscriptionStatus",
		func() (*provisioningv1.GetSubscriptionStatusResponse, error) {
			return c.GetSubscriptionStatus(ctx, req)
		})
}

// GetSubscription returns the stored record of a subscription and its
// desired state: NOT_FOUND SUBSCRIPTION_NOT_FOUND when none is stored.
func (r *Records) GetSubscription(ctx context.Context, plugin, subscriptionID string) (store.SubscriptionEntry, error) {
	e, err := r.st.GetSubscription(ctx, plugin, subscriptionID)
	if errors.Is(err, store.ErrSubscriptionNotFound) {
		return store.SubscriptionEntry{}, subscriptionNotFound(plugin, subscriptionID)
	}
	if err != nil {
		return store.SubscriptionEntry{}, r.readError(err)
	}
	return e, nil
}

// ListSubscriptions pages through stored subscription records:
// INVALID_ARGUMENT on the field page_token for a token this listing did not
// issue.
func (r *Records) ListSubscriptions(ctx context.Context, q store.SubscriptionQuery) (store.SubscriptionPage, error) {
	p, err := r.st.ListSubscriptions(ctx, q)
	if errors.Is(err, store.ErrBadPageToken) {
		return store.SubscriptionPage{}, diag.InvalidArgument("page_token", diag.CodeInvalidValue, "page_token is not from a previous ListSubscriptionRecords with the same filter")
	}
	if err != nil {
		return store.SubscriptionPage{}, r.readError(err)
	}
	return p, nil
}

// settlePendingSubscriptions refreshes, once, every PENDING subscription
// record of plugin through [Records.GetSubscriptionStatus] and reports how
// many it stored. Failures are logged on log and skipped: the next round
// retries them.
func (r *Records) settlePendingSubscriptions(ctx context.Context, plugin string, log *slog.Logger) int {
	n := 0
	q := store.SubscriptionQuery{Plugin: plugin, Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING, PageSize: 100}
	for {
		page, err := r.st.ListSubscriptions(ctx, q)
		if err != nil {
			log.Warn("list pending subscription records", "error", err)
			return n
		}
		for _, e := range page.Entries {
			id := e.Record.GetSubscriptionId()
			resp, err := r.GetSubscriptionStatus(ctx, plugin, &provisioningv1.GetSubscriptionStatusRequest{
				Record: &provisioningv1.SubscriptionRecord{SubscriptionId: id},
			})
			if err != nil {
				if ctx.Err() != nil {
					return n
				}
				log.Warn("refresh pending subscription record", "subscription_id", id, "error", err)
				continue
			}
			n++
			if rec := resp.GetRecord(); rec.GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING {
				log.Info("pending subscription record settled", "subscription_id", id, "status", rec.GetStatus().String())
			}
		}
		if page.NextPageToken == "" {
			return n
		}
		q.PageToken = page.NextPageToken
	}
}

// order is what the store holds about one subscription and its account,
// read under the account's lock.
type order struct {
	subscriptionID, accountID string
	account                   *provisioningv1.Account // nil when never synchronized
	accountRecord             *provisioningv1.SyncRecord
	ancestors                 []*provisioningv1.Ancestor
	record                    *provisioningv1.SubscriptionRecord // nil when never provisioned
	subscription              *provisioningv1.Subscription       // the stored desired state
	others                    []*provisioningv1.SubscriptionRecord
}

// given is what a caller put in an adapter request where the host fills
// from its store.
type given struct {
	account       *provisioningv1.Account
	accountRecord *provisioningv1.SyncRecord
	ancestors     []*provisioningv1.Ancestor
	record        *provisioningv1.SubscriptionRecord
	others        []*provisioningv1.SubscriptionRecord
}

// loadOrder reads the order of subscriptionID held by accountID.
func (r *Records) loadOrder(ctx context.Context, plugin, subscriptionID, accountID string) (*order, error) {
	o := &order{subscriptionID: subscriptionID, accountID: accountID}
	se, err := r.st.GetSubscription(ctx, plugin, subscriptionID)
	switch {
	case err == nil:
		o.record, o.subscription = se.Record, se.Subscription
	case !errors.Is(err, store.ErrSubscriptionNotFound):
		return nil, r.readError(err)
	}
	e, err := r.st.Get(ctx, plugin, accountID)
	switch {
	case err == nil:
		o.accountRecord, o.account = e.Record, e.Account
		if o.account == nil {
			o.account = &provisioningv1.Account{Id: accountID}
		}
		if o.account.GetParentId() != "" {
			if o.ancestors, err = store.Ancestors(ctx, r.st, plugin, o.account); err != nil {
				return nil, r.readError(err)
			}
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, r.readError(err)
	}
	all, err := store.AccountSubscriptions(ctx, r.st, plugin, accountID)
	if err != nil {
		return nil, r.readError(err)
	}
	for _, s := range all {
		if s.GetSubscriptionId() != subscriptionID {
			o.others = append(o.others, s)
		}
	}
	return o, nil
}

// lockOrder locks the account that holds subscriptionID and reads the order
// under the lock. The account is the stored record's when there is one (an
// order never moves: [Records.ProvisionSubscription] refuses a desired state
// naming another account), else accountID. If the record
// appears under another account between the read and the lock, it locks
// again.
func (r *Records) lockOrder(ctx context.Context, plugin, subscriptionID, accountID string) (*order, func(), error) {
	for {
		acct := accountID
		se, err := r.st.GetSubscription(ctx, plugin, subscriptionID)
		switch {
		case err == nil:
			acct = se.Record.GetAccountId()
		case !errors.Is(err, store.ErrSubscriptionNotFound):
			return nil, nil, r.readError(err)
		}
		// The account's orders lock: in this process, and across daemons on
		// a shared store (see locker).
		unlock, err := r.locks.lock(ctx, "orders", orderLock(plugin, acct))
		if err != nil {
			return nil, nil, err
		}
		o, err := r.loadOrder(ctx, plugin, subscriptionID, acct)
		if err != nil {
			unlock()
			return nil, nil, err
		}
		if o.record == nil || o.record.GetAccountId() == acct {
			return o, unlock, nil
		}
		unlock()
	}
}

// forStoredSubscription is the prelude of the calls that name a subscription
// by id alone: resolve the plugin, take the id from *id or the record
// (writing it back to *id), and lock and read the stored order:
// SUBSCRIPTION_NOT_FOUND when there is none.
func (r *Records) forStoredSubscription(ctx context.Context, plugin, idField string, id *string, rec *provisioningv1.SubscriptionRecord) (provisioningv1.ProvisioningAdapterClient, *order, func(), error) {
	c, err := r.Plugin(plugin)
	if err != nil {
		return nil, nil, nil, err
	}
	switch {
	case *id == "" && rec.GetSubscriptionId() == "":
		return nil, nil, nil, diag.InvalidArgument(idField, diag.CodeRequired, idField+" is required")
	case *id == "":
		*id = rec.GetSubscriptionId()
	case rec.GetSubscriptionId() != "" && rec.GetSubscriptionId() != *id:
		return nil, nil, nil, diag.InvalidArgument("request.record.subscription_id", diag.CodeInvalidValue,
			fmt.Sprintf("request.record.subscription_id %q differs from request.subscription_id %q", rec.GetSubscriptionId(), *id))
	}
	se, err := r.st.GetSubscription(ctx, plugin, *id)
	if errors.Is(err, store.ErrSubscriptionNotFound) {
		return nil, nil, nil, subscriptionNotFound(plugin, *id)
	}
	if err != nil {
		return nil, nil, nil, r.readError(err)
	}
	o, unlock, err := r.lockOrder(ctx, plugin, *id, se.Record.GetAccountId())
	if err != nil {
		return nil, nil, nil, err
	}
	if o.record == nil { // gone between the read and the lock: never, as nothing deletes records, but say so if it does
		unlock()
		return nil, nil, nil, subscriptionNotFound(plugin, *id)
	}
	return c, o, unlock, nil
}

// fill checks what the caller gave against the store and puts the store's
// version in the request (a nil destination is a field the request does not
// have). A given record that contradicts the stored one (see
// checkSubscriptionRecord and checkSyncRecord) is RECORD_MISMATCH on the
// contradicting field. A given account must be the order's account; its
// content is replaced by the stored snapshot, the one the account was
// synchronized with (changes to an account go through Synchronize).
func (o *order) fill(plugin string, g given,
	account **provisioningv1.Account, accountRecord **provisioningv1.SyncRecord, ancestors *[]*provisioningv1.Ancestor,
	record **provisioningv1.SubscriptionRecord, others *[]*provisioningv1.SubscriptionRecord) error {
	if id := g.account.GetId(); g.account != nil && id != o.accountID {
		return diag.InvalidArgument("request.account.id", diag.CodeInvalidValue,
			fmt.Sprintf("request.account.id %q is not the subscription's account %q", id, o.accountID))
	}
	// With no stored record the answer is ACCOUNT_NOT_SYNCED, not a
	// mismatch: the caller's record is dropped.
	if o.accountRecord != nil {
		if err := checkSyncRecord(plugin, "request.account_record", g.accountRecord, o.accountRecord); err != nil {
			return err
		}
	}
	if err := checkSubscriptionRecord(plugin, "request.record", g.record, o.record); err != nil {
		return err
	}
	for i, a := range g.ancestors {
		var stored *provisioningv1.SyncRecord
		for _, s := range o.ancestors {
			if s.GetAccount().GetId() == a.GetAccount().GetId() {
				stored = s.GetRecord()
			}
		}
		if err := checkSyncRecord(plugin, fmt.Sprintf("request.ancestors[%d].record", i), a.GetRecord(), stored); err != nil {
			return err
		}
	}
	for i, s := range g.others {
		var stored *provisioningv1.SubscriptionRecord
		if idx := slices.IndexFunc(o.others, func(x *provisioningv1.SubscriptionRecord) bool { return x.GetSubscriptionId() == s.GetSubscriptionId() }); idx >= 0 {
			stored = o.others[idx]
		}
		field := fmt.Sprintf("request.account_subscriptions[%d]", i)
		if s.GetSubscriptionId() == "" || stored == nil {
			return recordMismatch(field+".subscription_id", fmt.Sprintf("%q is not another stored subscription of account %q", s.GetSubscriptionId(), o.accountID))
		}
		if err := checkSubscriptionRecord(plugin, field, s, stored); err != nil {
			return err
		}
	}
	switch {
	case o.account != nil:
		*account = o.account
	case g.account == nil:
		*account = &provisioningv1.Account{Id: o.accountID}
	}
	*accountRecord = o.accountRecord
	if ancestors != nil {
		*ancestors = o.ancestors
	}
	*record = o.record
	if others != nil {
		*others = o.others
	}
	return nil
}

// requireSynced refuses an order for an account that is not synchronized,
// before the plugin is called: no stored record, or one that is neither
// SYNCED nor ACTIVE, except a PENDING one with a remote id (the remote
// account exists, its activation is pending).
func (o *order) requireSynced() error {
	d := notSyncedDiagnostic(o.accountID, o.accountRecord)
	if d == nil {
		return nil
	}
	st := o.accountRecord.GetStatus().String()
	if o.accountRecord == nil {
		st = "NONE"
	}
	s, err := status.New(codes.FailedPrecondition, d.GetSummary()).WithDetails(
		&errdetails.ErrorInfo{Reason: diag.CodeAccountNotSynced, Domain: diag.Domain, Metadata: map[string]string{"status": st}},
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{Type: diag.CodeAccountNotSynced, Subject: "account", Description: d.GetSummary()}}},
	)
	if err != nil {
		return status.Error(codes.FailedPrecondition, d.GetSummary())
	}
	return s.Err()
}

// notSyncedDiagnostic is the ACCOUNT_NOT_SYNCED error diagnostic of an
// account whose stored record is rec, or nil when the account is
// synchronized.
func notSyncedDiagnostic(accountID string, rec *provisioningv1.SyncRecord) *provisioningv1.Diagnostic {
	switch rec.GetStatus() {
	case provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE:
		return nil
	case provisioningv1.SyncStatus_SYNC_STATUS_PENDING:
		if rec.GetRemoteId() != "" {
			return nil
		}
	}
	if rec == nil {
		return diag.Error("subscription.account_id", diag.CodeAccountNotSynced,
			fmt.Sprintf("account %q is not synchronized: Synchronize it first", accountID), "")
	}
	return diag.Error("subscription.account_id", diag.CodeAccountNotSynced,
		fmt.Sprintf("account %q is not synchronized (its record is %s): Synchronize it first", accountID, rec.GetStatus()), "")
}

// subscriptionAnswer is a plugin's answer that carries a subscription
// record.
type subscriptionAnswer interface {
	GetRecord() *provisioningv1.SubscriptionRecord
}

// callThenPersistSubscription is callThenPersist for subscription records:
// call the plugin, then store the record it answered (keyed by the host's
// plugin name, subscription id and account id, stamped with UpdatedAt when
// the plugin left it empty) with the desired state sub (nil keeps the stored
// one), before anyone sees the answer. A store failure is UNAVAILABLE
// STORE_UNAVAILABLE; the write is not cancelled with ctx.
func callThenPersistSubscription[Resp subscriptionAnswer](ctx context.Context, r *Records, plugin string, o *order, sub *provisioningv1.Subscription, rpc string, call func() (Resp, error)) (Resp, error) {
	var zero Resp
	resp, err := call()
	if err != nil {
		return zero, err
	}
	rec := resp.GetRecord()
	if rec == nil {
		return zero, status.Errorf(codes.Internal, "plugin %q answered %s without a record", plugin, rpc)
	}
	rec.Plugin, rec.SubscriptionId, rec.AccountId = plugin, o.subscriptionID, o.accountID
	if rec.GetUpdatedAt() == nil {
		rec.UpdatedAt = timestamppb.Now()
	}
	if err := r.putSubscription(ctx, rec, sub); err != nil {
		return zero, err
	}
	return resp, nil
}

// storeFailed stores the FAILED record of a definite failure of
// ProvisionSubscription (see [Records.ProvisionSubscription] for which).
func (r *Records) storeFailed(ctx context.Context, plugin string, o *order, sub *provisioningv1.Subscription, callErr error) error {
	d := diag.Parse(callErr)
	switch d.Reason {
	case diag.CodeNotConfigured, diag.CodeRemoteUnauthorized:
		return nil
	}
	if o.record.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
		return nil
	}
	rec := &provisioningv1.SubscriptionRecord{ProductId: sub.GetProductId(), Trial: sub.GetTrial()}
	if o.record != nil {
		rec = proto.Clone(o.record).(*provisioningv1.SubscriptionRecord)
	}
	rec.Plugin, rec.SubscriptionId, rec.AccountId = plugin, o.subscriptionID, o.accountID
	rec.Status = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED
	rec.ErrorReason, rec.Message = d.Reason, d.Message
	rec.UpdatedAt = timestamppb.Now()
	return r.putSubscription(ctx, rec, sub)
}

func (r *Records) putSubscription(ctx context.Context, rec *provisioningv1.SubscriptionRecord, sub *provisioningv1.Subscription) error {
	if err := r.st.PutSubscription(context.WithoutCancel(ctx), rec, sub); err != nil {
		r.log.Error("store subscription record", "plugin", rec.GetPlugin(), "subscription_id", rec.GetSubscriptionId(), "error", err)
		if errors.Is(err, store.ErrDamaged) {
			return errStoreDamaged
		}
		return diag.Host.Unavailable(diag.ReasonStoreUnavailable, "the subscription record could not be stored; retry (the call is idempotent)", time.Second)
	}
	return nil
}

// definite tells a failure that retrying the same request cannot fix.
func definite(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists:
		return true
	}
	return false
}

func checkSubscription(sub *provisioningv1.Subscription) error {
	switch {
	case sub == nil:
		return diag.InvalidArgument("request.subscription", diag.CodeRequired, "request.subscription is required")
	case sub.GetId() == "":
		return diag.InvalidArgument("request.subscription.id", diag.CodeRequired, "request.subscription.id is required")
	case sub.GetAccountId() == "":
		return diag.InvalidArgument("request.subscription.account_id", diag.CodeRequired, "request.subscription.account_id is required")
	}
	return nil
}

func subscriptionNotFound(plugin, id string) error {
	s, err := status.New(codes.NotFound, fmt.Sprintf("no subscription record of %q for subscription %q: ProvisionSubscription it first", plugin, id)).WithDetails(
		&errdetails.ErrorInfo{Reason: diag.ReasonSubscriptionNotFound, Domain: diag.HostDomain, Metadata: map[string]string{"subscription_id": id}},
		&errdetails.ResourceInfo{ResourceType: "provisioning.v1.SubscriptionRecord", ResourceName: plugin + "/" + id},
	)
	if err != nil {
		return status.Errorf(codes.NotFound, "no subscription record of %q for subscription %q", plugin, id)
	}
	return s.Err()
}

func recordMismatch(field, why string) error {
	return diag.Host.InvalidArgument(field, diag.ReasonRecordMismatch,
		field+" contradicts the host's stored record: "+why+"; omit it (the host fills it from its store) or send the stored one")
}

// checkSubscriptionRecord refuses a caller-supplied subscription record
// given (at field) that contradicts stored, the host's record of the same
// subscription (nil when none is stored): RECORD_MISMATCH on the first
// contradicting field. A nil given contradicts nothing.
//
// A record contradicts the stored one when it names other remote objects or
// other plugin state: plugin, subscription_id, account_id, product_id,
// remote_id or private, each when set, differ. Fields a caller's copy may
// just hold older values of (status, quantity, add-ons, message,
// updated_at...) are not compared: the host acts on the stored record
// anyway, and refusing a PENDING copy the settling loop has since finished
// would only break honest callers. When nothing is stored, a record that
// claims a remote allocation (remote_id) or a status contradicts "never
// provisioned". This is the rule sync records follow.
func checkSubscriptionRecord(plugin, field string, given, stored *provisioningv1.SubscriptionRecord) error {
	if given == nil {
		return nil
	}
	if stored == nil {
		if given.GetRemoteId() != "" || given.GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_UNSPECIFIED {
			return recordMismatch(field, "the host stores no record of this subscription (never provisioned)")
		}
		return nil
	}
	for _, f := range []struct{ name, given, have string }{
		{"plugin", given.GetPlugin(), plugin},
		{"subscription_id", given.GetSubscriptionId(), stored.GetSubscriptionId()},
		{"account_id", given.GetAccountId(), stored.GetAccountId()},
		{"product_id", given.GetProductId(), stored.GetProductId()},
		{"remote_id", given.GetRemoteId(), stored.GetRemoteId()},
	} {
		if f.given != "" && f.given != f.have {
			return recordMismatch(field+"."+f.name, fmt.Sprintf("%q is not the stored %q", f.given, f.have))
		}
	}
	if len(given.GetPrivate()) > 0 && !bytes.Equal(given.GetPrivate(), stored.GetPrivate()) {
		return recordMismatch(field+".private", "not the stored plugin state")
	}
	return nil
}

// checkSyncRecord is the same rule for a sync record (an account's or an
// ancestor's): plugin, account_id, remote_id, remote_parent_id and private
// must not differ from the stored record's; with none stored, a record that
// claims a remote account or a status contradicts "never synchronized".
func checkSyncRecord(plugin, field string, given, stored *provisioningv1.SyncRecord) error {
	if given == nil {
		return nil
	}
	if stored == nil {
		if st := given.GetStatus(); given.GetRemoteId() != "" || (st != provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED && st != provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED) {
			return recordMismatch(field, "the host stores no record of this account (never synchronized)")
		}
		return nil
	}
	for _, f := range []struct{ name, given, have string }{
		{"plugin", given.GetPlugin(), plugin},
		{"account_id", given.GetAccountId(), stored.GetAccountId()},
		{"remote_id", given.GetRemoteId(), stored.GetRemoteId()},
		{"remote_parent_id", given.GetRemoteParentId(), stored.GetRemoteParentId()},
	} {
		if f.given != "" && f.given != f.have {
			return recordMismatch(field+"."+f.name, fmt.Sprintf("%q is not the stored %q", f.given, f.have))
		}
	}
	if len(given.GetPrivate()) > 0 && !bytes.Equal(given.GetPrivate(), stored.GetPrivate()) {
		return recordMismatch(field+".private", "not the stored plugin state")
	}
	return nil
}

package panda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Orders: a Panda subscription is an allocation of a base product's
// licences (and of its add-on modules') to the account, of one allocation
// type, drawn from the parent's unallocated inventory. The RPCs below are
// keyed by subscription id and serialized per id in the process, like
// Synchronize per account: two calls for one subscription run one after the
// other, and the later one reads what the earlier one allocated.
//
// Every write sets a quantity (never adds to one), from a plan made on one
// read of Panda's summary, so a replay, a retry after a lost answer, or a
// call queued behind another converges without allocating twice.

// Lock keys. The NUL byte keeps them apart from BSS account ids, which
// Synchronize locks in the same table.
func subscriptionLockKey(id string) string { return "\x00subscription:" + id }
func stockLockKey(reseller string) string  { return "\x00stock:" + reseller }

// Messages of settled records.
const (
	msgActive    = "licences allocated"
	msgSuspended = "suspended: licences released; quantity and add-ons kept for resume"
	msgCancelled = "cancelled: licences released"
)

// ValidateSubscription applies the rules ProvisionSubscription applies
// first and answers the problems as diagnostics. It reads the account's
// summary and, when the order draws licences, its parent's (and for an end
// customer the root's): INSUFFICIENT_INVENTORY is a diagnostic too.
func (a *Adapter) ValidateSubscription(ctx context.Context, req *provisioningv1.ValidateSubscriptionRequest) (*provisioningv1.ValidateSubscriptionResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	if err := checkRequest(req.GetSubscription(), req.GetAccount()); err != nil {
		return nil, err
	}
	o := orderOf(req.GetSubscription())
	sc, ds := scopeOf(req.GetAccount(), req.GetAccountRecord(), req.GetAncestors(), st.cfg.RootAccountID)
	ds = append(ds, checkOrder(o, sc, req.GetRecord(), req.GetAccountSubscriptions(), a.now())...)
	if diag.HasErrors(ds) || req.GetRecord().GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED {
		return &provisioningv1.ValidateSubscriptionResponse{Diagnostics: ds}, nil
	}
	run := &allocRun{a: a, st: st, sc: sc, log: a.logger}
	_, pds, err := run.plan(ctx, o, addonProducts(req.GetRecord().GetAddons()))
	if err != nil {
		if d := diag.Parse(err); d.Reason == diag.CodeInsufficientInventory || d.Reason == diag.CodeAccountNotSynced {
			for _, v := range d.Violations {
				ds = append(ds, diag.Error(v.Field, d.Reason, v.Description, ""))
			}
			return &provisioningv1.ValidateSubscriptionResponse{Diagnostics: ds}, nil
		}
		return nil, err
	}
	return &provisioningv1.ValidateSubscriptionResponse{Diagnostics: append(ds, pds...)}, nil
}

// ProvisionSubscription makes Panda hold what the subscription orders:
//
//  1. The rules of ValidateSubscription that need no remote read.
//  2. One read of the account's summary; the plan: add-on decreases and
//     releases, the base product (create, set, or a paid allocation
//     replacing the trial), add-on increases and creates.
//  3. When the plan draws licences, the parent's stock is checked before
//     anything is written. For an end customer, the reseller's allocation
//     grows by what its unallocated stock lacks, from the root; when the
//     root lacks it the call fails INSUFFICIENT_INVENTORY and nothing at
//     all was written (the check covers every product of the order first).
//  4. The writes. A create whose answer was lost is looked for in the
//     summary and sent again only when absent.
//
// Top-ups are never taken back: not when the end customer's own write then
// fails (a retry reuses the stock, topping up only what is still missing,
// so nothing is allocated twice), not on Cancel. The reseller's
// unallocated stock is shared by all its end customers and may already be
// promised to a concurrent order; shrinking it is the reseller's decision,
// not one an order of its customer may take. The contract says the same:
// the reseller's allocation is raised, never lowered.
//
// A SUSPENDED subscription records the new desired state and allocates
// nothing (ResumeSubscription does).
func (a *Adapter) ProvisionSubscription(ctx context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	if err := checkRequest(req.GetSubscription(), req.GetAccount()); err != nil {
		return nil, err
	}
	o := orderOf(req.GetSubscription())
	unlock, err := a.lockSubscription(ctx, o.id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	log := a.logger.With("rpc", "ProvisionSubscription", "subscription_id", o.id, "account_id", o.accountID)

	rec := req.GetRecord()
	sc, ds := scopeOf(req.GetAccount(), req.GetAccountRecord(), req.GetAncestors(), st.cfg.RootAccountID)
	ds = append(ds, checkOrder(o, sc, rec, req.GetAccountSubscriptions(), a.now())...)
	if err := diag.ToError(ds); err != nil {
		return nil, err
	}
	priv := decodeSubPrivate(rec.GetPrivate())
	priv.Account = sc.accountID
	if rec.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED {
		var trialEnds time.Time
		if rec.GetTrialEndsAt() != nil {
			trialEnds = rec.GetTrialEndsAt().AsTime()
		}
		out := subscriptionRecord(rec, o, rec.GetStatus(), rec.GetRemoteId(), trialEnds, priv, msgSuspended, a.now())
		return &provisioningv1.ProvisionSubscriptionResponse{Record: out}, nil
	}
	run := &allocRun{a: a, st: st, sc: sc, log: log}
	res, err := run.allocate(ctx, o, addonProducts(rec.GetAddons()))
	if err != nil {
		return nil, err
	}
	out := run.record(rec, o, res, priv)
	return &provisioningv1.ProvisionSubscriptionResponse{Record: out, Created: res.plan.created, Updated: !res.plan.empty() && !res.plan.created}, nil
}

// SuspendSubscription releases the licences and keeps the record's
// quantity and add-ons. For an end customer they go back to the reseller's
// stock. A suspended trial cannot come back: Panda has no pause, so
// releasing a trial ends it (and starts the 90 days without a trial of
// that product); ResumeSubscription then answers TRIAL_EXPIRED and only a
// paid order remains.
func (a *Adapter) SuspendSubscription(ctx context.Context, req *provisioningv1.SuspendSubscriptionRequest) (*provisioningv1.SuspendSubscriptionResponse, error) {
	rec, updated, ds, err := a.release(ctx, "SuspendSubscription", req.GetSubscriptionId(), req.GetRecord(), req.GetAccountRecord(),
		provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED, msgSuspended)
	if err != nil {
		return nil, err
	}
	return &provisioningv1.SuspendSubscriptionResponse{Record: rec, Updated: updated, Diagnostics: ds}, nil
}

// CancelSubscription releases the licences for good. For an end customer
// they go back to the reseller's stock, where the reseller's next order
// uses them; the reseller's allocation is not lowered (see
// ProvisionSubscription).
func (a *Adapter) CancelSubscription(ctx context.Context, req *provisioningv1.CancelSubscriptionRequest) (*provisioningv1.CancelSubscriptionResponse, error) {
	rec, updated, ds, err := a.release(ctx, "CancelSubscription", req.GetSubscriptionId(), req.GetRecord(), req.GetAccountRecord(),
		provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED, msgCancelled)
	if err != nil {
		return nil, err
	}
	return &provisioningv1.CancelSubscriptionResponse{Record: rec, Updated: updated, Diagnostics: ds}, nil
}

// ResumeSubscription allocates the record's quantity and add-ons again, as
// ProvisionSubscription would with the record as the desired state.
func (a *Adapter) ResumeSubscription(ctx context.Context, req *provisioningv1.ResumeSubscriptionRequest) (*provisioningv1.ResumeSubscriptionResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	rec := req.GetRecord()
	if err := checkRecordRequest(req.GetSubscriptionId(), rec); err != nil {
		return nil, err
	}
	unlock, err := a.lockSubscription(ctx, rec.GetSubscriptionId())
	if err != nil {
		return nil, err
	}
	defer unlock()
	switch rec.GetStatus() {
	case provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED:
		return nil, cancelledError(rec.GetSubscriptionId())
	case provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE:
		return &provisioningv1.ResumeSubscriptionResponse{Record: rec}, nil
	}
	acc := req.GetAccount()
	if acc == nil {
		acc = &provisioningv1.Account{Id: rec.GetAccountId()}
	}
	o := orderOfRecord(rec)
	sc, ds := scopeOf(acc, req.GetAccountRecord(), req.GetAncestors(), st.cfg.RootAccountID)
	ds = append(ds, checkOrder(o, sc, rec, req.GetAccountSubscriptions(), a.now())...)
	if err := diag.ToError(ds); err != nil {
		return nil, err
	}
	log := a.logger.With("rpc", "ResumeSubscription", "subscription_id", o.id, "account_id", o.accountID)
	run := &allocRun{a: a, st: st, sc: sc, log: log}
	res, err := run.allocate(ctx, o, addonProducts(rec.GetAddons()))
	if err != nil {
		return nil, err
	}
	priv := decodeSubPrivate(rec.GetPrivate())
	priv.Account = sc.accountID
	out := run.record(rec, o, res, priv)
	return &provisioningv1.ResumeSubscriptionResponse{Record: out, Updated: out != rec}, nil
}

// GetSubscriptionStatus reads the account's summary and answers the record
// with one REMOTE_DRIFT warning per disagreement: a quantity or add-on
// Panda holds otherwise, licences held by a subscription that should hold
// none (suspended, cancelled) or missing from one that should (an ended
// trial, a release in the console). Drift is reported, never corrected.
func (a *Adapter) GetSubscriptionStatus(ctx context.Context, req *provisioningv1.GetSubscriptionStatusRequest) (*provisioningv1.GetSubscriptionStatusResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	rec := req.GetRecord()
	if rec == nil || rec.GetSubscriptionId() == "" {
		return nil, diag.InvalidArgument(fieldSubRecord, diag.CodeRequired, "record with a subscription_id is required")
	}
	account := remoteAccountOf(rec, req.GetAccountRecord())
	if account == "" {
		if rec.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE {
			return nil, diag.FailedPrecondition(diag.CodeAccountNotSynced, "account", "the record names no Panda account and no synchronized account record was sent")
		}
		return &provisioningv1.GetSubscriptionStatusResponse{Record: rec}, nil
	}
	cur, err := st.api.GetSoftwareSummary(ctx, account)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, diag.FailedPrecondition(diag.CodeAccountNotSynced, "account", "Panda account "+account+" does not exist any more: it was deleted outside the BSS")
		}
		return nil, remoteError(ctx, "reading the allocations of "+account, err)
	}
	return &provisioningv1.GetSubscriptionStatusResponse{Record: rec, Diagnostics: drift(rec, req.GetSubscription(), cur, a.now())}, nil
}

// drift compares what Panda holds with the record (and the desired state,
// when given).
func drift(rec *provisioningv1.SubscriptionRecord, sub *provisioningv1.Subscription, cur *SoftwareSummary, now time.Time) []*provisioningv1.Diagnostic {
	var ds []*provisioningv1.Diagnostic
	warn := func(field, summary string) {
		ds = append(ds, diag.Warning(field, diag.CodeRemoteDrift, summary, "ProvisionSubscription (or Resume, Cancel) makes Panda match the BSS again."))
	}
	base := cur.allocation(rec.GetProductId())
	switch rec.GetStatus() {
	case provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING:
		if base == nil {
			why := "Panda holds no " + rec.GetProductId() + " allocation; the record is " + rec.GetStatus().String()
			if rec.GetTrial() && rec.GetTrialEndsAt() != nil && !now.Before(rec.GetTrialEndsAt().AsTime()) {
				why += " (the trial ended on " + rec.GetTrialEndsAt().AsTime().UTC().Format(time.DateOnly) + ": order paid)"
			}
			warn("record.status", why)
			return ds
		}
		if base.Quantity != int(rec.GetQuantity()) {
			warn("record.quantity", fmt.Sprintf("Panda holds %d %s licences, the record %d", base.Quantity, rec.GetProductId(), rec.GetQuantity()))
		}
		if sub != nil && base.Quantity != int(sub.GetQuantity()) {
			warn(fieldSubQuantity, fmt.Sprintf("Panda holds %d %s licences, the subscription orders %d", base.Quantity, rec.GetProductId(), sub.GetQuantity()))
		}
		for i, ad := range rec.GetAddons() {
			got := 0
			if a := cur.allocation(ad.GetProductId()); a != nil {
				got = a.Quantity
			}
			if got != int(ad.GetQuantity()) {
				warn(fmt.Sprintf("record.addons[%d].quantity", i), fmt.Sprintf("Panda holds %d %s licences, the record %d", got, ad.GetProductId(), ad.GetQuantity()))
			}
		}
	default:
		if base != nil && rec.GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED {
			warn("record.status", fmt.Sprintf("Panda still holds %d %s licences; the record is %s", base.Quantity, rec.GetProductId(), rec.GetStatus()))
		}
	}
	return ds
}

// lockSubscription serializes the calls for one subscription id.
func (a *Adapter) lockSubscription(ctx context.Context, id string) (func(), error) {
	key := subscriptionLockKey(id)
	lk, err := a.locks.lock(ctx, key)
	if err != nil {
		return nil, contextError(ctx, "waiting for another call for the same subscription")
	}
	return func() { a.locks.unlock(key, lk) }, nil
}

// checkRecordRequest is the INVALID_ARGUMENT check of Suspend, Resume and
// Cancel.
func checkRecordRequest(id string, rec *provisioningv1.SubscriptionRecord) error {
	switch {
	case strings.TrimSpace(id) == "":
		return diag.InvalidArgument(fieldSubscriptionID, diag.CodeRequired, "subscription_id is required")
	case rec == nil:
		return diag.InvalidArgument(fieldSubRecord, diag.CodeRequired, "record is required: it says what the subscription holds")
	case rec.GetSubscriptionId() != id:
		return diag.InvalidArgument("record.subscription_id", diag.CodeInvalidValue, "record.subscription_id does not match subscription_id")
	}
	return nil
}

func cancelledError(id string) error {
	return diag.FailedPrecondition(diag.CodeSubscriptionCancelled, fieldSubID,
		"subscription "+id+" is cancelled, which is terminal: order a new subscription (new id)")
}

// remoteAccountOf is the Panda account that holds the record's
// allocations: the synchronized account record's, else the one the record
// remembers.
func remoteAccountOf(rec *provisioningv1.SubscriptionRecord, accRec *provisioningv1.SyncRecord) string {
	if accountSynced(accRec) {
		return accRec.GetRemoteId()
	}
	if p := decodeSubPrivate(rec.GetPrivate()); p.Account != "" {
		return p.Account
	}
	if acc, _, ok := strings.Cut(rec.GetRemoteId(), "/"); ok {
		return acc
	}
	return ""
}

// release deletes what the record holds and answers it in status: Suspend
// and Cancel. A replay (already in status) touches nothing remote.
func (a *Adapter) release(ctx context.Context, rpc, id string, rec *provisioningv1.SubscriptionRecord, accRec *provisioningv1.SyncRecord,
	status provisioningv1.SubscriptionStatus, message string,
) (*provisioningv1.SubscriptionRecord, bool, []*provisioningv1.Diagnostic, error) {
	st, err := a.configured()
	if err != nil {
		return nil, false, nil, err
	}
	if err := checkRecordRequest(id, rec); err != nil {
		return nil, false, nil, err
	}
	unlock, err := a.lockSubscription(ctx, id)
	if err != nil {
		return nil, false, nil, err
	}
	defer unlock()
	switch rec.GetStatus() {
	case status:
		return rec, false, nil, nil
	case provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED:
		return nil, false, nil, cancelledError(id)
	}
	account := remoteAccountOf(rec, accRec)
	if account == "" {
		if rec.GetRemoteId() == "" {
			// Nothing was ever allocated.
			return withStatus(rec, status, message, a.now()), true, nil, nil
		}
		return nil, false, nil, diag.FailedPrecondition(diag.CodeAccountNotSynced, "account", "the record names no Panda account and no synchronized account record was sent")
	}
	log := a.logger.With("rpc", rpc, "subscription_id", id, "account_id", rec.GetAccountId())
	run := &allocRun{a: a, st: st, sc: scope{accountID: account}, log: log}
	cur, err := st.api.GetSoftwareSummary(ctx, account)
	if errors.Is(err, ErrNotFound) && status == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
		// The account is gone, and its licences with it.
		return withStatus(rec, status, message, a.now()), true, nil, nil
	}
	if err != nil {
		return nil, false, nil, run.summaryError(ctx, account, err)
	}
	for _, op := range planRelease(orderOfRecord(rec), account, cur) {
		if err := run.exec(ctx, op); err != nil {
			return nil, false, nil, err
		}
	}
	return withStatus(rec, status, message, a.now()), true, nil, nil
}

// allocRun executes allocation plans for one order's scope.
type allocRun struct {
	a   *Adapter
	st  *configured
	sc  scope
	log *slog.Logger
}

// allocResult is what allocate did.
type allocResult struct {
	plan *allocPlan
	// trialEnds is when the trial allocation ends (trial orders).
	trialEnds time.Time
	// topUp is what the reseller's allocations grew by, per product.
	topUp map[string]int
}

// summary reads an account's summary.
func (r *allocRun) summary(ctx context.Context, account string) (*SoftwareSummary, error) {
	s, err := r.st.api.GetSoftwareSummary(ctx, account)
	if err != nil {
		return nil, r.summaryError(ctx, account, err)
	}
	return s, nil
}

// summaryError maps a failed summary read; a missing account is
// ACCOUNT_NOT_SYNCED.
func (r *allocRun) summaryError(ctx context.Context, account string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return diag.FailedPrecondition(diag.CodeAccountNotSynced, "account",
			"Panda account "+account+" does not exist: it was deleted outside the BSS; synchronize the account again")
	}
	return remoteError(ctx, "reading the allocations of "+account, err)
}

// plan reads what it needs and decides the writes of o, including the
// reseller's top-ups, without writing or locking anything (the check-only
// pass). pds are conflicts with what Panda holds; insufficient inventory is
// an error.
func (r *allocRun) plan(ctx context.Context, o order, owned []string) (*allocPlan, []*provisioningv1.Diagnostic, error) {
	p, _, pds, err := r.planLocked(ctx, o, owned, false)
	return p, pds, err
}

// planLocked is plan for execution: with lock, an end customer's plan that
// draws licences is made under the reseller's stock lock, which the
// returned unlock releases once the writes are done (the caller must call
// it, also on error paths that return a plan).
func (r *allocRun) planLocked(ctx context.Context, o order, owned []string, lock bool) (*allocPlan, func(), []*provisioningv1.Diagnostic, error) {
	noop := func() {}
	cur, err := r.summary(ctx, r.sc.accountID)
	if err != nil {
		return nil, noop, nil, err
	}
	p, pds := planAllocations(o, r.sc.accountID, owned, cur)
	if len(pds) > 0 {
		return nil, noop, pds, nil
	}
	if a := cur.allocation(o.product); a != nil {
		p.trialEnds = a.ExpiresAt
	}
	inc := p.increases()
	if len(inc) == 0 {
		return p, noop, nil, nil
	}
	fields := opFields(p.ops)
	if r.sc.reseller == "" {
		ps, err := r.summary(ctx, r.sc.parentID)
		if err != nil {
			return nil, noop, nil, err
		}
		var short []shortage
		for _, prod := range slices.Sorted(maps.Keys(inc)) {
			if free := ps.unallocated(prod); inc[prod] > free {
				short = append(short, shortage{product: prod, requested: inc[prod], available: max(free, 0), field: fields[prod]})
			}
		}
		if len(short) > 0 {
			return nil, noop, nil, insufficientError(short)
		}
		return p, noop, nil, nil
	}
	// An end customer: its reseller's stock. Orders of the reseller's
	// customers are serialized while they read and top it up, or two of
	// them would both see the same free licences.
	unlock := noop
	if lock {
		key := stockLockKey(r.sc.reseller)
		lk, err := r.a.locks.lock(ctx, key)
		if err != nil {
			return nil, noop, nil, contextError(ctx, "waiting for another order of the reseller's customers")
		}
		unlock = func() { r.a.locks.unlock(key, lk) }
	}
	rs, err := r.summary(ctx, r.sc.reseller)
	if err != nil {
		unlock()
		return nil, noop, nil, err
	}
	var root *SoftwareSummary
	for prod, n := range inc {
		if n > rs.unallocated(prod) {
			if root, err = r.summary(ctx, r.sc.resellerParent); err != nil {
				unlock()
				return nil, noop, nil, err
			}
			break
		}
	}
	ups, short := planTopUps(inc, fields, r.sc.reseller, rs, root, o.paidType)
	if len(short) > 0 {
		unlock()
		return nil, noop, nil, insufficientError(short)
	}
	p.topUps = ups
	return p, unlock, nil, nil
}

// allocate plans and executes o.
func (r *allocRun) allocate(ctx context.Context, o order, owned []string) (allocResult, error) {
	p, unlock, pds, err := r.planLocked(ctx, o, owned, true)
	if err != nil {
		return allocResult{}, err
	}
	defer unlock()
	if err := diag.ToError(pds); err != nil {
		return allocResult{}, err
	}
	res := allocResult{plan: p, trialEnds: p.trialEnds, topUp: map[string]int{}}
	for _, op := range p.topUps {
		if err := r.exec(ctx, op); err != nil {
			return allocResult{}, err
		}
		res.topUp[op.product] += op.increase()
		r.log.Info("reseller stock topped up", "reseller", op.account, "product", op.product, "quantity", op.quantity, "added", op.increase())
	}
	for _, op := range p.ops {
		a, err := r.execResult(ctx, op)
		if err != nil {
			return allocResult{}, err
		}
		if op.product == o.product && a != nil && !a.ExpiresAt.IsZero() {
			res.trialEnds = a.ExpiresAt
		}
		r.log.Debug("allocation written", "op", op.String())
	}
	return res, nil
}

// record is the ACTIVE record after allocate.
func (r *allocRun) record(prev *provisioningv1.SubscriptionRecord, o order, res allocResult, priv subPrivate) *provisioningv1.SubscriptionRecord {
	priv.Type = o.allocType
	if r.sc.reseller != "" {
		priv.Reseller = r.sc.reseller
		for prod, n := range res.topUp {
			if priv.TopUp == nil {
				priv.TopUp = map[string]int{}
			}
			priv.TopUp[prod] += n
		}
	}
	return subscriptionRecord(prev, o, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
		remoteAllocationID(r.sc.accountID, o.product, o.allocType), res.trialEnds, priv, msgActive, r.a.now())
}

func (r *allocRun) exec(ctx context.Context, op allocOp) error {
	_, err := r.execResult(ctx, op)
	return err
}

// execResult performs one write. A create whose answer was lost, or that
// finds the allocation already there (a concurrent or earlier attempt), is
// settled from the summary: the allocation found is set to the target
// quantity; when none is found, the create is sent once more.
func (r *allocRun) execResult(ctx context.Context, op allocOp) (*Allocation, error) {
	api := r.st.api
	req := AllocationRequest{Product: op.product, Type: op.typ, Quantity: op.quantity}
	switch op.kind {
	case allocSet:
		a, err := api.SetAllocationQuantity(ctx, op.account, req)
		return a, r.opError(ctx, op, err)
	case allocDelete:
		err := api.DeleteAllocation(ctx, op.account, op.product, op.typ)
		if errors.Is(err, ErrNotFound) {
			return nil, nil // already released
		}
		return nil, r.opError(ctx, op, err)
	}
	for attempt := 1; ; attempt++ {
		a, err := api.CreateAllocation(ctx, op.account, req)
		if err == nil {
			return a, nil
		}
		lost := mayHaveCommitted(err)
		if !lost && remoteCode(err) != AllocationCodeExists {
			return nil, r.opError(ctx, op, err)
		}
		r.log.Info("settling an allocation create from the summary", "account", op.account, "product", op.product, "answer_lost", lost)
		s, serr := r.summary(ctx, op.account)
		if serr != nil {
			return nil, serr
		}
		if cur := s.allocation(op.product); cur != nil && cur.Type == op.typ {
			if cur.Quantity == op.quantity {
				return cur, nil
			}
			a, err := api.SetAllocationQuantity(ctx, op.account, req)
			return a, r.opError(ctx, op, err)
		}
		if !lost || attempt == 2 {
			return nil, r.opError(ctx, op, err)
		}
	}
}

// opError maps a refused write to the contract: a Panda rule to its reason
// on the subscription field the write served.
func (r *allocRun) opError(ctx context.Context, op allocOp, err error) error {
	if err == nil {
		return nil
	}
	doing := fmt.Sprintf("%s of %s on %s", op.kind, op.product, op.account)
	if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) {
		return remoteError(ctx, doing, err)
	}
	field := op.field
	if field == "" {
		field = fieldSubProduct
	}
	msg := err.Error()
	var reason string
	switch remoteCode(err) {
	case AllocationCodeInsufficient:
		parent, from := r.sc.parentID, ""
		if op.account == r.sc.reseller {
			parent = r.sc.resellerParent
		} else if r.sc.reseller != "" {
			from = r.sc.reseller // the reseller's stock, topped up just before
		}
		available := 0
		if s, serr := r.st.api.GetSoftwareSummary(ctx, parent); serr == nil {
			available = max(s.unallocated(op.product), 0)
		}
		return insufficientError([]shortage{{product: op.product, requested: op.increase(), available: available, field: field, from: from}})
	case AllocationCodeOneBaseProduct:
		reason, field = diag.CodeBaseProductLimit, fieldSubProduct
	case AllocationCodeNoBaseProduct:
		reason = diag.CodeAddonWithoutBase
	case AllocationCodeAddonExceedsBase:
		reason = diag.CodeAddonExceedsBase
	case AllocationCodeTypeConflict:
		reason = diag.CodeAllocationTypeMismatch
	case AllocationCodeExists:
		reason = diag.CodeProductAlreadySubscribed
	case AllocationCodeTrialLimit:
		reason = diag.CodeTrialLimit
	case AllocationCodeTrialUnavailable:
		reason, field = diag.CodeTrialExpired, fieldSubTrial
	case AllocationCodeUnknownProduct:
		reason = diag.CodeUnknownProduct
	default:
		if errors.Is(err, ErrNotFound) {
			return diag.FailedPrecondition(diag.CodeAccountNotSynced, "account", "Panda answered not found during "+doing+": "+msg)
		}
		// ALLOCATED_TO_CHILDREN, ROOT_ACCOUNT and anything new: a rule
		// the adapter does not check itself.
		reason = diag.CodeRemoteRejected
	}
	return diag.ToError([]*provisioningv1.Diagnostic{diag.Error(field, reason, "Panda refused the "+doing, msg)})
}

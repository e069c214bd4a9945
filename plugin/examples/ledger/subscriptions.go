package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// subscription is one row of the subscriptions table.
type subscription struct {
	seq       int64
	id        string
	accountID string
	productID string
	status    provisioningv1.SubscriptionStatus
	quantity  int32
	addons    []addon
	updated   time.Time
}

// addon is an add-on as the ledger keeps it (JSON in the addons column).
type addon struct {
	ID        string `json:"id"`
	ProductID string `json:"product_id"`
	Quantity  int32  `json:"quantity"`
}

const (
	active    = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	suspended = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED
	cancelled = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
)

func addonsOf(sub *provisioningv1.Subscription) []addon {
	out := []addon{}
	for _, a := range sub.GetAddons() {
		out = append(out, addon{ID: a.GetId(), ProductID: a.GetProductId(), Quantity: a.GetQuantity()})
	}
	return out
}

// toRecord turns a row into the SubscriptionRecord the host stores.
func (s *subscription) toRecord() *provisioningv1.SubscriptionRecord {
	rec := &provisioningv1.SubscriptionRecord{
		Plugin: Name, SubscriptionId: s.id, AccountId: s.accountID, ProductId: s.productID, Status: s.status,
		Quantity: s.quantity, RemoteId: fmt.Sprintf("S-%06d", s.seq), UpdatedAt: timestamppb.New(s.updated),
	}
	for _, a := range s.addons {
		rec.Addons = append(rec.Addons, &provisioningv1.Addon{Id: a.ID, ProductId: a.ProductID, Quantity: a.Quantity})
	}
	return rec
}

// lookupSubscription returns the row of a BSS subscription, or nil.
func lookupSubscription(ctx context.Context, q querier, id string) (*subscription, error) {
	s := &subscription{id: id}
	var addons string
	var nanos int64
	err := q.QueryRowContext(ctx, `SELECT seq, account_id, product_id, status, quantity, addons, updated_at FROM subscriptions WHERE subscription_id = ?`, id).
		Scan(&s.seq, &s.accountID, &s.productID, &s.status, &s.quantity, &addons, &nanos)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.updated = time.Unix(0, nanos)
	return s, json.Unmarshal([]byte(addons), &s.addons)
}

// holder returns the id of another live subscription of the account that
// holds product, or "".
func holder(ctx context.Context, q querier, accountID, productID, except string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT subscription_id FROM subscriptions
		WHERE account_id = ? AND product_id = ? AND subscription_id != ? AND status IN (?, ?) LIMIT 1`,
		accountID, productID, except, int32(active), int32(suspended)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// liveSubscriptions counts the account's subscriptions that are neither
// cancelled nor failed: they still hold licences, or will on resume.
func liveSubscriptions(ctx context.Context, q querier, accountID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE account_id = ? AND status IN (?, ?)`,
		accountID, int32(active), int32(suspended)).Scan(&n)
	return n, err
}

// save writes a row (insert when seq is 0) and stamps it.
func save(ctx context.Context, tx *sql.Tx, s *subscription) error {
	js, _ := json.Marshal(s.addons) // plain structs always marshal
	s.updated = time.Now()
	if s.seq != 0 {
		_, err := tx.ExecContext(ctx, `UPDATE subscriptions SET status = ?, quantity = ?, addons = ?, updated_at = ? WHERE seq = ?`,
			int32(s.status), s.quantity, string(js), s.updated.UnixNano(), s.seq)
		return err
	}
	return tx.QueryRowContext(ctx, `INSERT INTO subscriptions (subscription_id, account_id, product_id, status, quantity, addons, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		s.id, s.accountID, s.productID, int32(s.status), s.quantity, string(js), s.updated.UnixNano()).Scan(&s.seq)
}

// ValidateSubscription runs the rules ProvisionSubscription runs first, and
// records nothing.
func (a *Adapter) ValidateSubscription(ctx context.Context, req *provisioningv1.ValidateSubscriptionRequest) (*provisioningv1.ValidateSubscriptionResponse, error) {
	db, err := a.ledger()
	if err != nil {
		return nil, err
	}
	if err := checkOrder(req.GetSubscription(), req.GetAccount()); err != nil {
		return nil, err
	}
	prior, err := lookupSubscription(ctx, db, req.GetSubscription().GetId())
	if err != nil {
		return nil, storeError(err)
	}
	ds, err := validateOrder(ctx, db, req.GetSubscription(), prior)
	if err != nil {
		return nil, storeError(err)
	}
	return &provisioningv1.ValidateSubscriptionResponse{Diagnostics: ds}, nil
}

// ProvisionSubscription makes the ledger hold the desired state: a new row,
// or the quantity and add-ons set (never added to) on the existing one. A
// SUSPENDED subscription keeps its status and takes the new desired state
// for when it resumes. Idempotent, keyed by subscription.id: a replay
// answers the same record with created=false, updated=false.
func (a *Adapter) ProvisionSubscription(ctx context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	db, err := a.ledger()
	if err != nil {
		return nil, err
	}
	sub := req.GetSubscription()
	if err := checkOrder(sub, req.GetAccount()); err != nil {
		return nil, err
	}
	var created, updated bool
	s, err := inTx(ctx, db, sub.GetId(), func(tx *sql.Tx, prior *subscription) (*subscription, error) {
		ds, err := validateOrder(ctx, tx, sub, prior)
		if err != nil {
			return nil, err
		}
		if err := diag.ToError(ds); err != nil {
			return nil, err
		}
		want := &subscription{id: sub.GetId(), accountID: sub.GetAccountId(), productID: sub.GetProductId(),
			status: active, quantity: sub.GetQuantity(), addons: addonsOf(sub)}
		if prior != nil {
			want.seq, want.status = prior.seq, prior.status
			if want.status != suspended {
				want.status = active
			}
			if want.status == prior.status && want.quantity == prior.quantity && slices.Equal(want.addons, prior.addons) {
				return prior, nil // a replay: nothing to write
			}
		}
		created, updated = prior == nil, prior != nil
		return want, save(ctx, tx, want)
	})
	if err != nil {
		return nil, storeError(err)
	}
	if created || updated {
		a.log.Info("subscription provisioned", "subscription_id", s.id, "account_id", s.accountID, "product_id", s.productID, "quantity", s.quantity, "created", created)
	}
	return &provisioningv1.ProvisionSubscriptionResponse{Record: s.toRecord(), Created: created, Updated: updated}, nil
}

// SuspendSubscription marks the subscription SUSPENDED, keeping its quantity
// and add-ons. Suspending a SUSPENDED one is a replay (updated=false).
func (a *Adapter) SuspendSubscription(ctx context.Context, req *provisioningv1.SuspendSubscriptionRequest) (*provisioningv1.SuspendSubscriptionResponse, error) {
	s, updated, err := a.transition(ctx, req.GetSubscriptionId(), req.GetRecord(), suspended)
	if err != nil {
		return nil, err
	}
	return &provisioningv1.SuspendSubscriptionResponse{Record: s.toRecord(), Updated: updated}, nil
}

// ResumeSubscription marks a SUSPENDED subscription ACTIVE again. Resuming
// an ACTIVE one is a replay (updated=false).
func (a *Adapter) ResumeSubscription(ctx context.Context, req *provisioningv1.ResumeSubscriptionRequest) (*provisioningv1.ResumeSubscriptionResponse, error) {
	s, updated, err := a.transition(ctx, req.GetSubscriptionId(), req.GetRecord(), active)
	if err != nil {
		return nil, err
	}
	return &provisioningv1.ResumeSubscriptionResponse{Record: s.toRecord(), Updated: updated}, nil
}

// CancelSubscription marks the subscription CANCELLED, for good. Cancelling
// a CANCELLED one is a replay (updated=false), not an error.
func (a *Adapter) CancelSubscription(ctx context.Context, req *provisioningv1.CancelSubscriptionRequest) (*provisioningv1.CancelSubscriptionResponse, error) {
	s, updated, err := a.transition(ctx, req.GetSubscriptionId(), req.GetRecord(), cancelled)
	if err != nil {
		return nil, err
	}
	return &provisioningv1.CancelSubscriptionResponse{Record: s.toRecord(), Updated: updated}, nil
}

// transition moves a subscription to status to: the shared body of Suspend,
// Resume and Cancel. A cancelled subscription moves nowhere else
// (SUBSCRIPTION_CANCELLED); reaching the status it already has is a replay.
func (a *Adapter) transition(ctx context.Context, id string, rec *provisioningv1.SubscriptionRecord, to provisioningv1.SubscriptionStatus) (*subscription, bool, error) {
	db, err := a.ledger()
	if err != nil {
		return nil, false, err
	}
	switch {
	case id == "":
		return nil, false, diag.InvalidArgument("subscription_id", diag.CodeRequired, "the request has no subscription_id")
	case rec == nil:
		return nil, false, diag.InvalidArgument("record", diag.CodeRequired, "the request has no record")
	case rec.GetSubscriptionId() != id:
		return nil, false, diag.InvalidArgument("record.subscription_id", diag.CodeInvalidValue, "the record is of subscription "+rec.GetSubscriptionId())
	}
	updated := false
	s, err := inTx(ctx, db, id, func(tx *sql.Tx, prior *subscription) (*subscription, error) {
		switch {
		case prior == nil:
			return nil, diag.InvalidArgument("subscription_id", diag.CodeInvalidValue, "no subscription "+id+" in the ledger: provision it first")
		case prior.status == to:
			return prior, nil
		case prior.status == cancelled:
			return nil, diag.FailedPrecondition(diag.CodeSubscriptionCancelled, "subscription.id", "subscription "+id+" is cancelled: order a new one")
		}
		next := *prior
		next.status, updated = to, true
		return &next, save(ctx, tx, &next)
	})
	if err != nil {
		return nil, false, storeError(err)
	}
	if updated {
		a.log.Info("subscription "+to.String(), "subscription_id", id)
	}
	return s, updated, nil
}

// GetSubscriptionStatus reads the subscription back from the ledger, with a
// REMOTE_DRIFT warning per field where the given record disagrees.
func (a *Adapter) GetSubscriptionStatus(ctx context.Context, req *provisioningv1.GetSubscriptionStatusRequest) (*provisioningv1.GetSubscriptionStatusResponse, error) {
	db, err := a.ledger()
	if err != nil {
		return nil, err
	}
	rec := req.GetRecord()
	if rec.GetSubscriptionId() == "" {
		return nil, diag.InvalidArgument("record.subscription_id", diag.CodeRequired, "the request has no record with a subscription id")
	}
	s, err := lookupSubscription(ctx, db, rec.GetSubscriptionId())
	if err != nil {
		return nil, storeError(err)
	}
	if s == nil {
		return &provisioningv1.GetSubscriptionStatusResponse{Record: rec, Diagnostics: []*provisioningv1.Diagnostic{
			diag.Warning("record.status", diag.CodeRemoteDrift, "the ledger has no such subscription", ""),
		}}, nil
	}
	now := s.toRecord()
	var ds []*provisioningv1.Diagnostic
	if rec.GetStatus() != now.GetStatus() {
		ds = append(ds, diag.Warning("record.status", diag.CodeRemoteDrift, "the ledger has "+now.GetStatus().String(), ""))
	}
	if rec.GetQuantity() != now.GetQuantity() {
		ds = append(ds, diag.Warning("record.quantity", diag.CodeRemoteDrift, fmt.Sprintf("the ledger has %d", now.GetQuantity()), ""))
	}
	if !proto.Equal(&provisioningv1.SubscriptionRecord{Addons: rec.GetAddons()}, &provisioningv1.SubscriptionRecord{Addons: now.GetAddons()}) {
		ds = append(ds, diag.Warning("record.addons", diag.CodeRemoteDrift, "the ledger has other add-ons", ""))
	}
	return &provisioningv1.GetSubscriptionStatusResponse{Record: now, Diagnostics: ds}, nil
}

// inTx runs change on the subscription's current row (nil if none) in one
// transaction and commits what it wrote: the read, the rules and the write
// can then not interleave with a concurrent call for the same subscription.
func inTx(ctx context.Context, db *sql.DB, id string, change func(tx *sql.Tx, prior *subscription) (*subscription, error)) (*subscription, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	prior, err := lookupSubscription(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	s, err := change(tx, prior)
	if err != nil {
		return nil, err
	}
	return s, tx.Commit()
}

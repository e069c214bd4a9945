package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// subscriptionSchema is the table of subscription records, beside
// sync_records in the same database, so one data directory (and one backup)
// holds all the host's state. The account index serves the listing of one
// account's orders (the rules that span orders, DeleteAccount); the status
// index serves the settling of PENDING records.
const subscriptionSchema = `
CREATE TABLE IF NOT EXISTS subscription_records (
	plugin          TEXT    NOT NULL,
	subscription_id TEXT    NOT NULL,
	account_id      TEXT    NOT NULL,
	status          INTEGER NOT NULL,
	record          BLOB    NOT NULL,
	subscription    BLOB,
	updated_ns      INTEGER NOT NULL,
	PRIMARY KEY (plugin, subscription_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscription_records_account ON subscription_records (plugin, account_id, subscription_id);
CREATE INDEX IF NOT EXISTS subscription_records_status ON subscription_records (status, plugin, subscription_id);
`

// PutSubscription writes in its own statement rather than through the
// sync-record writer: orders are rare next to synchronizations, so a group
// commit buys nothing, and the statement commits (synchronous=FULL, WAL)
// before it returns. SQLite's busy timeout queues it behind the writer's
// transaction.
func (s *sqliteStore) PutSubscription(ctx context.Context, rec *provisioningv1.SubscriptionRecord, sub *provisioningv1.Subscription) error {
	if err := validateSubscription(rec); err != nil {
		return err
	}
	select {
	case <-s.closed:
		return errClosed
	default:
	}
	rb, err := proto.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store subscription record: %w", err)
	}
	var sb []byte
	if sub != nil {
		if sb, err = proto.Marshal(sub); err != nil {
			return fmt.Errorf("store subscription record: %w", err)
		}
	}
	if err := s.Check(ctx); err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `
INSERT INTO subscription_records (plugin, subscription_id, account_id, status, record, subscription, updated_ns)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (plugin, subscription_id) DO UPDATE SET
	account_id = excluded.account_id,
	status = excluded.status,
	record = excluded.record,
	subscription = COALESCE(excluded.subscription, subscription_records.subscription),
	updated_ns = excluded.updated_ns`,
		rec.GetPlugin(), rec.GetSubscriptionId(), rec.GetAccountId(), int32(rec.GetStatus()),
		rb, nullBytes(sb), rec.GetUpdatedAt().AsTime().UnixNano())
	if err != nil {
		return fmt.Errorf("store subscription record %s/%s: %w", rec.GetPlugin(), rec.GetSubscriptionId(), err)
	}
	return nil
}

func (s *sqliteStore) GetSubscription(ctx context.Context, plugin, subscriptionID string) (SubscriptionEntry, error) {
	var rb, sb []byte
	err := s.db.QueryRowContext(ctx, `SELECT record, subscription FROM subscription_records WHERE plugin = ? AND subscription_id = ?`,
		plugin, subscriptionID).Scan(&rb, &sb)
	if errors.Is(err, sql.ErrNoRows) {
		return SubscriptionEntry{}, fmt.Errorf("%s/%s: %w", plugin, subscriptionID, ErrSubscriptionNotFound)
	}
	if err != nil {
		return SubscriptionEntry{}, fmt.Errorf("read subscription record %s/%s: %w", plugin, subscriptionID, err)
	}
	return decodeSubscriptionEntry(rb, sb)
}

func decodeSubscriptionEntry(rb, sb []byte) (SubscriptionEntry, error) {
	e := SubscriptionEntry{Record: &provisioningv1.SubscriptionRecord{}}
	if err := proto.Unmarshal(rb, e.Record); err != nil {
		return SubscriptionEntry{}, fmt.Errorf("decode stored subscription record: %w", err)
	}
	if sb != nil {
		e.Subscription = &provisioningv1.Subscription{}
		if err := proto.Unmarshal(sb, e.Subscription); err != nil {
			return SubscriptionEntry{}, fmt.Errorf("decode stored subscription: %w", err)
		}
	}
	return e, nil
}

// listSubscriptionsQuery is ListSubscriptions' SELECT for q after the
// keyset (afterPlugin, afterID), at most limit rows: only the conditions q
// sets, so that an account's orders are read through the
// subscription_records_account index, not by scanning every order.
func listSubscriptionsQuery(q SubscriptionQuery, afterPlugin, afterID string, limit int) (string, []any) {
	f := subscriptionsFilter(q, afterPlugin, afterID, false)
	// Without statistics SQLite prefers the primary key, which gives the
	// order but reads every order of the plugin; name the index instead.
	from := "subscription_records"
	switch {
	case q.Plugin != "" && q.AccountID != "":
		from += " INDEXED BY subscription_records_account"
	case q.Status != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_UNSPECIFIED:
		from += " INDEXED BY subscription_records_status"
	}
	return `SELECT plugin, subscription_id, record, subscription FROM ` + from + ` ` + f.where() +
		` ORDER BY plugin, subscription_id LIMIT ?`, append(f.args, limit)
}

func (s *sqliteStore) ListSubscriptions(ctx context.Context, q SubscriptionQuery) (SubscriptionPage, error) {
	afterPlugin, afterID, err := decodeSubscriptionToken(q)
	if err != nil {
		return SubscriptionPage{}, fmt.Errorf("list subscription records: %w", err)
	}
	n := pageSize(q.PageSize)
	// One more than a page tells whether another page follows.
	query, args := listSubscriptionsQuery(q, afterPlugin, afterID, n+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return SubscriptionPage{}, fmt.Errorf("list subscription records: %w", err)
	}
	defer rows.Close()
	var p SubscriptionPage
	var lastPlugin, lastID string
	for rows.Next() {
		if len(p.Entries) == n {
			p.NextPageToken = encodeSubscriptionToken(q, lastPlugin, lastID)
			break
		}
		var rb, sb []byte
		if err := rows.Scan(&lastPlugin, &lastID, &rb, &sb); err != nil {
			return SubscriptionPage{}, fmt.Errorf("list subscription records: %w", err)
		}
		e, err := decodeSubscriptionEntry(rb, sb)
		if err != nil {
			return SubscriptionPage{}, err
		}
		p.Entries = append(p.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return SubscriptionPage{}, fmt.Errorf("list subscription records: %w", err)
	}
	return p, nil
}

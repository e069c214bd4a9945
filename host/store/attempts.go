package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Attempt markers: the host writes one per (plugin, account id) before a
// Synchronize that may create remote objects the stored record cannot name
// ([NeedsAttempt]: the record holds no live remote_id), and the store
// deletes it in the same transaction as it stores a record that settles the
// attempt ([SettlesAttempt]: one with a remote_id, or DELETED), whatever
// call answered that record. A marker found at the start of a call means an
// earlier call's answer was never stored (its daemon died, or its write
// failed), so remote objects may exist that only that call's plugin knew
// of; the host then tells the plugin (SynchronizeRequest's
// unfinished_attempt). A record that does not settle (FAILED, NOT_SYNCED or
// PENDING without a remote_id) leaves the marker, and so does a Put that
// fails or is refused (RemoteIDTakenError): nothing of it is written.

// NeedsAttempt reports whether a Synchronize made with prev, the account's
// stored record (nil when none), may create remote objects that only its
// answer would name, so that the host must mark the attempt first
// ([Store.BeginAttempt]): prev holds no live remote_id (no record, a FAILED
// or NOT_SYNCED one that never got remote objects, a DELETED one, whose
// remote objects are gone and a new Synchronize creates afresh).
func NeedsAttempt(prev *provisioningv1.SyncRecord) bool {
	return !live(prev)
}

// SettlesAttempt reports whether storing rec settles the account's attempt,
// so that [Store.Put] deletes its marker with it: rec names the account's
// remote objects (a remote_id), or says there are none (DELETED).
func SettlesAttempt(rec *provisioningv1.SyncRecord) bool {
	return rec.GetRemoteId() != "" || rec.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_DELETED
}

// errNoAttemptKey is the answer to an attempt call without a plugin or an
// account id.
var errNoAttemptKey = errors.New("attempt marker: plugin and account id are required")

func checkAttemptKey(plugin, accountID string) error {
	if plugin == "" || accountID == "" {
		return errNoAttemptKey
	}
	return nil
}

// memoryAttempts are the memory store's markers.
type memoryAttempts struct {
	mu sync.Mutex
	m  map[key]struct{}
}

func (a *memoryAttempts) begin(plugin, accountID string) (bool, error) {
	if err := checkAttemptKey(plugin, accountID); err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := key{plugin, accountID}
	if _, ok := a.m[k]; ok {
		return true, nil
	}
	if a.m == nil {
		a.m = map[key]struct{}{}
	}
	a.m[k] = struct{}{}
	return false, nil
}

// settle deletes the marker of (plugin, accountID), if any. The memory
// store's Put calls it holding the records' lock, so no one sees the record
// stored and the marker still there.
func (a *memoryAttempts) settle(plugin, accountID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, key{plugin, accountID})
}

func (s *memory) BeginAttempt(_ context.Context, plugin, accountID string) (bool, error) {
	return s.attempts.begin(plugin, accountID)
}

// attemptSchema is the SQLite table of attempt markers, beside
// sync_records.
const attemptSchema = `
CREATE TABLE IF NOT EXISTS sync_attempts (
	plugin     TEXT NOT NULL,
	account_id TEXT NOT NULL,
	PRIMARY KEY (plugin, account_id)
) WITHOUT ROWID;
`

// BeginAttempt goes through the writer, as Put does: the markers of every
// call waiting at that moment are inserted in one transaction with the
// waiting Puts, and each call answers once that transaction is durable.
func (s *sqliteStore) BeginAttempt(ctx context.Context, plugin, accountID string) (bool, error) {
	if err := checkAttemptKey(plugin, accountID); err != nil {
		return false, err
	}
	w := &write{kind: beginAttempt, plugin: plugin, account: accountID, done: make(chan error, 1)}
	if err := s.enqueue(ctx, w); err != nil {
		return false, fmt.Errorf("begin attempt %s/%s: %w", plugin, accountID, err)
	}
	return w.existed, nil
}

// The writer's statements on attempt markers (see commitTx).
const (
	insertAttemptSQL = `INSERT INTO sync_attempts (plugin, account_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
	deleteAttemptSQL = `DELETE FROM sync_attempts WHERE plugin = ? AND account_id = ?`
)

// insertAttempt writes w's marker with stmt (insertAttemptSQL in the
// writer's transaction) and notes in w whether it was there already.
func insertAttempt(ctx context.Context, stmt *sql.Stmt, w *write) error {
	res, err := stmt.ExecContext(ctx, w.plugin, w.account)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	w.existed = n == 0
	return nil
}

// deleteAttempt deletes the marker of w's account with stmt
// (deleteAttemptSQL in the writer's transaction), with the record that
// settles it.
func deleteAttempt(ctx context.Context, stmt *sql.Stmt, w *write) error {
	_, err := stmt.ExecContext(ctx, w.plugin, w.account)
	return err
}

// BeginAttempt writes the marker of (plugin, accountID) and reports whether
// it was there already.
func (s *Postgres) BeginAttempt(ctx context.Context, plugin, accountID string) (bool, error) {
	if err := checkAttemptKey(plugin, accountID); err != nil {
		return false, err
	}
	var inserted bool
	err := s.data.QueryRow(ctx, `INSERT INTO sync_attempts (plugin, account_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING RETURNING true`, plugin, accountID).Scan(&inserted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("begin attempt %s/%s: %w", plugin, accountID, err)
	}
	return false, nil
}

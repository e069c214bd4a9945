package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Attempt markers: the host writes one per (plugin, account id) before a
// Synchronize that may create remote objects the stored record cannot name
// (the record holds no remote_id), and deletes it once a record with a
// remote_id (or DELETED) is stored. A marker found at the start of a call
// means an earlier call's answer was never stored (its daemon died, or its
// write failed), so remote objects may exist that only that call's plugin
// knew of; the host then tells the plugin (SynchronizeRequest's
// unfinished_attempt).

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

func (a *memoryAttempts) end(plugin, accountID string) error {
	if err := checkAttemptKey(plugin, accountID); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, key{plugin, accountID})
	return nil
}

func (s *memory) BeginAttempt(_ context.Context, plugin, accountID string) (bool, error) {
	return s.attempts.begin(plugin, accountID)
}

func (s *memory) EndAttempt(_ context.Context, plugin, accountID string) error {
	return s.attempts.end(plugin, accountID)
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

func (s *sqliteStore) BeginAttempt(ctx context.Context, plugin, accountID string) (bool, error) {
	if err := checkAttemptKey(plugin, accountID); err != nil {
		return false, err
	}
	if err := s.Check(ctx); err != nil {
		return false, err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO sync_attempts (plugin, account_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, plugin, accountID)
	if err != nil {
		return false, fmt.Errorf("begin attempt %s/%s: %w", plugin, accountID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("begin attempt %s/%s: %w", plugin, accountID, err)
	}
	return n == 0, nil
}

func (s *sqliteStore) EndAttempt(ctx context.Context, plugin, accountID string) error {
	if err := checkAttemptKey(plugin, accountID); err != nil {
		return err
	}
	if err := s.Check(ctx); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sync_attempts WHERE plugin = ? AND account_id = ?`, plugin, accountID); err != nil {
		return fmt.Errorf("end attempt %s/%s: %w", plugin, accountID, err)
	}
	return nil
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

// EndAttempt deletes the marker of (plugin, accountID), if any.
func (s *Postgres) EndAttempt(ctx context.Context, plugin, accountID string) error {
	if err := checkAttemptKey(plugin, accountID); err != nil {
		return err
	}
	if _, err := s.data.Exec(ctx, `DELETE FROM sync_attempts WHERE plugin = $1 AND account_id = $2`, plugin, accountID); err != nil {
		return fmt.Errorf("end attempt %s/%s: %w", plugin, accountID, err)
	}
	return nil
}

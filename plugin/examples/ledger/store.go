package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go (no cgo)

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// The ledger is one table. The BSS account id is UNIQUE: that single
// constraint is what makes Synchronize idempotent, even across two plugin
// processes sharing the file.
const schema = `CREATE TABLE IF NOT EXISTS accounts (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- the "remote id"
	account_id TEXT    NOT NULL UNIQUE,           -- the BSS account id
	type       INTEGER NOT NULL,                  -- provisioning.v1.AccountType
	parent_id  TEXT    NOT NULL,                  -- the BSS id of its reseller
	vals       TEXT    NOT NULL,                  -- the option values, as JSON
	updated_at INTEGER NOT NULL                   -- Unix nanoseconds
)`

// entry is one row: what the ledger knows about one BSS account.
type entry struct {
	seq       int64
	accountID string
	typ       provisioningv1.AccountType
	parentID  string
	values    map[string]string
	updated   time.Time
}

// vals returns the entry's values; none for no entry.
func (e *entry) vals() map[string]string {
	if e == nil {
		return nil
	}
	return e.values
}

// remoteID is the id the ledger gives the account, like a vendor would.
func (e *entry) remoteID() string { return fmt.Sprintf("L-%06d", e.seq) }

// openDB opens the ledger file, creating it if needed.
func openDB(ctx context.Context, path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)") // wait for another writer instead of failing
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_txlock", "immediate") // BEGIN takes the write lock: read-then-insert is atomic
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// SQLite has one writer at a time anyway; one connection keeps it simple.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// querier is what both *sql.DB and *sql.Tx offer: the rules read through it
// so Synchronize can run them inside its transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lookup returns the entry of a BSS account, or nil if it is not recorded.
func lookup(ctx context.Context, q querier, accountID string) (*entry, error) {
	e := &entry{accountID: accountID}
	var vals string
	var nanos int64
	err := q.QueryRowContext(ctx, `SELECT seq, type, parent_id, vals, updated_at FROM accounts WHERE account_id = ?`, accountID).
		Scan(&e.seq, &e.typ, &e.parentID, &vals, &nanos)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e.updated = time.Unix(0, nanos)
	return e, json.Unmarshal([]byte(vals), &e.values)
}

// record runs check and, if it passes, records the account with the values
// check returns, all in one transaction. It reports whether the entry is
// new. An account already recorded keeps its seq (its remote id); new values
// replace its old ones, and the same values change nothing.
func record(ctx context.Context, db *sql.DB, a *provisioningv1.Account, check func(querier) (map[string]string, error)) (*entry, bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	vals, err := check(tx)
	if err != nil {
		return nil, false, err
	}
	js, _ := json.Marshal(vals) // a map[string]string always marshals
	now := time.Now()
	prior, err := lookup(ctx, tx, a.GetId())
	if err != nil {
		return nil, false, err
	}
	if prior != nil && maps.Equal(prior.values, vals) {
		return prior, false, nil // a replay: nothing to write
	}
	e := &entry{accountID: a.GetId(), typ: a.GetType(), parentID: a.GetParentId(), values: vals, updated: now}
	if prior != nil {
		e.seq = prior.seq
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET vals = ?, updated_at = ? WHERE seq = ?`, string(js), now.UnixNano(), e.seq)
	} else {
		err = tx.QueryRowContext(ctx, `INSERT INTO accounts (account_id, type, parent_id, vals, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING seq`,
			e.accountID, int32(e.typ), e.parentID, string(js), now.UnixNano()).Scan(&e.seq)
	}
	if err != nil {
		return nil, false, err
	}
	return e, prior == nil, tx.Commit()
}

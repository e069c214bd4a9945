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

// The ledger is two tables. The BSS account id and the BSS subscription id
// are UNIQUE: those two constraints are what make Synchronize and
// ProvisionSubscription idempotent, even across two plugin processes sharing
// the file. A deleted account's row is removed, so a later Synchronize
// records it anew under a new seq, as a vendor would create a new account.
const schema = `CREATE TABLE IF NOT EXISTS accounts (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- the "remote id"
	account_id TEXT    NOT NULL UNIQUE,           -- the BSS account id
	type       INTEGER NOT NULL,                  -- provisioning.v1.AccountType
	parent_id  TEXT    NOT NULL,                  -- the BSS id of its reseller
	vals       TEXT    NOT NULL,                  -- the option values, as JSON
	updated_at INTEGER NOT NULL,                  -- Unix nanoseconds
	name       TEXT    NOT NULL DEFAULT '',       -- the company name, kept in sync
	email      TEXT    NOT NULL DEFAULT ''        -- the corporate email, kept in sync
);
CREATE TABLE IF NOT EXISTS subscriptions (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT, -- the "remote id"
	subscription_id TEXT    NOT NULL UNIQUE,           -- the BSS subscription id
	account_id      TEXT    NOT NULL,                  -- the BSS account that holds it
	product_id      TEXT    NOT NULL,                  -- a base product of the catalogue
	status          INTEGER NOT NULL,                  -- provisioning.v1.SubscriptionStatus
	quantity        INTEGER NOT NULL,
	addons          TEXT    NOT NULL,                  -- the add-ons, as JSON
	updated_at      INTEGER NOT NULL                   -- Unix nanoseconds
)`

// entry is one row: what the ledger knows about one BSS account.
type entry struct {
	seq       int64
	accountID string
	typ       provisioningv1.AccountType
	parentID  string
	values    map[string]string
	name      string
	email     string
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
	err := q.QueryRowContext(ctx, `SELECT seq, type, parent_id, vals, updated_at, name, email FROM accounts WHERE account_id = ?`, accountID).
		Scan(&e.seq, &e.typ, &e.parentID, &vals, &nanos, &e.name, &e.email)
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
// check returns, all in one transaction. It reports whether the entry is new
// (created) or an existing one changed (updated). An account already recorded
// keeps its seq (its remote id); new values, a new name or a new email
// replace the old ones (Synchronize converges), and the same ones change
// nothing. What the ledger cannot converge is refused: a recorded account
// never moves to another parent or changes type.
func record(ctx context.Context, db *sql.DB, a *provisioningv1.Account, check func(querier) (map[string]string, error)) (e *entry, created, updated bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, false, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	vals, err := check(tx)
	if err != nil {
		return nil, false, false, err
	}
	js, _ := json.Marshal(vals) // a map[string]string always marshals
	now := time.Now()
	prior, err := lookup(ctx, tx, a.GetId())
	if err != nil {
		return nil, false, false, err
	}
	if prior != nil {
		if err := convergeable(prior, a); err != nil {
			return nil, false, false, err
		}
		if maps.Equal(prior.values, vals) && prior.name == a.GetName() && prior.email == a.GetCorporateEmail() {
			return prior, false, false, nil // a replay: nothing to write
		}
	}
	e = &entry{accountID: a.GetId(), typ: a.GetType(), parentID: a.GetParentId(), values: vals,
		name: a.GetName(), email: a.GetCorporateEmail(), updated: now}
	if prior != nil {
		e.seq = prior.seq
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET vals = ?, name = ?, email = ?, updated_at = ? WHERE seq = ?`,
			string(js), e.name, e.email, now.UnixNano(), e.seq)
	} else {
		err = tx.QueryRowContext(ctx, `INSERT INTO accounts (account_id, type, parent_id, vals, name, email, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
			e.accountID, int32(e.typ), e.parentID, string(js), e.name, e.email, now.UnixNano()).Scan(&e.seq)
	}
	if err != nil {
		return nil, false, false, err
	}
	return e, prior == nil, prior != nil, tx.Commit()
}

// children returns the entries whose parent is accountID.
func children(ctx context.Context, tx *sql.Tx, accountID string) ([]*entry, error) {
	rows, err := tx.QueryContext(ctx, `SELECT account_id FROM accounts WHERE parent_id = ? ORDER BY seq`, accountID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]*entry, 0, len(ids))
	for _, id := range ids {
		e, err := lookup(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// descendants returns the entries below accountID, deepest first: the order
// a cascade deletes them in.
func descendants(ctx context.Context, tx *sql.Tx, accountID string) ([]*entry, error) {
	kids, err := children(ctx, tx, accountID)
	if err != nil {
		return nil, err
	}
	var out []*entry
	for _, k := range kids {
		below, err := descendants(ctx, tx, k.accountID)
		if err != nil {
			return nil, err
		}
		out = append(append(out, below...), k)
	}
	return out, nil
}

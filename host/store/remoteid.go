package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ErrRemoteIDTaken is wrapped by [Store.Put] when another live record of the
// same plugin already holds the record's remote_id. A remote account belongs
// to one BSS account: two live records sharing it would let one tenant act on
// another's remote objects.
var ErrRemoteIDTaken = errors.New("remote id held by another sync record")

// RemoteIDTakenError is the error [Store.Put] answers for a record whose
// remote_id another live record holds; it wraps [ErrRemoteIDTaken]. Nothing
// was written.
type RemoteIDTakenError struct {
	Plugin   string
	RemoteID string
	// Holder is the BSS account id of the record that holds RemoteID.
	Holder string
}

func (e *RemoteIDTakenError) Error() string {
	return fmt.Sprintf("remote id %q of plugin %q is held by the record of account %q", e.RemoteID, e.Plugin, e.Holder)
}

func (e *RemoteIDTakenError) Unwrap() error { return ErrRemoteIDTaken }

// live reports whether rec holds its remote_id: every record with one, except
// a DELETED record, whose remote objects are gone.
func live(rec *provisioningv1.SyncRecord) bool {
	return rec.GetRemoteId() != "" && rec.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED
}

// remoteIDSchema adds the remote_id column and the partial unique index that
// enforces "no two live records of one plugin hold the same remote_id". The
// column is NULL for a record that holds none (no remote_id, or DELETED).
const remoteIDSchema = `
CREATE UNIQUE INDEX IF NOT EXISTS sync_records_live_remote_id
	ON sync_records (plugin, remote_id) WHERE remote_id IS NOT NULL;
`

// migrateRemoteID brings a database created before the remote_id column up
// to date: it adds the column, fills it from the stored records, and creates
// the unique index. A database whose records already break the invariant
// fails to open, naming the index, rather than running without it.
func migrateRemoteID(db *sql.DB) error {
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('sync_records') WHERE name = 'remote_id'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if err := backfillRemoteID(db); err != nil {
			return fmt.Errorf("add remote_id to sync_records: %w", err)
		}
	}
	if _, err := db.Exec(remoteIDSchema); err != nil {
		return fmt.Errorf("enforce one live record per remote id: %w", err)
	}
	return nil
}

func backfillRemoteID(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if _, err := tx.Exec(`ALTER TABLE sync_records ADD COLUMN remote_id TEXT`); err != nil {
		return err
	}
	rows, err := tx.Query(`SELECT plugin, account_id, record FROM sync_records`)
	if err != nil {
		return err
	}
	type fill struct{ plugin, account, remoteID string }
	var fills []fill
	for rows.Next() {
		var f fill
		var rb []byte
		if err := rows.Scan(&f.plugin, &f.account, &rb); err != nil {
			rows.Close()
			return err
		}
		rec := &provisioningv1.SyncRecord{}
		if err := proto.Unmarshal(rb, rec); err != nil {
			rows.Close()
			return fmt.Errorf("decode stored sync record %s/%s: %w", f.plugin, f.account, err)
		}
		if live(rec) {
			f.remoteID = rec.GetRemoteId()
			fills = append(fills, f)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, f := range fills {
		if _, err := tx.Exec(`UPDATE sync_records SET remote_id = ? WHERE plugin = ? AND account_id = ?`, f.remoteID, f.plugin, f.account); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// remoteIDHolderSQL finds the live record of a plugin (1) that holds a
// remote id (2), other than an account's own (3).
const remoteIDHolderSQL = `SELECT account_id FROM sync_records WHERE plugin = ? AND remote_id = ? AND account_id != ?`

// remoteIDHolder returns the account id of another live record of w's plugin
// that holds w's remote id, or "" when none does; stmt is remoteIDHolderSQL
// in the write's transaction. The single writer runs it there, so the
// answer holds until the commit; the unique index is the backstop.
func remoteIDHolder(ctx context.Context, stmt *sql.Stmt, w *write) (string, error) {
	if w.remoteID == nil {
		return "", nil
	}
	var holder string
	err := stmt.QueryRowContext(ctx, w.plugin, *w.remoteID, w.account).Scan(&holder)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return holder, err
}

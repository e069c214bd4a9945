package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"

	// The pure-Go SQLite driver: the host must build without cgo.
	_ "modernc.org/sqlite"
)

// databaseFile is the name of the SQLite database inside the data directory.
const databaseFile = "sync-records.db"

const schema = `
CREATE TABLE IF NOT EXISTS sync_records (
	plugin     TEXT    NOT NULL,
	account_id TEXT    NOT NULL,
	status     INTEGER NOT NULL,
	record     BLOB    NOT NULL,
	account    BLOB,
	updated_ns INTEGER NOT NULL,
	PRIMARY KEY (plugin, account_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sync_records_status ON sync_records (status, plugin, account_id);
`

type sqliteStore struct {
	path string
	// opened identifies the database file opened (os.SameFile: device and
	// inode on Unix, volume and file index on Windows), to notice it
	// deleted or replaced: SQLite would go on writing into the unlinked
	// inode, and every write answered OK would be gone at the next start.
	opened os.FileInfo
	// damaged, once set, is the ErrDamaged answer to every call.
	damaged atomic.Pointer[error]

	db  *sql.DB
	get *sql.Stmt // the prepared Get
	// The writer's statements, prepared once: parsing them in every
	// transaction cost more CPU than running them.
	upsert, holder, insertAttempt, deleteAttempt *sql.Stmt
	// SQLite has one writer at a time, and each durable commit costs an
	// fsync. One goroutine writes: it commits every write (Put,
	// BeginAttempt) waiting at that moment in a single transaction (group
	// commit), and answers each only once that transaction is durable.
	writes    chan *write
	closeOnce sync.Once
	closed    chan struct{}
	writerWG  sync.WaitGroup
	// commits counts the writer's committed transactions.
	commits atomic.Uint64
	// beforeCommit, when set (by tests), runs in the writer before each
	// group's transaction.
	beforeCommit atomic.Pointer[func(group []*write)]
}

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

// writeKind tells what a write does in the writer's transaction.
type writeKind uint8

const (
	// putRecord stores a sync record (Put), deleting the account's attempt
	// marker when the record settles it.
	putRecord writeKind = iota
	// beginAttempt inserts an attempt marker (BeginAttempt) and notes
	// whether it was there already.
	beginAttempt
)

type write struct {
	kind            writeKind
	plugin, account string
	// putRecord only:
	status       int32
	record, acct []byte
	updatedNS    int64
	remoteID     *string // NULL unless the record holds its remote id (see live)
	settles      bool    // the record settles the account's attempt (SettlesAttempt)
	// beginAttempt only: the marker was there already.
	existed bool
	err     error // this write's own failure; the others still commit
	done    chan error
}

// OpenSQLite opens (creating if needed) the sync-record database
// sync-records.db in dir, which is created with mode 0700 if missing. The database uses the WAL
// journal with synchronous=FULL, so a Put that returned survives a crash of
// the process or the machine.
func OpenSQLite(dir string) (Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open sync-record store: %w", err)
	}
	path := filepath.Join(dir, databaseFile)
	if err := ownerOnly(path); err != nil {
		return nil, fmt.Errorf("open sync-record store: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sync-record store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	// Keep them all: database/sql keeps 2 idle by default, so under load the
	// store closed and reopened connections (file, pragmas, the prepared
	// Get) all along.
	db.SetMaxIdleConns(4)
	if err := quickCheck(db, path); err != nil {
		_ = db.Close()
		return nil, err
	}
	if _, err := db.Exec(schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sync-record store %s: %w", path, err)
	}
	if err := migrateRemoteID(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sync-record store %s: %w", path, err)
	}
	if _, err := db.Exec(subscriptionSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sync-record store %s: %w", path, err)
	}
	if _, err := db.Exec(attemptSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sync-record store %s: %w", path, err)
	}
	// Get runs for every Synchronize (the account's own record, its
	// ancestors): prepare it once instead of parsing the SQL on every call.
	get, err := db.Prepare(`SELECT record, account FROM sync_records WHERE plugin = ? AND account_id = ?`)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sync-record store %s: %w", path, err)
	}
	s := &sqliteStore{path: path, db: db, get: get, writes: make(chan *write), closed: make(chan struct{})}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.upsert, upsertSQL},
		{&s.holder, remoteIDHolderSQL},
		{&s.insertAttempt, insertAttemptSQL},
		{&s.deleteAttempt, deleteAttemptSQL},
	} {
		if *p.stmt, err = db.Prepare(p.sql); err != nil {
			_ = s.closeStmts()
			_ = db.Close()
			return nil, fmt.Errorf("open sync-record store %s: %w", path, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sync-record store %s: %w", path, err)
	}
	s.opened = fi
	s.writerWG.Add(1)
	go s.writer()
	return s, nil
}

var errClosed = errors.New("sync-record store is closed")

// ownerOnly creates the database file 0600 if missing and makes it and its
// -wal and -shm files 0600 if not: they hold names, emails and phone
// numbers. SQLite gives the -wal and -shm files it creates the database
// file's mode, so the file must be right before SQLite opens it, whatever
// the umask or an older version left.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// quickCheck refuses a database that fails SQLite's quick_check: serving
// from it would answer some reads, fail writes as "malformed" and lose
// whatever the damaged pages held.
func quickCheck(db *sql.DB, path string) error {
	rows, err := db.Query(`PRAGMA quick_check`)
	if err != nil {
		if isCorrupt(err) {
			return damagedAtOpen(path, err.Error())
		}
		return fmt.Errorf("open sync-record store %s: %w", path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return damagedAtOpen(path, err.Error())
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return damagedAtOpen(path, err.Error())
	}
	if len(problems) > 0 {
		if len(problems) > 3 {
			problems = append(problems[:3], fmt.Sprintf("and %d more", len(problems)-3))
		}
		return damagedAtOpen(path, strings.Join(problems, "; "))
	}
	return nil
}

func damagedAtOpen(path, why string) error {
	return fmt.Errorf("%w: %s fails its integrity check (%s); the daemon will not serve from it. "+
		"Restore it from a backup, or move it and its -wal and -shm files aside to start with an empty store "+
		"(then synchronize the accounts again); sqlite3's .recover command may salvage its rows", ErrDamaged, path, why)
}

// isCorrupt tells whether err is SQLite's SQLITE_CORRUPT or SQLITE_NOTADB.
func isCorrupt(err error) bool {
	var se interface{ Code() int }
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return true
		}
	}
	return false
}

// Check reports whether the store can still keep what it is given: an
// error wrapping ErrDamaged when its database file was deleted or replaced,
// or a write found it corrupt. The daemon's health check calls it.
func (s *sqliteStore) Check(context.Context) error {
	if err := s.damagedErr(); err != nil {
		return err
	}
	return s.checkFile()
}

func (s *sqliteStore) damagedErr() error {
	if p := s.damaged.Load(); p != nil {
		return *p
	}
	return nil
}

// markDamaged makes err (wrapping ErrDamaged) the answer to every later
// call, and returns the first such error.
func (s *sqliteStore) markDamaged(err error) error {
	s.damaged.CompareAndSwap(nil, &err)
	return s.damagedErr()
}

// checkFile marks the store damaged when its database file is no longer
// the one it opened.
func (s *sqliteStore) checkFile() error {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s.markDamaged(fmt.Errorf("%w: %s was deleted while the daemon ran; nothing is written any more. "+
			"Stop the daemon, restore the file from a backup (or start with an empty store), then start it", ErrDamaged, s.path))
	case err != nil:
		return fmt.Errorf("stat sync-record database: %w", err)
	}
	if !os.SameFile(fi, s.opened) {
		return s.markDamaged(fmt.Errorf("%w: %s was replaced by another file while the daemon ran; nothing is written any more. "+
			"Stop the daemon and start it again to serve the new file", ErrDamaged, s.path))
	}
	return nil
}

func (s *sqliteStore) writer() {
	defer s.writerWG.Done()
	for {
		var group []*write
		select {
		case w := <-s.writes:
			group = append(group, w)
		case <-s.closed:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case w := <-s.writes:
				group = append(group, w)
			default:
				break more
			}
		}
		if f := s.beforeCommit.Load(); f != nil {
			(*f)(group)
		}
		err := s.commit(group)
		for _, w := range group {
			if err != nil {
				w.done <- err
			} else {
				w.done <- w.err
			}
		}
	}
}

func (s *sqliteStore) commit(group []*write) error {
	if err := s.damagedErr(); err != nil {
		return err
	}
	if err := s.checkFile(); err != nil {
		return err
	}
	err := s.commitTx(group)
	if isCorrupt(err) {
		return s.markDamaged(fmt.Errorf("%w: %s is corrupt (%v): stop the daemon and restore it from a backup; the daemon refuses to start on it until then", ErrDamaged, s.path, err))
	}
	return err
}

// upsertSQL stores one sync record.
const upsertSQL = `
INSERT INTO sync_records (plugin, account_id, status, record, account, updated_ns, remote_id)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (plugin, account_id) DO UPDATE SET
	status = excluded.status,
	record = excluded.record,
	account = COALESCE(excluded.account, sync_records.account),
	updated_ns = excluded.updated_ns,
	remote_id = excluded.remote_id`

// commitTx runs group's writes, in order, in one transaction. A write's own
// failure (a remote id another record holds) is noted in its err and the
// others go on; any other error fails the whole group, and nothing of it is
// written.
func (s *sqliteStore) commitTx(group []*write) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	g := groupTx{ctx: context.Background(), tx: tx}
	for _, w := range group {
		if w.kind == beginAttempt {
			if err := insertAttempt(g.ctx, g.stmt(&g.insertAttempt, s.insertAttempt), w); err != nil {
				return err
			}
			continue
		}
		if w.remoteID != nil {
			holder, err := remoteIDHolder(g.ctx, g.stmt(&g.holder, s.holder), w)
			if err != nil {
				return err
			}
			if holder != "" {
				w.err = &RemoteIDTakenError{Plugin: w.plugin, RemoteID: *w.remoteID, Holder: holder}
				continue
			}
		}
		if _, err := g.stmt(&g.upsert, s.upsert).ExecContext(g.ctx, w.plugin, w.account, w.status, w.record, nullBytes(w.acct), w.updatedNS, w.remoteID); err != nil {
			return err
		}
		if w.settles {
			if err := deleteAttempt(g.ctx, g.stmt(&g.deleteAttempt, s.deleteAttempt), w); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.commits.Add(1)
	return nil
}

// groupTx is one group's transaction, with the writer's statements bound to
// it on first use.
type groupTx struct {
	ctx                                          context.Context
	tx                                           *sql.Tx
	upsert, holder, insertAttempt, deleteAttempt *sql.Stmt
}

// stmt returns *bound, binding prepared to the transaction first if needed.
func (g *groupTx) stmt(bound **sql.Stmt, prepared *sql.Stmt) *sql.Stmt {
	if *bound == nil {
		*bound = g.tx.StmtContext(g.ctx, prepared)
	}
	return *bound
}

// enqueue hands w to the writer and waits for its answer: nil once the
// transaction that holds it is durable, else why it was not written. Once
// queued, w is committed whatever the caller's ctx does: the wait goes on,
// so that a nil error always means durable.
func (s *sqliteStore) enqueue(ctx context.Context, w *write) error {
	select {
	case s.writes <- w:
	case <-s.closed:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-w.done
}

func (s *sqliteStore) Put(ctx context.Context, rec *provisioningv1.SyncRecord, acct *provisioningv1.Account) error {
	w, err := putWrite(rec, acct)
	if err != nil {
		return err
	}
	if err := s.enqueue(ctx, w); err != nil {
		var taken *RemoteIDTakenError
		if errors.As(err, &taken) {
			return err
		}
		return fmt.Errorf("store sync record %s/%s: %w", rec.GetPlugin(), rec.GetAccountId(), err)
	}
	return nil
}

// putWrite is the writer's write of a Put of rec and acct.
func putWrite(rec *provisioningv1.SyncRecord, acct *provisioningv1.Account) (*write, error) {
	if err := validate(rec); err != nil {
		return nil, err
	}
	rb, err := proto.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("store sync record: %w", err)
	}
	var ab []byte
	if acct != nil {
		if ab, err = proto.Marshal(acct); err != nil {
			return nil, fmt.Errorf("store sync record: %w", err)
		}
	}
	w := &write{
		kind: putRecord, plugin: rec.GetPlugin(), account: rec.GetAccountId(), status: int32(rec.GetStatus()),
		record: rb, acct: ab, updatedNS: rec.GetUpdatedAt().AsTime().UnixNano(), settles: SettlesAttempt(rec),
		done: make(chan error, 1),
	}
	if live(rec) {
		id := rec.GetRemoteId()
		w.remoteID = &id
	}
	return w, nil
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func (s *sqliteStore) Get(ctx context.Context, plugin, accountID string) (Entry, error) {
	if err := s.damagedErr(); err != nil {
		return Entry{}, err
	}
	var rb, ab []byte
	err := s.get.QueryRowContext(ctx, plugin, accountID).Scan(&rb, &ab)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("%s/%s: %w", plugin, accountID, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read sync record %s/%s: %w", plugin, accountID, err)
	}
	return decodeEntry(rb, ab)
}

func decodeEntry(rb, ab []byte) (Entry, error) {
	e := Entry{Record: &provisioningv1.SyncRecord{}}
	if err := proto.Unmarshal(rb, e.Record); err != nil {
		return Entry{}, fmt.Errorf("decode stored sync record: %w", err)
	}
	if ab != nil {
		e.Account = &provisioningv1.Account{}
		if err := proto.Unmarshal(ab, e.Account); err != nil {
			return Entry{}, fmt.Errorf("decode stored account: %w", err)
		}
	}
	return e, nil
}

func (s *sqliteStore) List(ctx context.Context, q Query) (Page, error) {
	if err := s.damagedErr(); err != nil {
		return Page{}, err
	}
	afterPlugin, afterAccount, err := decodeToken(q)
	if err != nil {
		return Page{}, fmt.Errorf("list sync records: %w", err)
	}
	n := pageSize(q.PageSize)
	f := recordsFilter(q, afterPlugin, afterAccount, false)
	from := "sync_records"
	if q.Status != provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED {
		// Without statistics SQLite would read every record through the
		// primary key for its order; the status index has the same order.
		from += " INDEXED BY sync_records_status"
	}
	// Fetch one more than a page to know whether another page follows.
	rows, err := s.db.QueryContext(ctx, `SELECT plugin, account_id, record, account FROM `+from+` `+f.where()+
		` ORDER BY plugin, account_id LIMIT ?`, append(f.args, n+1)...)
	if err != nil {
		return Page{}, fmt.Errorf("list sync records: %w", err)
	}
	defer rows.Close()
	var p Page
	var lastPlugin, lastAccount string
	for rows.Next() {
		if len(p.Entries) == n {
			p.NextPageToken = encodeToken(q, lastPlugin, lastAccount)
			break
		}
		var rb, ab []byte
		if err := rows.Scan(&lastPlugin, &lastAccount, &rb, &ab); err != nil {
			return Page{}, fmt.Errorf("list sync records: %w", err)
		}
		e, err := decodeEntry(rb, ab)
		if err != nil {
			return Page{}, err
		}
		p.Entries = append(p.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("list sync records: %w", err)
	}
	return p, nil
}

func (s *sqliteStore) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.writerWG.Wait()
	return errors.Join(s.get.Close(), s.closeStmts(), s.db.Close())
}

// closeStmts closes the writer's prepared statements.
func (s *sqliteStore) closeStmts() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.upsert, s.holder, s.insertAttempt, s.deleteAttempt} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// PostgresOption configures [OpenPostgres].
type PostgresOption func(*pgOptions)

type pgOptions struct {
	maxConns  int32
	lockConns int32
}

// WithPostgresMaxConns bounds the connections the store uses for reads and
// writes. Default: the DSN's pool_max_conns, else 16.
func WithPostgresMaxConns(n int) PostgresOption {
	return func(o *pgOptions) { o.maxConns = int32(n) }
}

// WithPostgresLockConns bounds the connections that hold or wait for
// advisory locks (see [Postgres.Lock]): one per account (or subscription)
// whose call is in flight on this daemon. A call that finds them all busy
// waits for one, within its deadline. Default 32.
func WithPostgresLockConns(n int) PostgresOption {
	return func(o *pgOptions) { o.lockConns = int32(n) }
}

// Postgres is the PostgreSQL store: what several daemons share (see
// [OpenPostgres]). Besides [Store] it provides the cross-daemon locks
// [Postgres.Lock] and [Postgres.TryLock].
type Postgres struct {
	data *pgxpool.Pool
	// locks is a pool of its own: a call waiting for an account's lock
	// holds a connection while it waits, and must never take the last one
	// the lock's holder needs to store its record.
	locks *pgxpool.Pool
	// ns scopes lock keys to the schema, so deployments that share a
	// database in different schemas never block each other.
	ns string
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the PostgreSQL database named by dsn (a
// postgres:// URL or a keyword/value string; passwords are best left to
// PGPASSWORD or a password file, so they stay out of the process's command
// line) and migrates its schema to this version: the tables live in the
// first schema of the connection's search_path. Several daemons may open one
// database at once; migrations run one at a time under an advisory lock. A
// database migrated by a newer release is refused.
func OpenPostgres(ctx context.Context, dsn string, opts ...PostgresOption) (*Postgres, error) {
	o := pgOptions{lockConns: 32}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the string, password included.
		return nil, errors.New("open PostgreSQL store: the connection string does not parse (postgres://user@host:port/db?sslmode=... or keyword=value pairs)")
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	} else if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	lcfg := cfg.Copy()
	lcfg.MaxConns = o.lockConns
	lcfg.MinConns = 0
	// A lock wait that the caller's deadline ends is cancelled on the
	// server (a cancel request), not only abandoned by the client: a backend
	// left waiting would take the lock later for nobody.
	lcfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 2 * time.Second}
	}
	s := &Postgres{}
	if s.data, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	if s.locks, err = pgxpool.NewWithConfig(ctx, lcfg); err != nil {
		s.data.Close()
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	if err := s.data.QueryRow(ctx, `SELECT COALESCE(current_schema(), '')`).Scan(&s.ns); err != nil {
		s.Close()
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	if s.ns == "" {
		s.Close()
		return nil, errors.New("open PostgreSQL store: no schema: the search_path names no existing schema")
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	return s, nil
}

// lockKey maps a lock name to the 64-bit key of PostgreSQL's advisory locks.
// Two names that collide share a lock: a rare extra wait, never a missed
// one.
func (s *Postgres) lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s.ns))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// Lock takes the cross-daemon lock named name, waiting until it is free or
// ctx ends, and returns its release. The lock is a session advisory lock on
// a connection of its own, held until release: if this daemon dies, its
// connection closes and PostgreSQL frees the lock at once.
func (s *Postgres) Lock(ctx context.Context, name string) (release func(), err error) {
	c, err := s.locks.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	key := s.lockKey(name)
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		// The wait was cancelled, or the connection broke: whether the
		// server granted the lock is unknown, so drop the session, which
		// frees it either way.
		discard(c)
		if ctx.Err() != nil {
			// The server's "canceling statement" says less than why.
			return nil, fmt.Errorf("lock %s: %w", name, ctx.Err())
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() { s.unlock(c, key) }, nil
}

// TryLock takes the cross-daemon lock named name if it is free, without
// waiting: ok false when another session holds it.
func (s *Postgres) TryLock(ctx context.Context, name string) (release func(), ok bool, err error) {
	c, err := s.locks.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	key := s.lockKey(name)
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		discard(c)
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	if !ok {
		c.Release()
		return nil, false, nil
	}
	return func() { s.unlock(c, key) }, true, nil
}

func (s *Postgres) unlock(c *pgxpool.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ok bool
	if err := c.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, key).Scan(&ok); err != nil || !ok {
		discard(c)
		return
	}
	c.Release()
}

// discard closes a lock connection instead of returning it to the pool, so
// that whatever lock its session may hold is freed by the server.
func discard(c *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Conn().Close(ctx)
	c.Release()
}

// migrations are the schema's versions, in order: migration i brings the
// schema to version i+1. Each runs in one transaction with the version
// bump, so a daemon that dies mid-migration leaves the previous version
// whole. Append only: a released migration never changes.
//
// Text columns use the "C" collation, so listings are in byte order, as in
// the SQLite store, whatever the database's locale.
var migrations = []string{
	// 1: sync records, with the remote-id invariant.
	`CREATE TABLE sync_records (
	plugin     text COLLATE "C" NOT NULL,
	account_id text COLLATE "C" NOT NULL,
	status     integer NOT NULL,
	record     bytea   NOT NULL,
	account    bytea,
	updated_ns bigint  NOT NULL,
	-- NULL unless the record holds its remote id (not DELETED).
	remote_id  text COLLATE "C",
	PRIMARY KEY (plugin, account_id)
);
CREATE INDEX sync_records_status ON sync_records (status, plugin, account_id);
CREATE UNIQUE INDEX sync_records_live_remote_id ON sync_records (plugin, remote_id) WHERE remote_id IS NOT NULL;`,
	// 2: subscription records.
	`CREATE TABLE subscription_records (
	plugin          text COLLATE "C" NOT NULL,
	subscription_id text COLLATE "C" NOT NULL,
	account_id      text COLLATE "C" NOT NULL,
	status          integer NOT NULL,
	record          bytea   NOT NULL,
	subscription    bytea,
	updated_ns      bigint  NOT NULL,
	PRIMARY KEY (plugin, subscription_id)
);
CREATE INDEX subscription_records_account ON subscription_records (plugin, account_id, subscription_id);
CREATE INDEX subscription_records_status ON subscription_records (status, plugin, subscription_id);`,
	// 3: attempt markers (see BeginAttempt).
	`CREATE TABLE sync_attempts (
	plugin     text COLLATE "C" NOT NULL,
	account_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (plugin, account_id)
);`,
}

// SchemaVersion is the PostgreSQL schema version this release migrates to.
var SchemaVersion = len(migrations)

// migrate brings the schema to [SchemaVersion]. The transaction first takes
// an advisory lock, so daemons starting at once migrate one after the other
// (the second finds the work done); PostgreSQL's DDL is transactional, so a
// migration and its version row commit together or not at all.
func (s *Postgres) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.data, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey("schema-migration")); err != nil {
			return fmt.Errorf("wait for the schema migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS provisioning_schema_migrations (
	version    integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return fmt.Errorf("create the schema version table: %w", err)
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM provisioning_schema_migrations`).Scan(&v); err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("schema %q is at version %d, newer than this release knows (%d): run the newer provisioning-host", s.ns, v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migrate schema %q to version %d: %w", s.ns, i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO provisioning_schema_migrations (version) VALUES ($1)`, i+1); err != nil {
				return fmt.Errorf("migrate schema %q to version %d: %w", s.ns, i+1, err)
			}
		}
		return nil
	})
}

// pgUpsert stores one sync record; pgSettlingUpsert also deletes the
// account's attempt marker, in the same statement.
const (
	pgUpsert = `
INSERT INTO sync_records (plugin, account_id, status, record, account, updated_ns, remote_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (plugin, account_id) DO UPDATE SET
	status = excluded.status,
	record = excluded.record,
	account = COALESCE(excluded.account, sync_records.account),
	updated_ns = excluded.updated_ns,
	remote_id = excluded.remote_id`
	pgSettlingUpsert = `
WITH settled AS (DELETE FROM sync_attempts WHERE plugin = $1 AND account_id = $2)` + pgUpsert
)

// Put writes in one autocommit statement: it returns once PostgreSQL has
// committed it (durable with the server's default synchronous_commit). A
// record that settles the account's attempt deletes its marker in that
// statement (a data-modifying WITH), so the record and the marker's end
// commit together or not at all. A remote id that another live record holds
// violates the partial unique index, which fails the whole statement; the
// holder is then read and named.
func (s *Postgres) Put(ctx context.Context, rec *provisioningv1.SyncRecord, acct *provisioningv1.Account) error {
	if err := validate(rec); err != nil {
		return err
	}
	rb, err := proto.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store sync record: %w", err)
	}
	var ab []byte
	if acct != nil {
		if ab, err = proto.Marshal(acct); err != nil {
			return fmt.Errorf("store sync record: %w", err)
		}
	}
	var remoteID *string
	if live(rec) {
		id := rec.GetRemoteId()
		remoteID = &id
	}
	upsert := pgUpsert
	if SettlesAttempt(rec) {
		upsert = pgSettlingUpsert
	}
	// Twice at most: a holder found by the index may have let go of the
	// remote id before it could be named.
	for range 2 {
		_, err = s.data.Exec(ctx, upsert,
			rec.GetPlugin(), rec.GetAccountId(), int32(rec.GetStatus()), rb, ab,
			rec.GetUpdatedAt().AsTime().UnixNano(), remoteID)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" || pgErr.ConstraintName != "sync_records_live_remote_id" {
			break
		}
		var holder string
		herr := s.data.QueryRow(ctx, `SELECT account_id FROM sync_records WHERE plugin = $1 AND remote_id = $2 AND account_id <> $3`,
			rec.GetPlugin(), *remoteID, rec.GetAccountId()).Scan(&holder)
		if herr == nil {
			return &RemoteIDTakenError{Plugin: rec.GetPlugin(), RemoteID: *remoteID, Holder: holder}
		}
		if !errors.Is(herr, pgx.ErrNoRows) {
			err = herr
			break
		}
	}
	if err != nil {
		return fmt.Errorf("store sync record %s/%s: %w", rec.GetPlugin(), rec.GetAccountId(), err)
	}
	return nil
}

// Get reads one sync record (see [Store.Get]).
func (s *Postgres) Get(ctx context.Context, plugin, accountID string) (Entry, error) {
	var rb, ab []byte
	err := s.data.QueryRow(ctx, `SELECT record, account FROM sync_records WHERE plugin = $1 AND account_id = $2`,
		plugin, accountID).Scan(&rb, &ab)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, fmt.Errorf("%s/%s: %w", plugin, accountID, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read sync record %s/%s: %w", plugin, accountID, err)
	}
	return decodeEntry(rb, ab)
}

// List pages through sync records (see [Store.List]).
func (s *Postgres) List(ctx context.Context, q Query) (Page, error) {
	afterPlugin, afterAccount, err := decodeToken(q)
	if err != nil {
		return Page{}, fmt.Errorf("list sync records: %w", err)
	}
	f := recordsFilter(q, afterPlugin, afterAccount, true)
	n := pageSize(q.PageSize)
	// One more than a page tells whether another page follows.
	rows, err := s.data.Query(ctx, `SELECT plugin, account_id, record, account FROM sync_records `+f.where()+
		fmt.Sprintf(` ORDER BY plugin, account_id LIMIT %d`, n+1), f.args...)
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

// PutSubscription writes one subscription record in one autocommit
// statement (see [Store.PutSubscription]).
func (s *Postgres) PutSubscription(ctx context.Context, rec *provisioningv1.SubscriptionRecord, sub *provisioningv1.Subscription) error {
	if err := validateSubscription(rec); err != nil {
		return err
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
	_, err = s.data.Exec(ctx, `
INSERT INTO subscription_records (plugin, subscription_id, account_id, status, record, subscription, updated_ns)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (plugin, subscription_id) DO UPDATE SET
	account_id = excluded.account_id,
	status = excluded.status,
	record = excluded.record,
	subscription = COALESCE(excluded.subscription, subscription_records.subscription),
	updated_ns = excluded.updated_ns`,
		rec.GetPlugin(), rec.GetSubscriptionId(), rec.GetAccountId(), int32(rec.GetStatus()),
		rb, sb, rec.GetUpdatedAt().AsTime().UnixNano())
	if err != nil {
		return fmt.Errorf("store subscription record %s/%s: %w", rec.GetPlugin(), rec.GetSubscriptionId(), err)
	}
	return nil
}

// GetSubscription reads one subscription record (see
// [Store.GetSubscription]).
func (s *Postgres) GetSubscription(ctx context.Context, plugin, subscriptionID string) (SubscriptionEntry, error) {
	var rb, sb []byte
	err := s.data.QueryRow(ctx, `SELECT record, subscription FROM subscription_records WHERE plugin = $1 AND subscription_id = $2`,
		plugin, subscriptionID).Scan(&rb, &sb)
	if errors.Is(err, pgx.ErrNoRows) {
		return SubscriptionEntry{}, fmt.Errorf("%s/%s: %w", plugin, subscriptionID, ErrSubscriptionNotFound)
	}
	if err != nil {
		return SubscriptionEntry{}, fmt.Errorf("read subscription record %s/%s: %w", plugin, subscriptionID, err)
	}
	return decodeSubscriptionEntry(rb, sb)
}

// ListSubscriptions pages through subscription records (see
// [Store.ListSubscriptions]).
func (s *Postgres) ListSubscriptions(ctx context.Context, q SubscriptionQuery) (SubscriptionPage, error) {
	afterPlugin, afterID, err := decodeSubscriptionToken(q)
	if err != nil {
		return SubscriptionPage{}, fmt.Errorf("list subscription records: %w", err)
	}
	f := subscriptionsFilter(q, afterPlugin, afterID, true)
	n := pageSize(q.PageSize)
	rows, err := s.data.Query(ctx, `SELECT plugin, subscription_id, record, subscription FROM subscription_records `+f.where()+
		fmt.Sprintf(` ORDER BY plugin, subscription_id LIMIT %d`, n+1), f.args...)
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

// Close releases every connection. A lock still held (a call in flight)
// keeps its connection until its release, which then closes it; Close waits
// a few seconds for that, not longer.
func (s *Postgres) Close() error {
	if s.data != nil {
		s.data.Close()
	}
	if s.locks != nil {
		done := make(chan struct{})
		go func() {
			s.locks.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	return nil
}

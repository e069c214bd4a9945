package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/internal/pgtest"
)

// TestPostgresMigratesOnceWhenOpenedAtOnce opens one fresh schema from
// several daemons at once: every open succeeds, and each migration ran once.
func TestPostgresMigratesOnceWhenOpenedAtOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	const daemons = 6
	var wg sync.WaitGroup
	errs := make([]error, daemons)
	for i := range daemons {
		wg.Go(func() {
			st, err := store.OpenPostgres(ctx, dsn)
			if err == nil {
				err = st.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, maxV int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*), MAX(version) FROM provisioning_schema_migrations`).Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if n != store.SchemaVersion || maxV != store.SchemaVersion {
		t.Errorf("%d migration rows up to version %d, want %d", n, maxV, store.SchemaVersion)
	}
}

// TestPostgresRefusesNewerSchema: a daemon never runs on a schema a newer
// release migrated, whose meaning it does not know.
func TestPostgresRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	st, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO provisioning_schema_migrations (version) VALUES ($1)`, store.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	_, err = store.OpenPostgres(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "newer than this release") {
		t.Errorf("open of a newer schema: %v", err)
	}
}

func TestPostgresBadDSNHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := store.OpenPostgres(context.Background(), "postgres://u:s3cret@host:notaport/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v: want one without the password", err)
	}
}

// TestPostgresLock covers the cross-daemon lock: two stores on one schema
// are two daemons.
func TestPostgresLock(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	open := func() *store.Postgres {
		st, err := store.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := open(), open()

	release, err := a.Lock(ctx, "account/p/A")
	if err != nil {
		t.Fatal(err)
	}
	// Held by a: b cannot try it, and b's wait ends with b's deadline.
	if _, ok, err := b.TryLock(ctx, "account/p/A"); ok || err != nil {
		t.Fatalf("TryLock of a held lock: ok %v, %v", ok, err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = b.Lock(short, "account/p/A")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock past the deadline: %v, want DeadlineExceeded", err)
	}
	// Another name is free.
	other, err := b.Lock(ctx, "account/p/B")
	if err != nil {
		t.Fatal(err)
	}
	other()

	// b waits, and gets it once a releases.
	got := make(chan func(), 1)
	go func() {
		r, err := b.Lock(ctx, "account/p/A")
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- r
	}()
	select {
	case <-got:
		t.Fatal("b took a lock a holds")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	r, ok := <-got
	if !ok {
		return
	}
	r()

	// A daemon that dies (its sessions end) frees what it held.
	c, err := store.OpenPostgres(ctx, dsn+"&application_name=dying-daemon")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, ok, err := c.TryLock(ctx, "settle/p")
	if !ok || err != nil {
		t.Fatalf("TryLock of a free lock: ok %v, %v", ok, err)
	}
	if _, ok, _ := a.TryLock(ctx, "settle/p"); ok {
		t.Fatal("two holders of settle/p")
	}
	kill(t, dsn, "dying-daemon")
	defer rc() // its session is gone: the release drops the connection
	if r, ok, err := a.TryLock(ctx, "settle/p"); !ok || err != nil {
		t.Fatalf("TryLock after the holder closed: ok %v, %v", ok, err)
	} else {
		r()
	}
}

// kill ends every session of application app, as the death of its process
// would.
func kill(t *testing.T, dsn, app string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil || n == 0 {
		t.Fatalf("terminate %s: %d sessions, %v", app, n, err)
	}
	// pg_terminate_backend signals; wait until the sessions are gone.
	for range 100 {
		if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("sessions of %s still there", app)
}

// TestPostgresLockScopedBySchema: deployments in two schemas of one
// database do not share locks.
func TestPostgresLockScopedBySchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, err := store.OpenPostgres(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.OpenPostgres(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ra, ok, err := a.TryLock(ctx, "settle/p")
	if !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	defer ra()
	rb, ok, err := b.TryLock(ctx, "settle/p")
	if !ok || err != nil {
		t.Fatalf("b in another schema: ok %v, %v", ok, err)
	}
	rb()
}

// TestPostgresNoSchema: a search_path naming no existing schema is refused
// at open, saying so.
func TestPostgresNoSchema(t *testing.T) {
	t.Parallel()
	_, err := store.OpenPostgres(context.Background(), pgtest.WithSearchPath(pgtest.DSN(t), "no_such_schema"))
	if err == nil || !strings.Contains(err.Error(), "no schema") {
		t.Errorf("open without a schema: %v", err)
	}
}

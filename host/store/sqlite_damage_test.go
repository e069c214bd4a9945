package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudbss/provisioning/host/store"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

type checker interface{ Check(context.Context) error }

// TestSQLiteDeletedDatabase: once sync-records.db is deleted under a
// running store, writes fail (they used to go into the unlinked file and
// be lost at the next start), with an error naming the file, and Check
// says so.
func TestSQLiteDeletedDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Put(ctx, rec("p", "A", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sync-records.db")
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(f)
	}
	err = st.Put(ctx, rec("p", "B", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), nil)
	if !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), path) {
		t.Errorf("Put after the file was deleted: %v, want ErrDamaged naming %s", err, path)
	}
	if _, err := st.BeginAttempt(ctx, "p", "C"); !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), path) {
		t.Errorf("BeginAttempt after the file was deleted: %v, want ErrDamaged naming %s", err, path)
	}
	c, ok := st.(checker)
	if !ok {
		t.Fatal("the SQLite store has no Check")
	}
	if err := c.Check(ctx); !errors.Is(err, store.ErrDamaged) {
		t.Errorf("Check after the file was deleted: %v", err)
	}
	if _, err := st.Get(ctx, "p", "A"); !errors.Is(err, store.ErrDamaged) {
		t.Errorf("Get after the file was deleted: %v", err)
	}
}

// TestSQLiteReplacedDatabase: once another file is renamed over
// sync-records.db under a running store (a restore done without stopping
// the daemon), writes fail with an error naming the file instead of
// going on into the file the store opened.
func TestSQLiteReplacedDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Put(ctx, rec("p", "A", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sync-records.db")
	other := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	err = st.Put(ctx, rec("p", "B", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), nil)
	if !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), "replaced") || !strings.Contains(err.Error(), path) {
		t.Errorf("Put after the file was replaced: %v, want ErrDamaged saying it was replaced and naming %s", err, path)
	}
}

// TestSQLiteClosedStore: writes to a closed store fail at once; none waits
// for a writer that is gone.
func TestSQLiteClosedStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.BeginAttempt(ctx, "p", "A"); err == nil {
		t.Error("BeginAttempt on a closed store succeeded")
	}
	if err := st.Put(ctx, rec("p", "A", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), nil); err == nil {
		t.Error("Put on a closed store succeeded")
	}
}

// TestSQLiteRefusesCorruptDatabase: a database whose pages are damaged is
// refused at open, with the file and what to do, instead of served.
func TestSQLiteRefusesCorruptDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if err := st.Put(ctx, rec("p", fmt.Sprintf("A%04d", i), provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sync-records.db")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Keep page 1 (the header and schema), scribble over the next pages.
	if _, err := f.WriteAt([]byte(strings.Repeat("\xa5", 3*4096)), 4096); err != nil {
		t.Fatal(err)
	}
	f.Close()

	st, err = store.OpenSQLite(dir)
	if err == nil {
		st.Close()
		t.Fatal("OpenSQLite served a corrupt database")
	}
	if !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backup") {
		t.Errorf("OpenSQLite on a corrupt database: %v; want ErrDamaged naming %s and what to do", err, path)
	}
}

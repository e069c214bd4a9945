package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/cloudbss/provisioning/host/store"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

var deleted = provisioningv1.SyncStatus_SYNC_STATUS_DELETED

func withRemote(r *provisioningv1.SyncRecord, remoteID string) *provisioningv1.SyncRecord {
	r.RemoteId = remoteID
	return r
}

// TestRemoteIDUnique checks the invariant both stores enforce: no two live
// (not DELETED) records of one plugin hold the same remote_id.
func TestRemoteIDUnique(t *testing.T) {
	t.Parallel()
	type put struct {
		rec        *provisioningv1.SyncRecord
		wantHolder string // "" means the put succeeds
	}
	tests := map[string][]put{
		"a second account is refused": {
			{rec: withRemote(rec("p", "A", synced), "X")},
			{rec: withRemote(rec("p", "B", synced), "X"), wantHolder: "A"},
		},
		"the holder itself may write it again": {
			{rec: withRemote(rec("p", "A", pending), "X")},
			{rec: withRemote(rec("p", "A", synced), "X")},
		},
		"a DELETED holder frees it": {
			{rec: withRemote(rec("p", "A", synced), "X")},
			{rec: withRemote(rec("p", "A", deleted), "X")},
			{rec: withRemote(rec("p", "B", synced), "X")},
			// and cannot come back to life while B holds it
			{rec: withRemote(rec("p", "A", synced), "X"), wantHolder: "B"},
		},
		"a DELETED record does not hold it": {
			{rec: withRemote(rec("p", "A", synced), "X")},
			{rec: withRemote(rec("p", "B", deleted), "X")},
		},
		"moving to another remote id frees the old one": {
			{rec: withRemote(rec("p", "A", synced), "X")},
			{rec: withRemote(rec("p", "A", synced), "Y")},
			{rec: withRemote(rec("p", "B", synced), "X")},
			{rec: withRemote(rec("p", "C", synced), "Y"), wantHolder: "A"},
		},
		"records without a remote id never conflict": {
			{rec: withRemote(rec("p", "A", provisioningv1.SyncStatus_SYNC_STATUS_FAILED), "")},
			{rec: withRemote(rec("p", "B", provisioningv1.SyncStatus_SYNC_STATUS_FAILED), "")},
		},
		"MISSING still holds it": {
			{rec: withRemote(rec("p", "A", provisioningv1.SyncStatus_SYNC_STATUS_MISSING), "X")},
			{rec: withRemote(rec("p", "B", synced), "X"), wantHolder: "A"},
		},
		"plugins are separate": {
			{rec: withRemote(rec("p", "A", synced), "X")},
			{rec: withRemote(rec("q", "B", synced), "X")},
		},
	}
	for name, puts := range tests {
		for impl, open := range impls(t) {
			t.Run(name+"/"+impl, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				st := open(t)
				for i, p := range puts {
					before, beforeErr := st.Get(ctx, p.rec.GetPlugin(), p.rec.GetAccountId())
					err := st.Put(ctx, p.rec, &provisioningv1.Account{Id: p.rec.GetAccountId()})
					if p.wantHolder == "" {
						if err != nil {
							t.Fatalf("put %d: %v", i, err)
						}
						continue
					}
					var taken *store.RemoteIDTakenError
					if !errors.As(err, &taken) || !errors.Is(err, store.ErrRemoteIDTaken) {
						t.Fatalf("put %d: error %v, want a RemoteIDTakenError", i, err)
					}
					want := store.RemoteIDTakenError{Plugin: p.rec.GetPlugin(), RemoteID: p.rec.GetRemoteId(), Holder: p.wantHolder}
					if diff := cmp.Diff(want, *taken); diff != "" {
						t.Errorf("put %d: error (-want +got):\n%s", i, diff)
					}
					after, afterErr := st.Get(ctx, p.rec.GetPlugin(), p.rec.GetAccountId())
					if (beforeErr == nil) != (afterErr == nil) || !proto.Equal(before.Record, after.Record) {
						t.Errorf("put %d: a refused put changed the store: %v -> %v", i, before.Record, after.Record)
					}
				}
			})
		}
	}
}

// TestRemoteIDRace has many accounts race for one remote id, as concurrent
// Synchronize calls would if a plugin answered the same remote account to
// all: exactly one wins, the others are refused, the winner is stored.
func TestRemoteIDRace(t *testing.T) {
	t.Parallel()
	for impl, open := range impls(t) {
		t.Run(impl, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			const n = 16
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					errs[i] = st.Put(ctx, withRemote(rec("p", string(rune('A'+i)), synced), "X"), nil)
				})
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrRemoteIDTaken):
					t.Errorf("unexpected error: %v", err)
				}
			}
			if won != 1 {
				t.Errorf("%d puts won the remote id, want 1", won)
			}
		})
	}
}

// TestSQLiteMigratesRemoteID opens a database written before the remote_id
// column: the column is filled from the stored records and enforced.
func TestSQLiteMigratesRemoteID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "sync-records.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE sync_records (plugin TEXT NOT NULL, account_id TEXT NOT NULL, status INTEGER NOT NULL,
		record BLOB NOT NULL, account BLOB, updated_ns INTEGER NOT NULL, PRIMARY KEY (plugin, account_id)) WITHOUT ROWID`); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*provisioningv1.SyncRecord{withRemote(rec("p", "A", synced), "X"), withRemote(rec("p", "B", deleted), "Y")} {
		b, _ := proto.Marshal(r)
		if _, err := db.Exec(`INSERT INTO sync_records VALUES (?, ?, ?, ?, NULL, 0)`, r.GetPlugin(), r.GetAccountId(), int32(r.GetStatus()), b); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	st, err := store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Put(ctx, withRemote(rec("p", "C", synced), "X"), nil); !errors.Is(err, store.ErrRemoteIDTaken) {
		t.Errorf("put of A's remote id after the migration: %v", err)
	}
	if err := st.Put(ctx, withRemote(rec("p", "C", synced), "Y"), nil); err != nil {
		t.Errorf("put of a DELETED record's remote id after the migration: %v", err)
	}
}

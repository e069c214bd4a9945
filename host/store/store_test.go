package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/internal/pgtest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

var (
	synced    = provisioningv1.SyncStatus_SYNC_STATUS_SYNCED
	pending   = provisioningv1.SyncStatus_SYNC_STATUS_PENDING
	failed    = provisioningv1.SyncStatus_SYNC_STATUS_FAILED
	notSynced = provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED
)

func rec(plugin, id string, st provisioningv1.SyncStatus) *provisioningv1.SyncRecord {
	return &provisioningv1.SyncRecord{Plugin: plugin, AccountId: id, Status: st, RemoteId: "R-" + id,
		Values: map[string]string{"username": id}, Private: []byte{0, 1, 2}, UpdatedAt: timestamppb.Now()}
}

// impls opens each implementation for the shared suite: every test that
// ranges over it holds for all of them. PostgreSQL runs when
// PROVISIONING_TEST_POSTGRES names a server (each test in a schema of its
// own) and skips with a message otherwise.
func impls(t *testing.T) map[string]func(t *testing.T) store.Store {
	t.Helper()
	return map[string]func(t *testing.T) store.Store{
		"postgres": openPostgres,
		"memory":   func(*testing.T) store.Store { return store.NewMemory() },
		"sqlite": func(t *testing.T) store.Store {
			st, err := store.OpenSQLite(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
}

func TestPutGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, open := range impls(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			if _, err := st.Get(ctx, "p", "A"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get of nothing: %v", err)
			}
			acct := &provisioningv1.Account{Id: "A", Name: "Acme"}
			r := rec("p", "A", pending)
			if err := st.Put(ctx, r, acct); err != nil {
				t.Fatal(err)
			}
			// A nil account keeps the stored snapshot.
			r2 := rec("p", "A", synced)
			if err := st.Put(ctx, r2, nil); err != nil {
				t.Fatal(err)
			}
			got, err := st.Get(ctx, "p", "A")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(store.Entry{Record: r2, Account: acct}, got, protocmp.Transform()); diff != "" {
				t.Errorf("Get (-want +got):\n%s", diff)
			}
			if err := st.Put(ctx, &provisioningv1.SyncRecord{Plugin: "p"}, nil); err == nil {
				t.Error("Put without account id succeeded")
			}
		})
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, open := range impls(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			for i := range 25 {
				s := synced
				if i%5 == 0 {
					s = pending
				}
				if err := st.Put(ctx, rec("p", fmt.Sprintf("A%03d", i), s), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Put(ctx, rec("q", "B", synced), nil); err != nil {
				t.Fatal(err)
			}
			var ids []string
			q := store.Query{Plugin: "p", PageSize: 10}
			pages := 0
			for {
				p, err := st.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, e := range p.Entries {
					ids = append(ids, e.Record.GetAccountId())
				}
				if p.NextPageToken == "" {
					break
				}
				q.PageToken = p.NextPageToken
			}
			if len(ids) != 25 || pages != 3 || ids[0] != "A000" || ids[24] != "A024" {
				t.Errorf("%d pages, ids %v", pages, ids)
			}
			p, err := st.List(ctx, store.Query{Status: pending})
			if err != nil || len(p.Entries) != 5 || p.NextPageToken != "" {
				t.Errorf("pending: %d entries, token %q, %v", len(p.Entries), p.NextPageToken, err)
			}
			all, err := st.List(ctx, store.Query{})
			if err != nil || len(all.Entries) != 26 || all.Entries[25].Record.GetPlugin() != "q" {
				t.Errorf("all: %d entries, %v", len(all.Entries), err)
			}
			// A token is bound to its filter.
			first, _ := st.List(ctx, store.Query{Plugin: "p", PageSize: 1})
			if _, err := st.List(ctx, store.Query{Plugin: "q", PageToken: first.NextPageToken}); !errors.Is(err, store.ErrBadPageToken) {
				t.Errorf("foreign token: %v", err)
			}
			if _, err := st.List(ctx, store.Query{PageToken: "!!"}); !errors.Is(err, store.ErrBadPageToken) {
				t.Errorf("garbage token: %v", err)
			}
		})
	}
}

func TestSQLiteDurableAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := rec("p", "A", synced)
	if err := st.Put(ctx, r, &provisioningv1.Account{Id: "A"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Get(ctx, "p", "A")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got.Record, protocmp.Transform()); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}

func TestAncestors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	top := &provisioningv1.Account{Id: "R1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER}
	mid := &provisioningv1.Account{Id: "R2", ParentId: "R1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER}
	for _, a := range []*provisioningv1.Account{top, mid} {
		if err := st.Put(ctx, rec("p", a.GetId(), synced), a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.Ancestors(ctx, st, "p", &provisioningv1.Account{Id: "C", ParentId: "R2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].GetAccount().GetId() != "R2" || got[1].GetAccount().GetId() != "R1" || got[0].GetRecord().GetRemoteId() != "R-R2" {
		t.Errorf("Ancestors = %v", got)
	}
	got, _ = store.Ancestors(ctx, st, "p", &provisioningv1.Account{Id: "C", ParentId: "NOPE"})
	if len(got) != 1 || got[0].GetAccount().GetId() != "NOPE" || got[0].GetRecord() != nil {
		t.Errorf("Ancestors of an unknown parent = %v", got)
	}
	// A corrupt chain (a cycle in stored snapshots) ends.
	_ = st.Put(ctx, rec("p", "X", synced), &provisioningv1.Account{Id: "X", ParentId: "Y"})
	_ = st.Put(ctx, rec("p", "Y", synced), &provisioningv1.Account{Id: "Y", ParentId: "X"})
	if got, err := store.Ancestors(ctx, st, "p", &provisioningv1.Account{Id: "C", ParentId: "X"}); err != nil || len(got) != 2 {
		t.Errorf("cycle: %v, %v", got, err)
	}
}

func BenchmarkSQLitePut(b *testing.B) {
	st, err := store.OpenSQLite(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	acct := &provisioningv1.Account{Id: "A", Name: "Acme"}
	for i := 0; b.Loop(); i++ {
		if err := st.Put(ctx, rec("p", fmt.Sprint(i), synced), acct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSQLitePutParallel(b *testing.B) {
	st, err := store.OpenSQLite(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	acct := &provisioningv1.Account{Id: "A", Name: "Acme"}
	b.SetParallelism(8)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := st.Put(ctx, rec("p", fmt.Sprint(n.Add(1)), synced), acct); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSQLiteNewAccountParallel is the store's part of Synchronize for
// a new account, from many callers at once as in a bulk sync: the attempt
// marker before the plugin call, then the record the plugin answered (it
// names the remote account, so the attempt is settled).
func BenchmarkSQLiteNewAccountParallel(b *testing.B) {
	st, err := store.OpenSQLite(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	b.SetParallelism(8)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(n.Add(1))
			if _, err := st.BeginAttempt(ctx, "p", id); err != nil {
				b.Fatal(err)
			}
			if err := st.Put(ctx, rec("p", id, synced), &provisioningv1.Account{Id: id, Name: "Acme"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func openPostgres(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenPostgres(context.Background(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestConcurrentWriters has writers race on the same accounts and on
// distinct ones: every Put succeeds, each account ends with one of the
// records written for it, and a listing sees every account once.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	for name, open := range impls(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			const writers, accounts = 8, 40
			var wg sync.WaitGroup
			errs := make(chan error, writers*accounts)
			for w := range writers {
				wg.Go(func() {
					for a := range accounts {
						r := rec("p", fmt.Sprintf("A%03d", a), synced)
						r.Values = map[string]string{"writer": fmt.Sprint(w)}
						if err := st.Put(ctx, r, &provisioningv1.Account{Id: r.GetAccountId()}); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			p, err := st.List(ctx, store.Query{Plugin: "p", PageSize: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Entries) != accounts {
				t.Fatalf("%d records listed, want %d", len(p.Entries), accounts)
			}
			for _, e := range p.Entries {
				if w := e.Record.GetValues()["writer"]; w == "" || e.Account.GetId() != e.Record.GetAccountId() {
					t.Errorf("record %s: writer %q, account %v", e.Record.GetAccountId(), w, e.Account)
				}
			}
		})
	}
}

// TestCopy copies a store into every other implementation: records,
// snapshots and subscriptions arrive as they were, and a second run changes
// nothing.
func TestCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := store.NewMemory()
	for i := range 205 { // more than two of its pages
		a := &provisioningv1.Account{Id: fmt.Sprintf("A%04d", i), Name: "Acme"}
		if i%3 == 0 {
			a = nil
		}
		if err := src.Put(ctx, rec("p", fmt.Sprintf("A%04d", i), synced), a); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.PutSubscription(ctx, subRec("p", "S1", "A0001", subActive), &provisioningv1.Subscription{Id: "S1", Quantity: 3}); err != nil {
		t.Fatal(err)
	}
	for name, open := range impls(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dst := open(t)
			for range 2 {
				n, err := store.Copy(ctx, dst, src)
				if err != nil {
					t.Fatal(err)
				}
				if n != (store.Copied{Sync: 205, Subscriptions: 1}) {
					t.Errorf("copied %+v", n)
				}
			}
			got, err := dst.Get(ctx, "p", "A0004")
			if err != nil || got.Account.GetName() != "Acme" {
				t.Errorf("A0004 after the copy: %v, %v", got, err)
			}
		})
	}
}

// TestAttempts: BeginAttempt reports a marker left by an earlier begin
// (of the same plugin and account only), a Put that settles the attempt
// clears it (of that plugin and account only), settling nothing is no
// error, and a begin without a key is refused.
func TestAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, open := range impls(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			steps := []struct {
				op      string // begin, or settle: Put a SYNCED record with a remote id
				plugin  string
				account string
				existed bool
			}{
				{"begin", "p", "A", false},
				{"begin", "p", "A", true},
				{"begin", "q", "A", false},
				{"begin", "p", "B", false},
				{"settle", "p", "A", false},
				{"settle", "p", "A", false},
				{"begin", "p", "A", false},
				{"begin", "p", "B", true},
				{"begin", "q", "A", true},
				{"settle", "p", "C", false},
			}
			for i, s := range steps {
				switch s.op {
				case "begin":
					existed, err := st.BeginAttempt(ctx, s.plugin, s.account)
					if err != nil {
						t.Fatalf("step %d: BeginAttempt(%s, %s): %v", i, s.plugin, s.account, err)
					}
					if existed != s.existed {
						t.Errorf("step %d: BeginAttempt(%s, %s) existed = %v, want %v", i, s.plugin, s.account, existed, s.existed)
					}
				case "settle":
					if err := st.Put(ctx, rec(s.plugin, s.account, synced), nil); err != nil {
						t.Fatalf("step %d: Put(%s, %s): %v", i, s.plugin, s.account, err)
					}
				}
			}
			if _, err := st.BeginAttempt(ctx, "", "A"); err == nil {
				t.Error("BeginAttempt without a plugin succeeded")
			}
			if _, err := st.BeginAttempt(ctx, "p", ""); err == nil {
				t.Error("BeginAttempt without an account id succeeded")
			}
		})
	}
}

// TestPutSettlesAttempt: a Put deletes the account's attempt marker exactly
// when its record settles the attempt (store.SettlesAttempt: a remote_id,
// or DELETED), and a refused Put (a remote id another record holds) leaves
// it. The marker's presence is read back through BeginAttempt's answer.
func TestPutSettlesAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	with := func(s provisioningv1.SyncStatus, remoteID string) *provisioningv1.SyncRecord {
		r := rec("p", "A", s)
		r.RemoteId = remoteID
		return r
	}
	tests := map[string]struct {
		rec     *provisioningv1.SyncRecord
		settles bool
		refused bool // Put answers RemoteIDTakenError
	}{
		"SYNCED with remote id":     {rec: with(synced, "R-A"), settles: true},
		"PENDING with remote id":    {rec: with(pending, "R-A"), settles: true},
		"FAILED with remote id":     {rec: with(failed, "R-A"), settles: true},
		"DELETED with remote id":    {rec: with(deleted, "R-A"), settles: true},
		"DELETED without remote id": {rec: with(deleted, ""), settles: true},
		"PENDING without remote id": {rec: with(pending, ""), settles: false},
		"FAILED without remote id":  {rec: with(failed, ""), settles: false},
		"NOT_SYNCED":                {rec: with(notSynced, ""), settles: false},
		"remote id held by B":       {rec: with(synced, "R-B"), settles: true, refused: true},
		"another account's record":  {rec: rec("p", "C", synced), settles: true},
		"another plugin's record":   {rec: rec("q", "A", synced), settles: true},
	}
	for name, open := range impls(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for tname, tc := range tests {
				t.Run(tname, func(t *testing.T) {
					if got := store.SettlesAttempt(tc.rec); got != tc.settles {
						t.Fatalf("SettlesAttempt = %v, want %v", got, tc.settles)
					}
					st := open(t)
					if err := st.Put(ctx, rec("p", "B", synced), nil); err != nil { // holds R-B
						t.Fatal(err)
					}
					if _, err := st.BeginAttempt(ctx, "p", "A"); err != nil {
						t.Fatal(err)
					}
					err := st.Put(ctx, tc.rec, nil)
					if tc.refused != errors.Is(err, store.ErrRemoteIDTaken) || (!tc.refused && err != nil) {
						t.Fatalf("Put: %v, want refused %v", err, tc.refused)
					}
					ownRecord := tc.rec.GetPlugin() == "p" && tc.rec.GetAccountId() == "A"
					settled := tc.settles && !tc.refused && ownRecord
					existed, err := st.BeginAttempt(ctx, "p", "A")
					if err != nil {
						t.Fatal(err)
					}
					if existed == settled {
						t.Errorf("after the Put, the marker of p/A is there: %v, want %v", existed, !settled)
					}
				})
			}
		})
	}
}

func TestSQLiteAttemptDurableAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.BeginAttempt(ctx, "p", "A"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	existed, err := st.BeginAttempt(ctx, "p", "A")
	if err != nil {
		t.Fatal(err)
	}
	if !existed {
		t.Error("the marker did not survive a reopen")
	}
}

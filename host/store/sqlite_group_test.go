package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func openSQLiteForTest(t *testing.T) *sqliteStore {
	t.Helper()
	st, err := OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqliteStore)
}

// TestSQLiteBeginAttemptsShareCommits: BeginAttempts from many callers at
// once go through the writer and share its transactions: n of them take
// fewer than n commits (each used to be a commit of its own, outside the
// writer). The writer is held in its first transaction until the other
// callers are on their way, so the count does not depend on timing.
func TestSQLiteBeginAttemptsShareCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLiteForTest(t)
	const n = 32
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func([]*write) {
		once.Do(func() {
			close(held)
			<-release
		})
	}
	st.beforeCommit.Store(&hold)
	before := st.commits.Load()

	existed := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	begin := func(i int) {
		existed[i], errs[i] = st.BeginAttempt(ctx, "p", fmt.Sprintf("A%02d", i))
	}
	wg.Go(func() { begin(0) })
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("BeginAttempt never reached the writer")
	}
	var started sync.WaitGroup
	for i := 1; i < n; i++ {
		started.Add(1)
		wg.Go(func() {
			started.Done()
			begin(i)
		})
	}
	started.Wait()
	close(release)
	wg.Wait()

	for i := range n {
		if errs[i] != nil || existed[i] {
			t.Errorf("BeginAttempt(p, A%02d) = %v, %v; want false, nil", i, existed[i], errs[i])
		}
	}
	commits := st.commits.Load() - before
	t.Logf("%d BeginAttempts, %d commits", n, commits)
	if commits < 1 || commits >= n {
		t.Errorf("%d BeginAttempts took %d commits of the writer, want 1 to %d", n, commits, n-1)
	}
	// Durable and there: every marker is found by a second begin.
	for i := range n {
		if again, err := st.BeginAttempt(ctx, "p", fmt.Sprintf("A%02d", i)); err != nil || !again {
			t.Errorf("second BeginAttempt(p, A%02d) = %v, %v; want true, nil", i, again, err)
		}
	}
}

// TestSQLiteGroupAnswersEachWrite: in one group transaction each write gets
// its own answer, in the group's order: a marker begun twice is there the
// second time, a Put refused for a taken remote id fails alone (the writes
// after it commit), a settling Put deletes the marker, and a later begin in
// the same group writes it afresh. One group, one commit.
func TestSQLiteGroupAnswersEachWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLiteForTest(t)
	holder := &provisioningv1.SyncRecord{Plugin: "p", AccountId: "B", Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: "R-B"}
	if err := st.Put(ctx, holder, nil); err != nil {
		t.Fatal(err)
	}
	begin := func(account string) *write {
		return &write{kind: beginAttempt, plugin: "p", account: account, done: make(chan error, 1)}
	}
	put := func(account, remoteID string, status provisioningv1.SyncStatus) *write {
		w, err := putWrite(&provisioningv1.SyncRecord{Plugin: "p", AccountId: account, Status: status, RemoteId: remoteID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	type answer struct {
		Existed bool
		Taken   bool
	}
	group := []*write{
		begin("A"),
		begin("A"),
		begin("C"),
		put("C", "R-B", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), // taken: C's marker stays
		put("A", "", provisioningv1.SyncStatus_SYNC_STATUS_FAILED),    // settles nothing
		begin("A"),
		put("A", "R-A", provisioningv1.SyncStatus_SYNC_STATUS_SYNCED), // settles A
		begin("D"),
		begin("A"),
	}
	want := []answer{{}, {Existed: true}, {}, {Taken: true}, {}, {Existed: true}, {}, {}, {}}
	before := st.commits.Load()
	if err := st.commit(group); err != nil {
		t.Fatal(err)
	}
	if got := st.commits.Load() - before; got != 1 {
		t.Errorf("the group took %d commits, want 1", got)
	}
	var got []answer
	for _, w := range group {
		got = append(got, answer{Existed: w.existed, Taken: errors.Is(w.err, ErrRemoteIDTaken)})
		if w.err != nil && !errors.Is(w.err, ErrRemoteIDTaken) {
			t.Errorf("write %s/%s: %v", w.plugin, w.account, w.err)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	for account, want := range map[string]bool{"A": true, "C": true, "D": true, "E": false} {
		if existed, err := st.BeginAttempt(ctx, "p", account); err != nil || existed != want {
			t.Errorf("after the group, BeginAttempt(p, %s) = %v, %v; want %v", account, existed, err, want)
		}
	}
	if e, err := st.Get(ctx, "p", "A"); err != nil || e.Record.GetRemoteId() != "R-A" {
		t.Errorf("record of A after the group: %v, %v", e.Record, err)
	}
	if _, err := st.Get(ctx, "p", "C"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused record of C was stored: %v", err)
	}
}

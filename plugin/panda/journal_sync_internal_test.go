package panda

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/pandasim"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fileLines is how many complete lines the journal file of dir holds.
func fileLines(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, journalFileName))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// waitUntil polls cond until it holds; it fails the test after a generous
// bound, which only a journal that cannot get there reaches.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gate is an injected sync that blocks each call until the test lets it
// go, with the error it passes (nil: the real sync runs).
type gate struct {
	started chan struct{}
	release chan error
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{started: make(chan struct{}, 100), release: make(chan error)}
	// Frees syncs still held when the test ends early (before the
	// journal's close, registered earlier, waits for them).
	t.Cleanup(func() { g.once.Do(func() { close(g.release) }) })
	return g
}

func (g *gate) sync(f *os.File) error {
	g.started <- struct{}{}
	if err := <-g.release; err != nil {
		return err
	}
	return f.Sync()
}

// awaitStart waits for the next sync to begin.
func (g *gate) awaitStart(t *testing.T, what string) {
	t.Helper()
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		t.Fatalf("no sync began: %s", what)
	}
}

func intendAsync(j *journal, accountID string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- j.intend(accountID, testIntent) }()
	return done
}

// TestJournalIntendsShareSyncs: intents of concurrent calls are written
// while a sync runs and share the next one. Before group commit the
// journal held its lock through each fsync: the other intents could not
// even write while the first synced, and every intent cost one fsync.
func TestJournalIntendsShareSyncs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openTestJournal(t, dir)
	var syncs atomic.Int32
	first := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(first) }) }
	t.Cleanup(release)
	j.file.sync = func(f *os.File) error {
		if syncs.Add(1) == 1 {
			<-first
		}
		return f.Sync()
	}
	const n = 64
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- j.intend(fmt.Sprintf("S-%d", i), testIntent) }()
	}
	// The first sync is held until every intent is written.
	waitUntil(t, fmt.Sprintf("all %d intents are written while the first sync runs", n), func() bool { return fileLines(t, dir) == n })
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("intend: %v", err)
		}
	}
	if got := syncs.Load(); got < 1 || got > 2 {
		t.Errorf("%d syncs for %d concurrent intents, want 1 or 2 (the first, and one for every intent written while it ran)", got, n)
	}
	want := map[string]journalSnap{}
	for i := range n {
		want[fmt.Sprintf("S-%d", i)] = journalSnap{Intent: &testIntent}
	}
	if diff := cmp.Diff(want, snapshot(openTestJournal(t, dir))); diff != "" {
		t.Errorf("reloaded journal (-want +got):\n%s", diff)
	}
}

// TestJournalIntendWaitsForItsOwnSync: an intent written while a sync runs
// is not durable when that sync ends (it began before the write): intend
// returns only after a sync that began after it.
func TestJournalIntendWaitsForItsOwnSync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openTestJournal(t, dir)
	g := newGate(t)
	j.file.sync = g.sync
	a := intendAsync(j, "A")
	g.awaitStart(t, "A's")
	b := intendAsync(j, "B")
	waitUntil(t, "B's intent is written while A's sync runs", func() bool { return fileLines(t, dir) == 2 })
	select {
	case err := <-b:
		t.Fatalf("B's intend returned (%v) while the only sync, begun before its write, runs", err)
	default:
	}
	g.release <- nil
	if err := <-a; err != nil {
		t.Fatalf("A: %v", err)
	}
	select {
	case <-g.started: // B's sync, begun after its write
	case err := <-b:
		t.Fatalf("B's intend returned (%v) after a sync that began before its line was written", err)
	case <-time.After(10 * time.Second):
		t.Fatal("B's intend neither returned nor synced")
	}
	select {
	case err := <-b:
		t.Fatalf("B's intend returned (%v) before its sync ended", err)
	default:
	}
	g.release <- nil
	if err := <-b; err != nil {
		t.Fatalf("B: %v", err)
	}
}

// TestJournalIntendSyncFails: an intent whose sync failed is an error (the
// create is not sent) and leaves the entry, also in the file, as it was.
// A line written while the failed sync ran is not trusted to a later sync
// either: a failed fsync may have dropped its pages.
func TestJournalIntendSyncFails(t *testing.T) {
	t.Parallel()
	errDisk := errors.New("disk on fire")
	tests := map[string]struct {
		// before runs first, with working syncs.
		before func(j *journal)
		// concurrent: a second intent, S-2, is written while the failing
		// sync runs.
		concurrent bool
		want       map[string]journalSnap
	}{
		"no entry before": {
			want: map[string]journalSnap{},
		},
		"an entry before": {
			before: func(j *journal) { j.created("S-1", "ACC-9") },
			want:   map[string]journalSnap{"S-1": {Remote: "ACC-9"}},
		},
		"an intent written during the failed sync": {
			before:     func(j *journal) { j.created("S-2", "ACC-8") },
			concurrent: true,
			want:       map[string]journalSnap{"S-2": {Remote: "ACC-8"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			j := openTestJournal(t, dir)
			if tc.before != nil {
				tc.before(j)
			}
			g := newGate(t)
			j.file.sync = g.sync
			s1 := intendAsync(j, "S-1")
			g.awaitStart(t, "S-1's")
			var s2 <-chan error
			if tc.concurrent {
				n := fileLines(t, dir)
				s2 = intendAsync(j, "S-2")
				waitUntil(t, "S-2's intent is written while S-1's sync runs", func() bool { return fileLines(t, dir) == n+1 })
			}
			g.release <- errDisk
			if err := <-s1; !errors.Is(err, errDisk) {
				t.Errorf("S-1's intend: %v, want %v", err, errDisk)
			}
			if s2 != nil {
				if err := <-s2; !errors.Is(err, errDisk) {
					t.Errorf("S-2's intend: %v, want %v", err, errDisk)
				}
			}
			if diff := cmp.Diff(tc.want, snapshot(j)); diff != "" {
				t.Errorf("journal after the failure (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, snapshot(openTestJournal(t, dir))); diff != "" {
				t.Errorf("reloaded journal (-want +got):\n%s", diff)
			}

			// The next intent gets a sync of its own, which works.
			s3 := intendAsync(j, "S-3")
			g.awaitStart(t, "S-3's")
			g.release <- nil
			if err := <-s3; err != nil {
				t.Errorf("S-3's intend after the failure: %v", err)
			}
		})
	}
}

// TestSynchronizeIntentNotDurable: when the intent cannot be synced the
// create is not sent, and the call fails INTERNAL; the retry, once the
// disk works, creates the account once.
func TestSynchronizeIntentNotDurable(t *testing.T) {
	t.Parallel()
	sim, err := pandasim.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	a := New(WithDataDir(t.TempDir()))
	t.Cleanup(func() { _ = a.journal.file.close() })
	ctx := context.Background()
	if _, err := a.Configure(ctx, &provisioningv1.ConfigureRequest{Settings: map[string]string{
		SettingAPIURL: srv.URL, SettingAccessID: pandasim.DefaultAccessID, SettingPassword: pandasim.DefaultPassword,
		SettingAPIKey: pandasim.DefaultAPIKey, SettingRootAccountID: pandasim.DefaultRootAccountID, "tx_poll_interval": "1ms",
	}}); err != nil {
		t.Fatal(err)
	}
	creates := func() int64 {
		return sim.Stats().ByRoute["POST "+pandasim.AccountsPrefix+"/{parentId}"]
	}
	req := &provisioningv1.SynchronizeRequest{AutoFill: true, Account: &provisioningv1.Account{
		Id: "S-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme", CorporateEmail: "owner@acme.example",
	}}

	a.journal.file.sync = func(*os.File) error { return errors.New("disk on fire") }
	if _, err := a.Synchronize(ctx, req); status.Code(err) != codes.Internal {
		t.Fatalf("Synchronize with an intent that cannot be synced: %v, want INTERNAL", err)
	}
	if n := creates(); n != 0 {
		t.Fatalf("%d CreateAccount sent after the intent failed, want 0", n)
	}

	a.journal.file.sync = (*os.File).Sync
	resp, err := a.Synchronize(ctx, req)
	if err != nil || !resp.GetCreated() {
		t.Fatalf("retry: %v, %v; want a created account", resp, err)
	}
	if n := creates(); n != 1 {
		t.Errorf("%d CreateAccount sent in all, want 1", n)
	}
}

// TestJournalCompactionRacesIntents: concurrent calls intend, create and
// forget while their lines trigger compactions; syncs run on the file the
// compactions replace. Nothing is lost: the journal in memory and the file
// reloaded say what the calls did, and no intent failed (a sync on a
// closed file would). Meant for -race.
func TestJournalCompactionRacesIntents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openTestJournal(t, dir)
	const workers, rounds, ids = 8, 400, 20
	intent := func(w, i int) journalIntent {
		in := testIntent
		in.Name = fmt.Sprintf("N-%d-%d", w, i)
		return in
	}
	forgets := func(i int) bool { return i%7 == 6 }
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				id := fmt.Sprintf("S-%d-%d", w, i%ids)
				if err := j.intend(id, intent(w, i)); err != nil {
					t.Errorf("intend %s: %v", id, err)
					return
				}
				if forgets(i) {
					j.forget(id)
				} else {
					j.created(id, fmt.Sprintf("ACC-%d-%d", w, i))
				}
			}
			if err := j.intend(fmt.Sprintf("P-%d", w), intent(w, rounds)); err != nil {
				t.Errorf("intend P-%d: %v", w, err)
			}
		})
	}
	wg.Wait()

	want := map[string]journalSnap{}
	for w := range workers {
		for i := range rounds {
			id := fmt.Sprintf("S-%d-%d", w, i%ids)
			if forgets(i) {
				delete(want, id)
			} else {
				want[id] = journalSnap{Remote: fmt.Sprintf("ACC-%d-%d", w, i)}
			}
		}
		in := intent(w, rounds)
		want[fmt.Sprintf("P-%d", w)] = journalSnap{Intent: &in}
	}
	if j.file.rewritten == 0 {
		t.Fatalf("no compaction ran (%d lines written)", j.file.written)
	}
	if diff := cmp.Diff(want, snapshot(j)); diff != "" {
		t.Errorf("journal in memory (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, snapshot(openTestJournal(t, dir))); diff != "" {
		t.Errorf("reloaded journal (-want +got):\n%s", diff)
	}
}

// TestJournalCompactionDuringSync: a compaction replaces the file while a
// sync runs on it. The rewrite makes every line written before it durable,
// so an intent waiting for the next sync returns at once, and the intent
// whose sync ran on the replaced file returns nil even if that sync failed;
// the replaced file is not closed under the running sync.
func TestJournalCompactionDuringSync(t *testing.T) {
	t.Parallel()
	for _, syncErr := range []error{nil, errors.New("disk on fire")} {
		t.Run(fmt.Sprintf("sync error %v", syncErr), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			j := openTestJournal(t, dir)
			started, release := make(chan struct{}, 10), make(chan struct{})
			var once sync.Once
			t.Cleanup(func() { once.Do(func() { close(release) }) })
			realSync := make(chan error, 10)
			j.file.sync = func(f *os.File) error {
				started <- struct{}{}
				<-release
				realSync <- f.Sync()
				return syncErr
			}
			a := intendAsync(j, "A")
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("A's sync did not begin")
			}
			b := intendAsync(j, "B")
			waitUntil(t, "B's intent is written while A's sync runs", func() bool { return fileLines(t, dir) == 2 })
			for i := range journalMinLines {
				j.created("X", fmt.Sprintf("ACC-%d", i))
			}
			select {
			case err := <-b:
				if err != nil {
					t.Errorf("B: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("B's intend, covered by the compaction, still waits")
			}
			once.Do(func() { close(release) })
			if err := <-a; err != nil {
				t.Errorf("A, whose line the compaction covered: %v", err)
			}
			if err := <-realSync; err != nil {
				t.Errorf("the sync of the replaced file: %v", err)
			}
			if len(started) != 0 {
				t.Errorf("%d more syncs, want none: the compaction covered every line", len(started))
			}
			want := map[string]journalSnap{
				"A": {Intent: &testIntent}, "B": {Intent: &testIntent},
				"X": {Remote: fmt.Sprintf("ACC-%d", journalMinLines-1)},
			}
			if diff := cmp.Diff(want, snapshot(openTestJournal(t, dir))); diff != "" {
				t.Errorf("reloaded journal (-want +got):\n%s", diff)
			}
		})
	}
}

package panda

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// journalSnap is what a journal knows of one account, for comparisons.
type journalSnap struct {
	Remote string
	Intent *journalIntent
}

func snapshot(j *journal) map[string]journalSnap {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]journalSnap{}
	for id, e := range j.m {
		out[id] = journalSnap{Remote: e.remoteID, Intent: e.intent}
	}
	return out
}

func openTestJournal(t testing.TB, dir string) *journal {
	t.Helper()
	j := &journal{}
	if err := j.open(dir, nil); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = j.file.close() })
	return j
}

var testIntent = journalIntent{
	Parent: "ACC-1", Type: AccountTypeSubscriber, Name: "Acme", Email: "a@acme.example", Username: "jane",
	Before: []string{"ACC-7"}, At: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
}

func TestJournalFile(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// write runs on a fresh journal in the folder.
		write func(j *journal)
		// raw, when set, is appended to the file after write.
		raw  string
		want map[string]journalSnap
	}{
		"intent then outcome": {
			write: func(j *journal) {
				_ = j.intend("S-1", testIntent)
				j.created("S-1", "ACC-9")
			},
			want: map[string]journalSnap{"S-1": {Remote: "ACC-9"}},
		},
		"intent only": {
			write: func(j *journal) { _ = j.intend("S-1", testIntent) },
			want:  map[string]journalSnap{"S-1": {Intent: &testIntent}},
		},
		"answered ends the intent": {
			write: func(j *journal) {
				_ = j.intend("S-1", testIntent)
				j.answered(boundTestRecord("S-1", "ACC-9"))
			},
			want: map[string]journalSnap{"S-1": {Remote: "ACC-9"}},
		},
		"forget": {
			write: func(j *journal) {
				j.created("S-1", "ACC-9")
				j.created("S-2", "ACC-8")
				j.forget("S-1")
				j.forgetRemote([]string{"ACC-8"})
			},
			want: map[string]journalSnap{},
		},
		"torn last line": {
			write: func(j *journal) { j.created("S-1", "ACC-9") },
			raw:   `{"op":"created","account":"S-2","remo`,
			want:  map[string]journalSnap{"S-1": {Remote: "ACC-9"}},
		},
		"bad line in the middle": {
			write: func(j *journal) { j.created("S-1", "ACC-9") },
			raw:   "not json\n" + `{"op":"created","account":"S-2","remote":"ACC-8"}` + "\n",
			want:  map[string]journalSnap{"S-1": {Remote: "ACC-9"}, "S-2": {Remote: "ACC-8"}},
		},
		"compaction": {
			write: func(j *journal) {
				for i := range 3 * journalMinLines {
					j.created("S-"+strconv.Itoa(i%3), "ACC-"+strconv.Itoa(i))
				}
				if j.file.lines > journalMinLines {
					panic("the file was not compacted: " + strconv.Itoa(j.file.lines) + " lines")
				}
			},
			want: map[string]journalSnap{
				"S-0": {Remote: "ACC-" + strconv.Itoa(3*journalMinLines-3)},
				"S-1": {Remote: "ACC-" + strconv.Itoa(3*journalMinLines-2)},
				"S-2": {Remote: "ACC-" + strconv.Itoa(3*journalMinLines-1)},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			j := openTestJournal(t, dir)
			tc.write(j)
			if tc.raw != "" {
				f, err := os.OpenFile(filepath.Join(dir, journalFileName), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteString(tc.raw); err != nil {
					t.Fatal(err)
				}
				_ = f.Close()
			}
			reloaded := openTestJournal(t, dir)
			if diff := cmp.Diff(tc.want, snapshot(reloaded)); diff != "" {
				t.Errorf("reloaded journal (-want +got):\n%s", diff)
			}
			// The reload rewrote the file: one line per entry, no torn tail.
			b, err := os.ReadFile(filepath.Join(dir, journalFileName))
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(b), "\n"); n != len(tc.want) || (len(b) > 0 && b[len(b)-1] != '\n') {
				t.Errorf("file after reload has %d lines (%q), want %d", n, b, len(tc.want))
			}
			if fi, err := os.Stat(filepath.Join(dir, journalFileName)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("file mode = %v (%v), want 0600", fi.Mode().Perm(), err)
			}
		})
	}
}

func TestJournalFileUnusable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, journalFileName), 0o700); err != nil {
		t.Fatal(err)
	}
	a := New(WithDataDir(dir))
	_, err := a.Configure(context.Background(), &provisioningv1.ConfigureRequest{Settings: map[string]string{
		SettingAPIURL: "http://panda.invalid", SettingAccessID: "id", SettingPassword: "pw", SettingAPIKey: "key", SettingRootAccountID: "ACC-0000001",
	}})
	if status.Code(err) != codes.Internal {
		t.Fatalf("Configure with an unreadable journal: %v, want Internal", err)
	}
	if a.journalErr == nil {
		t.Error("the journal error was not kept")
	}
}

// fakeRemote answers the look-alike listing and the operator listings of
// settleIntent; every other method panics (nil embedded interface).
type fakeRemote struct {
	Remote
	accounts  []RemoteAccount
	operators map[string][]Operator
}

func (f *fakeRemote) ListChildren(_ context.Context, parent string, o ListChildrenOptions) (*AccountPage, error) {
	var out []RemoteAccount
	for _, a := range f.accounts {
		if a.ParentID == parent && a.Name == o.Name && a.Type == o.Type {
			out = append(out, a)
		}
	}
	return &AccountPage{Total: len(out), Accounts: out}, nil
}

func (f *fakeRemote) ListOperators(_ context.Context, id string) ([]Operator, error) {
	for _, a := range f.accounts {
		if a.ID == id {
			return f.operators[id], nil
		}
	}
	return nil, &RemoteError{Kind: ErrNotFound}
}

func TestSettleIntent(t *testing.T) {
	t.Parallel()
	lookAlike := func(id string) RemoteAccount {
		return RemoteAccount{ID: id, ParentID: "ACC-1", Type: AccountTypeSubscriber, Name: "Acme", Email: "A@acme.example"}
	}
	later := testIntent
	later.At = later.At.Add(time.Minute)
	later.Before = []string{"ACC-7", "ACC-20"}
	tests := map[string]struct {
		accounts  []RemoteAccount
		operators map[string][]Operator
		// others are other accounts' entries: a remote id or an intent.
		others   map[string]journalSnap
		want     journalSnap // S-1's entry afterwards; zero: forgotten
		wantCode codes.Code
	}{
		"the one new look-alike is adopted": {
			accounts: []RemoteAccount{lookAlike("ACC-7"), lookAlike("ACC-20")},
			want:     journalSnap{Remote: "ACC-20"},
		},
		"with the operator it asked for": {
			accounts:  []RemoteAccount{lookAlike("ACC-20")},
			operators: map[string][]Operator{"ACC-20": {{Username: "Jane", AccountID: "ACC-20"}}},
			want:      journalSnap{Remote: "ACC-20"},
		},
		"not with another operator": {
			accounts:  []RemoteAccount{lookAlike("ACC-20")},
			operators: map[string][]Operator{"ACC-20": {{Username: "bob", AccountID: "ACC-20"}}},
		},
		"a look-alike that existed before is not": {
			accounts: []RemoteAccount{lookAlike("ACC-7")},
		},
		"another account's is not": {
			accounts: []RemoteAccount{lookAlike("ACC-20")},
			others:   map[string]journalSnap{"S-2": {Remote: "ACC-20"}},
		},
		"not the same data": {
			accounts: []RemoteAccount{{ID: "ACC-20", ParentID: "ACC-1", Type: AccountTypeSubscriber, Name: "Acme", Email: "b@acme.example"}},
		},
		"only one that existed when a later look-alike create was sent": {
			accounts: []RemoteAccount{lookAlike("ACC-20"), lookAlike("ACC-21")},
			others:   map[string]journalSnap{"S-2": {Intent: &later}},
			want:     journalSnap{Remote: "ACC-20"},
		},
		"two new look-alikes: not provable": {
			accounts: []RemoteAccount{lookAlike("ACC-20"), lookAlike("ACC-21")},
			want:     journalSnap{Intent: &testIntent},
			wantCode: codes.Unavailable,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := New()
			for id, s := range tc.others {
				if s.Intent != nil {
					_ = a.journal.intend(id, *s.Intent)
				} else {
					a.journal.created(id, s.Remote)
				}
			}
			_ = a.journal.intend("S-1", testIntent)
			st := &configured{api: &fakeRemote{accounts: tc.accounts, operators: tc.operators}}
			err := a.settleIntent(context.Background(), st, "S-1")
			if got := status.Code(err); got != tc.wantCode {
				t.Fatalf("settleIntent: %v, want code %v", err, tc.wantCode)
			}
			got, _ := a.journal.get("S-1")
			if diff := cmp.Diff(tc.want, journalSnap{Remote: got.remoteID, Intent: got.intent}); diff != "" {
				t.Errorf("S-1's entry (-want +got):\n%s", diff)
			}
		})
	}
}

func boundTestRecord(accountID, remoteID string) *provisioningv1.SyncRecord {
	return &provisioningv1.SyncRecord{
		AccountId: accountID, Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: remoteID,
		Values: map[string]string{FieldUsername: "jane"},
	}
}

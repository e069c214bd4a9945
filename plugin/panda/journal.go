package panda

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// journalCap bounds the journal: one small entry per account this process
// wrote for, the oldest forgotten first. An entry matters only between a
// write and the moment its record reaches the caller's store, so losing an
// old one costs nothing while the caller has stored its record.
const journalCap = 10000

// journal is the adapter's memory of its own writes, keyed by BSS account
// id: the create it was about to send (the intent), the Panda account it
// created for that account (even before the operator exists) and the last
// record it answered with remote objects.
//
// It is the adoption rule's evidence. Panda keeps no BSS id on an account,
// so an account that merely looks like this BSS account's (same parent,
// type, company name and email) may as well be another BSS account's with
// the same data; the adapter adopts remote work only when the caller's
// record names it or this journal says the adapter created it for this
// account id.
//
// With a data folder (the host's PROVISIONING_PLUGIN_DATA_DIR, see
// [WithDataDir]) the journal is also a file there (see journalFile) and
// survives a restart of the plugin: a create whose answer, or whose
// record, was lost with the process is adopted by the retry (see
// settleIntent). Without one (in-process use, tests) it lives in memory
// only, and after a restart work whose record never reached the caller is
// not adopted: a retry then meets USERNAME_TAKEN (a username the caller
// chose) or takes the next free variant (auto_fill), rather than risk
// binding two BSS accounts to one Panda account.
//
// Only an intent is synced before its call goes on (see intend); the other
// lines are written, which outlives the process, and reach the disk with
// the next intent's sync (see created). j.mu is never held through a sync
// of an appended line: concurrent intents share their syncs.
type journal struct {
	mu    sync.Mutex
	m     map[string]journalEntry
	order []string // m's keys in insertion order, for eviction
	// file is the durable copy; nil for a journal in memory only.
	file *journalFile
	// logger reports writes of the file that failed but need not fail the
	// call (see created).
	logger *slog.Logger
}

type journalEntry struct {
	// intent is the create sent for the BSS account whose outcome is not
	// known yet; nil once remoteID is.
	intent *journalIntent
	// remoteID is the Panda account created for the BSS account.
	remoteID string
	// record is the last record answered with remote objects; nil until
	// one. It is never written to the file: after a restart the caller's
	// record, or remoteID, says the same.
	record *provisioningv1.SyncRecord
}

// journalIntent is a CreateAccount about to be sent: what it asks for and
// the look-alikes that existed before it, so that the account it made can
// be told from them when its answer is lost, even by another process.
type journalIntent struct {
	Parent   string      `json:"parent"`
	Type     AccountType `json:"type"`
	Name     string      `json:"name"`
	Email    string      `json:"email"`
	Username string      `json:"username,omitempty"`
	// Before are the look-alikes (same parent, type, name, email) that
	// existed before the create was sent.
	Before []string  `json:"before,omitempty"`
	At     time.Time `json:"at"`
}

// get returns the entry of accountID.
func (j *journal) get(accountID string) (journalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.m[accountID]
	return e, ok
}

// intend notes, durably, that this process is about to create a Panda
// account for accountID. It must return before the create is sent: a
// crash between Panda's commit and a later write would lose exactly the
// evidence that the account is accountID's. So it returns only once its
// line is durable: written under j.mu, then synced outside it, the sync
// shared with the intents of concurrent calls (see journalFile). An error
// means the create must not be sent; the entry is then what it was before.
func (j *journal) intend(accountID string, in journalIntent) error {
	j.mu.Lock()
	if j.file == nil {
		j.putLocked(accountID, journalEntry{intent: &in})
		j.mu.Unlock()
		return nil
	}
	seq, err := j.file.append(journalLine{Op: opIntent, Account: accountID, Intent: &in})
	if err != nil {
		j.mu.Unlock()
		return err
	}
	old, had := j.m[accountID]
	// In memory with the write, so that a compaction before the sync
	// writes it too.
	j.putLocked(accountID, journalEntry{intent: &in})
	jf := j.file
	j.mu.Unlock()
	if err := jf.waitDurable(seq); err != nil {
		j.undoIntent(accountID, &in, old, had)
		return err
	}
	return nil
}

// undoIntent puts back the entry accountID had before the intent in, which
// could not be made durable, unless the entry changed since.
func (j *journal) undoIntent(accountID string, in *journalIntent, old journalEntry, had bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e, ok := j.m[accountID]; !ok || e.intent != in {
		return
	}
	if !had {
		j.writeLocked(journalLine{Op: opForget, Account: accountID})
		j.dropLocked(accountID)
		return
	}
	if l, ok := entryLine(accountID, old); ok {
		j.writeLocked(l)
	}
	j.putLocked(accountID, old)
}

// created notes that this process created Panda account remoteID for
// accountID. The line is written, not synced: it outlives the death of the
// process as it is (the page cache keeps it) and reaches the disk with the
// next sync of any intent. Only a power loss before then loses it, and then
// the intent, durable before the create was sent, still proves the account
// accountID's: the retry adopts it (settleIntent), or, when its operator
// took another username than the intent's (auto_fill moving on to a free
// variant), the host's attempt marker, durable in its store, makes the
// retry adopt it as an unfinished attempt's (see adoptUnfinished). A failed
// write is logged only, for the same reason.
func (j *journal) created(accountID, remoteID string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.writeLocked(journalLine{Op: opCreated, Account: accountID, Remote: remoteID})
	j.putLocked(accountID, journalEntry{remoteID: remoteID})
}

// answered notes the record answered for its account; a record without
// remote objects is not evidence of anything and is ignored. It ends the
// entry's intent; the file learns only a remote id it did not know (not
// synced: the caller stores the record).
func (j *journal) answered(rec *provisioningv1.SyncRecord) {
	if boundRecord(rec) == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	id := rec.GetAccountId()
	if old, ok := j.m[id]; !ok || old.remoteID != rec.GetRemoteId() {
		j.writeLocked(journalLine{Op: opCreated, Account: id, Remote: rec.GetRemoteId()})
	}
	j.putLocked(id, journalEntry{remoteID: rec.GetRemoteId(), record: rec})
}

// forget drops accountID's entry (its remote objects were deleted, or its
// intent turned out not to have created anything).
func (j *journal) forget(accountID string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.m[accountID]; !ok {
		return
	}
	j.writeLocked(journalLine{Op: opForget, Account: accountID})
	j.dropLocked(accountID)
}

// dropLocked removes accountID from m and from the eviction order, so that
// a later entry of the same id is not evicted in its old place.
func (j *journal) dropLocked(accountID string) {
	if _, ok := j.m[accountID]; !ok {
		return
	}
	delete(j.m, accountID)
	if i := slices.Index(j.order, accountID); i >= 0 {
		j.order = slices.Delete(j.order, i, i+1)
	}
}

// forgetRemote drops the entries of the accounts whose Panda accounts are
// remoteIDs (descendants deleted by a cascade).
func (j *journal) forgetRemote(remoteIDs []string) {
	if len(remoteIDs) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for id, e := range j.m {
		if slices.Contains(remoteIDs, e.remoteID) {
			j.writeLocked(journalLine{Op: opForget, Account: id})
			j.dropLocked(id)
		}
	}
}

// claimedByOther reports whether remoteID was created for an account other
// than accountID.
func (j *journal) claimedByOther(accountID, remoteID string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for id, e := range j.m {
		if e.remoteID == remoteID && id != accountID {
			return true
		}
	}
	return false
}

// writeLocked appends l to the file, if any, without waiting for a sync; a
// failure is logged (see created).
func (j *journal) writeLocked(l journalLine) {
	if j.file == nil {
		return
	}
	if _, err := j.file.append(l); err != nil && j.logger != nil {
		j.logger.Warn("could not write the journal", "op", l.Op, "account_id", l.Account, "err", err)
	}
}

func (j *journal) putLocked(accountID string, e journalEntry) {
	if j.m == nil {
		j.m = make(map[string]journalEntry)
	}
	if _, ok := j.m[accountID]; !ok {
		j.order = append(j.order, accountID)
	}
	j.m[accountID] = e
	for len(j.m) > journalCap && len(j.order) > 0 {
		old := j.order[0]
		j.order = j.order[1:]
		delete(j.m, old)
	}
	if j.file != nil && j.file.needsCompaction(len(j.m)) {
		if err := j.file.rewrite(j.linesLocked()); err != nil && j.logger != nil {
			j.logger.Warn("could not compact the journal", "err", err)
		}
	}
}

// linesLocked is the journal as the fewest lines that say the same: one
// per entry, oldest first.
func (j *journal) linesLocked() []journalLine {
	out := make([]journalLine, 0, len(j.order))
	for _, id := range j.order {
		if l, ok := entryLine(id, j.m[id]); ok {
			out = append(out, l)
		}
	}
	return out
}

// entryLine is the line that says e, if any.
func entryLine(accountID string, e journalEntry) (journalLine, bool) {
	switch {
	case e.remoteID != "":
		return journalLine{Op: opCreated, Account: accountID, Remote: e.remoteID}, true
	case e.intent != nil:
		return journalLine{Op: opIntent, Account: accountID, Intent: e.intent}, true
	}
	return journalLine{}, false
}

// apply replays one line of the file into memory (loading).
func (j *journal) applyLocked(l journalLine) {
	switch l.Op {
	case opIntent:
		if l.Intent != nil {
			j.putLocked(l.Account, journalEntry{intent: l.Intent})
		}
	case opCreated:
		j.putLocked(l.Account, journalEntry{remoteID: l.Remote})
	case opForget:
		j.dropLocked(l.Account)
	}
}

// laterIntents are the before-sets of the pending intents of other
// accounts with look-alike key that were written after at.
func (j *journal) laterIntents(accountID, key string, at time.Time) [][]string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out [][]string
	for id, e := range j.m {
		in := e.intent
		if id == accountID || in == nil || e.remoteID != "" || !in.At.After(at) || lookAlikeKey(in.Parent, in.Type, in.Name, in.Email) != key {
			continue
		}
		out = append(out, in.Before)
	}
	return out
}

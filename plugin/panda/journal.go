package panda

import (
	"slices"
	"sync"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// journalCap bounds the journal: one small entry per account this process
// wrote for, the oldest forgotten first. An entry matters only between a
// write and the moment its record reaches the caller's store, so losing an
// old one costs nothing while the caller has stored its record.
const journalCap = 10000

// journal is the adapter's memory of its own writes, keyed by BSS account
// id: the Panda account it created for that account (even before the
// operator exists) and the last record it answered with remote objects.
//
// It is the adoption rule's evidence. Panda keeps no BSS id on an account,
// so an account that merely looks like this BSS account's (same parent,
// type, company name and email) may as well be another BSS account's with
// the same data; the adapter adopts remote work only when the caller's
// record names it or this journal says this process created it for this
// account id. After a plugin restart the journal is empty, and work whose
// record never reached the caller is not adopted: a retry then meets
// USERNAME_TAKEN (a username the caller chose) or takes the next free
// variant (auto_fill), rather than risk binding two BSS accounts to one
// Panda account.
type journal struct {
	mu    sync.Mutex
	m     map[string]journalEntry
	order []string // m's keys in insertion order, for eviction
}

type journalEntry struct {
	// remoteID is the Panda account created for the BSS account.
	remoteID string
	// record is the last record answered with remote objects; nil until one.
	record *provisioningv1.SyncRecord
}

// get returns the entry of accountID.
func (j *journal) get(accountID string) (journalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.m[accountID]
	return e, ok
}

// created notes that this process created Panda account remoteID for
// accountID.
func (j *journal) created(accountID, remoteID string) {
	j.put(accountID, journalEntry{remoteID: remoteID})
}

// answered notes the record answered for its account; a record without
// remote objects is not evidence of anything and is ignored.
func (j *journal) answered(rec *provisioningv1.SyncRecord) {
	if boundRecord(rec) == nil {
		return
	}
	j.put(rec.GetAccountId(), journalEntry{remoteID: rec.GetRemoteId(), record: rec})
}

// forget drops accountID's entry (its remote objects were deleted).
func (j *journal) forget(accountID string) {
	j.mu.Lock()
	defer j.mu.Unlock()
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

func (j *journal) put(accountID string, e journalEntry) {
	j.mu.Lock()
	defer j.mu.Unlock()
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
}

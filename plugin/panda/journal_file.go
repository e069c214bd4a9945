package panda

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// journalFileName is the journal's file in the plugin's data folder.
const journalFileName = "panda-journal.jsonl"

// journalMinLines is the length below which the file is never compacted.
const journalMinLines = 1024

// The operations of a journal line.
const (
	opIntent  = "intent"  // a create is about to be sent (Intent)
	opCreated = "created" // the account's Panda account is Remote
	opForget  = "forget"  // the account's entry ends
)

// journalLine is one line of the journal file: JSON, one per line, applied
// in order. Nothing in it is a secret (ids, a company name, an email, a
// username).
type journalLine struct {
	Op      string         `json:"op"`
	Account string         `json:"account"`
	Remote  string         `json:"remote,omitempty"`
	Intent  *journalIntent `json:"intent,omitempty"`
}

// journalFile is the journal's durable copy: an append-only file of
// journalLines in the plugin's data folder, mode 0600.
//
// Only an intent must outlive a power loss, and before its create is sent
// (see journal.intend); every other line is written (a write(2): it
// outlives the death of the process) and made durable by the next sync,
// whoever's it is. Syncs are group commits: append writes a line under the
// journal's lock and numbers it; waitDurable, called without that lock,
// returns once a sync (fsync) that began after the line was written has
// completed. One sync runs at a time, and a waiter whose line a sync covered
// returns without one of its own, so concurrent intents share their syncs
// instead of queuing behind one another's.
//
// A torn last line, the write a crash cut short, is skipped on load; so is
// any line that does not parse, with a warning. The file is rewritten from
// memory (a temporary file, synced, renamed over it, the folder synced) on
// open and whenever it has grown to four times the lines it needs, so it
// stays near journalCap lines. A rewrite makes every line written before it
// durable (the memory it is written from holds their effect), and the file
// it replaces is closed once no sync uses it.
type journalFile struct {
	path string
	// sync makes the appended lines durable: (*os.File).Sync, or a
	// test's. A rewrite syncs its own file directly.
	sync func(*os.File) error

	// f and lines change under the journal's lock only (append, rewrite);
	// f also under smu, which the syncs read it under.
	f *os.File
	// lines is how many lines the file holds.
	lines int

	// smu guards the group commit below; it is taken after the journal's
	// lock, never before it.
	smu  sync.Mutex
	cond *sync.Cond // on smu: a sync ended
	// written is the number of the last line written (lines are numbered
	// from 1 over the life of the journal, across rewrites).
	written uint64
	// synced: every line up to it was covered by a successful sync.
	synced uint64
	// rewritten: every line up to it is durable through a rewrite.
	rewritten uint64
	// lostFrom..lostTo are lines a failed sync covered: not known durable
	// (a failed fsync may drop their pages), so their waiters get lostErr,
	// even if a later sync succeeds, unless a rewrite covers them.
	lostFrom, lostTo uint64
	lostErr          error
	// syncing is the file a sync is running on, nil when none; a rewrite
	// leaves it to that sync to close.
	syncing *os.File
}

// open loads the journal file of dir into j, which must be empty, creating
// the file when missing, and attaches it: from then on j writes through.
func (j *journal) open(dir string, logger *slog.Logger) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.logger = logger
	path := filepath.Join(dir, journalFileName)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading the journal: %w", err)
	}
	for _, l := range parseJournal(b, logger) {
		j.applyLocked(l)
	}
	jf := newJournalFile(path)
	if err := jf.rewrite(j.linesLocked()); err != nil {
		return err
	}
	j.file = jf
	return nil
}

func newJournalFile(path string) *journalFile {
	jf := &journalFile{path: path, sync: (*os.File).Sync}
	jf.cond = sync.NewCond(&jf.smu)
	return jf
}

// parseJournal reads the lines of a journal file. A last line without its
// newline is a write a crash cut short and is dropped silently; a bad line
// elsewhere is dropped with a warning.
func parseJournal(b []byte, logger *slog.Logger) []journalLine {
	var out []journalLine
	for n := 1; len(b) > 0; n++ {
		line, rest, complete := bytes.Cut(b, []byte{'\n'})
		b = rest
		if !complete {
			break // torn
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l journalLine
		if err := json.Unmarshal(line, &l); err != nil || l.Account == "" {
			if logger != nil {
				logger.Warn("skipping a bad journal line", "line", n)
			}
			continue
		}
		out = append(out, l)
	}
	return out
}

// append writes l at the end of the file, not synced, and returns its
// number for waitDurable. The caller holds the journal's lock.
func (jf *journalFile) append(l journalLine) (uint64, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return 0, fmt.Errorf("encoding a journal line: %w", err)
	}
	if _, err := jf.f.Write(append(b, '\n')); err != nil {
		return 0, fmt.Errorf("writing the journal: %w", err)
	}
	jf.lines++
	jf.smu.Lock()
	jf.written++
	seq := jf.written
	jf.smu.Unlock()
	return seq, nil
}

// waitDurable returns once line seq is durable: covered by a rewrite, or by
// a sync that began after it was written. It syncs itself when no sync is
// running and none has covered seq; otherwise it waits for the running one
// and looks again. An error means seq was covered by a failed sync and is
// not known durable. The caller must not hold the journal's lock.
func (jf *journalFile) waitDurable(seq uint64) error {
	jf.smu.Lock()
	defer jf.smu.Unlock()
	for {
		switch {
		case seq <= jf.rewritten:
			return nil
		case seq >= jf.lostFrom && seq <= jf.lostTo:
			return fmt.Errorf("syncing the journal: %w", jf.lostErr)
		case seq <= jf.synced:
			return nil
		case jf.syncing != nil:
			jf.cond.Wait()
			continue
		}
		// Every line up to target is written: this sync covers it.
		f, target := jf.f, jf.written
		jf.syncing = f
		jf.smu.Unlock()
		err := jf.sync(f)
		jf.smu.Lock()
		jf.syncing = nil
		switch {
		case f != jf.f:
			// A rewrite replaced f meanwhile: the new file holds every
			// line f held, durably, whatever the sync said.
			_ = f.Close()
		case err == nil:
			jf.synced = max(jf.synced, target)
		default:
			// Lines written while the sync ran may have been in the pages
			// it failed to write: lost too. Lost ranges merge.
			if jf.lostTo == 0 {
				jf.lostFrom = jf.synced + 1
			}
			jf.lostTo, jf.lostErr = jf.written, err
		}
		jf.cond.Broadcast()
	}
}

// close closes the file once no sync uses it (tests: a journal is never
// closed otherwise).
func (jf *journalFile) close() error {
	jf.smu.Lock()
	defer jf.smu.Unlock()
	for jf.syncing != nil {
		jf.cond.Wait()
	}
	return jf.f.Close()
}

// needsCompaction reports whether the file holds many more lines than the
// live entries need.
func (jf *journalFile) needsCompaction(entries int) bool {
	return jf.lines > max(journalMinLines, 4*entries)
}

// rewrite replaces the file by lines: written to a temporary file, synced,
// renamed over the journal and the folder synced, so that a crash leaves
// either the old file or the new one. The file is then open for appends.
func (jf *journalFile) rewrite(lines []journalLine) error {
	tmp := jf.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("compacting the journal: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, l := range lines {
		if err = enc.Encode(l); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, jf.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(jf.path))
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("compacting the journal: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		_ = f.Close()
		return fmt.Errorf("compacting the journal: %w", err)
	}
	jf.smu.Lock()
	defer jf.smu.Unlock()
	if jf.f != nil && jf.f != jf.syncing {
		_ = jf.f.Close()
	}
	jf.f, jf.lines = f, len(lines)
	jf.rewritten = jf.written
	jf.lostFrom, jf.lostTo = 0, 0
	// Waiters on lines the rewrite covered need not wait for the sync.
	jf.cond.Broadcast()
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

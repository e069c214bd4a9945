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
// A line that must outlive a crash (an intent, before its create is sent;
// a created account) is synced (fdatasync) before append returns. A torn
// last line, the write a crash cut short, is skipped on load; so is any
// line that does not parse, with a warning. The file is rewritten from
// memory (a temporary file, synced, renamed over it, the folder synced) on
// open and whenever it has grown to four times the lines it needs, so it
// stays near journalCap lines.
type journalFile struct {
	path string
	f    *os.File
	// lines is how many lines the file holds.
	lines int
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
	jf := &journalFile{path: path}
	if err := jf.rewrite(j.linesLocked()); err != nil {
		return err
	}
	j.file = jf
	return nil
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

// append writes l at the end of the file, synced when sync is set.
func (jf *journalFile) append(l journalLine, sync bool) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encoding a journal line: %w", err)
	}
	if _, err := jf.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing the journal: %w", err)
	}
	jf.lines++
	if sync {
		if err := jf.f.Sync(); err != nil {
			return fmt.Errorf("syncing the journal: %w", err)
		}
	}
	return nil
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
	if jf.f != nil {
		_ = jf.f.Close()
	}
	jf.f, jf.lines = f, len(lines)
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

package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Logs collects every log line of the processes of a run, each prefixed
// with its source ("pandasim", "host", "provctl"), in a file: a long run's
// logs do not sit in memory, and a test can scan all of them afterwards
// ([Logs.Find]). The last lines of each source stay in memory for error
// messages. A nil *Logs discards everything. It is safe for concurrent use.
type Logs struct {
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	echo  io.Writer
	tails map[string][]string
	lines int64
}

const tailLines = 50

// NewLogs writes the lines to the file at path (created or truncated). When
// echo is not nil, lines are copied there too.
func NewLogs(path string, echo io.Writer) (*Logs, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &Logs{f: f, w: bufio.NewWriterSize(f, 256<<10), echo: echo, tails: map[string][]string{}}, nil
}

// Path is the file the lines go to.
func (l *Logs) Path() string {
	if l == nil {
		return ""
	}
	return l.f.Name()
}

// Line records one line from source.
func (l *Logs) Line(source, line string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s| %s\n", source, line)
	if l.echo != nil {
		fmt.Fprintf(l.echo, "%s| %s\n", source, line)
	}
	t := append(l.tails[source], line)
	if len(t) > tailLines {
		t = t[len(t)-tailLines:]
	}
	l.tails[source] = t
	l.lines++
}

// Copy records every line read from r until it ends.
func (l *Logs) Copy(source string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		l.Line(source, sc.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}

// Writer returns a writer whose lines are recorded from source.
func (l *Logs) Writer(source string) io.WriteCloser {
	pr, pw := io.Pipe()
	go l.Copy(source, pr)
	return pw
}

// Tail is the last n lines of source, for an error message.
func (l *Logs) Tail(source string, n int) string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tails[source]
	if len(t) > n {
		t = t[len(t)-n:]
	}
	return source + "| " + strings.Join(t, "\n"+source+"| ")
}

// Count is the number of lines recorded so far.
func (l *Logs) Count() int64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines
}

// Flush writes buffered lines to the file.
func (l *Logs) Flush() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Flush()
}

// Find returns the lines (at most 20) that contain any of needles. Empty
// needles are ignored.
func (l *Logs) Find(needles ...string) ([]string, error) {
	if err := l.Flush(); err != nil {
		return nil, err
	}
	f, err := os.Open(l.Path())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var bs [][]byte
	for _, n := range needles {
		if n != "" {
			bs = append(bs, []byte(n))
		}
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		for _, b := range bs {
			if bytes.Contains(sc.Bytes(), b) {
				out = append(out, sc.Text())
				break
			}
		}
		if len(out) == 20 {
			break
		}
	}
	return out, sc.Err()
}

// Close flushes and closes the file.
func (l *Logs) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

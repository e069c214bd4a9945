package plugintest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogBuffer collects what a plugin, a host or a daemon writes (a process's
// stderr, a slog handler) for a test to read. It is safe for the concurrent
// writers go-plugin and slog use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Alive reports whether pid names a running process. A zombie (exited, not
// yet reaped by its parent) counts as gone: it answers signal 0 but runs
// nothing. Linux only; elsewhere it reports whether /proc/PID exists.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may hold spaces.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// WaitExit fails the test unless the process pid is gone within d.
func WaitExit(tb testing.TB, pid int, d time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for Alive(pid) {
		if time.Now().After(deadline) {
			tb.Fatalf("process %d still alive after %v", pid, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

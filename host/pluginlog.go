package host

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// pluginLogHandler carries plugin log lines and go-plugin's messages into the
// host's handler.
//
// go-plugin logs the binary's path under the key "plugin", which would
// collide with the host's "plugin" (the catalog name) in JSON output; it
// becomes "plugin_path".
//
// go-plugin logs a stderr line that is not a JSON log record at DEBUG, so a
// plugin's traceback or a library's complaint would be invisible at the
// host's usual level. Those lines are raised to WARN. They are told apart
// from the plugin's own debug records because go-plugin logs them on the
// logger named after the binary (the "logger" attribute) without the
// "timestamp" attribute it adds to every parsed record, and because they do
// not start with the "[DEBUG]" or "[TRACE]" prefix go-plugin honours.
type pluginLogHandler struct {
	slog.Handler
	// stderrName is the name of go-plugin's stderr logger: the binary's
	// base name.
	stderrName string
	// stderr is set on the handler of that logger.
	stderr bool
}

// newPluginLogHandler returns the handler for the go-plugin client of the
// plugin binary at path, writing to h.
func newPluginLogHandler(h slog.Handler, path string) slog.Handler {
	return pluginLogHandler{Handler: h, stderrName: filepath.Base(path)}
}

func (h pluginLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if h.stderr && l == slog.LevelDebug {
		// It may become a WARN in Handle.
		return h.Handler.Enabled(ctx, l) || h.Handler.Enabled(ctx, slog.LevelWarn)
	}
	return h.Handler.Enabled(ctx, l)
}

// maxPluginMessage is the longest plugin log message kept whole: a longer
// one (a dumped payload, a one-line stack) is cut to its start with a marker
// naming its length, so that one line cannot flood the host's log.
const maxPluginMessage = 8 << 10

// cutMessage cuts m to maxPluginMessage bytes, on a UTF-8 boundary, with a
// marker.
func cutMessage(m string) string {
	if len(m) <= maxPluginMessage {
		return m
	}
	n := maxPluginMessage
	for n > 0 && !utf8.RuneStart(m[n]) {
		n--
	}
	return m[:n] + " … [cut: " + strconv.Itoa(len(m)) + " bytes]"
}

func (h pluginLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.stderr && len(r.Message) > maxPluginMessage {
		nr := slog.NewRecord(r.Time, r.Level, cutMessage(r.Message), r.PC)
		r.Attrs(func(a slog.Attr) bool { nr.AddAttrs(a); return true })
		r = nr
	}
	clash, parsed := false, false
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "plugin":
			clash = true
		case "timestamp":
			parsed = true
		}
		return true
	})
	if h.stderr && r.Level == slog.LevelDebug && !parsed && !strings.HasPrefix(r.Message, "[DEBUG]") && !strings.HasPrefix(r.Message, "[TRACE]") {
		r.Level = slog.LevelWarn
		r.AddAttrs(slog.String("stream", "stderr"))
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	if !clash {
		return h.Handler.Handle(ctx, r)
	}
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "plugin" {
			a.Key = "plugin_path"
		}
		nr.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, nr)
}

func (h pluginLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := h
	c.Handler = h.Handler.WithAttrs(as)
	for _, a := range as {
		if a.Key == "logger" && a.Value.String() == h.stderrName {
			c.stderr = true
		}
	}
	return c
}

func (h pluginLogHandler) WithGroup(name string) slog.Handler {
	c := h
	c.Handler = h.Handler.WithGroup(name)
	return c
}

// stderrTail keeps the last lines a plugin wrote to stderr, so that a plugin
// that dies before its handshake (an import error, a missing library) can be
// told apart from go-plugin's generic "Unrecognized remote plugin message" or
// "plugin exited before we could connect". go-plugin writes each stderr line
// to it whole, newline included.
type stderrTail struct {
	mu    sync.Mutex
	lines []string
}

const (
	// stderrTailLines is how many lines are kept: a Python traceback's last
	// frames and its exception.
	stderrTailLines = 8
	// stderrTailLineLen cuts each kept line, so last_error stays readable.
	stderrTailLineLen = 300
)

func (t *stderrTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range bytes.Split(p, []byte("\n")) {
		s := strings.TrimRight(string(l), "\r")
		if strings.TrimSpace(s) == "" {
			continue
		}
		if len(s) > stderrTailLineLen {
			s = s[:stderrTailLineLen] + "…"
		}
		t.lines = append(t.lines, s)
		if len(t.lines) > stderrTailLines {
			t.lines = t.lines[len(t.lines)-stderrTailLines:]
		}
	}
	return len(p), nil
}

// String is the kept lines, joined by " | ", or "".
func (t *stderrTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, " | ")
}

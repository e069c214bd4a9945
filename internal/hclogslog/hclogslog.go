// Package hclogslog adapts go-plugin's logger interface (hclog.Logger) to
// log/slog, so that a host's plugin logs (the plugin's stderr, parsed by
// go-plugin) and go-plugin's own messages land in the host's slog handler with
// the plugin's name.
//
// It only forwards: it never formats, filters secrets or buffers. Secrets must
// not be logged in the first place.
package hclogslog

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// New returns an hclog.Logger that writes to l. Records below level are
// dropped before any formatting work.
func New(l *slog.Logger, level hclog.Level) hclog.Logger {
	lv := new(atomic.Int32)
	lv.Store(int32(level))
	return &logger{l: l, level: lv}
}

type logger struct {
	l       *slog.Logger
	name    string
	implied []any
	level   *atomic.Int32
}

var _ hclog.Logger = (*logger)(nil)

func toSlog(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Info, hclog.NoLevel, hclog.DefaultLevel:
		return slog.LevelInfo
	case hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (g *logger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level < hclog.Level(g.level.Load()) {
		return
	}
	sl := toSlog(level)
	ctx := context.Background()
	if !g.l.Enabled(ctx, sl) {
		return
	}
	// hclog passes a lone trailing value without a key; slog would print it
	// as !BADKEY, so give it one.
	if len(args)%2 == 1 {
		args = append(args[:len(args)-1:len(args)-1], "extra", args[len(args)-1])
	}
	all := make([]any, 0, len(g.implied)+len(args))
	all = append(all, g.implied...)
	all = append(all, args...)
	g.l.Log(ctx, sl, msg, all...)
}

func (g *logger) Trace(msg string, args ...any) { g.Log(hclog.Trace, msg, args...) }
func (g *logger) Debug(msg string, args ...any) { g.Log(hclog.Debug, msg, args...) }
func (g *logger) Info(msg string, args ...any)  { g.Log(hclog.Info, msg, args...) }
func (g *logger) Warn(msg string, args ...any)  { g.Log(hclog.Warn, msg, args...) }
func (g *logger) Error(msg string, args ...any) { g.Log(hclog.Error, msg, args...) }

func (g *logger) enabled(level hclog.Level) bool {
	return level >= hclog.Level(g.level.Load()) && g.l.Enabled(context.Background(), toSlog(level))
}

func (g *logger) IsTrace() bool { return g.enabled(hclog.Trace) }
func (g *logger) IsDebug() bool { return g.enabled(hclog.Debug) }
func (g *logger) IsInfo() bool  { return g.enabled(hclog.Info) }
func (g *logger) IsWarn() bool  { return g.enabled(hclog.Warn) }
func (g *logger) IsError() bool { return g.enabled(hclog.Error) }

func (g *logger) ImpliedArgs() []any { return g.implied }

func (g *logger) With(args ...any) hclog.Logger {
	c := *g
	c.implied = append(append([]any{}, g.implied...), args...)
	return &c
}

func (g *logger) Name() string { return g.name }

func (g *logger) Named(name string) hclog.Logger {
	full := name
	if g.name != "" {
		full = g.name + "." + name
	}
	return g.ResetNamed(full)
}

func (g *logger) ResetNamed(name string) hclog.Logger {
	c := *g
	c.name = name
	c.l = g.l.With("logger", name)
	return &c
}

func (g *logger) SetLevel(level hclog.Level) { g.level.Store(int32(level)) }

func (g *logger) GetLevel() hclog.Level { return hclog.Level(g.level.Load()) }

func (g *logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(g.StandardWriter(opts), "", 0)
}

func (g *logger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		g.Info(strings.TrimRight(string(p), "\n"))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

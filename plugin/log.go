package plugin

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// Logger returns a logger for use inside a plugin process. It writes JSON lines
// to the process's stderr in the shape go-plugin parses (`@level`, `@message`,
// `@timestamp`), so the host re-logs each record at its level under the
// plugin's name. Create it before [Serve] replaces os.Stderr, or pass it to
// Serve with [WithLogger].
//
// The level comes from [LogLevelEnv] (debug, info, warn, error; default
// info).
func Logger() *slog.Logger {
	return NewLogger(os.Stderr, levelFromEnv())
}

// NewLogger is [Logger] writing to w at the given level.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				// go-plugin parses exactly this layout.
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}

func levelFromEnv() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(os.Getenv(LogLevelEnv)))); err != nil {
		return slog.LevelInfo
	}
	return l
}

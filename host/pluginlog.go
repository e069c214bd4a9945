package host

import (
	"context"
	"log/slog"
)

// pluginLogHandler carries plugin log lines and go-plugin's messages into the
// host's handler. go-plugin itself logs the binary's path under the key
// "plugin", which would collide with the host's "plugin" (the catalog name)
// in JSON output; it becomes "plugin_path".
type pluginLogHandler struct{ slog.Handler }

func (h pluginLogHandler) Handle(ctx context.Context, r slog.Record) error {
	clash := false
	r.Attrs(func(a slog.Attr) bool {
		clash = a.Key == "plugin"
		return !clash
	})
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
	return pluginLogHandler{h.Handler.WithAttrs(as)}
}

func (h pluginLogHandler) WithGroup(name string) slog.Handler {
	return pluginLogHandler{h.Handler.WithGroup(name)}
}

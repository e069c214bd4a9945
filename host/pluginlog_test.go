package host

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/cloudbss/provisioning/internal/hclogslog"
)

// TestPluginLogHandler logs what go-plugin logs for a plugin, through the
// same bridge the host uses, and checks which records reach a host logging
// at INFO, and at which level.
func TestPluginLogHandler(t *testing.T) {
	t.Parallel()
	const bin = "/opt/plugins/provisioning-plugin-demo"
	// go-plugin adds "timestamp" to every record it parsed from a JSON line.
	const ts = "2026-11-30T04:22:53.278Z"
	type rec struct{ Level, Msg, Stream, PluginPath string }
	tests := map[string]struct {
		log  func(client, stderr hclog.Logger)
		want []rec
	}{
		"a plain stderr line is raised to WARN": {
			log:  func(_, e hclog.Logger) { e.Debug("ModuleNotFoundError: No module named 'grpc'") },
			want: []rec{{Level: "WARN", Msg: "ModuleNotFoundError: No module named 'grpc'", Stream: "stderr"}},
		},
		"a parsed debug record stays DEBUG, below the host's level": {
			log: func(_, e hclog.Logger) { e.Debug("cache warmed", "timestamp", ts) },
		},
		"a parsed info record stays INFO": {
			log:  func(_, e hclog.Logger) { e.Info("ledger configured", "timestamp", ts) },
			want: []rec{{Level: "INFO", Msg: "ledger configured"}},
		},
		"a [DEBUG] prefixed line stays DEBUG": {
			log: func(_, e hclog.Logger) { e.Debug("[DEBUG] connecting") },
		},
		"go-plugin's own debug message is not stderr": {
			log: func(c, _ hclog.Logger) { c.Debug("waiting for RPC address") },
		},
		"go-plugin's path attribute is renamed": {
			log:  func(c, _ hclog.Logger) { c.Info("plugin process exited", "plugin", bin) },
			want: []rec{{Level: "INFO", Msg: "plugin process exited", PluginPath: bin}},
		},
		"another named logger is not stderr": {
			log: func(c, _ hclog.Logger) { c.Named("stdio").Debug("stdio EOF") },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})
			// As go-plugin's client does: its logger, and the stderr logger
			// named after the binary.
			client := hclogslog.New(slog.New(newPluginLogHandler(h, bin)), hclog.Trace)
			tc.log(client, client.Named("provisioning-plugin-demo"))
			var got []rec
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if line == "" {
					continue
				}
				var r struct {
					Level, Msg, Stream string
					PluginPath         string `json:"plugin_path"`
				}
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				got = append(got, rec(r))
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
		})
	}
}

func TestStderrTail(t *testing.T) {
	t.Parallel()
	var tail stderrTail
	// go-plugin writes each line, then its newline, separately.
	for i := range 12 {
		_, _ = tail.Write([]byte("line " + string(rune('a'+i))))
		_, _ = tail.Write([]byte("\n"))
	}
	_, _ = tail.Write([]byte(strings.Repeat("x", 400) + "\n"))
	got := strings.Split(tail.String(), " | ")
	want := []string{"line f", "line g", "line h", "line i", "line j", "line k", "line l", strings.Repeat("x", stderrTailLineLen) + "…"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tail (-want +got):\n%s", d)
	}
}

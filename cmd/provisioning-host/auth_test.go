package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExposureRefused: the daemon refuses to start when it would serve
// other machines without authentication, with a weak or unprotected token,
// or with profiles on a non-loopback address; each refusal says what to do.
func TestExposureRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cat := filepath.Join(dir, "host.yaml")
	if err := os.WriteFile(cat, []byte("plugins: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	token := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	strong := strings.Repeat("0123456789abcdef", 2)
	good := token("good", strong, 0o600)
	tests := map[string]struct {
		args []string
		want string // in stderr; empty: starts
	}{
		"all interfaces, no auth":          {args: []string{"--listen", "0.0.0.0:0"}, want: "--insecure-listen"},
		"empty host, no auth":              {args: []string{"--listen", ":0"}, want: "no caller authentication"},
		"all interfaces, insecure-listen":  {args: []string{"--listen", "0.0.0.0:0", "--insecure-listen"}},
		"all interfaces, token":            {args: []string{"--listen", "0.0.0.0:0", "--auth-token-file", good}},
		"loopback, no auth":                {args: []string{"--listen", "127.0.0.1:0"}},
		"IPv6 loopback, no auth":           {args: []string{"--listen", "[::1]:0"}},
		"unix socket, no auth":             {args: []string{"--listen", "unix://" + filepath.Join(dir, "s.sock")}},
		"1-character token":                {args: []string{"--auth-token-file", token("short", "x", 0o600)}, want: "at least 32"},
		"world-writable token file":        {args: []string{"--auth-token-file", token("ww", strong, 0o666)}, want: "chmod 600"},
		"group-writable token file":        {args: []string{"--auth-token-file", token("gw", strong, 0o620)}, want: "chmod 600"},
		"world-readable token file":        {args: []string{"--auth-token-file", token("wr", strong, 0o604)}, want: "chmod 600"},
		"pprof on all interfaces":          {args: []string{"--metrics-listen", "0.0.0.0:0", "--pprof"}, want: "loopback --metrics-listen"},
		"pprof on loopback":                {args: []string{"--metrics-listen", "127.0.0.1:0", "--pprof"}},
		"metrics without pprof, elsewhere": {args: []string{"--metrics-listen", "0.0.0.0:0"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Cancelled: a daemon that starts stops at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			args := append([]string{"--config", cat, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.args...)
			var stdout, stderr bytes.Buffer
			code := run(ctx, args, &stdout, &stderr)
			switch {
			case tc.want == "" && code != 0:
				t.Errorf("refused (exit %d):\n%s", code, stderr.String())
			case tc.want != "" && code == 0:
				t.Errorf("started, want a refusal saying %q", tc.want)
			case tc.want != "" && !strings.Contains(stderr.String(), tc.want):
				t.Errorf("stderr:\n%s\nwant it to say %q", stderr.String(), tc.want)
			}
			if strings.Contains(stderr.String(), strong) {
				t.Errorf("the token is in the output:\n%s", stderr.String())
			}
		})
	}
}

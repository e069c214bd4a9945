package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func statusProto(err error) *spb.Status { return status.Convert(err).Proto() }

// Flag mistakes are usage errors (exit 2), caught before any connection.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	settings := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(settings, []byte("api_url: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"unknown command":      {args: []string{"frobnicate"}, want: `unknown command "frobnicate"`},
		"unknown flag":         {args: []string{"plugins", "--nope"}, want: "unknown flag: --nope"},
		"bad output":           {args: []string{"plugins", "-o", "yaml"}, want: `-o "yaml": want table or json`},
		"host and plugin":      {args: []string{"--host", "x:1", "--plugin", "p", "--settings", settings, "plugins"}, want: "exclude each other"},
		"plugin, no settings":  {args: []string{"--plugin", "p", "plugins"}, want: "--plugin needs --settings"},
		"settings, no plugin":  {args: []string{"--settings", settings, "plugins"}, want: "only apply with --plugin"},
		"token in local mode":  {args: []string{"--plugin", "p", "--settings", settings, "--token-file", "t", "plugins"}, want: "are for a daemon"},
		"negative timeout":     {args: []string{"--host", "x:1", "--timeout", "-1s", "plugins"}, want: "--timeout must not be negative"},
		"args to plugins":      {args: []string{"--host", "x:1", "plugins", "extra"}, want: "takes no arguments"},
		"two account files":    {args: []string{"--host", "x:1", "options", "a.json", "b.json"}, want: "at most one account file"},
		"no account":           {args: []string{"--host", "127.0.0.1:1", "--plugin-name", "panda", "options"}, want: "no account: pass --account"},
		"account file missing": {args: []string{"--host", "127.0.0.1:1", "--plugin-name", "panda", "sync", "--account", filepath.Join(dir, "nope.json")}, want: "no such file"},
		"account and arg":      {args: []string{"--host", "127.0.0.1:1", "--plugin-name", "panda", "sync", "--account", "a.json", "b.json"}, want: "not both"},
		"bad --set":            {args: []string{"--host", "127.0.0.1:1", "--plugin-name", "panda", "sync", "-", "--set", "username"}, want: "want key=value"},
		"status without id":    {args: []string{"--host", "127.0.0.1:1", "status"}, want: "status needs an account id"},
		"bad --status":         {args: []string{"--host", "127.0.0.1:1", "records", "--status", "done"}, want: `--status "done"`},
		"batch without file":   {args: []string{"--host", "127.0.0.1:1", "sync-batch"}, want: "needs one FILE"},
		"batch chunk size":     {args: []string{"--host", "127.0.0.1:1", "--plugin-name", "p", "sync-batch", "-", "--chunk-size", "0"}, want: "--chunk-size must be at least 1"},
		"plugin name unknown":  {args: []string{"--plugin", filepath.Join(dir, "s.yaml"), "--settings", settings, "probe"}, want: "pass --plugin-name"},
		"missing plugin file":  {args: []string{"--plugin", filepath.Join(dir, "provisioning-plugin-x"), "--settings", settings, "probe"}, want: "no such file"},
		"empty token file": {args: []string{"--host", "127.0.0.1:1", "--token-file", settings + ".none", "plugins"},
			want: "token file"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := provctl(t, `{"id": "C-1"}`, tc.env, tc.args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d\n%s", r.code, exitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, r.stderr)
			}
		})
	}
}

// Every command documents itself with examples.
func TestHelpHasExamples(t *testing.T) {
	t.Parallel()
	root := newRootCmd(&app{getenv: func(string) string { return "" }})
	if root.Example == "" {
		t.Error("provctl has no examples")
	}
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if !strings.Contains(c.Example, "provctl "+c.Name()) {
			t.Errorf("%s: no example using it", c.Name())
		}
	}
	r := provctl(t, "", nil, "--help")
	if r.code != exitOK || !strings.Contains(r.stdout, "Exit codes:") {
		t.Errorf("--help: exit %d\n%s", r.code, r.stdout)
	}
}

func TestGRPCTarget(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in, want string
		local    bool
	}{
		"host port":     {"127.0.0.1:7400", "127.0.0.1:7400", true},
		"localhost":     {"localhost:7400", "localhost:7400", true},
		"ipv6 loopback": {"[::1]:7400", "[::1]:7400", true},
		"remote":        {"bss.example:443", "bss.example:443", false},
		"tcp scheme":    {"tcp://10.0.0.1:7400", "10.0.0.1:7400", false},
		"unix url":      {"unix:///run/provisioning.sock", "unix:///run/provisioning.sock", true},
		"bare path":     {"/run/provisioning.sock", "unix:///run/provisioning.sock", true},
		"relative path": {"./host.sock", "unix:./host.sock", true},
		"folder path":   {"run/host.sock", "unix:run/host.sock", true},
		"dns":           {"dns:///bss.example:443", "dns:///bss.example:443", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := grpcTarget(tc.in)
			if got != tc.want {
				t.Errorf("grpcTarget(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if l := isLocalTarget(got); l != tc.local {
				t.Errorf("isLocalTarget(%q) = %v, want %v", got, l, tc.local)
			}
		})
	}
}

func TestParseSyncStatus(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]provisioningv1.SyncStatus{
		"":                   provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED,
		"synced":             provisioningv1.SyncStatus_SYNC_STATUS_SYNCED,
		"not-synced":         provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED,
		"not_synced":         provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED,
		"PENDING":            provisioningv1.SyncStatus_SYNC_STATUS_PENDING,
		"SYNC_STATUS_ACTIVE": provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE,
	} {
		got, err := parseSyncStatus(in)
		if err != nil || got != want {
			t.Errorf("parseSyncStatus(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"unspecified", "done", "SYNC_STATUS_"} {
		if _, err := parseSyncStatus(in); err == nil {
			t.Errorf("parseSyncStatus(%q): no error", in)
		}
	}
}

func TestSettings(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api-key"), []byte(fakeSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(dir, "provisioning-plugin-panda")
	if err := os.WriteFile(plugin, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PROVCTL_TEST_PASSWORD", fakeSecret)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yml := write("panda.yaml", "api_url: http://127.0.0.1:8085\nmax_tiers: 3\npassword: env:PROVCTL_TEST_PASSWORD\napi_key: file:api-key\nverbose: true\n")
	js := write("panda.json", `{"api_url": "http://127.0.0.1:8085", "max_tiers": 3, "password": "env:PROVCTL_TEST_PASSWORD", "api_key": "file:api-key", "verbose": true}`)
	want := map[string]string{"api_url": "http://127.0.0.1:8085", "max_tiers": "3", "password": fakeSecret, "api_key": fakeSecret, "verbose": "true"}
	for _, p := range []string{yml, js} {
		e, err := localEntry("panda", plugin, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if diff := cmp.Diff(want, e.Settings); diff != "" {
			t.Errorf("%s settings (-want +got):\n%s", p, diff)
		}
		if e.Name != "panda" || e.Path != plugin {
			t.Errorf("%s entry: %q %q", p, e.Name, e.Path)
		}
	}

	for name, body := range map[string]string{
		"unset env":  "password: env:PROVCTL_TEST_UNSET_VARIABLE\n",
		"no file":    "api_key: file:nope\n",
		"nested":     "api:\n  url: x\n",
		"not a map":  "- a\n- b\n",
		"bad syntax": "{",
	} {
		_, err := localEntry("panda", plugin, write("bad.yaml", body))
		if err == nil || exitCode(err) != exitUsage {
			t.Errorf("%s: error %v, want a usage error", name, err)
			continue
		}
		if strings.Contains(err.Error(), fakeSecret) {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}

	if n, ok := pluginNameFromPath("/opt/bin/provisioning-plugin-panda"); !ok || n != "panda" {
		t.Errorf("pluginNameFromPath = %q, %v", n, ok)
	}
	if _, ok := pluginNameFromPath("/opt/bin/panda"); ok {
		t.Error("pluginNameFromPath(panda) guessed a name")
	}
}

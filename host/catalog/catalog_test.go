package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudbss/provisioning/host/catalog"
)

const digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CATALOG_TEST_SECRET", "from-env")

	tests := map[string]struct {
		yaml    string
		want    *catalog.Config
		wantErr string // substring; empty: no error
	}{
		"full entry": {
			yaml: `
plugins:
  - name: panda
    path: ./bin/provisioning-plugin-panda
    sha256: "` + strings.ToUpper(digest) + `"
    args: [--verbose]
    env: {FOO: bar}
    settings:
      api_url: http://127.0.0.1:8085
      password: env:CATALOG_TEST_SECRET
      api_key: file:./key
`,
			want: &catalog.Config{Plugins: []catalog.Entry{{
				Name: "panda", Path: filepath.Join(dir, "bin/provisioning-plugin-panda"), SHA256: digest,
				Args: []string{"--verbose"}, Env: map[string]string{"FOO": "bar"},
				Settings: map[string]string{"api_url": "http://127.0.0.1:8085", "password": "from-env", "api_key": "from-file"},
			}}},
		},
		"absolute path and ordering": {
			yaml: "plugins:\n  - {name: zeta, path: /opt/z}\n  - {name: alpha, path: /opt/a}\n",
			want: &catalog.Config{Plugins: []catalog.Entry{
				{Name: "alpha", Path: "/opt/a", Settings: map[string]string{}},
				{Name: "zeta", Path: "/opt/z", Settings: map[string]string{}},
			}},
		},
		"empty document": {yaml: "", want: &catalog.Config{}},
		"unknown top-level key": {
			yaml: "plugins: []\nplugin: []\n", wantErr: "field plugin not found",
		},
		"unknown entry key": {
			yaml: "plugins:\n  - {name: a, path: /a, setting: {}}\n", wantErr: "field setting not found",
		},
		"bad name": {
			yaml: "plugins:\n  - {name: Panda, path: /a}\n", wantErr: "not a DNS label",
		},
		"duplicate name": {
			yaml: "plugins:\n  - {name: a, path: /a}\n  - {name: a, path: /b}\n", wantErr: "listed twice",
		},
		"missing path": {
			yaml: "plugins:\n  - {name: a}\n", wantErr: "path is required",
		},
		"bad digest": {
			yaml: "plugins:\n  - {name: a, path: /a, sha256: abc}\n", wantErr: "64 hex digits",
		},
		"missing env": {
			yaml: "plugins:\n  - {name: a, path: /a, settings: {k: 'env:CATALOG_TEST_UNSET'}}\n", wantErr: "CATALOG_TEST_UNSET is not set",
		},
		"missing file": {
			yaml: "plugins:\n  - {name: a, path: /a, settings: {k: 'file:nope'}}\n", wantErr: "nope",
		},
		"require checksums": {
			yaml: "require_checksums: true\nplugins:\n  - {name: a, path: /a}\n", wantErr: "has no sha256",
		},
		"require checksums satisfied": {
			yaml: "require_checksums: true\nplugins:\n  - {name: a, path: /a, sha256: " + digest + "}\n",
			want: &catalog.Config{RequireChecksums: true, Plugins: []catalog.Entry{{Name: "a", Path: "/a", SHA256: digest, Settings: map[string]string{}}}},
		},
		"checksums and kill timeout": {
			yaml: `
require_checksums: true
plugins:
  - name: py
    path: ./py/provisioning-plugin-py
    kill_timeout: 12s
    checksums:
      - {path: ./py/provisioning-plugin-py, sha256: "` + strings.ToUpper(digest) + `"}
      - {path: /usr/bin/python3.11, sha256: ` + digest + `}
`,
			want: &catalog.Config{RequireChecksums: true, Plugins: []catalog.Entry{{
				Name: "py", Path: filepath.Join(dir, "py/provisioning-plugin-py"), KillTimeout: 12 * time.Second,
				Checksums: []catalog.FileChecksum{
					{Path: filepath.Join(dir, "py/provisioning-plugin-py"), SHA256: digest},
					{Path: "/usr/bin/python3.11", SHA256: digest},
				},
				Settings: map[string]string{},
			}}},
		},
		"checksum without path": {
			yaml: "plugins:\n  - {name: a, path: /a, checksums: [{sha256: " + digest + "}]}\n", wantErr: "checksums[0]: path is required",
		},
		"bad checksum digest": {
			yaml: "plugins:\n  - {name: a, path: /a, checksums: [{path: /a, sha256: abc}]}\n", wantErr: "checksums[0]: sha256 must be 64 hex digits",
		},
		"bad kill timeout": {
			yaml: "plugins:\n  - {name: a, path: /a, kill_timeout: soon}\n", wantErr: "not a positive duration",
		},
		"negative kill timeout": {
			yaml: "plugins:\n  - {name: a, path: /a, kill_timeout: -1s}\n", wantErr: "not a positive duration",
		},
		"two documents": {
			yaml: "plugins: []\n---\nplugins: []\n", wantErr: "one YAML document",
		},
		"not a map": {yaml: "- a\n", wantErr: "invalid plugin catalog"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := catalog.Parse([]byte(tc.yaml), dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, catalog.ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Setenv("CATALOG_TEST_SECRET", "hunter2")
	// An invalid entry after a resolved secret: the error must not carry it.
	_, err := catalog.Parse([]byte("plugins:\n  - {name: a, path: /a, settings: {p: 'env:CATALOG_TEST_SECRET', q: 'file:/nonexistent/hunter3'}}\n"), "/")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error = %v", err)
	}
}

func TestLoadAndScan(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{
		"provisioning-plugin-panda":  0o755,
		"provisioning-plugin-other":  0o755,
		"provisioning-plugin-noexec": 0o644,
		"provisioning-plugin-Bad":    0o755,
		"something-else":             0o755,
	} {
		if err := os.WriteFile(filepath.Join(plugins, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "host.yaml")
	// panda is listed (with settings, path from plugin_dir); other comes from the scan.
	if err := os.WriteFile(cfgPath, []byte("plugin_dir: plugins\nplugins:\n  - name: panda\n    settings: {a: b}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := catalog.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	want := &catalog.Config{PluginDir: plugins, Plugins: []catalog.Entry{
		{Name: "other", Path: filepath.Join(plugins, "provisioning-plugin-other"), Settings: map[string]string{}},
		{Name: "panda", Path: filepath.Join(plugins, "provisioning-plugin-panda"), Settings: map[string]string{"a": "b"}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if e, ok := got.Entry("panda"); !ok || e.Settings["a"] != "b" {
		t.Errorf("Entry(panda) = %v, %v", e, ok)
	}
	if _, err := catalog.Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"plugins: []\n",
		"require_checksums: true\nplugins:\n  - {name: a, path: /a, sha256: " + digest + "}\n",
		"plugins:\n  - name: panda\n    path: ./p\n    args: [x]\n    env: {A: b}\n    settings: {k: v, s: 'env:HOME'}\n",
		"plugins:\n  - {name: a, path: /a, settings: {k: 'file:'}}\n",
		"plugins: {a: b}\n",
		"plugins:\n  - &x {name: a, path: /a}\n  - *x\n",
		"---\n...\n",
		"\x00\xff",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := catalog.Parse(data, dir)
		if err != nil {
			if cfg != nil {
				t.Fatal("a config and an error")
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range cfg.Plugins {
			if seen[e.Name] || e.Name == "" || !filepath.IsAbs(e.Path) {
				t.Fatalf("invalid entry accepted: %+v", e)
			}
			seen[e.Name] = true
			if cfg.RequireChecksums && e.SHA256 == "" {
				t.Fatalf("entry without checksum accepted: %+v", e)
			}
		}
	})
}

func TestParseServiceManager(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sm-key"), []byte("key-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CATALOG_TEST_APP_ID", "app-from-env")
	tests := map[string]struct {
		yaml    string
		want    *catalog.ServiceManager
		wantErr string
	}{
		"none": {yaml: "plugins:\n  - {name: panda, path: /p}\n"},
		"references": {
			yaml: "plugins:\n  - name: panda\n    path: /p\n    service_manager: {application_id: 'env:CATALOG_TEST_APP_ID', api_key: 'file:sm-key'}\n",
			want: &catalog.ServiceManager{ApplicationID: "app-from-env", APIKey: "key-from-file"},
		},
		"literal": {
			yaml: "plugins:\n  - name: panda\n    path: /p\n    service_manager: {application_id: app, api_key: k}\n",
			want: &catalog.ServiceManager{ApplicationID: "app", APIKey: "k"},
		},
		"empty key": {
			yaml:    "plugins:\n  - name: panda\n    path: /p\n    service_manager: {application_id: app}\n",
			wantErr: "needs both application_id and api_key",
		},
		"unset variable": {
			yaml:    "plugins:\n  - name: panda\n    path: /p\n    service_manager: {application_id: app, api_key: 'env:CATALOG_TEST_UNSET_KEY'}\n",
			wantErr: "service_manager.api_key: environment variable CATALOG_TEST_UNSET_KEY is not set",
		},
		"unknown key": {
			yaml:    "plugins:\n  - name: panda\n    path: /p\n    service_manager: {application_id: app, api_key: k, apikey: k}\n",
			wantErr: "field apikey not found",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := catalog.Parse([]byte(tc.yaml), dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, cfg.Plugins[0].ServiceManager); diff != "" {
				t.Errorf("ServiceManager (-want +got):\n%s", diff)
			}
		})
	}
}

// The API key never shows when an entry is printed.
func TestServiceManagerStringHidesKey(t *testing.T) {
	t.Parallel()
	sm := catalog.ServiceManager{ApplicationID: "app", APIKey: "hunter2-key"}
	for _, s := range []string{fmt.Sprint(sm), fmt.Sprintf("%v %+v %#v", sm, &sm, sm)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("printed entry shows the key: %s", s)
		}
	}
}

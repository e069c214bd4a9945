package plugin

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The environment is the one thing every launch path used to build on its
// own; a host's debug settings leaking into it would turn a launched plugin
// into a debug-mode one that never answers the handshake.
func TestLauncherEnviron(t *testing.T) {
	// t.Setenv: not parallel.
	t.Setenv(DebugEnv, "1")
	t.Setenv(ReattachEnv, `{"network":"unix"}`)
	t.Setenv("LAUNCH_TEST_INHERITED", "host")
	t.Setenv("OTHER_PLUGIN_API_KEY", "s3cret")
	t.Setenv("PATH", "/usr/bin:/bin")
	t.Setenv("HOME", "/home/host")
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("LC_TIME", "en_GB.UTF-8")
	t.Setenv("TZ", "Europe/Madrid")
	t.Setenv(LogLevelEnv, "debug")
	t.Setenv("PLUGIN_UNIX_SOCKET_GROUP", "plugins")
	dir := filepath.Join(t.TempDir(), "plugins", "p")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	for name, tc := range map[string]struct {
		opts    []LaunchOption
		want    []string // entries that must be present
		wantDir bool
	}{
		"passes the allowlisted part of the host's environment": {
			want: []string{"PATH=/usr/bin:/bin", "HOME=/home/host", "TMPDIR=" + tmp, "LANG=C.UTF-8",
				"LC_TIME=en_GB.UTF-8", "TZ=Europe/Madrid", LogLevelEnv + "=debug", "PLUGIN_UNIX_SOCKET_GROUP=plugins"},
		},
		"entry env wins over the host's": {
			opts: []LaunchOption{WithEnv(map[string]string{"TZ": "UTC", "LAUNCH_TEST_INHERITED": "entry", "TOKEN_FILE": "/x"})},
			want: []string{"TZ=UTC", "LAUNCH_TEST_INHERITED=entry", "TOKEN_FILE=/x"},
		},
		"the whole host environment for a tool that asks": {
			opts: []LaunchOption{WithHostEnv()},
			want: []string{"LAUNCH_TEST_INHERITED=host", "OTHER_PLUGIN_API_KEY=s3cret"},
		},
		"data folder created and passed": {
			opts:    []LaunchOption{WithDataDir(dir)},
			want:    []string{DataDirEnv + "=" + dir},
			wantDir: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			env, err := NewLauncher("/bin/true", tc.opts...).environ()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, kv := range env {
				k, v, _ := cutEnv(kv)
				got[k] = v // exec keeps the last of duplicates, like this map
			}
			for _, kv := range tc.want {
				k, v, _ := cutEnv(kv)
				if diff := cmp.Diff(v, got[k]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
			// The host's other variables are other plugins' and the
			// host's own secrets: a plugin sees only its entry's.
			if _, ok := got["OTHER_PLUGIN_API_KEY"]; ok && name != "the whole host environment for a tool that asks" {
				t.Error("OTHER_PLUGIN_API_KEY leaked from the host into the plugin's environment")
			}
			if v, ok := got["LAUNCH_TEST_INHERITED"]; ok && v != "entry" && name != "the whole host environment for a tool that asks" {
				t.Errorf("LAUNCH_TEST_INHERITED=%s leaked from the host into the plugin's environment", v)
			}
			for _, k := range []string{DebugEnv, ReattachEnv} {
				if slices.ContainsFunc(env, func(kv string) bool { kk, _, _ := cutEnv(kv); return kk == k }) {
					t.Errorf("%s leaked from the host into the plugin's environment", k)
				}
			}
			if tc.wantDir {
				fi, err := os.Stat(dir)
				if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
					t.Errorf("data folder %s: %v, %v; want a 0700 folder", dir, fi, err)
				}
			}
		})
	}
}

func cutEnv(kv string) (key, value string, ok bool) { return strings.Cut(kv, "=") }

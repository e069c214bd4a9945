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
	dir := filepath.Join(t.TempDir(), "plugins", "p")

	for name, tc := range map[string]struct {
		opts    []LaunchOption
		want    []string // entries that must be present
		wantDir bool
	}{
		"inherits the host's environment": {
			want: []string{"LAUNCH_TEST_INHERITED=host"},
		},
		"entry env wins over the host's": {
			opts: []LaunchOption{WithEnv(map[string]string{"LAUNCH_TEST_INHERITED": "entry", "TOKEN_FILE": "/x"})},
			want: []string{"LAUNCH_TEST_INHERITED=entry", "TOKEN_FILE=/x"},
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

package host_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// sockets lists the unix sockets under dir.
func sockets(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSocket != 0 {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A plugin's go-plugin socket lives in a private folder of the host's, not
// in the shared temporary folder, and no crash leaves one behind: every
// crashed process used to leave its socket in $TMPDIR.
func TestPluginSocketsPrivateAndCleaned(t *testing.T) {
	// t.Setenv: not parallel.
	tmp, dataDir := t.TempDir(), t.TempDir()
	bin := plugintest.Build(t, testPluginPkg)
	t.Setenv("TMPDIR", tmp)
	f := start(t, catalog.Entry{Path: bin, Env: map[string]string{"TESTPLUGIN_CRASH_AFTER": "1s"}},
		host.WithDataDir(dataDir), host.WithMaxRestarts(3))
	_ = f.h.Start(context.Background())
	if s := sockets(t, tmp); len(s) != 0 {
		t.Errorf("plugin sockets in the shared temporary folder: %v", s)
	}
	f.waitState(t, hostv1.PluginState_PLUGIN_STATE_FAILED, 30*time.Second)
	if n := len(f.pids(t, "plugin")); n < 2 {
		t.Fatalf("%d plugin processes ran, want crashes", n)
	}
	if s := append(sockets(t, tmp), sockets(t, dataDir)...); len(s) != 0 {
		t.Errorf("crashed plugins left sockets behind: %v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if des, _ := os.ReadDir(tmp); len(des) != 0 {
		t.Errorf("left in the temporary folder after Close: %v", des)
	}
	if des, _ := os.ReadDir(filepath.Join(dataDir, "run")); len(des) != 0 {
		t.Errorf("left in the host's socket folder after Close: %v", des)
	}
}

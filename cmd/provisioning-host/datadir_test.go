package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/plugin/plugintest"
)

// TestDaemonDataDirLocked: a second daemon on the data directory of a
// running one refuses to start and names the holder's pid.
func TestDaemonDataDirLocked(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	first := startDaemon(t, daemonConfig{dataDir: dataDir})

	bin := plugintest.Build(t, daemonPkg)
	pluginBin := plugintest.Build(t, pluginPkg)
	cfgPath := filepath.Join(t.TempDir(), "host.yaml")
	cfg := fmt.Sprintf("plugins:\n  - name: %s\n    path: %s\n", plug, pluginBin)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// A second daemon that starts would serve until killed: the deadline
	// only bounds that failure.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--config", cfgPath, "--listen", "127.0.0.1:0", "--data-dir", dataDir).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("second daemon on the same --data-dir kept running:\n%s", out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("second daemon: %v, want exit status 1\n%s", err, out)
	}
	if want := "in use by provisioning-host pid " + strconv.Itoa(first.cmd.Process.Pid); !strings.Contains(string(out), want) {
		t.Errorf("second daemon said:\n%s\nwant it to contain %q", out, want)
	}
	if strings.Contains(string(out), "listening") {
		t.Errorf("second daemon listened:\n%s", out)
	}

	// Once the first stops, the directory is free again.
	first.stop(t)
	startDaemon(t, daemonConfig{dataDir: dataDir})
}

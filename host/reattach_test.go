package host_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// startDebugPlugin runs the test plugin by hand in debug mode, as a developer
// would, and returns what it printed for attaching.
func startDebugPlugin(t *testing.T) (plugin.ReattachInfo, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(plugintest.Build(t, testPluginPkg), "--debug")
	cmd.Env = append(os.Environ(), "TESTPLUGIN_PID_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	prefix := "export " + plugin.ReattachEnv + "='"
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, prefix) {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			ri, err := plugin.ParseReattach(strings.TrimSuffix(strings.TrimPrefix(line, prefix), "'"))
			if err != nil {
				t.Fatal(err)
			}
			return ri, cmd
		}
	}
	t.Fatalf("debug-mode plugin printed no %s line", plugin.ReattachEnv)
	return plugin.ReattachInfo{}, nil
}

func TestReattachToDebugModePlugin(t *testing.T) {
	ri, cmd := startDebugPlugin(t)
	// The path is never launched: attaching must not need the binary.
	f := start(t, catalog.Entry{Path: "/nonexistent/provisioning-plugin-testplugin"}, host.WithReattach("testplugin", ri))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := f.h.Plugin("testplugin")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{})
	if err != nil {
		t.Fatalf("GetPluginInfo through the attached plugin: %v", err)
	}
	if info.GetName() != "testplugin" {
		t.Errorf("name = %q", info.GetName())
	}
	if err := f.h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The host attached to the plugin, so it must leave it running.
	time.Sleep(200 * time.Millisecond)
	if !plugintest.Alive(cmd.Process.Pid) {
		t.Fatal("closing the host killed the debug-mode plugin it had attached to")
	}
}

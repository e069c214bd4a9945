package host_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// waitState polls ListPlugins' view until the plugin reaches want.
func (f *fixture) waitState(t *testing.T, want hostv1.PluginState, within time.Duration) *hostv1.Plugin {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		p := f.h.Plugins()[0]
		if p.GetState() == want {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin did not reach %v within %v: %v", want, within, p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A plugin whose first starts fail (a dependency not up yet) is retried with
// backoff until it runs; it used to stay FAILED for good after one failure
// while callers were told to retry.
func TestFailedFirstStartIsRetried(t *testing.T) {
	t.Parallel()
	f := start(t, catalog.Entry{Env: map[string]string{"TESTPLUGIN_FAIL_STARTS": "2"}})
	if err := f.h.Start(context.Background()); err == nil {
		t.Error("Start reported no failure for a first start that failed")
	}
	c, _ := f.h.Plugin("testplugin")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The call waits for the restarted plugin.
	if _, err := c.Probe(ctx, &provisioningv1.ProbeRequest{}); err != nil {
		t.Fatalf("Probe after two failed starts: %v", err)
	}
	p := f.h.Plugins()[0]
	if p.GetState() != hostv1.PluginState_PLUGIN_STATE_RUNNING || p.GetRestarts() != 2 ||
		!strings.Contains(p.GetLastError(), "failing start 2 of 2") {
		t.Errorf("plugin = %v; want RUNNING, 2 restarts, the last failure in last_error", p)
	}
}

// Starts that keep failing end in FAILED after the bounded number of
// attempts, not at the first one and not never.
func TestFailingStartsEndInFailed(t *testing.T) {
	t.Parallel()
	f := start(t, catalog.Entry{Env: map[string]string{"TESTPLUGIN_FAIL_STARTS": "1000"}}, host.WithMaxRestarts(3))
	_ = f.h.Start(context.Background())
	p := f.waitState(t, hostv1.PluginState_PLUGIN_STATE_FAILED, 20*time.Second)
	if p.GetRestarts() != 2 || !strings.Contains(p.GetLastError(), "failing start 3 of 1000") {
		t.Errorf("plugin = %v; want 2 restarts after the first start, and the third failure in last_error", p)
	}
	if n := len(f.marks(t)); n != 3 {
		t.Errorf("%d starts, want 3", n)
	}
}

// A plugin that dies shortly after every successful start is restarted with
// a growing wait and FAILED after the bounded number of crashes in a row; it
// used to be restarted every ~0.6s forever.
func TestCrashLoopEndsInFailed(t *testing.T) {
	t.Parallel()
	f := start(t, catalog.Entry{Env: map[string]string{"TESTPLUGIN_CRASH_AFTER": "500ms"}}, host.WithMaxRestarts(4))
	// On a loaded machine a start may take longer than the plugin lives:
	// a failed start counts like a crash.
	_ = f.h.Start(context.Background())
	p := f.waitState(t, hostv1.PluginState_PLUGIN_STATE_FAILED, 30*time.Second)
	if p.GetRestarts() != 3 || p.GetLastError() == "" {
		t.Errorf("plugin = %v; want 3 restarts and why in last_error", p)
	}
	if strings.Contains(p.GetLastError(), "exited") && !strings.Contains(p.GetLastError(), "crashed 4 times in a row") {
		t.Errorf("last_error %q does not name the crash loop", p.GetLastError())
	}
	if n := len(f.pids(t, "plugin")); n != 4 {
		t.Errorf("%d processes ran, want 4", n)
	}
}

func (f *fixture) marks(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(f.pidDir, "start-*.mark"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

package host_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudbss/provisioning/host/catalog"
)

// A plugin process sees the allowlisted part of the host's environment and
// its own entry's env, never the rest: the host's environment holds other
// plugins' secrets and the host's own.
func TestPluginEnvironmentAllowlist(t *testing.T) {
	// t.Setenv: not parallel.
	t.Setenv("HOST_ONLY_API_KEY", "s3cret-of-the-host")
	t.Setenv("TZ", "Europe/Madrid")
	envFile := filepath.Join(t.TempDir(), "env")
	f := start(t, catalog.Entry{Env: map[string]string{"TESTPLUGIN_ENV_FILE": envFile, "PLUGIN_OWN": "mine", "TZ": "UTC"}})
	if err := f.h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v // exec keeps the last of duplicates, like this map
	}
	if v, ok := got["HOST_ONLY_API_KEY"]; ok {
		t.Errorf("the plugin sees the host's HOST_ONLY_API_KEY=%s", v)
	}
	for k, want := range map[string]string{"PLUGIN_OWN": "mine", "TZ": "UTC", "PATH": os.Getenv("PATH")} {
		if got[k] != want {
			t.Errorf("plugin's %s = %q, want %q", k, got[k], want)
		}
	}
}

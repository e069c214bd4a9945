package plugintest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cloudbss/provisioning/plugin"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

var (
	buildMu   sync.Mutex
	buildDir  string
	buildSeen = map[string]string{}
)

// Main runs the tests of a package that calls [Build] and then removes the
// binaries Build made. Use it from TestMain:
//
//	func TestMain(m *testing.M) { plugintest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	buildMu.Lock()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	buildMu.Unlock()
	os.Exit(code)
}

// Build compiles the main package pkg (an import path, or a path relative to
// the test's directory such as "../../cmd/provisioning-plugin-panda") and
// returns the binary's path. Each package is built once per test process; the
// binaries live until [Main] removes them. Builds use the Go build cache, so
// an unchanged plugin rebuilds in well under a second.
func Build(tb testing.TB, pkg string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := buildSeen[pkg]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "plugintest-bin-")
		if err != nil {
			tb.Fatalf("plugintest: %v", err)
		}
		buildDir = d
	}
	name := filepath.Base(strings.TrimRight(pkg, "/"))
	out := filepath.Join(buildDir, fmt.Sprintf("%s-%d", name, len(buildSeen)))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("plugintest: go build %s: %v\n%s", pkg, err, stderr.String())
	}
	buildSeen[pkg] = out
	return out
}

// Plugin is a plugin process launched by [Launch].
type Plugin struct {
	// Client is the typed client of the plugin's adapter.
	Client provisioningv1.ProvisioningAdapterClient
	// Process is the running plugin: Kill it to stop the plugin early.
	Process *plugin.Process
	// Pid is the plugin's process id.
	Pid int
}

// Launch starts the plugin binary at path through [plugin.Launcher], as a host
// would: a fresh process in its own process group, the go-plugin handshake,
// gRPC with AutoMTLS. env entries ("KEY=value") are added to the plugin's
// environment. The plugin is killed when the test ends.
func Launch(tb testing.TB, path string, env []string, opts ...plugin.LaunchOption) *Plugin {
	tb.Helper()
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			tb.Fatalf("plugintest: env entry %q is not KEY=value", kv)
		}
		vars[k] = v
	}
	p, err := plugin.NewLauncher(path, append([]plugin.LaunchOption{plugin.WithEnv(vars)}, opts...)...).Start()
	if err != nil {
		tb.Fatalf("plugintest: launch %s: %v", path, err)
	}
	tb.Cleanup(p.Kill)
	return &Plugin{Client: p.Adapter(), Process: p, Pid: p.Pid()}
}

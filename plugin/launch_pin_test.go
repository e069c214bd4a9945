//go:build linux

package plugin_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// A pinned plugin must run the bytes that were hashed, even when the path
// is swapped between the check and the exec: a symlink flipping between the
// pinned binary and a tampered one (same program, other bytes) must never
// get the tampered one run. Before the launcher executed what it had
// verified, the tampered binary ran in about one launch in seven.
func TestPinnedLaunchRunsVerifiedBytes(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, testPluginPkg)
	dir := t.TempDir()
	good, bad, link := filepath.Join(dir, "good"), filepath.Join(dir, "bad"), filepath.Join(dir, "plugin")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// Trailing bytes change the digest, not what the ELF binary does.
	if err := os.WriteFile(bad, append(b, "tampered"...), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	want := hex.EncodeToString(sum[:])
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tmp := link + ".tmp"
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			target := good
			if i%2 == 1 {
				target = bad
			}
			_ = os.Remove(tmp)
			if os.Symlink(target, tmp) == nil {
				_ = os.Rename(tmp, link)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	const launches = 30
	ran, refused := 0, 0
	for range launches {
		p, err := plugin.NewLauncher(link,
			plugin.WithChecksum(sum[:]),
			plugin.WithEnv(map[string]string{"TESTPLUGIN_REPORT_EXE": "1"}),
			plugin.WithClientLogger(slog.New(slog.DiscardHandler)),
		).Start()
		if err != nil {
			if !errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
				t.Fatalf("Start: %v, want success or ErrChecksumsDoNotMatch", err)
			}
			refused++
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := p.Adapter().Probe(ctx, &provisioningv1.ProbeRequest{})
		cancel()
		p.Kill()
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		ran++
		if got := resp.GetMessage(); got != want {
			t.Errorf("launch %d ran a binary with sha256 %s; the pin is %s", ran+refused, got, want)
		}
	}
	t.Logf("%d launches: %d ran, %d refused", launches, ran, refused)
}

// A pinned script still runs from its own path: an interpreter finds the
// script's modules from it (Python's sys.path[0]), which /proc/self/fd/N
// would lose.
func TestPinnedScriptRunsFromItsPath(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, testPluginPkg)
	dir := t.TempDir()
	script, seen := filepath.Join(dir, "plugin.sh"), filepath.Join(dir, "argv0")
	body := "#!/bin/sh\necho \"$0\" > " + seen + "\nexec " + bin + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	p, err := plugin.NewLauncher(script, plugin.WithChecksum(sum[:]), plugin.WithClientLogger(slog.New(slog.DiscardHandler))).Start()
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	b, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != script {
		t.Errorf("the script ran as %q, want its path %q", got, script)
	}
}

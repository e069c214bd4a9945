package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/loadtest"
)

// bins are the commands under test, built once without -race by TestMain.
var bins loadtest.Binaries

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bins, err = loadtest.Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build the commands:", err)
		return 1
	}
	return m.Run()
}

// envInt reads a size from the environment: CI runs the small default,
// `make chaos` the full size.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a number", name, v)
	}
	return n
}

// secret returns a random value, so that a leak is found by searching for it.
func secret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 16) // the daemon's minimum token is 32 characters
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func testCredentials(t *testing.T) loadtest.Credentials {
	return loadtest.Credentials{AccessID: "e2e-access", Password: secret(t, "pw-"), APIKey: secret(t, "key-")}
}

// newLogs collects every line of the run in the test's folder and shows
// the tail of each source when the test fails.
func newLogs(t *testing.T) *loadtest.Logs {
	t.Helper()
	var echo *os.File
	if os.Getenv("E2E_VERBOSE") != "" {
		echo = os.Stderr
	}
	var l *loadtest.Logs
	var err error
	if echo != nil {
		l, err = loadtest.NewLogs(filepath.Join(t.TempDir(), "run.log"), echo)
	} else {
		l, err = loadtest.NewLogs(filepath.Join(t.TempDir(), "run.log"), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, src := range []string{"host", "pandasim", "provctl"} {
				t.Logf("last lines of %s:\n%s", src, l.Tail(src, 15))
			}
		}
		_ = l.Close()
	})
	return l
}

// startStack starts pandasim and the daemon for one test.
func startStack(t *testing.T, ctx context.Context, cfg loadtest.StackConfig) *loadtest.Stack {
	t.Helper()
	cfg.Bins = bins
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := loadtest.StartStack(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// writeBatch writes h's accounts as a sync-batch file.
func writeBatch(t *testing.T, h loadtest.Hierarchy) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "accounts.jsonl")
	if err := h.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	return p
}

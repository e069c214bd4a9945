package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudbss/provisioning/internal/pandaapi"
)

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool on PATH to build pandasim: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "pandasim")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// start runs the binary and returns the URL from its first stdout line.
func start(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, string, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first line: %v; stderr:\n%s", err, stderr)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "pandasim listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q is not the listening URL", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return cmd, url, stderr
}

func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pandasim did not stop on SIGTERM")
	}
}

// The binary starts on a free port, prints its URL, serves the client with
// credentials from the environment, saves its state on SIGTERM and loads it
// again on the next start.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := buildBinary(t)
	state := filepath.Join(t.TempDir(), "state.json")
	const password = "env-password-123"
	env := []string{"PANDASIM_PASSWORD=" + password}
	args := []string{"--listen", "127.0.0.1:0", "--state", state, "--log-format", "json", "--seed", "9", "--root-inventory", "EPDR=50"}

	cmd, url, stderr := start(t, bin, env, args...)
	c, err := pandaapi.New(pandaapi.Config{BaseURL: url, AccessID: "demo", Password: password, APIKey: "demo-api-key"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acc, err := c.CreateAccount(ctx, "ACC-0000001", pandaapi.CreateAccountRequest{Type: pandaapi.AccountTypeSubscriber, Name: "Persisted", Email: "p@x.example"})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.CreateOperator(ctx, pandaapi.CreateOperatorRequest{Username: "persisted.admin", AccountID: acc.ID, Email: "p@x.example", Role: pandaapi.RoleAdministrator})
	if err != nil {
		t.Fatal(err)
	}
	if tx, err = pandaapi.AwaitTransaction(ctx, c, tx.ID, 10*time.Millisecond); err != nil || tx.Status != pandaapi.TransactionSuccess {
		t.Fatalf("transaction %+v, %v", tx, err)
	}
	if _, err := c.CreateAllocation(ctx, acc.ID, pandaapi.AllocationRequest{Product: pandaapi.ProductEPDR, Type: pandaapi.AllocationTerm, Quantity: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAllocation(ctx, acc.ID, pandaapi.AllocationRequest{Product: pandaapi.ProductEPP, Type: pandaapi.AllocationTerm, Quantity: 1}); codeOf(err) != pandaapi.CodeOneBaseProduct {
		t.Errorf("a second base product: %v", err)
	}
	stop(t, cmd)
	logs := stderr.String()
	if !strings.Contains(logs, `"path":"/rest/platform/accounts/v1/accounts/ACC-0000001"`) || strings.Contains(logs, password) {
		t.Errorf("request log wrong or leaks the password:\n%s", logs)
	}

	cmd, url, _ = start(t, bin, env, args...)
	defer stop(t, cmd)
	c, err = pandaapi.New(pandaapi.Config{BaseURL: url, AccessID: "demo", Password: password, APIKey: "demo-api-key"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetAccount(ctx, acc.ID); err != nil || got.Name != "Persisted" {
		t.Errorf("after restart GetAccount = %+v, %v", got, err)
	}
	if op, err := c.GetOperator(ctx, "persisted.admin"); err != nil || op.AccountID != acc.ID {
		t.Errorf("after restart GetOperator = %+v, %v", op, err)
	}
	// The allocation was saved; the root's inventory comes from the flag.
	if sum, err := c.GetSoftwareSummary(ctx, "ACC-0000001"); err != nil || sum.Unallocated(pandaapi.ProductEPDR) != 40 || sum.Unallocated(pandaapi.ProductEPP) != 0 {
		t.Errorf("after restart the root's summary = %+v, %v; want 40 EPDR unallocated and no EPP", sum, err)
	}
}

func codeOf(err error) string {
	var pe *pandaapi.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"log format":   {"--log-format", "xml"},
		"error rate":   {"--error-rate", "2"},
		"root id":      {"--root-account", "ROOT"},
		"stray args":   {"extra"},
		"bad listen":   {"--listen", "nowhere"},
		"unknown flag": {"--nope"},
		"inventory":    {"--root-inventory", "EPDR"},
		"product":      {"--root-inventory", "EDR_CORE=5", "--listen", "127.0.0.1:0"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard, func(string) string { return "" })
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("%s: run = %v, want an error", name, err)
		}
	}
}

func TestParseInventory(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in      string
		want    map[string]int
		wantErr bool
	}{
		"two":          {in: "EPDR=500,PATCH_MANAGEMENT=200", want: map[string]int{"EPDR": 500, "PATCH_MANAGEMENT": 200}},
		"spaces":       {in: " EPP = 3 , ", want: map[string]int{"EPP": 3}},
		"empty: none":  {in: "", want: map[string]int{}},
		"zero":         {in: "EPP=0", want: map[string]int{"EPP": 0}},
		"no number":    {in: "EPP", wantErr: true},
		"negative":     {in: "EPP=-1", wantErr: true},
		"not a number": {in: "EPP=many", wantErr: true},
		"twice":        {in: "EPP=1,EPP=2", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := parseInventory(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

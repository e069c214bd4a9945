package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudbss/provisioning/internal/pandasim"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// buildPandaPlugin builds the real Panda plugin binary for local mode.
func buildPandaPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "provisioning-plugin-panda")
	out, err := exec.Command("go", "build", "-o", bin, "../provisioning-plugin-panda").CombinedOutput()
	if err != nil {
		t.Fatalf("build the Panda plugin: %v\n%s", err, out)
	}
	return bin
}

// Local mode end to end: provctl launches the real Panda plugin in its
// in-process host, against a real pandasim over loopback, and keeps records
// in --data-dir between runs. The story of the seed, as make demo tells it.
func TestLocalModeWithPandaPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Panda plugin")
	}
	const password, apiKey = "local-test-password-4f1c", "local-test-api-key-9b2e"
	sim, err := pandasim.New(pandasim.WithCredentials("demo", password, apiKey))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Setenv("PROVCTL_TEST_PANDA_PASSWORD", password)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api-key"), []byte(apiKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := filepath.Join(dir, "panda.yaml")
	body := "api_url: " + srv.URL + "\naccess_id: demo\npassword: env:PROVCTL_TEST_PANDA_PASSWORD\napi_key: file:api-key\nroot_account_id: ACC-0000001\n"
	if err := os.WriteFile(settings, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	local := []string{"--plugin", buildPandaPlugin(t), "--settings", settings, "--data-dir", filepath.Join(dir, "data")}
	ex := func(name string) string { return filepath.Join("..", "..", "examples", name) }
	var all strings.Builder
	pc := func(wantCode int, args ...string) result {
		t.Helper()
		r := provctl(t, "", nil, append(local, args...)...)
		all.WriteString(r.stdout + r.stderr)
		if r.code != wantCode {
			t.Fatalf("provctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		return r
	}

	if r := pc(exitOK, "probe"); !strings.HasPrefix(r.stdout, "panda: ready") {
		t.Errorf("probe: %s", r.stdout)
	}
	if r := pc(exitOK, "info"); !strings.Contains(r.stdout, "required,sensitive") {
		t.Errorf("info does not mark the secret settings:\n%s", r.stdout)
	}
	if r := pc(exitOK, "options", ex("end-customer.json")); !strings.Contains(r.stdout, "PARENT_NOT_SYNCED") {
		t.Errorf("end customer before its reseller: no PARENT_NOT_SYNCED:\n%s", r.stdout)
	}
	if r := pc(exitState, "sync", ex("end-customer.json"), "--auto"); !strings.Contains(r.stderr, "FAILED_PRECONDITION") {
		t.Errorf("sync end customer before its reseller:\n%s", r.stderr)
	}
	pc(exitOK, "sync", ex("reseller.json"), "--set", "role=Reseller", "--set", "username=acme-resellers")

	r := pc(exitOK, "options", ex("end-customer.json"), "-o", "json")
	var form hostv1.GetSyncOptionsResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &form); err != nil {
		t.Fatal(err)
	}
	if f := form.GetResponse().GetFields()[0]; f.GetKey() != "parent_account" || !strings.HasPrefix(f.GetValue(), "ACC-") {
		t.Errorf("parent not pre-populated once the reseller synced: %v", f)
	}
	pc(exitOK, "sync", ex("end-customer.json"), "--auto")
	pc(exitOK, "sync", ex("storefront-order.json"), "--auto")

	r = pc(exitCheck, "sync-batch", ex("batch.jsonl"), "--auto", "-o", "table")
	if !strings.Contains(r.stdout, "Summary: 8 accounts: 6 synced (6 created), 1 skipped, 1 failed") {
		t.Errorf("sync-batch:\n%s", r.stdout)
	}
	if r := pc(exitOK, "records", "--status", "synced"); strings.Count(r.stdout, "panda") != 9 {
		t.Errorf("records: want 9 synced accounts:\n%s", r.stdout)
	}
	if out := all.String(); strings.Contains(out, password) || strings.Contains(out, apiKey) {
		t.Errorf("a secret setting reached provctl's output:\n%s", out)
	}
}

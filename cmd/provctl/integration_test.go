package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// The story of the seed against a fake host: the parent rule, sync,
// idempotent replay, records.
func TestStoryAgainstFakeHost(t *testing.T) {
	t.Parallel()
	f := newFakeHost()
	env := map[string]string{"PROVCTL_HOST": f.serve(t)}
	ex := func(name string) string { return filepath.Join("..", "..", "examples", name) }

	r := provctl(t, "", env, "options", "--account", ex("end-customer.json"))
	if r.code != exitOK {
		t.Fatalf("options end customer: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"parent_account", "PARENT_NOT_SYNCED", "the reseller R-2001 is not synchronized", "Synchronize the reseller first."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("options end customer: output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = provctl(t, "", env, "sync", "--account", ex("end-customer.json"))
	if r.code != exitState {
		t.Fatalf("sync end customer before its reseller: exit %d, want %d\n%s", r.code, exitState, r.stderr)
	}
	if !strings.Contains(r.stderr, "FAILED_PRECONDITION") || !strings.Contains(r.stderr, "parent_account: the reseller R-2001 is not synchronized") {
		t.Errorf("sync end customer: error output:\n%s", r.stderr)
	}

	r = provctl(t, "", env, "sync", ex("reseller.json"), "--set", "username=acme-owner")
	if r.code != exitOK {
		t.Fatalf("sync reseller: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "Created:        yes") || !strings.Contains(r.stdout, "acme-owner") {
		t.Errorf("sync reseller output:\n%s", r.stdout)
	}
	r = provctl(t, "", env, "sync", ex("reseller.json"), "--set", "username=acme-owner")
	if r.code != exitOK || !strings.Contains(r.stdout, "idempotent replay") {
		t.Errorf("sync reseller again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = provctl(t, "", env, "options", "-o", "json", "--account", "-")
	if r.code != exitUsage {
		t.Errorf("options with empty stdin: exit %d, want %d", r.code, exitUsage)
	}
	data, err := os.ReadFile(ex("end-customer.json"))
	if err != nil {
		t.Fatal(err)
	}
	r = provctl(t, string(data), env, "options", "-o", "json", "-")
	if r.code != exitOK {
		t.Fatalf("options -o json: exit %d\n%s", r.code, r.stderr)
	}
	var form hostv1.GetSyncOptionsResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &form); err != nil {
		t.Fatalf("options -o json is not a GetSyncOptionsResponse: %v\n%s", err, r.stdout)
	}
	if got := form.GetResponse().GetFields()[2].GetValue(); got != "ACC-1000001" {
		t.Errorf("parent_account after the reseller synced = %q, want ACC-1000001", got)
	}
	if n := len(form.GetResponse().GetDiagnostics()); n != 0 {
		t.Errorf("diagnostics after the reseller synced: %d, want none", n)
	}

	if r = provctl(t, "", env, "sync", ex("end-customer.json")); r.code != exitOK {
		t.Fatalf("sync end customer: exit %d\n%s", r.code, r.stderr)
	}
	r = provctl(t, "", env, "sync", ex("end-customer-renamed.json"))
	if r.code != exitOK || !strings.Contains(r.stdout, "Created:        no (it existed: updated to match the account)") {
		t.Errorf("sync of the renamed end customer: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = provctl(t, "", env, "sync", ex("end-customer-renamed.json"))
	if r.code != exitOK || !strings.Contains(r.stdout, "idempotent replay") {
		t.Errorf("sync of the renamed end customer again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = provctl(t, "", env, "records")
	if r.code != exitOK {
		t.Fatalf("records: exit %d\n%s", r.code, r.stderr)
	}
	for _, id := range []string{"R-2001", "C-2002"} {
		if !strings.Contains(r.stdout, id) {
			t.Errorf("records lacks %s:\n%s", id, r.stdout)
		}
	}
	r = provctl(t, "", env, "status", "C-2002")
	if r.code != exitOK || !strings.Contains(r.stdout, "synced") {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	f.mu.Lock()
	f.drift = map[string][]*provisioningv1.Diagnostic{"C-2002": {{Severity: provisioningv1.Severity_SEVERITY_WARNING, Code: "REMOTE_DRIFT",
		Field: "account.name", Summary: `Panda has "Umbrella (console)", the BSS "Umbrella Pharmacy"`}}}
	f.mu.Unlock()
	r = provctl(t, "", env, "status", "C-2002")
	if r.code != exitOK || !strings.Contains(r.stdout, "REMOTE_DRIFT") || !strings.Contains(r.stdout, `Panda has "Umbrella (console)"`) {
		t.Errorf("status of a drifted account: exit %d, want the REMOTE_DRIFT warning\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = provctl(t, "", env, "status", "C-9999", "--cached")
	if r.code != exitState || !strings.Contains(r.stderr, "NOT_FOUND") {
		t.Errorf("status of an unknown account: exit %d\n%s", r.code, r.stderr)
	}
}

func TestValidateExitsCheckOnErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PROVCTL_HOST": newFakeHost().serve(t)}
	acc := filepath.Join("..", "..", "examples", "direct-customer.json")
	r := provctl(t, "", env, "validate", acc, "--set", "username=has space")
	if r.code != exitCheck {
		t.Fatalf("validate: exit %d, want %d\n%s", r.code, exitCheck, r.stderr)
	}
	if !strings.Contains(r.stdout, "INVALID_VALUE") || !strings.Contains(r.stderr, "validation found 1 error(s)") {
		t.Errorf("validate output:\n%s\n%s", r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, fakeSecret) {
		t.Errorf("validate printed a secret value:\n%s", r.stdout)
	}
	r = provctl(t, "", env, "validate", acc, "-o", "json")
	if r.code != exitOK || strings.Contains(r.stdout, fakeSecret) {
		t.Errorf("validate -o json: exit %d, secret printed: %v\n%s", r.code, strings.Contains(r.stdout, fakeSecret), r.stdout)
	}
}

func TestInfoHidesSensitiveSettings(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PROVCTL_HOST": newFakeHost().serve(t)}
	for _, out := range []string{"table", "json"} {
		r := provctl(t, "", env, "info", "-o", out)
		if r.code != exitOK {
			t.Fatalf("info -o %s: exit %d\n%s", out, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "Panda Antivirus") {
			t.Errorf("info -o %s:\n%s", out, r.stdout)
		}
		if out == "table" && strings.Contains(r.stdout, fakeSecret) {
			t.Errorf("info printed a sensitive setting:\n%s", r.stdout)
		}
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	f := newFakeHost()
	f.token = fakeSecret
	addr := f.serve(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte(fakeSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("wrong-token"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := provctl(t, "", map[string]string{"PROVCTL_HOST": addr, "PROVCTL_TOKEN_FILE": good}, "plugins")
	if r.code != exitOK || !strings.Contains(r.stdout, "panda") {
		t.Errorf("plugins with the token from the env: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = provctl(t, "", nil, "--host", addr, "--token-file", bad, "plugins")
	if r.code != exitAuth || !strings.Contains(r.stderr, "UNAUTHENTICATED") {
		t.Errorf("plugins with a wrong token: exit %d, want %d\n%s", r.code, exitAuth, r.stderr)
	}
	r = provctl(t, "", nil, "--host", addr, "plugins")
	if r.code != exitAuth {
		t.Errorf("plugins without a token: exit %d, want %d", r.code, exitAuth)
	}
	// A token never travels in clear text off this machine.
	r = provctl(t, "", nil, "--host", "192.0.2.1:7400", "--token-file", good, "plugins")
	if r.code != exitUsage || !strings.Contains(r.stderr, "clear text") {
		t.Errorf("token to a remote host without TLS: exit %d\n%s", r.code, r.stderr)
	}
	for _, r := range []result{r} {
		if strings.Contains(r.stdout+r.stderr, fakeSecret) {
			t.Errorf("output contains the token:\n%s%s", r.stdout, r.stderr)
		}
	}
}

func TestDaemonNotRunning(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	r := provctl(t, "", nil, "--host", addr, "plugins")
	if r.code != exitUnavailable || !strings.Contains(r.stderr, "UNAVAILABLE") || !strings.Contains(r.stderr, "is provisioning-host running at "+addr) {
		t.Errorf("no daemon: exit %d\n%s", r.code, r.stderr)
	}
}

// A named plugin (--plugin-name, or PROVCTL_PLUGIN for scripts) saves the
// ListPlugins round trip that otherwise precedes every plugin command.
func TestPluginNameSkipsListPlugins(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		plugins   []string
		env       string // PROVCTL_PLUGIN
		args      []string
		wantOut   string
		wantLists int32
	}{
		"flag":                {plugins: []string{"alpha", "beta"}, args: []string{"--plugin-name", "beta"}, wantOut: "beta:", wantLists: 0},
		"env":                 {plugins: []string{"alpha", "beta"}, env: "beta", wantOut: "beta:", wantLists: 0},
		"flag wins over env":  {plugins: []string{"alpha", "beta"}, env: "alpha", args: []string{"--plugin-name", "beta"}, wantOut: "beta:", wantLists: 0},
		"neither: one plugin": {plugins: []string{"alpha"}, wantOut: "alpha:", wantLists: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeHost()
			f.plugins = tc.plugins
			env := map[string]string{"PROVCTL_HOST": f.serve(t), "PROVCTL_PLUGIN": tc.env}
			r := provctl(t, "", env, append([]string{"probe"}, tc.args...)...)
			if r.code != exitOK || !strings.HasPrefix(r.stdout, tc.wantOut) {
				t.Errorf("probe: exit %d %q %s; want stdout starting %q", r.code, r.stdout, r.stderr, tc.wantOut)
			}
			if got := f.listCalls.Load(); got != tc.wantLists {
				t.Errorf("ListPlugins called %d times, want %d", got, tc.wantLists)
			}
		})
	}
}

func TestPluginName(t *testing.T) {
	t.Parallel()
	f := newFakeHost()
	f.plugins = []string{"alpha", "beta"}
	env := map[string]string{"PROVCTL_HOST": f.serve(t)}
	r := provctl(t, "", env, "probe")
	if r.code != exitUsage || !strings.Contains(r.stderr, "several plugins (alpha, beta)") {
		t.Errorf("probe with two plugins: exit %d\n%s", r.code, r.stderr)
	}
	r = provctl(t, "", env, "probe", "--plugin-name", "beta")
	if r.code != exitOK || r.stdout != "beta: ready: remote reachable\n" {
		t.Errorf("probe --plugin-name beta: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = provctl(t, "", env, "probe", "--plugin-name", "gamma")
	if r.code != exitState || !strings.Contains(r.stderr, "NOT_FOUND") {
		t.Errorf("probe --plugin-name gamma: exit %d\n%s", r.code, r.stderr)
	}
}

func TestRecordsPaging(t *testing.T) {
	t.Parallel()
	f := newFakeHost()
	for _, id := range []string{"A-1", "A-2", "A-3", "A-4", "A-5"} {
		f.records[id] = &provisioningv1.SyncRecord{Plugin: "panda", AccountId: id, Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED}
	}
	f.records["A-6"] = &provisioningv1.SyncRecord{Plugin: "panda", AccountId: "A-6", Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING}
	env := map[string]string{"PROVCTL_HOST": f.serve(t)}

	r := provctl(t, "", env, "records", "--page-size", "2")
	if r.code != exitOK || strings.Count(r.stdout, "A-") != 2 || !strings.Contains(r.stderr, "--page-token 2") {
		t.Errorf("records --page-size 2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = provctl(t, "", env, "records", "--page-size", "2", "--all", "-o", "json")
	var all hostv1.ListSyncRecordsResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &all); err != nil || len(all.GetRecords()) != 6 {
		t.Errorf("records --all -o json: %v, %d records\n%s", err, len(all.GetRecords()), r.stdout)
	}
	r = provctl(t, "", env, "records", "--status", "pending")
	if r.code != exitOK || strings.Count(r.stdout, "A-") != 1 || !strings.Contains(r.stdout, "A-6") {
		t.Errorf("records --status pending:\n%s%s", r.stdout, r.stderr)
	}
}

func TestSyncBatch(t *testing.T) {
	t.Parallel()
	f := newFakeHost()
	env := map[string]string{"PROVCTL_HOST": f.serve(t)}
	lines := []string{
		`{"account": {"id": "R-1", "type": "ACCOUNT_TYPE_RESELLER", "corporate_email": "a@r1.example"}}`,
		`{"account": {"id": "C-1", "type": "ACCOUNT_TYPE_CUSTOMER", "corporate_email": "a@c1.example", "parent_id": "R-1"}, "values": {"username": "c-one"}}`,
		`# a comment`,
		``,
		`{"account": {"id": "R-2", "type": "ACCOUNT_TYPE_RESELLER", "corporate_email": "broken"}}`,
		`{"account": {"id": "C-2", "type": "ACCOUNT_TYPE_CUSTOMER", "corporate_email": "a@c2.example", "parent_id": "R-2"}}`,
		`{"account": {"id": "C-3", "type": "ACCOUNT_TYPE_CUSTOMER", "corporate_email": "a@c3.example", "parent_id": "C-2"}}`,
		`{"account": {"id": "C-4"`,
	}
	path := filepath.Join(t.TempDir(), "batch.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}

	// Chunks of two: R-2 fails in the second chunk and the host skips C-2
	// with it; C-3 (child of C-2, third chunk) is skipped by provctl without
	// being sent; the malformed last line is a failed result.
	r := provctl(t, "", env, "sync-batch", path, "--chunk-size", "2", "-o", "json")
	if r.code != exitCheck {
		t.Fatalf("sync-batch: exit %d, want %d\n%s", r.code, exitCheck, r.stderr)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var res hostv1.SynchronizeBatchResponse
		if err := protojson.Unmarshal([]byte(l), &res); err != nil {
			t.Fatalf("result line %q: %v", l, err)
		}
		got = append(got, res.GetAccountId()+" "+outcomeName(res.GetOutcome()))
	}
	want := []string{"R-1 synced", "C-1 synced", "R-2 failed", "C-2 skipped", "C-3 skipped", " failed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 2}, f.chunks); diff != "" {
		t.Errorf("chunks sent (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.stderr, "Summary: 6 accounts: 2 synced (2 created), 2 skipped, 2 failed") {
		t.Errorf("summary on stderr:\n%s", r.stderr)
	}

	// Again, readable, from stdin: the synced ones are idempotent replays.
	data, _ := os.ReadFile(path)
	r = provctl(t, string(data[:bytes.Index(data, []byte("\n# a"))]), env, "sync-batch", "-", "-o", "table")
	if r.code != exitOK {
		t.Fatalf("sync-batch -: exit %d\n%s", r.code, r.stderr)
	}
	wantOut := "ACCOUNT              OUTCOME  REMOTE ID      DETAIL\n" +
		"R-1                  synced   ACC-1000001    already synchronized, synced\n" +
		"C-1                  synced   ACC-1000002    already synchronized, synced\n"
	if !strings.HasPrefix(r.stdout, wantOut) || !strings.Contains(r.stdout, "Summary: 2 accounts: 2 synced (0 created), 0 skipped, 0 failed") {
		t.Errorf("sync-batch table output:\n%s", r.stdout)
	}
}

func TestSyncBatchProgressOnTerminal(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PROVCTL_HOST": newFakeHost().serve(t)}
	path := filepath.Join(t.TempDir(), "batch.jsonl")
	var b strings.Builder
	for i := range 50 {
		b.WriteString(`{"account": {"id": "C-` + string(rune('A'+i%26)) + strings.Repeat("x", i/26) + `", "type": "ACCOUNT_TYPE_CUSTOMER", "corporate_email": "a@b.example"}}` + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] },
		isTerminal: func(w io.Writer) bool { return w == &errb }}
	if code := a.run(t.Context(), []string{"sync-batch", path}); code != exitOK {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "] 50/50  synced 50  skipped 0  failed 0") {
		t.Errorf("no final progress bar on stderr:\n%q", errb.String())
	}
	// stdout is no terminal: JSON lines, and the summary goes to stderr.
	if n := strings.Count(out.String(), "\n"); n != 50 {
		t.Errorf("stdout has %d lines, want 50 JSON lines", n)
	}
}

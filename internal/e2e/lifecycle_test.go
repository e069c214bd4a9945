package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Account lifecycle through the real daemon, Panda plugin and pandasim:
// the store wins over the caller, failures are records, drift is reported,
// accounts are deleted.

const panda = loadtest.PluginName

func lifecycleAccount(id, parent string) *provisioningv1.Account {
	typ := provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
	if parent != "" {
		typ = provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER
	}
	low := strings.ToLower(id)
	return &provisioningv1.Account{
		Id: id, Type: typ, ParentId: parent, Name: "Company " + id, CorporateEmail: "it@" + low + ".example",
		Contact: &provisioningv1.Contact{FirstName: "Ada", LastName: "Lovelace"}, Country: "ES", Language: "es-ES",
	}
}

func syncAccount(ctx context.Context, s *loadtest.Stack, a *provisioningv1.Account) (*provisioningv1.SynchronizeResponse, error) {
	resp, err := s.Client.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: panda, Request: &provisioningv1.SynchronizeRequest{
		Account: a, Values: map[string]string{"username": "op." + strings.ToLower(a.GetId())}, AutoFill: true,
	}})
	return resp.GetResponse(), err
}

func mustSync(t *testing.T, ctx context.Context, s *loadtest.Stack, a *provisioningv1.Account) *provisioningv1.SyncRecord {
	t.Helper()
	resp, err := syncAccount(ctx, s, a)
	if err != nil {
		t.Fatalf("Synchronize %s: %v", a.GetId(), err)
	}
	return resp.GetRecord()
}

// storedRecords reads every stored record of the Panda plugin, by account id.
func storedRecords(t *testing.T, ctx context.Context, s *loadtest.Stack) map[string]*provisioningv1.SyncRecord {
	t.Helper()
	out := map[string]*provisioningv1.SyncRecord{}
	req := &hostv1.ListSyncRecordsRequest{Plugin: panda, PageSize: 1000}
	for {
		resp, err := s.Client.ListSyncRecords(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetRecords() {
			out[r.GetAccountId()] = r
		}
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// simHook calls one of pandasim's console hooks (an edit made behind the
// host's back).
func simHook(t *testing.T, ctx context.Context, s *loadtest.Stack, method, path, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.Sim.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("pandasim %s %s: %s: %s", method, path, resp.Status, b)
	}
}

// requireLifecycleAdapter skips a test that needs the Panda adapter's side
// of the account lifecycle (DeleteAccount, drift) until the adapter
// declares it.
func requireLifecycleAdapter(t *testing.T, ctx context.Context, s *loadtest.Stack) {
	t.Helper()
	info, err := s.Client.GetPluginInfo(ctx, &hostv1.GetPluginInfoRequest{Plugin: panda})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(info.GetResponse().GetCapabilities(), provisioningv1.Capability_CAPABILITY_DELETE) {
		t.Skip("the Panda adapter does not implement DeleteAccount and drift yet (no CAPABILITY_DELETE): this test runs once it does")
	}
}

func lifecycleStack(t *testing.T) (*loadtest.Stack, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return startStack(t, ctx, loadtest.StackConfig{Sim: loadtest.SimConfig{Credentials: testCredentials(t)}, Logs: newLogs(t)}), ctx
}

// TestForgedRecordsRefused: a caller sends another reseller's record as an
// ancestor, or rebinds a stored record to another tenant's Panda account
// through GetSyncStatus: RECORD_MISMATCH, nothing created in Panda, the
// store unchanged.
func TestForgedRecordsRefused(t *testing.T) {
	s, ctx := lifecycleStack(t)
	r1 := mustSync(t, ctx, s, lifecycleAccount("FR-R1", ""))
	r2 := mustSync(t, ctx, s, lifecycleAccount("FR-R2", ""))
	c1 := mustSync(t, ctx, s, lifecycleAccount("FR-C1", "FR-R1"))
	if c1.GetRemoteParentId() != r1.GetRemoteId() {
		t.Fatalf("FR-C1 created under %q, want FR-R1's %q", c1.GetRemoteParentId(), r1.GetRemoteId())
	}
	before := storedRecords(t, ctx, s)
	simBefore, err := s.Sim.State(ctx)
	if err != nil {
		t.Fatal(err)
	}

	forgedParent := proto.CloneOf(r2)
	forgedParent.AccountId = "FR-R1"
	rebound := proto.CloneOf(c1)
	rebound.RemoteId = r2.GetRemoteId()
	tests := map[string]struct {
		call      func() error
		wantField string
	}{
		"an end customer under another reseller's Panda account": {
			call: func() error {
				_, err := s.Client.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: panda, Request: &provisioningv1.SynchronizeRequest{
					Account:   lifecycleAccount("FR-C2", "FR-R1"),
					Ancestors: []*provisioningv1.Ancestor{{Account: lifecycleAccount("FR-R1", ""), Record: forgedParent}},
					Values:    map[string]string{"username": "op.fr-c2"}, AutoFill: true,
				}})
				return err
			},
			wantField: "request.ancestors[0].record.remote_id",
		},
		"a stored record rebound to another tenant's Panda account": {
			call: func() error {
				_, err := s.Client.GetSyncStatus(ctx, &hostv1.GetSyncStatusRequest{Plugin: panda, Request: &provisioningv1.GetSyncStatusRequest{Record: rebound}})
				return err
			},
			wantField: "request.record.remote_id",
		},
		"a record for an account the host never synchronized": {
			call: func() error {
				r := proto.CloneOf(r2)
				r.AccountId = "FR-NEW"
				_, err := s.Client.GetSyncStatus(ctx, &hostv1.GetSyncStatusRequest{Plugin: panda, Request: &provisioningv1.GetSyncStatusRequest{Record: r}})
				return err
			},
			wantField: "request.record",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.call()
			d := diag.Parse(err)
			if d.Code != codes.InvalidArgument || d.Reason != diag.ReasonRecordMismatch {
				t.Fatalf("error = %v, want INVALID_ARGUMENT RECORD_MISMATCH", err)
			}
			if len(d.Violations) != 1 || d.Violations[0].Field != tc.wantField {
				t.Errorf("violations %+v, want one on %s", d.Violations, tc.wantField)
			}
		})
	}
	after := storedRecords(t, ctx, s)
	if len(after) != len(before) {
		t.Errorf("store has %d records, had %d", len(after), len(before))
	}
	for id, r := range before {
		if !proto.Equal(r, after[id]) {
			t.Errorf("stored record of %s changed:\n%v\n->\n%v", id, r, after[id])
		}
	}
	simAfter, err := s.Sim.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(simAfter.Accounts) != len(simBefore.Accounts) {
		t.Errorf("Panda has %d accounts, had %d: a refused call created one", len(simAfter.Accounts), len(simBefore.Accounts))
	}
}

// TestFailedResellerThenEndCustomer: a reseller Panda refuses is stored
// FAILED with its reason and listed; its end customer is refused and told
// the reseller is not synchronized (and, once the adapter says so, why),
// and is stored FAILED too; a fixed reseller then replaces its failure.
func TestFailedResellerThenEndCustomer(t *testing.T) {
	s, ctx := lifecycleStack(t)
	bad := lifecycleAccount("FL-R1", "")
	bad.CorporateEmail = "not-an-address"
	_, err := syncAccount(ctx, s, bad)
	if d := diag.Parse(err); d.Code != codes.InvalidArgument || d.Reason != diag.CodeInvalidEmail {
		t.Fatalf("Synchronize with a bad email: %v, want INVALID_ARGUMENT INVALID_EMAIL", err)
	}
	got, err := s.Client.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: panda, AccountId: "FL-R1"})
	if err != nil {
		t.Fatalf("GetSyncRecord of the failed reseller: %v (a failure must leave a record)", err)
	}
	if r := got.GetRecord(); r.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_FAILED || r.GetErrorReason() != diag.CodeInvalidEmail || r.GetMessage() == "" || r.GetUpdatedAt() == nil {
		t.Errorf("stored record = %v, want FAILED INVALID_EMAIL with a message and a time", r)
	}
	failed, err := s.Client.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{Plugin: panda, Status: provisioningv1.SyncStatus_SYNC_STATUS_FAILED})
	if err != nil || len(failed.GetRecords()) != 1 || failed.GetRecords()[0].GetAccountId() != "FL-R1" {
		t.Errorf("FAILED records = %v, %v; want FL-R1", failed.GetRecords(), err)
	}

	_, err = syncAccount(ctx, s, lifecycleAccount("FL-C1", "FL-R1"))
	d := diag.Parse(err)
	if d.Code != codes.FailedPrecondition || d.Reason != diag.CodeParentNotSynced {
		t.Fatalf("end customer of a failed reseller: %v, want FAILED_PRECONDITION PARENT_NOT_SYNCED", err)
	}
	child, err := s.Client.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: panda, AccountId: "FL-C1"})
	if err != nil || child.GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_FAILED || child.GetRecord().GetErrorReason() != diag.CodeParentNotSynced {
		t.Errorf("end customer's record = %v, %v; want FAILED PARENT_NOT_SYNCED", child.GetRecord(), err)
	}

	// Fixed, the reseller succeeds and its record replaces the failure; the
	// end customer follows.
	r1 := mustSync(t, ctx, s, lifecycleAccount("FL-R1", ""))
	if r1.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_FAILED || r1.GetErrorReason() != "" || r1.GetRemoteId() == "" {
		t.Errorf("reseller after the fix = %v", r1)
	}
	if c1 := mustSync(t, ctx, s, lifecycleAccount("FL-C1", "FL-R1")); c1.GetRemoteParentId() != r1.GetRemoteId() {
		t.Errorf("end customer under %q, want %q", c1.GetRemoteParentId(), r1.GetRemoteId())
	}

	t.Run("the end customer is told why", func(t *testing.T) {
		requireLifecycleAdapter(t, ctx, s)
		bad := lifecycleAccount("FL-R2", "")
		bad.CorporateEmail = "still-not-an-address"
		_, _ = syncAccount(ctx, s, bad)
		_, err := syncAccount(ctx, s, lifecycleAccount("FL-C2", "FL-R2"))
		var why string
		for _, det := range status.Convert(err).Details() {
			if ei, ok := det.(*errdetails.ErrorInfo); ok {
				why = ei.GetMetadata()["parent_error_reason"]
			}
		}
		if why != diag.CodeInvalidEmail {
			t.Errorf("parent_error_reason = %q, want %s (error %v)", why, diag.CodeInvalidEmail, err)
		}
	})
}

// provctlRun runs the provctl binary against the stack's daemon.
func provctlRun(t *testing.T, ctx context.Context, s *loadtest.Stack, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bins.Provctl, append([]string{"--host", s.Host.Addr, "--plugin-name", panda}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestReconcileAfterConsoleEdits: an account renamed and another deleted in
// Panda's console, behind the host's back: provctl reconcile lists both
// and exits 7; the deleted one is stored MISSING. (The rename is reported
// once the adapter reports drift.)
func TestReconcileAfterConsoleEdits(t *testing.T) {
	s, ctx := lifecycleStack(t)
	mustSync(t, ctx, s, lifecycleAccount("RC-R1", ""))
	renamed := mustSync(t, ctx, s, lifecycleAccount("RC-C1", "RC-R1"))
	gone := mustSync(t, ctx, s, lifecycleAccount("RC-C2", "RC-R1"))
	mustSync(t, ctx, s, lifecycleAccount("RC-C3", "RC-R1"))

	code, out, errOut := provctlRun(t, ctx, s, "reconcile")
	if code != 0 {
		t.Fatalf("reconcile before any edit: exit %d\n%s%s", code, out, errOut)
	}
	simHook(t, ctx, s, http.MethodPatch, "/_sim/accounts/"+renamed.GetRemoteId(), `{"name":"Renamed In The Console"}`)
	simHook(t, ctx, s, http.MethodDelete, "/_sim/accounts/"+gone.GetRemoteId(), "")

	code, out, errOut = provctlRun(t, ctx, s, "reconcile")
	if code != 7 {
		t.Fatalf("reconcile after the edits: exit %d, want 7\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "RC-C2    synced  missing  the remote objects are gone") {
		t.Errorf("reconcile output lacks the deleted RC-C2:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "RC-C3 ") && !strings.HasSuffix(strings.TrimSpace(line), "-") {
			t.Errorf("RC-C3 was not edited but reported: %q", line)
		}
	}
	if r := storedRecords(t, ctx, s)["RC-C2"]; r.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_MISSING {
		t.Errorf("RC-C2 stored as %v, want MISSING", r.GetStatus())
	}
	t.Run("the rename is drift", func(t *testing.T) {
		requireLifecycleAdapter(t, ctx, s)
		for _, want := range []string{"REMOTE_DRIFT account.name", "Renamed In The Console", "2 drifted"} {
			if !strings.Contains(out, want) {
				t.Errorf("reconcile output lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestDeleteAccounts: a reseller with an end customer is refused without
// cascade; a cascade deletes both in Panda and marks both DELETED; a second
// delete is an idempotent replay; a later Synchronize creates the reseller
// anew.
func TestDeleteAccounts(t *testing.T) {
	s, ctx := lifecycleStack(t)
	r1 := mustSync(t, ctx, s, lifecycleAccount("DL-R1", ""))
	c1 := mustSync(t, ctx, s, lifecycleAccount("DL-C1", "DL-R1"))
	leaf := mustSync(t, ctx, s, lifecycleAccount("DL-X", ""))

	// The host knows the child from its store: refused before the plugin.
	code, out, errOut := provctlRun(t, ctx, s, "delete", "DL-R1")
	if code != 4 || !strings.Contains(errOut, "HAS_CHILDREN") || !strings.Contains(errOut, "DL-C1") {
		t.Fatalf("delete with a child: exit %d, want 4 HAS_CHILDREN naming DL-C1\n%s%s", code, out, errOut)
	}
	if r := storedRecords(t, ctx, s)["DL-R1"]; !proto.Equal(r, r1) {
		t.Errorf("a refused delete changed the record: %v", r)
	}

	resp, err := s.Client.DeleteAccount(ctx, &hostv1.DeleteAccountRequest{Plugin: panda, Request: &provisioningv1.DeleteAccountRequest{Account: &provisioningv1.Account{Id: "DL-X"}}})
	if status.Code(err) == codes.Unimplemented {
		t.Skipf("the Panda adapter answers UNIMPLEMENTED for DeleteAccount (%v): the rest runs once it implements it", err)
	}
	if err != nil || resp.GetResponse().GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED || !resp.GetResponse().GetDeleted() {
		t.Fatalf("delete a leaf: %v, %v", resp, err)
	}

	code, out, errOut = provctlRun(t, ctx, s, "delete", "DL-R1", "--cascade")
	if code != 0 || !strings.Contains(out, "Deleted:        yes") || !strings.Contains(out, "Descendants:    DL-C1") {
		t.Fatalf("delete --cascade: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = provctlRun(t, ctx, s, "delete", "DL-R1", "--cascade")
	if code != 0 || !strings.Contains(out, "idempotent replay") {
		t.Fatalf("delete --cascade again: exit %d\n%s%s", code, out, errOut)
	}

	recs := storedRecords(t, ctx, s)
	for _, id := range []string{"DL-R1", "DL-C1", "DL-X"} {
		if recs[id].GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
			t.Errorf("%s stored as %v, want DELETED (still listed)", id, recs[id].GetStatus())
		}
	}
	snap, err := s.Sim.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range snap.Accounts {
		if id := fmt.Sprint(a.ID); id == r1.GetRemoteId() || id == c1.GetRemoteId() || id == leaf.GetRemoteId() {
			t.Errorf("Panda still has deleted account %s", id)
		}
	}

	again := mustSync(t, ctx, s, lifecycleAccount("DL-R1", ""))
	if again.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_DELETED || again.GetRemoteId() == "" || again.GetRemoteId() == r1.GetRemoteId() {
		t.Errorf("Synchronize after the delete = %v, want a new Panda account", again)
	}
}

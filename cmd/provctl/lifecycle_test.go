package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// lifecycleHost is the fake host with scripted DeleteAccount and
// ReconcileRecords answers, and the requests it got.
type lifecycleHost struct {
	*fakeHost
	reconcile []*hostv1.ReconcileRecordsResponse
	deleteErr error
	replay    bool

	mu      sync.Mutex
	deletes []*hostv1.DeleteAccountRequest
}

func (f *lifecycleHost) serve(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hostv1.RegisterHostServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func (f *lifecycleHost) ReconcileRecords(req *hostv1.ReconcileRecordsRequest, stream grpc.ServerStreamingServer[hostv1.ReconcileRecordsResponse]) error {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return err
	}
	for _, r := range f.reconcile {
		if err := stream.Send(r); err != nil {
			return err
		}
	}
	return nil
}

func (f *lifecycleHost) DeleteAccount(_ context.Context, req *hostv1.DeleteAccountRequest) (*hostv1.DeleteAccountResponse, error) {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.deletes = append(f.deletes, req)
	f.mu.Unlock()
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	id := req.GetRequest().GetAccount().GetId()
	resp := &hostv1.DeleteAccountResponse{Response: &provisioningv1.DeleteAccountResponse{
		Record:  &provisioningv1.SyncRecord{Plugin: req.GetPlugin(), AccountId: id, Status: provisioningv1.SyncStatus_SYNC_STATUS_DELETED, RemoteId: "ACC-" + id},
		Deleted: !f.replay,
	}}
	if req.GetRequest().GetCascade() && !f.replay {
		resp.Response.DeletedRemoteIds = []string{"ACC-C2", "ACC-C1"}
		resp.DeletedAccountIds = []string{"C2", "C1"}
	}
	return resp, nil
}

func reconciled(id string, was, now provisioningv1.SyncStatus, ds ...*provisioningv1.Diagnostic) *hostv1.ReconcileRecordsResponse {
	return &hostv1.ReconcileRecordsResponse{AccountId: id, PreviousStatus: was, Diagnostics: ds,
		Record: &provisioningv1.SyncRecord{Plugin: "panda", AccountId: id, Status: now, RemoteId: "ACC-" + id, Values: map[string]string{"api_token": fakeSecret}}}
}

func TestReconcileCmd(t *testing.T) {
	t.Parallel()
	synced, missing := provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, provisioningv1.SyncStatus_SYNC_STATUS_MISSING
	rename := diag.Warning("account.name", diag.CodeRemoteDrift, "the remote name differs", `remote "Acme Renamed", BSS "Acme"`)
	failed := reconciled("C3", synced, synced)
	failed.Error = status.Convert(diag.Unavailable(diag.CodeRemoteUnavailable, "Panda is down", 0)).Proto()
	tests := map[string]struct {
		results   []*hostv1.ReconcileRecordsResponse
		args      []string
		wantCode  int
		wantOut   []string
		wantErr   []string
		wantLines int // -o json: result lines on stdout
	}{
		"in step": {
			results:  []*hostv1.ReconcileRecordsResponse{reconciled("R1", synced, synced), reconciled("C1", provisioningv1.SyncStatus_SYNC_STATUS_PENDING, synced)},
			wantCode: exitOK,
			wantOut:  []string{"ACCOUNT", "R1", "pending", "Summary: 2 record(s): 0 drifted, 0 could not be refreshed, 2 in step"},
		},
		"a rename and a remote delete": {
			results:  []*hostv1.ReconcileRecordsResponse{reconciled("C1", synced, missing), reconciled("C2", synced, synced, rename), reconciled("R1", synced, synced)},
			wantCode: exitCheck,
			wantOut: []string{"the remote objects are gone", `REMOTE_DRIFT account.name: the remote name differs (remote "Acme Renamed", BSS "Acme")`,
				"Summary: 3 record(s): 2 drifted, 0 could not be refreshed, 1 in step"},
			wantErr: []string{"drift in 2 record(s), 0 could not be refreshed"},
		},
		"a record that cannot be refreshed": {
			results:  []*hostv1.ReconcileRecordsResponse{failed},
			wantCode: exitCheck,
			wantOut:  []string{"error UNAVAILABLE REMOTE_UNAVAILABLE: Panda is down", "1 could not be refreshed"},
		},
		"json lines": {
			results:   []*hostv1.ReconcileRecordsResponse{reconciled("C1", synced, missing), reconciled("R1", synced, synced)},
			args:      []string{"-o", "json"},
			wantCode:  exitCheck,
			wantLines: 2,
			wantErr:   []string{"Summary: 2 record(s): 1 drifted"},
		},
		"an unknown plugin": {
			args:     []string{"--plugin-name", "nope"},
			wantCode: exitState,
			wantErr:  []string{"NOT_FOUND"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := &lifecycleHost{fakeHost: newFakeHost(), reconcile: tc.results}
			env := map[string]string{"PROVCTL_HOST": f.serve(t)}
			r := provctl(t, "", env, append([]string{"reconcile"}, tc.args...)...)
			if r.code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stdout+r.stderr, fakeSecret) {
				t.Errorf("output shows a secret:\n%s", r.stdout)
			}
			if tc.wantLines > 0 {
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if len(lines) != tc.wantLines {
					t.Fatalf("%d lines, want %d:\n%s", len(lines), tc.wantLines, r.stdout)
				}
				for _, l := range lines {
					var res hostv1.ReconcileRecordsResponse
					if err := protojson.Unmarshal([]byte(l), &res); err != nil {
						t.Errorf("not a ReconcileRecordsResponse: %v\n%s", err, l)
					}
				}
			}
		})
	}
}

func TestDeleteCmd(t *testing.T) {
	t.Parallel()
	hasChildren := diag.FailedPrecondition(diag.CodeHasChildren, "C1", "account R1 has 1 child account(s)")
	tests := map[string]struct {
		args        []string
		err         error
		replay      bool
		wantCode    int
		wantOut     []string
		wantErr     []string
		wantCascade bool
		wantCalls   int
		wantJSON    bool
	}{
		"a leaf": {
			args: []string{"C1"}, wantCode: exitOK, wantCalls: 1,
			wantOut: []string{"Account:        C1", "Status:         deleted", "Deleted:        yes"},
		},
		"children refuse it": {
			args: []string{"R1"}, err: hasChildren, wantCode: exitState, wantCalls: 1,
			wantErr: []string{"FAILED_PRECONDITION", "HAS_CHILDREN"},
		},
		"cascade": {
			args: []string{"R1", "--cascade"}, wantCode: exitOK, wantCascade: true, wantCalls: 1,
			wantOut: []string{"Deleted:        yes", "Descendants:    C2, C1"},
		},
		"twice": {
			args: []string{"R1", "--cascade"}, replay: true, wantCode: exitOK, wantCascade: true, wantCalls: 1,
			wantOut: []string{"idempotent replay", "Descendants:    -"},
		},
		"json": {
			args: []string{"C1", "-o", "json"}, wantCode: exitOK, wantCalls: 1, wantJSON: true,
		},
		"never synchronized": {
			args: []string{"C9"}, err: status.Error(codes.NotFound, "account \"C9\" was never synchronized"), wantCode: exitState, wantCalls: 1,
			wantErr: []string{"NOT_FOUND"},
		},
		"no account": {
			args: nil, wantCode: exitUsage,
		},
		"two accounts": {
			args: []string{"C1", "C2"}, wantCode: exitUsage,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := &lifecycleHost{fakeHost: newFakeHost(), deleteErr: tc.err, replay: tc.replay}
			env := map[string]string{"PROVCTL_HOST": f.serve(t)}
			r := provctl(t, "", env, append([]string{"delete"}, tc.args...)...)
			if r.code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if tc.wantJSON {
				var resp hostv1.DeleteAccountResponse
				if err := protojson.Unmarshal([]byte(r.stdout), &resp); err != nil {
					t.Fatalf("not a DeleteAccountResponse: %v\n%s", err, r.stdout)
				}
				if rec := resp.GetResponse().GetRecord(); rec.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED || !resp.GetResponse().GetDeleted() {
					t.Errorf("json answer = %v", &resp)
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.deletes) != tc.wantCalls {
				t.Fatalf("%d DeleteAccount calls, want %d", len(f.deletes), tc.wantCalls)
			}
			if tc.wantCalls > 0 {
				req := f.deletes[0]
				if req.GetRequest().GetCascade() != tc.wantCascade || req.GetRequest().GetAccount().GetId() != tc.args[0] || req.GetPlugin() != "panda" {
					t.Errorf("request = %v", req)
				}
			}
		})
	}
}

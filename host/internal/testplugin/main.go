// Command testplugin is a tiny in-memory provisioning plugin for the host's
// own tests, so they never depend on a vendor adapter. It is built on the
// plugin SDK and behaves like a well-mannered adapter, with hooks for tests:
//
//   - TESTPLUGIN_NAME sets the name it reports (default "testplugin").
//   - TESTPLUGIN_PID_DIR: it writes plugin-PID.pid there when it starts; with
//     TESTPLUGIN_SPAWN_CHILD=1 it also spawns a long sleep and writes
//     child-PID.pid, to prove the host kills the whole process group.
//   - Account names: "sleep:DURATION" delays Synchronize; "fail" makes it
//     answer INVALID_ARGUMENT; "pending" answers a PENDING record that
//     GetSyncStatus then settles as SYNCED.
//   - A setting "reject" set to "true" makes Configure fail.
//   - TESTPLUGIN_FAIL_STARTS=N (with TESTPLUGIN_PID_DIR): the first N starts
//     exit with status 1 before the handshake, counted by the start-*.mark
//     files in the folder.
//   - TESTPLUGIN_CRASH_AFTER=DURATION: the process exits with status 2 that
//     long after it starts serving.
//   - TESTPLUGIN_NO_HANDSHAKE=1: it never prints its handshake line.
//   - TESTPLUGIN_STDERR_LINE=N: it writes one N-byte line to stderr, then a
//     short one, before serving.
//   - TESTPLUGIN_ENV_FILE=PATH: it writes its environment there, one
//     variable a line.
//   - TESTPLUGIN_NO_STREAM=1: it serves no SynchronizeStream, as a plugin
//     built before the RPC (plugin.WithoutSynchronizeStream).
//   - Orders: see subscriptions.go; DeleteAccount: see lifecycle.go.
//
// An end customer (parent_id set) needs its parent among the ancestors,
// nearest first, synchronized and a reseller; otherwise Synchronize answers
// FAILED_PRECONDITION PARENT_NOT_SYNCED, as real adapters do.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func main() {
	if dir := os.Getenv("TESTPLUGIN_PID_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("plugin-%d.pid", os.Getpid())), []byte(fmt.Sprint(os.Getpid())), 0o600)
		if os.Getenv("TESTPLUGIN_SPAWN_CHILD") == "1" {
			cmd := exec.Command("sleep", "600")
			if err := cmd.Start(); err == nil {
				_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("child-%d.pid", cmd.Process.Pid)), []byte(fmt.Sprint(cmd.Process.Pid)), 0o600)
			}
		}
	}
	if n, err := strconv.Atoi(os.Getenv("TESTPLUGIN_FAIL_STARTS")); err == nil {
		dir := os.Getenv("TESTPLUGIN_PID_DIR")
		marks, _ := filepath.Glob(filepath.Join(dir, "start-*.mark"))
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("start-%d.mark", os.Getpid())), nil, 0o600)
		if len(marks) < n {
			fmt.Fprintf(os.Stderr, "testplugin: failing start %d of %d on purpose\n", len(marks)+1, n)
			os.Exit(1)
		}
	}
	if p := os.Getenv("TESTPLUGIN_ENV_FILE"); p != "" {
		_ = os.WriteFile(p, []byte(strings.Join(os.Environ(), "\n")), 0o600)
	}
	if n, err := strconv.Atoi(os.Getenv("TESTPLUGIN_STDERR_LINE")); err == nil {
		fmt.Fprintf(os.Stderr, "BEGIN%sEND\n", strings.Repeat("x", n-len("BEGINEND")))
		fmt.Fprintln(os.Stderr, "after the long line")
	}
	if os.Getenv("TESTPLUGIN_NO_HANDSHAKE") == "1" {
		for {
			time.Sleep(time.Hour) // until the host kills it
		}
	}
	if d, err := time.ParseDuration(os.Getenv("TESTPLUGIN_CRASH_AFTER")); err == nil {
		go func() {
			time.Sleep(d)
			os.Exit(2)
		}()
	}
	name := os.Getenv("TESTPLUGIN_NAME")
	if name == "" {
		name = "testplugin"
	}
	var opts []plugin.ServeOption
	if os.Getenv("TESTPLUGIN_NO_STREAM") == "1" {
		opts = append(opts, plugin.WithoutSynchronizeStream())
	}
	plugin.Serve(&adapter{name: name, records: map[string]*provisioningv1.SyncRecord{}}, opts...)
}

type adapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	name string

	mu         sync.Mutex
	configured bool
	records    map[string]*provisioningv1.SyncRecord
	seq        int
}

func (a *adapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{
		Name: a.name, DisplayName: "Test Plugin", Version: "0.0.1",
		Capabilities: []provisioningv1.Capability{
			provisioningv1.Capability_CAPABILITY_SYNCHRONIZE,
			provisioningv1.Capability_CAPABILITY_SYNC_STATUS,
			provisioningv1.Capability_CAPABILITY_ASYNC,
			provisioningv1.Capability_CAPABILITY_SUBSCRIPTIONS,
			provisioningv1.Capability_CAPABILITY_DELETE,
		},
		ConfigFields: []*provisioningv1.Field{{Key: "token", Label: "Token", Sensitive: true}},
	}, nil
}

func (a *adapter) Configure(_ context.Context, req *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	if req.GetSettings()["reject"] == "true" {
		return nil, diag.InvalidArgument("reject", diag.CodeInvalidValue, "the test plugin was told to reject its settings")
	}
	a.mu.Lock()
	a.configured = true
	a.mu.Unlock()
	return &provisioningv1.ConfigureResponse{}, nil
}

func (a *adapter) ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.configured {
		return diag.NotConfigured()
	}
	return nil
}

func (a *adapter) Probe(context.Context, *provisioningv1.ProbeRequest) (*provisioningv1.ProbeResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	return &provisioningv1.ProbeResponse{Ready: true, Message: "in memory"}, nil
}

// problems are the business-rule diagnostics of an account.
func problems(acct *provisioningv1.Account, ancestors []*provisioningv1.Ancestor) []*provisioningv1.Diagnostic {
	var ds []*provisioningv1.Diagnostic
	if acct.GetId() == "" {
		return append(ds, diag.Error("account.id", diag.CodeInvalidAccount, "account id is required", ""))
	}
	if acct.GetName() == "fail" {
		ds = append(ds, diag.Error("account.name", diag.CodeInvalidValue, "the test plugin was told to fail", ""))
	}
	if acct.GetParentId() == "" {
		return ds
	}
	if len(ancestors) == 0 || ancestors[0].GetAccount().GetId() != acct.GetParentId() {
		return append(ds, diag.Error("parent", diag.CodeParentNotSynced, "the parent is not among the ancestors", ""))
	}
	p := ancestors[0]
	switch p.GetRecord().GetStatus() {
	case provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE:
	default:
		return append(ds, diag.Error("parent", diag.CodeParentNotSynced, "the parent "+acct.GetParentId()+" is not synchronized", ""))
	}
	if p.GetAccount().GetType() != provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER {
		ds = append(ds, diag.Error("parent", diag.CodeParentNotReseller, "the parent is not a reseller", ""))
	}
	return ds
}

func (a *adapter) GetSyncOptions(_ context.Context, req *provisioningv1.GetSyncOptionsRequest) (*provisioningv1.GetSyncOptionsResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	parent := ""
	if len(req.GetAncestors()) > 0 {
		parent = req.GetAncestors()[0].GetRecord().GetRemoteId()
	}
	return &provisioningv1.GetSyncOptionsResponse{
		Fields: []*provisioningv1.Field{
			{Key: "username", Label: "Username", Order: 1, Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Required: true, Value: req.GetAccount().GetId(), AutoFill: true},
			{Key: "parent", Label: "Parent", Order: 2, Kind: provisioningv1.FieldKind_FIELD_KIND_ACCOUNT_REF, ReadOnly: true, Value: parent},
		},
		Diagnostics: problems(req.GetAccount(), req.GetAncestors()),
	}, nil
}

func (a *adapter) ValidateSyncOptions(_ context.Context, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	return &provisioningv1.ValidateSyncOptionsResponse{
		Diagnostics: problems(req.GetAccount(), req.GetAncestors()),
		Values:      req.GetValues(),
	}, nil
}

func (a *adapter) Synchronize(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	acct := req.GetAccount()
	if d, ok := strings.CutPrefix(acct.GetName(), "sleep:"); ok {
		if dur, err := time.ParseDuration(d); err == nil {
			select {
			case <-time.After(dur):
			case <-ctx.Done():
				return nil, diag.Errorf(diag.Parse(ctx.Err()).Code, "synchronize: %v", ctx.Err())
			}
		}
	}
	if err := diag.ToError(problems(acct, req.GetAncestors())); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if rec, ok := a.records[acct.GetId()]; ok {
		return &provisioningv1.SynchronizeResponse{Record: proto.Clone(rec).(*provisioningv1.SyncRecord)}, nil
	}
	a.seq++
	rec := &provisioningv1.SyncRecord{
		Plugin:    a.name,
		AccountId: acct.GetId(),
		Status:    provisioningv1.SyncStatus_SYNC_STATUS_SYNCED,
		// The process id keeps remote ids unique across restarts, as a real
		// remote's are: the host refuses a remote id another record holds.
		RemoteId:  fmt.Sprintf("R-%d-%07d", os.Getpid(), a.seq),
		Values:    req.GetValues(),
		UpdatedAt: timestamppb.Now(),
	}
	if len(req.GetAncestors()) > 0 {
		rec.RemoteParentId = req.GetAncestors()[0].GetRecord().GetRemoteId()
	}
	if acct.GetName() == "pending" {
		rec.Status = provisioningv1.SyncStatus_SYNC_STATUS_PENDING
		rec.Private = []byte("txn-" + acct.GetId())
	}
	a.records[acct.GetId()] = rec
	return &provisioningv1.SynchronizeResponse{Record: proto.Clone(rec).(*provisioningv1.SyncRecord), Created: true}, nil
}

func (a *adapter) GetSyncStatus(_ context.Context, req *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	if req.GetRecord().GetAccountId() == "" {
		return nil, diag.InvalidArgument("record.account_id", diag.CodeInvalidAccount, "record.account_id is required")
	}
	rec := proto.Clone(req.GetRecord()).(*provisioningv1.SyncRecord)
	if rec.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_PENDING {
		rec.Status = provisioningv1.SyncStatus_SYNC_STATUS_SYNCED
		rec.Private = nil
		rec.UpdatedAt = timestamppb.Now()
	}
	return &provisioningv1.GetSyncStatusResponse{Record: rec}, nil
}

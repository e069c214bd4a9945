package main

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// fakeSecret is a value no output may ever contain.
const fakeSecret = "s3cr3t-hunter2"

// fakeHost is a HostService with just enough behaviour for provctl's
// commands: a form, the parent rule, idempotent sync, records, batches.
type fakeHost struct {
	hostv1.UnimplementedHostServiceServer

	token   string // required bearer token, if set
	plugins []string

	listCalls atomic.Int32 // ListPlugins calls served

	mu      sync.Mutex
	records map[string]*provisioningv1.SyncRecord
	names   map[string]string                       // each synchronized account's name, to tell a rename
	drift   map[string][]*provisioningv1.Diagnostic // what GetSyncStatus reports, by account id
	chunks  []int                                   // item count of each SynchronizeBatch call

	orders fakeOrders // the subscription RPCs' state (fake_orders_test.go)
}

func newFakeHost() *fakeHost {
	return &fakeHost{plugins: []string{"panda"}, records: map[string]*provisioningv1.SyncRecord{}}
}

// serve starts f on a loopback port and returns its address.
func (f *fakeHost) serve(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(f.authUnary), grpc.StreamInterceptor(f.authStream))
	hostv1.RegisterHostServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func (f *fakeHost) auth(ctx context.Context) error {
	if f.token == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if slices.Contains(md.Get("authorization"), "Bearer "+f.token) {
		return nil
	}
	return status.Error(codes.Unauthenticated, "missing or wrong bearer token")
}

func (f *fakeHost) authUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := f.auth(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (f *fakeHost) authStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := f.auth(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}

func (f *fakeHost) plugin(name string) error {
	if name == "" {
		return status.Error(codes.InvalidArgument, "plugin is required")
	}
	if !slices.Contains(f.plugins, name) {
		return status.Errorf(codes.NotFound, "no plugin %q in the catalog", name)
	}
	return nil
}

func (f *fakeHost) ListPlugins(context.Context, *hostv1.ListPluginsRequest) (*hostv1.ListPluginsResponse, error) {
	f.listCalls.Add(1)
	resp := &hostv1.ListPluginsResponse{}
	for _, n := range f.plugins {
		resp.Plugins = append(resp.Plugins, &hostv1.Plugin{Name: n, DisplayName: "Plugin " + n, Version: "1.0.0",
			Path: "/opt/plugins/provisioning-plugin-" + n, Sha256: strings.Repeat("ab", 32), State: hostv1.PluginState_PLUGIN_STATE_RUNNING})
	}
	return resp, nil
}

func (f *fakeHost) GetPluginInfo(_ context.Context, req *hostv1.GetPluginInfoRequest) (*hostv1.GetPluginInfoResponse, error) {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return nil, err
	}
	return &hostv1.GetPluginInfoResponse{Response: &provisioningv1.GetPluginInfoResponse{
		Name: req.GetPlugin(), DisplayName: "Panda Antivirus", Version: "1.0.0",
		Capabilities: []provisioningv1.Capability{provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS, provisioningv1.Capability_CAPABILITY_AUTO_FILL},
		ConfigFields: []*provisioningv1.Field{
			{Key: "api_url", Label: "API URL", Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Required: true},
			// A contract breach on purpose: a sensitive field with a value.
			{Key: "password", Label: "Password", Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Required: true, Sensitive: true, Value: fakeSecret},
		},
	}}, nil
}

func (f *fakeHost) Probe(_ context.Context, req *hostv1.ProbeRequest) (*hostv1.ProbeResponse, error) {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return nil, err
	}
	return &hostv1.ProbeResponse{Response: &provisioningv1.ProbeResponse{Ready: true, Message: "remote reachable"}}, nil
}

// diagnostics applies the fake's rules: a valid email, a synced parent, a
// username without spaces.
func (f *fakeHost) diagnostics(acc *provisioningv1.Account, values map[string]string) []*provisioningv1.Diagnostic {
	var ds []*provisioningv1.Diagnostic
	if acc.GetId() == "" {
		ds = append(ds, diag.Error("account.id", diag.CodeInvalidAccount, "the account has no id", ""))
	}
	if !strings.Contains(acc.GetCorporateEmail(), "@") {
		ds = append(ds, diag.Error("account.corporate_email", diag.CodeInvalidEmail, "the corporate email is not an address", "Panda mails the activation there."))
	}
	if p := acc.GetParentId(); p != "" {
		f.mu.Lock()
		_, ok := f.records[p]
		f.mu.Unlock()
		if !ok {
			ds = append(ds, diag.Error("parent_account", diag.CodeParentNotSynced, "the reseller "+p+" is not synchronized", "Synchronize the reseller first."))
		}
	}
	if strings.Contains(values["username"], " ") {
		ds = append(ds, diag.Error("username", diag.CodeInvalidValue, "a username has no spaces", ""))
	}
	return ds
}

func (f *fakeHost) GetSyncOptions(_ context.Context, req *hostv1.GetSyncOptionsRequest) (*hostv1.GetSyncOptionsResponse, error) {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return nil, err
	}
	acc := req.GetRequest().GetAccount()
	role := "User"
	if acc.GetType() == provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER {
		role = "Reseller"
	}
	parent := ""
	if p := acc.GetParentId(); p != "" {
		f.mu.Lock()
		if r, ok := f.records[p]; ok {
			parent = r.GetRemoteId()
		}
		f.mu.Unlock()
	}
	return &hostv1.GetSyncOptionsResponse{Response: &provisioningv1.GetSyncOptionsResponse{
		Fields: []*provisioningv1.Field{
			{Key: "username", Label: "Username", Order: 1, Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Required: true, AutoFill: true, Value: strings.ToLower(acc.GetId())},
			{Key: "role", Label: "Role", Order: 2, Kind: provisioningv1.FieldKind_FIELD_KIND_ENUM, ReadOnly: true, Value: role,
				Choices: []*provisioningv1.Choice{{Value: "User", Label: "User"}, {Value: "Reseller", Label: "Reseller"}}},
			{Key: "parent_account", Label: "Parent Account", Order: 3, Kind: provisioningv1.FieldKind_FIELD_KIND_ACCOUNT_REF, ReadOnly: true, Value: parent},
		},
		Diagnostics: f.diagnostics(acc, nil),
	}}, nil
}

func (f *fakeHost) ValidateSyncOptions(_ context.Context, req *hostv1.ValidateSyncOptionsRequest) (*hostv1.ValidateSyncOptionsResponse, error) {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return nil, err
	}
	r := req.GetRequest()
	values := map[string]string{"username": strings.ToLower(r.GetAccount().GetId()), "api_token": fakeSecret}
	for k, v := range r.GetValues() {
		values[k] = v
	}
	return &hostv1.ValidateSyncOptionsResponse{Response: &provisioningv1.ValidateSyncOptionsResponse{
		Diagnostics: f.diagnostics(r.GetAccount(), r.GetValues()), Values: values,
	}}, nil
}

func (f *fakeHost) sync(acc *provisioningv1.Account, values map[string]string) (*provisioningv1.SyncRecord, bool, error) {
	if err := diag.ToError(f.diagnostics(acc, values)); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.records[acc.GetId()]; ok {
		return r, false, nil
	}
	u := values["username"]
	if u == "" {
		u = strings.ToLower(acc.GetId())
	}
	r := &provisioningv1.SyncRecord{Plugin: "panda", AccountId: acc.GetId(), Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED,
		RemoteId: "ACC-" + strconv.Itoa(1000000+len(f.records)+1), Values: map[string]string{"username": u}}
	f.records[acc.GetId()] = r
	return r, true, nil
}

func (f *fakeHost) Synchronize(_ context.Context, req *hostv1.SynchronizeRequest) (*hostv1.SynchronizeResponse, error) {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return nil, err
	}
	r, created, err := f.sync(req.GetRequest().GetAccount(), req.GetRequest().GetValues())
	if err != nil {
		return nil, err
	}
	updated := f.renamed(req.GetRequest().GetAccount(), created)
	return &hostv1.SynchronizeResponse{Response: &provisioningv1.SynchronizeResponse{Record: r, Created: created, Updated: updated}}, nil
}

// renamed remembers the account's name and tells whether a synchronized
// account came back under another one: the BSS renamed it, and a plugin
// that pushes the change answers updated.
func (f *fakeHost) renamed(acc *provisioningv1.Account, created bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.names == nil {
		f.names = map[string]string{}
	}
	prev, seen := f.names[acc.GetId()]
	f.names[acc.GetId()] = acc.GetName()
	return !created && seen && prev != acc.GetName()
}

func (f *fakeHost) stored(id string) (*provisioningv1.SyncRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.records[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "account %s was never synchronized", id)
	}
	return r, nil
}

func (f *fakeHost) GetSyncStatus(_ context.Context, req *hostv1.GetSyncStatusRequest) (*hostv1.GetSyncStatusResponse, error) {
	r, err := f.stored(req.GetRequest().GetRecord().GetAccountId())
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	ds := f.drift[r.GetAccountId()]
	f.mu.Unlock()
	return &hostv1.GetSyncStatusResponse{Response: &provisioningv1.GetSyncStatusResponse{Record: r, Diagnostics: ds}}, nil
}

func (f *fakeHost) GetSyncRecord(_ context.Context, req *hostv1.GetSyncRecordRequest) (*hostv1.GetSyncRecordResponse, error) {
	r, err := f.stored(req.GetAccountId())
	if err != nil {
		return nil, err
	}
	return &hostv1.GetSyncRecordResponse{Record: r}, nil
}

func (f *fakeHost) ListSyncRecords(_ context.Context, req *hostv1.ListSyncRecordsRequest) (*hostv1.ListSyncRecordsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []*provisioningv1.SyncRecord
	for _, r := range f.records {
		if req.GetStatus() == 0 || r.GetStatus() == req.GetStatus() {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, func(a, b *provisioningv1.SyncRecord) int { return strings.Compare(a.GetAccountId(), b.GetAccountId()) })
	start := 0
	if t := req.GetPageToken(); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(all) {
			return nil, status.Error(codes.InvalidArgument, "bad page_token")
		}
		start = n
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = 100
	}
	end := min(len(all), start+size)
	resp := &hostv1.ListSyncRecordsResponse{Records: all[start:end]}
	if end < len(all) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

// SynchronizeBatch syncs items in order (a real host orders parents first);
// an item whose parent failed in the same request is skipped.
func (f *fakeHost) SynchronizeBatch(req *hostv1.SynchronizeBatchRequest, stream grpc.ServerStreamingServer[hostv1.SynchronizeBatchResponse]) error {
	if err := f.plugin(req.GetPlugin()); err != nil {
		return err
	}
	if len(req.GetItems()) == 0 {
		return status.Error(codes.InvalidArgument, "no items")
	}
	f.mu.Lock()
	f.chunks = append(f.chunks, len(req.GetItems()))
	f.mu.Unlock()
	failed := map[string]bool{}
	for _, it := range req.GetItems() {
		acc := it.GetAccount()
		res := &hostv1.SynchronizeBatchResponse{AccountId: acc.GetId()}
		if failed[acc.GetParentId()] {
			failed[acc.GetId()] = true
			res.Outcome = hostv1.Outcome_OUTCOME_SKIPPED
			res.Error = status.New(codes.FailedPrecondition, "parent "+acc.GetParentId()+" failed").Proto()
		} else if r, created, err := f.sync(acc, it.GetValues()); err != nil {
			failed[acc.GetId()] = true
			res.Outcome = hostv1.Outcome_OUTCOME_FAILED
			res.Error = status.Convert(err).Proto()
		} else {
			res.Outcome, res.Record, res.Created = hostv1.Outcome_OUTCOME_SYNCED, r, created
		}
		if err := stream.Send(res); err != nil {
			return err
		}
	}
	return nil
}

// result is one provctl run.
type result struct {
	code           int
	stdout, stderr string
}

// provctl runs provctl in-process with args.
func provctl(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

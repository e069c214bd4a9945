package conformance_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/server"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/conformance"
	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/examples/ledger"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// hostClient serves the HostService of a real host, holding the ledger in
// process with a memory store, over an in-memory connection; it returns the
// host's client and the plugin's (both through the host).
func hostClient(t *testing.T, db string) (hostv1.HostServiceClient, provisioningv1.ProvisioningAdapterClient) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	st := store.NewMemory()
	a := ledger.New(quiet)
	t.Cleanup(func() { _ = a.Close() })
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: ledger.Name, Settings: map[string]string{ledger.SettingDatabase: db}}}},
		host.WithLogger(quiet), host.WithStore(st), host.WithMetrics(prometheus.NewRegistry()), host.WithInProcessPlugin(ledger.Name, a))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	hostv1.RegisterHostServiceServer(gs, server.New(h, st, server.WithLogger(quiet)))
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Close(ctx)
	})
	c, err := h.Plugin(ledger.Name)
	if err != nil {
		t.Fatal(err)
	}
	return hostv1.NewHostServiceClient(conn), c
}

// TestHostFailedRecords runs the suite with the host in the loop: the
// ledger, loaded by a real host, and the host's HostService, which must
// store the ledger's refusals as FAILED records.
func TestHostFailedRecords(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ledger.db")
	hc, pc := hostClient(t, db)
	rep, err := conformance.Check(t.Context(), pc, conformance.Config{
		Configured: true, // by the host, from its catalog entry
		Fixtures:   ledgerFixtures(),
		StateFunc:  dbState(db),
		Repeat:     3,
		Host:       hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := rep.Result("host.failed-records"); r.Status != conformance.Pass || rep.Failed() {
		var b strings.Builder
		_ = rep.WriteText(&b)
		t.Errorf("host.failed-records is %s, want PASS, and nothing fails:\n%s", r.Status, b.String())
	}
}

// fakeHost is the part of a host the check reads, over the ledger: it
// stores every answer and, unless forgetful, every refusal as a FAILED
// record. It tests the check, not a host.
type fakeHost struct {
	plugin    provisioningv1.ProvisioningAdapterClient
	forgetful bool // drops failures, as a host that stores successes only
	mu        sync.Mutex
	records   map[string]*provisioningv1.SyncRecord
}

func (f *fakeHost) Synchronize(ctx context.Context, in *hostv1.SynchronizeRequest, _ ...grpc.CallOption) (*hostv1.SynchronizeResponse, error) {
	resp, err := f.plugin.Synchronize(ctx, in.GetRequest())
	f.mu.Lock()
	defer f.mu.Unlock()
	id := in.GetRequest().GetAccount().GetId()
	switch {
	case err == nil:
		f.records[id] = resp.GetRecord()
	case !f.forgetful:
		d := diag.Parse(err)
		f.records[id] = &provisioningv1.SyncRecord{Plugin: in.GetPlugin(), AccountId: id, Status: provisioningv1.SyncStatus_SYNC_STATUS_FAILED, ErrorReason: d.Reason, Message: d.Message}
	}
	if err != nil {
		return nil, err
	}
	return &hostv1.SynchronizeResponse{Response: resp}, nil
}

func (f *fakeHost) GetSyncRecord(_ context.Context, in *hostv1.GetSyncRecordRequest, _ ...grpc.CallOption) (*hostv1.GetSyncRecordResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[in.GetAccountId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no record of %q", in.GetAccountId())
	}
	return &hostv1.GetSyncRecordResponse{Record: rec}, nil
}

func (f *fakeHost) ListSyncRecords(_ context.Context, in *hostv1.ListSyncRecordsRequest, _ ...grpc.CallOption) (*hostv1.ListSyncRecordsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &hostv1.ListSyncRecordsResponse{}
	for _, r := range f.records {
		if r.GetStatus() == in.GetStatus() {
			resp.Records = append(resp.Records, r)
		}
	}
	return resp, nil
}

func TestHostFailedRecordsCheck(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]conformance.Status{"stores failures": conformance.Pass, "forgets failures": conformance.Fail} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, cfg := setup(t)
			c := plugintest.InProcess(t, a)
			cfg.Host = &fakeHost{plugin: c, forgetful: want == conformance.Fail, records: map[string]*provisioningv1.SyncRecord{}}
			cfg.Skip = []string{"synchronize.concurrent", "deadline.short", "cancel.stops-work"}
			rep, err := conformance.Check(t.Context(), c, cfg)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := rep.Result("host.failed-records")
			if diff := cmp.Diff(want, r.Status); diff != "" {
				t.Errorf("host.failed-records (-want +got):\n%s\n%s", diff, r.Message)
			}
		})
	}
}

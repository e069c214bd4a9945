package host_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// sloppyAdapter answers records with the wrong keys and no UpdatedAt, which
// the host must fix before storing them.
type sloppyAdapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
}

func (sloppyAdapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{Name: "sloppy", Version: "1.0.0"}, nil
}

func (sloppyAdapter) Configure(context.Context, *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	return &provisioningv1.ConfigureResponse{}, nil
}

func (sloppyAdapter) Synchronize(_ context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	return &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{
		Plugin: "other", AccountId: "other", Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING, RemoteId: "R-" + req.GetAccount().GetId(),
	}}, nil
}

func (sloppyAdapter) GetSyncStatus(_ context.Context, req *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
	return &provisioningv1.GetSyncStatusResponse{Record: &provisioningv1.SyncRecord{
		Plugin: "other", AccountId: "other", Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: req.GetRecord().GetRemoteId(),
	}}, nil
}

// brokenStore fails every write.
type brokenStore struct{ store.Store }

func (brokenStore) Put(context.Context, *provisioningv1.SyncRecord, *provisioningv1.Account) error {
	return context.DeadlineExceeded
}

// TestRecordsStoreWhatPluginsAnswer checks the one call-then-persist path of
// every operation: records keyed by the host and stamped with UpdatedAt, and
// a failed write answered as STORE_UNAVAILABLE in the host's domain.
func TestRecordsStoreWhatPluginsAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	acct := &provisioningv1.Account{Id: "A1", Name: "Acme"}
	tests := map[string]struct {
		call       func(*host.Records) (*provisioningv1.SyncRecord, error)
		stored     *provisioningv1.SyncRecord // in the store before the call
		broken     bool
		wantStatus provisioningv1.SyncStatus
		wantReason string
	}{
		"Synchronize": {
			call: func(r *host.Records) (*provisioningv1.SyncRecord, error) {
				resp, err := r.Synchronize(ctx, "sloppy", &provisioningv1.SynchronizeRequest{Account: acct})
				return resp.GetRecord(), err
			},
			wantStatus: provisioningv1.SyncStatus_SYNC_STATUS_PENDING,
		},
		"GetSyncStatus (as the settling loop calls it)": {
			call: func(r *host.Records) (*provisioningv1.SyncRecord, error) {
				resp, err := r.GetSyncStatus(ctx, "sloppy", &provisioningv1.GetSyncStatusRequest{
					Record: &provisioningv1.SyncRecord{AccountId: "A1"},
				})
				return resp.GetRecord(), err
			},
			stored:     &provisioningv1.SyncRecord{Plugin: "sloppy", AccountId: "A1", Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING, RemoteId: "R-A1"},
			wantStatus: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED,
		},
		"Synchronize with a failing store": {
			call: func(r *host.Records) (*provisioningv1.SyncRecord, error) {
				resp, err := r.Synchronize(ctx, "sloppy", &provisioningv1.SynchronizeRequest{Account: acct})
				return resp.GetRecord(), err
			},
			broken:     true,
			wantReason: diag.ReasonStoreUnavailable,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: "sloppy"}}}, host.WithInProcessPlugin("sloppy", sloppyAdapter{}), host.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer h.Close(ctx)
			var st store.Store = store.NewMemory()
			if tc.stored != nil {
				if err := st.Put(ctx, tc.stored, acct); err != nil {
					t.Fatal(err)
				}
			}
			if tc.broken {
				st = brokenStore{st}
			}
			rec, err := tc.call(host.NewRecords(h, st, slog.New(slog.DiscardHandler)))
			if tc.wantReason != "" {
				d := diag.Parse(err)
				if d.Code != codes.Unavailable || d.Reason != tc.wantReason {
					t.Fatalf("error = %v, want UNAVAILABLE %s", err, tc.wantReason)
				}
				if got := errorDomain(err); got != diag.HostDomain {
					t.Errorf("ErrorInfo domain = %q, want %q", got, diag.HostDomain)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.GetUpdatedAt() == nil {
				t.Error("answered record has no UpdatedAt")
			}
			e, err := st.Get(ctx, "sloppy", "A1")
			if err != nil {
				t.Fatalf("stored under the host's keys: %v", err)
			}
			want := &provisioningv1.SyncRecord{Plugin: "sloppy", AccountId: "A1", Status: tc.wantStatus, RemoteId: "R-A1", UpdatedAt: rec.GetUpdatedAt()}
			if diff := cmp.Diff(want, e.Record, protocmp.Transform()); diff != "" {
				t.Errorf("stored record (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(acct, e.Account, protocmp.Transform()); diff != "" {
				t.Errorf("stored account (-want +got):\n%s", diff)
			}
		})
	}
}

func errorDomain(err error) string {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetDomain()
		}
	}
	return ""
}

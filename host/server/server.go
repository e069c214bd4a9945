package server

import (
	"context"
	"log/slog"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Option configures [New].
type Option func(*options)

type options struct {
	logger             *slog.Logger
	defaultConcurrency int
	maxConcurrency     int
	drain              context.Context
}

// WithLogger sets the logger for store failures and batch summaries.
// Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithDrain makes running SynchronizeBatch calls stop starting items once
// ctx is done (the daemon got SIGTERM): the items in flight finish, the
// others are answered SKIPPED with UNAVAILABLE, reason HOST_SHUTTING_DOWN,
// so the grace period is spent finishing work, not starting more.
func WithDrain(ctx context.Context) Option { return func(o *options) { o.drain = ctx } }

// WithBatchConcurrency sets SynchronizeBatch's concurrency when the request
// leaves it 0 (default 8) and its ceiling (default 64).
func WithBatchConcurrency(def, ceiling int) Option {
	return func(o *options) { o.defaultConcurrency, o.maxConcurrency = def, ceiling }
}

// server implements hostv1.HostServiceServer: a translation between the
// proto API and [host.Records], which owns the calls that read or write sync
// records.
type server struct {
	hostv1.UnimplementedHostServiceServer

	h    *host.Host
	recs *host.Records
	opts options
}

var _ hostv1.HostServiceServer = (*server)(nil)

// New returns the HostService implementation over h and st. st is the
// system of record for sync state; pass the same store to
// [host.WithStore] so PENDING records settle in the background.
func New(h *host.Host, st store.Store, opts ...Option) hostv1.HostServiceServer {
	o := options{logger: slog.Default(), defaultConcurrency: 8, maxConcurrency: 64, drain: context.Background()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.defaultConcurrency <= 0 {
		o.defaultConcurrency = 8
	}
	if o.maxConcurrency < o.defaultConcurrency {
		o.maxConcurrency = o.defaultConcurrency
	}
	return &server{h: h, recs: host.NewRecords(h, st, o.logger), opts: o}
}

// ListPlugins lists the catalog and each plugin's process state.
func (s *server) ListPlugins(context.Context, *hostv1.ListPluginsRequest) (*hostv1.ListPluginsResponse, error) {
	return &hostv1.ListPluginsResponse{Plugins: s.h.Plugins()}, nil
}

// GetPluginInfo calls the plugin's GetPluginInfo.
func (s *server) GetPluginInfo(ctx context.Context, req *hostv1.GetPluginInfoRequest) (*hostv1.GetPluginInfoResponse, error) {
	c, err := s.recs.Plugin(req.GetPlugin())
	if err != nil {
		return nil, err
	}
	resp, err := c.GetPluginInfo(ctx, orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.GetPluginInfoResponse{Response: resp}, nil
}

// Probe calls the plugin's Probe.
func (s *server) Probe(ctx context.Context, req *hostv1.ProbeRequest) (*hostv1.ProbeResponse, error) {
	c, err := s.recs.Plugin(req.GetPlugin())
	if err != nil {
		return nil, err
	}
	resp, err := c.Probe(ctx, orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.ProbeResponse{Response: resp}, nil
}

// GetSyncOptions calls the plugin's GetSyncOptions with ancestors and the
// account's record filled from the store when the request has none.
func (s *server) GetSyncOptions(ctx context.Context, req *hostv1.GetSyncOptionsRequest) (*hostv1.GetSyncOptionsResponse, error) {
	resp, err := s.recs.GetSyncOptions(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.GetSyncOptionsResponse{Response: resp}, nil
}

// ValidateSyncOptions calls the plugin's ValidateSyncOptions, filled as
// GetSyncOptions.
func (s *server) ValidateSyncOptions(ctx context.Context, req *hostv1.ValidateSyncOptionsRequest) (*hostv1.ValidateSyncOptionsResponse, error) {
	resp, err := s.recs.ValidateSyncOptions(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.ValidateSyncOptionsResponse{Response: resp}, nil
}

// Synchronize calls the plugin's Synchronize and stores the record durably
// before answering.
func (s *server) Synchronize(ctx context.Context, req *hostv1.SynchronizeRequest) (*hostv1.SynchronizeResponse, error) {
	resp, err := s.recs.Synchronize(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.SynchronizeResponse{Response: resp}, nil
}

// GetSyncStatus refreshes a record through the plugin and stores the result.
func (s *server) GetSyncStatus(ctx context.Context, req *hostv1.GetSyncStatusRequest) (*hostv1.GetSyncStatusResponse, error) {
	resp, err := s.recs.GetSyncStatus(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.GetSyncStatusResponse{Response: resp}, nil
}

// GetSyncRecord reads one stored record.
func (s *server) GetSyncRecord(ctx context.Context, req *hostv1.GetSyncRecordRequest) (*hostv1.GetSyncRecordResponse, error) {
	if req.GetPlugin() == "" || req.GetAccountId() == "" {
		return nil, diag.InvalidArgument("account_id", diag.CodeRequired, "plugin and account_id are required")
	}
	e, err := s.recs.Get(ctx, req.GetPlugin(), req.GetAccountId())
	if err != nil {
		return nil, err
	}
	return &hostv1.GetSyncRecordResponse{Record: e.Record, Account: e.Account}, nil
}

// ListSyncRecords pages through stored records.
func (s *server) ListSyncRecords(ctx context.Context, req *hostv1.ListSyncRecordsRequest) (*hostv1.ListSyncRecordsResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, diag.InvalidArgument("page_size", diag.CodeInvalidValue, "page_size must not be negative")
	}
	p, err := s.recs.List(ctx, store.Query{
		Plugin: req.GetPlugin(), Status: req.GetStatus(),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	out := &hostv1.ListSyncRecordsResponse{NextPageToken: p.NextPageToken, Records: make([]*provisioningv1.SyncRecord, 0, len(p.Entries))}
	for _, e := range p.Entries {
		out.Records = append(out.Records, e.Record)
	}
	return out, nil
}

// orNew returns m, or a new empty message when m is nil.
func orNew[T any, P interface{ *T }](m P) P {
	if m == nil {
		return new(T)
	}
	return m
}

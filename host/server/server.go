package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

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
}

// WithLogger sets the logger for store failures and batch summaries.
// Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithBatchConcurrency sets SynchronizeBatch's concurrency when the request
// leaves it 0 (default 8) and its ceiling (default 64).
func WithBatchConcurrency(def, max int) Option {
	return func(o *options) { o.defaultConcurrency, o.maxConcurrency = def, max }
}

// Server implements hostv1.HostServiceServer.
type Server struct {
	hostv1.UnimplementedHostServiceServer

	h    *host.Host
	st   store.Store
	opts options
}

var _ hostv1.HostServiceServer = (*Server)(nil)

// New returns the HostService implementation over h and st. st is the
// system of record for sync state; pass the same store to
// [host.WithStore] so PENDING records settle in the background.
func New(h *host.Host, st store.Store, opts ...Option) hostv1.HostServiceServer {
	o := options{logger: slog.Default(), defaultConcurrency: 8, maxConcurrency: 64}
	for _, opt := range opts {
		opt(&o)
	}
	if o.defaultConcurrency <= 0 {
		o.defaultConcurrency = 8
	}
	if o.maxConcurrency < o.defaultConcurrency {
		o.maxConcurrency = o.defaultConcurrency
	}
	return &Server{h: h, st: st, opts: o}
}

// plugin resolves the plugin named in a request.
func (s *Server) plugin(name string) (provisioningv1.ProvisioningAdapterClient, error) {
	if name == "" {
		return nil, diag.InvalidArgument("plugin", diag.CodeRequired, "plugin is required")
	}
	c, err := s.h.Plugin(name)
	if errors.Is(err, host.ErrUnknownPlugin) {
		return nil, status.Errorf(codes.NotFound, "no plugin %q in the catalog (see ListPlugins)", name)
	}
	return c, err
}

// forAccount is the prelude of every RPC about one account: resolve the
// plugin, require the account, and fill *anc and *rec from the store when the
// caller sent none.
func (s *Server) forAccount(ctx context.Context, plugin string, acct *provisioningv1.Account, anc *[]*provisioningv1.Ancestor, rec **provisioningv1.SyncRecord) (provisioningv1.ProvisioningAdapterClient, error) {
	c, err := s.plugin(plugin)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		return nil, diag.InvalidArgument("request.account", diag.CodeRequired, "request.account is required")
	}
	if *anc, *rec, err = s.fill(ctx, plugin, acct, *anc, *rec); err != nil {
		return nil, err
	}
	return c, nil
}

// ListPlugins lists the catalog and each plugin's process state.
func (s *Server) ListPlugins(context.Context, *hostv1.ListPluginsRequest) (*hostv1.ListPluginsResponse, error) {
	return &hostv1.ListPluginsResponse{Plugins: s.h.Plugins()}, nil
}

// GetPluginInfo calls the plugin's GetPluginInfo.
func (s *Server) GetPluginInfo(ctx context.Context, req *hostv1.GetPluginInfoRequest) (*hostv1.GetPluginInfoResponse, error) {
	c, err := s.plugin(req.GetPlugin())
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
func (s *Server) Probe(ctx context.Context, req *hostv1.ProbeRequest) (*hostv1.ProbeResponse, error) {
	c, err := s.plugin(req.GetPlugin())
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
func (s *Server) GetSyncOptions(ctx context.Context, req *hostv1.GetSyncOptionsRequest) (*hostv1.GetSyncOptionsResponse, error) {
	r := orNew(req.GetRequest())
	c, err := s.forAccount(ctx, req.GetPlugin(), r.GetAccount(), &r.Ancestors, &r.Record)
	if err != nil {
		return nil, err
	}
	resp, err := c.GetSyncOptions(ctx, r)
	if err != nil {
		return nil, err
	}
	return &hostv1.GetSyncOptionsResponse{Response: resp}, nil
}

// ValidateSyncOptions calls the plugin's ValidateSyncOptions, filled as
// GetSyncOptions.
func (s *Server) ValidateSyncOptions(ctx context.Context, req *hostv1.ValidateSyncOptionsRequest) (*hostv1.ValidateSyncOptionsResponse, error) {
	r := orNew(req.GetRequest())
	c, err := s.forAccount(ctx, req.GetPlugin(), r.GetAccount(), &r.Ancestors, &r.Record)
	if err != nil {
		return nil, err
	}
	resp, err := c.ValidateSyncOptions(ctx, r)
	if err != nil {
		return nil, err
	}
	return &hostv1.ValidateSyncOptionsResponse{Response: resp}, nil
}

// Synchronize calls the plugin's Synchronize and stores the record durably
// before answering.
func (s *Server) Synchronize(ctx context.Context, req *hostv1.SynchronizeRequest) (*hostv1.SynchronizeResponse, error) {
	r := orNew(req.GetRequest())
	c, err := s.forAccount(ctx, req.GetPlugin(), r.GetAccount(), &r.Ancestors, &r.Record)
	if err != nil {
		return nil, err
	}
	resp, err := s.synchronize(ctx, c, req.GetPlugin(), r)
	if err != nil {
		return nil, err
	}
	return &hostv1.SynchronizeResponse{Response: resp}, nil
}

// synchronize is the one Synchronize path of the RPC and the batch: call,
// then store before anyone sees the answer.
func (s *Server) synchronize(ctx context.Context, c provisioningv1.ProvisioningAdapterClient, plugin string, r *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	resp, err := c.Synchronize(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.GetRecord() == nil {
		return nil, status.Errorf(codes.Internal, "plugin %q answered Synchronize without a record", plugin)
	}
	if err := s.put(ctx, plugin, r.GetAccount().GetId(), resp.GetRecord(), r.GetAccount()); err != nil {
		return nil, err
	}
	return resp, nil
}

// put normalizes rec (the host, not the plugin, decides its keys) and
// stores it. A failure is UNAVAILABLE: the remote work may have happened,
// and retrying the idempotent call is the fix.
func (s *Server) put(ctx context.Context, plugin, accountID string, rec *provisioningv1.SyncRecord, acct *provisioningv1.Account) error {
	rec.Plugin = plugin
	rec.AccountId = accountID
	if rec.GetUpdatedAt() == nil {
		rec.UpdatedAt = timestamppb.Now()
	}
	if err := s.st.Put(context.WithoutCancel(ctx), rec, acct); err != nil {
		s.opts.logger.Error("store sync record", "plugin", plugin, "account_id", accountID, "error", err)
		return diag.Unavailable("STORE_UNAVAILABLE", "the sync record could not be stored; retry (the call is idempotent)", time.Second)
	}
	return nil
}

// fill returns the ancestors and record to send: the caller's when given,
// else the store's.
func (s *Server) fill(ctx context.Context, plugin string, acct *provisioningv1.Account, anc []*provisioningv1.Ancestor, rec *provisioningv1.SyncRecord) ([]*provisioningv1.Ancestor, *provisioningv1.SyncRecord, error) {
	var err error
	if len(anc) == 0 && acct.GetParentId() != "" {
		if anc, err = store.Ancestors(ctx, s.st, plugin, acct); err != nil {
			return nil, nil, s.storeError(err)
		}
	}
	if rec == nil && acct.GetId() != "" {
		e, err := s.st.Get(ctx, plugin, acct.GetId())
		switch {
		case err == nil:
			rec = e.Record
		case !errors.Is(err, store.ErrNotFound):
			return nil, nil, s.storeError(err)
		}
	}
	return anc, rec, nil
}

func (s *Server) storeError(err error) error {
	s.opts.logger.Error("read sync records", "error", err)
	return diag.Unavailable("STORE_UNAVAILABLE", "the sync-record store cannot be read; retry", time.Second)
}

// GetSyncStatus refreshes a record through the plugin and stores the result.
func (s *Server) GetSyncStatus(ctx context.Context, req *hostv1.GetSyncStatusRequest) (*hostv1.GetSyncStatusResponse, error) {
	c, err := s.plugin(req.GetPlugin())
	if err != nil {
		return nil, err
	}
	r := orNew(req.GetRequest())
	id := r.GetRecord().GetAccountId()
	if id == "" {
		id = r.GetAccount().GetId()
	}
	if id == "" {
		return nil, diag.InvalidArgument("request.record.account_id", diag.CodeRequired, "request.record.account_id is required")
	}
	// A record with nothing but its account id means "the stored one".
	bare := r.GetRecord() == nil || (r.GetRecord().GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED && r.GetRecord().GetRemoteId() == "")
	if bare || r.GetAccount() == nil {
		e, err := s.st.Get(ctx, req.GetPlugin(), id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if bare {
				return nil, status.Errorf(codes.NotFound, "no sync record of %q for account %q: Synchronize it first", req.GetPlugin(), id)
			}
		case err != nil:
			return nil, s.storeError(err)
		default:
			if bare {
				r.Record = e.Record
			}
			if r.Account == nil {
				r.Account = e.Account
			}
		}
	}
	r.Record.AccountId, r.Record.Plugin = id, req.GetPlugin()
	resp, err := c.GetSyncStatus(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.GetRecord() == nil {
		return nil, status.Errorf(codes.Internal, "plugin %q answered GetSyncStatus without a record", req.GetPlugin())
	}
	if err := s.put(ctx, req.GetPlugin(), id, resp.GetRecord(), r.GetAccount()); err != nil {
		return nil, err
	}
	return &hostv1.GetSyncStatusResponse{Response: resp}, nil
}

// GetSyncRecord reads one stored record.
func (s *Server) GetSyncRecord(ctx context.Context, req *hostv1.GetSyncRecordRequest) (*hostv1.GetSyncRecordResponse, error) {
	if req.GetPlugin() == "" || req.GetAccountId() == "" {
		return nil, diag.InvalidArgument("account_id", diag.CodeRequired, "plugin and account_id are required")
	}
	e, err := s.st.Get(ctx, req.GetPlugin(), req.GetAccountId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "account %q was never synchronized with %q", req.GetAccountId(), req.GetPlugin())
	}
	if err != nil {
		return nil, s.storeError(err)
	}
	return &hostv1.GetSyncRecordResponse{Record: e.Record, Account: e.Account}, nil
}

// ListSyncRecords pages through stored records.
func (s *Server) ListSyncRecords(ctx context.Context, req *hostv1.ListSyncRecordsRequest) (*hostv1.ListSyncRecordsResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, diag.InvalidArgument("page_size", diag.CodeInvalidValue, "page_size must not be negative")
	}
	p, err := s.st.List(ctx, store.Query{
		Plugin: req.GetPlugin(), Status: req.GetStatus(),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	})
	if errors.Is(err, store.ErrBadPageToken) {
		return nil, diag.InvalidArgument("page_token", diag.CodeInvalidValue, "page_token is not from a previous ListSyncRecords with the same filter")
	}
	if err != nil {
		return nil, s.storeError(err)
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

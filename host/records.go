package host

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Records is the one owner of sync records: every operation that calls a
// plugin about an account and keeps what it answers goes through it, so that
// every stored record is keyed, stamped and written the same way. The gRPC
// server (host/server) translates requests into its methods; the host's
// background settling uses it too.
//
// Each method resolves the plugin, fills what the caller left out (the
// account's ancestors and previous record) from the store, calls the plugin
// and, for operations that change sync state, stores the record durably
// before returning it. Its errors are gRPC status errors the host API answers
// as they are: INVALID_ARGUMENT and NOT_FOUND for a bad request, UNAVAILABLE
// with reason STORE_UNAVAILABLE when the store fails, else the plugin's.
//
// A new operation on records (deleting an account, a subscription record,
// reconciling) is a method here that calls the plugin through
// callThenPersist. Records is safe for concurrent use.
type Records struct {
	h   *Host
	st  store.Store
	log *slog.Logger
}

// NewRecords returns the records of the plugins of h, kept in st. log
// receives store failures (never a setting or a record's private bytes); nil
// means slog.Default().
func NewRecords(h *Host, st store.Store, log *slog.Logger) *Records {
	if log == nil {
		log = slog.Default()
	}
	return &Records{h: h, st: st, log: log}
}

// Plugin returns the client of the plugin named in a request: INVALID_ARGUMENT
// when name is empty, NOT_FOUND when the catalog has no such plugin.
func (r *Records) Plugin(name string) (provisioningv1.ProvisioningAdapterClient, error) {
	if name == "" {
		return nil, diag.InvalidArgument("plugin", diag.CodeRequired, "plugin is required")
	}
	c, err := r.h.Plugin(name)
	if errors.Is(err, ErrUnknownPlugin) {
		return nil, status.Errorf(codes.NotFound, "no plugin %q in the catalog (see ListPlugins)", name)
	}
	return c, err
}

// GetSyncOptions calls the plugin's GetSyncOptions with the ancestors and the
// account's record filled from the store when req has none.
func (r *Records) GetSyncOptions(ctx context.Context, plugin string, req *provisioningv1.GetSyncOptionsRequest) (*provisioningv1.GetSyncOptionsResponse, error) {
	c, err := r.forAccount(ctx, plugin, req.GetAccount(), &req.Ancestors, &req.Record)
	if err != nil {
		return nil, err
	}
	return c.GetSyncOptions(ctx, req)
}

// ValidateSyncOptions calls the plugin's ValidateSyncOptions, filled as
// [Records.GetSyncOptions].
func (r *Records) ValidateSyncOptions(ctx context.Context, plugin string, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
	c, err := r.forAccount(ctx, plugin, req.GetAccount(), &req.Ancestors, &req.Record)
	if err != nil {
		return nil, err
	}
	return c.ValidateSyncOptions(ctx, req)
}

// Synchronize calls the plugin's Synchronize, with the ancestors and the
// account's previous record filled from the store when req has none, and
// stores the record it answers before returning. A batch calls it once per
// account, with the ancestors it built.
func (r *Records) Synchronize(ctx context.Context, plugin string, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	c, err := r.forAccount(ctx, plugin, req.GetAccount(), &req.Ancestors, &req.Record)
	if err != nil {
		return nil, err
	}
	return callThenPersist(ctx, r, plugin, req.GetAccount().GetId(), req.GetAccount(), "Synchronize",
		func() (*provisioningv1.SynchronizeResponse, error) { return c.Synchronize(ctx, req) })
}

// GetSyncStatus refreshes an account's record through the plugin and stores
// the answer. A request whose record holds nothing but the account id (or
// that has no record, only an account) refreshes the stored record: NOT_FOUND
// when there is none. A missing account is filled from the store.
func (r *Records) GetSyncStatus(ctx context.Context, plugin string, req *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
	c, err := r.Plugin(plugin)
	if err != nil {
		return nil, err
	}
	id := req.GetRecord().GetAccountId()
	if id == "" {
		id = req.GetAccount().GetId()
	}
	if id == "" {
		return nil, diag.InvalidArgument("request.record.account_id", diag.CodeRequired, "request.record.account_id is required")
	}
	bare := req.GetRecord() == nil || (req.GetRecord().GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED && req.GetRecord().GetRemoteId() == "")
	if bare || req.GetAccount() == nil {
		e, err := r.st.Get(ctx, plugin, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if bare {
				return nil, status.Errorf(codes.NotFound, "no sync record of %q for account %q: Synchronize it first", plugin, id)
			}
		case err != nil:
			return nil, r.readError(err)
		default:
			if bare {
				req.Record = e.Record
			}
			if req.Account == nil {
				req.Account = e.Account
			}
		}
	}
	req.Record.AccountId, req.Record.Plugin = id, plugin
	return callThenPersist(ctx, r, plugin, id, req.GetAccount(), "GetSyncStatus",
		func() (*provisioningv1.GetSyncStatusResponse, error) { return c.GetSyncStatus(ctx, req) })
}

// Get returns the stored record of an account: NOT_FOUND when it was never
// synchronized.
func (r *Records) Get(ctx context.Context, plugin, accountID string) (store.Entry, error) {
	e, err := r.st.Get(ctx, plugin, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Entry{}, status.Errorf(codes.NotFound, "account %q was never synchronized with %q", accountID, plugin)
	}
	if err != nil {
		return store.Entry{}, r.readError(err)
	}
	return e, nil
}

// List pages through stored records: INVALID_ARGUMENT on the field
// page_token for a token this listing did not issue.
func (r *Records) List(ctx context.Context, q store.Query) (store.Page, error) {
	p, err := r.st.List(ctx, q)
	if errors.Is(err, store.ErrBadPageToken) {
		return store.Page{}, diag.InvalidArgument("page_token", diag.CodeInvalidValue, "page_token is not from a previous ListSyncRecords with the same filter")
	}
	if err != nil {
		return store.Page{}, r.readError(err)
	}
	return p, nil
}

// settlePending refreshes, once, every PENDING record of plugin through
// [Records.GetSyncStatus] and reports how many it stored. Failures are
// logged on log and skipped: the next round retries them.
func (r *Records) settlePending(ctx context.Context, plugin string, log *slog.Logger) int {
	n := 0
	q := store.Query{Plugin: plugin, Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING, PageSize: 100}
	for {
		page, err := r.st.List(ctx, q)
		if err != nil {
			log.Warn("list pending records", "error", err)
			return n
		}
		for _, e := range page.Entries {
			resp, err := r.GetSyncStatus(ctx, plugin, &provisioningv1.GetSyncStatusRequest{Record: e.Record, Account: e.Account})
			if err != nil {
				if ctx.Err() != nil {
					return n
				}
				log.Warn("refresh pending record", "account_id", e.Record.GetAccountId(), "error", err)
				continue
			}
			n++
			if rec := resp.GetRecord(); rec.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_PENDING {
				log.Info("pending record settled", "account_id", rec.GetAccountId(), "status", rec.GetStatus().String())
			}
		}
		if page.NextPageToken == "" {
			return n
		}
		q.PageToken = page.NextPageToken
	}
}

// forAccount is the prelude of every call about one account: resolve the
// plugin, require the account, and fill *anc and *rec from the store when
// the caller sent none.
func (r *Records) forAccount(ctx context.Context, plugin string, acct *provisioningv1.Account, anc *[]*provisioningv1.Ancestor, rec **provisioningv1.SyncRecord) (provisioningv1.ProvisioningAdapterClient, error) {
	c, err := r.Plugin(plugin)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		return nil, diag.InvalidArgument("request.account", diag.CodeRequired, "request.account is required")
	}
	if len(*anc) == 0 && acct.GetParentId() != "" {
		if *anc, err = store.Ancestors(ctx, r.st, plugin, acct); err != nil {
			return nil, r.readError(err)
		}
	}
	if *rec == nil && acct.GetId() != "" {
		e, err := r.st.Get(ctx, plugin, acct.GetId())
		switch {
		case err == nil:
			*rec = e.Record
		case !errors.Is(err, store.ErrNotFound):
			return nil, r.readError(err)
		}
	}
	return c, nil
}

// recordAnswer is a plugin's answer that carries the account's record.
type recordAnswer interface {
	GetRecord() *provisioningv1.SyncRecord
}

// callThenPersist is the one path by which a plugin's answer becomes a
// stored record: call the plugin, then store the record it answered (keyed
// by the host, not the plugin, and stamped with UpdatedAt when the plugin
// left it empty) with the account snapshot acct, before anyone sees the
// answer. acct nil keeps the stored snapshot. A store failure is UNAVAILABLE
// STORE_UNAVAILABLE: the remote work may have happened, and retrying the
// idempotent call is the fix. The write is not cancelled with ctx, so a
// caller that gives up does not leave the remote and the store apart.
func callThenPersist[Resp recordAnswer](ctx context.Context, r *Records, plugin, accountID string, acct *provisioningv1.Account, rpc string, call func() (Resp, error)) (Resp, error) {
	var zero Resp
	resp, err := call()
	if err != nil {
		return zero, err
	}
	rec := resp.GetRecord()
	if rec == nil {
		return zero, status.Errorf(codes.Internal, "plugin %q answered %s without a record", plugin, rpc)
	}
	rec.Plugin, rec.AccountId = plugin, accountID
	if rec.GetUpdatedAt() == nil {
		rec.UpdatedAt = timestamppb.Now()
	}
	if err := r.st.Put(context.WithoutCancel(ctx), rec, acct); err != nil {
		r.log.Error("store sync record", "plugin", plugin, "account_id", accountID, "error", err)
		if errors.Is(err, store.ErrDamaged) {
			return zero, errStoreDamaged
		}
		return zero, diag.Host.Unavailable(diag.ReasonStoreUnavailable, "the sync record could not be stored; retry (the call is idempotent)", time.Second)
	}
	return resp, nil
}

// readError logs a failed store read and answers STORE_UNAVAILABLE.
func (r *Records) readError(err error) error {
	r.log.Error("read sync records", "error", err)
	if errors.Is(err, store.ErrDamaged) {
		return errStoreDamaged
	}
	return diag.Host.Unavailable(diag.ReasonStoreUnavailable, "the sync-record store cannot be read; retry", time.Second)
}

// errStoreDamaged answers calls once the store's database is corrupt or was
// deleted: DATA_LOSS, since retrying cannot help until an operator restores
// it (the daemon's log and health check name the file).
var errStoreDamaged = status.Error(codes.DataLoss, "the sync-record database is damaged or was deleted (the daemon's log names the file): an operator must restore it; retrying will not help")

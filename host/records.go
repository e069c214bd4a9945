package host

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
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
// Each method resolves the plugin, fills the account's ancestors and
// previous record from the store, calls the plugin and, for operations that
// change sync state, stores the record durably before returning it. Its
// errors are gRPC status errors the host API answers as they are:
// INVALID_ARGUMENT and NOT_FOUND for a bad request, UNAVAILABLE with reason
// STORE_UNAVAILABLE when the store fails, else the plugin's.
//
// The store, not the caller, is the truth about records. A caller may still
// send ancestors or records (older clients do): each is compared with the
// stored one and, when it contradicts it, refused with INVALID_ARGUMENT
// RECORD_MISMATCH (see checkRecord for what "contradicts" means); the plugin
// always gets the stored ones. Two more rules keep records honest:
//
//   - A definite Synchronize failure (INVALID_ARGUMENT, FAILED_PRECONDITION,
//     ALREADY_EXISTS from the plugin) is stored as a FAILED record with
//     error_reason (the ErrorInfo reason, or the code's name when the plugin
//     sent none), message and time, keeping the remote_id of the previous
//     record unless it was DELETED. A transient failure leaves the stored
//     record as it was.
//   - A record whose remote_id another live record of the plugin holds is
//     never stored: the call answers FAILED_PRECONDITION, reason
//     REMOTE_ID_TAKEN (domain provisioning.host.v1), and the stored record
//     stays as it was. The remote objects the plugin named belong to another
//     BSS account; retrying cannot help, a person must look (see
//     [store.ErrRemoteIDTaken]).
//
// Calls that read an account's record, call the plugin and store the answer
// hold the account's lock throughout (see lockAccount): in this process, and
// across daemons when the store is shared (PostgreSQL).
//
// A new operation on records (deleting an account, a subscription record,
// reconciling) is a method here that calls the plugin through
// callThenPersist. Records is safe for concurrent use.
type Records struct {
	h     *Host
	st    store.Store
	locks *locker
	log   *slog.Logger
}

// NewRecords returns the records of the plugins of h, kept in st. log
// receives store failures (never a setting or a record's private bytes); nil
// means slog.Default().
func NewRecords(h *Host, st store.Store, log *slog.Logger) *Records {
	if log == nil {
		log = slog.Default()
	}
	return &Records{h: h, st: measure(st, h.metrics), locks: h.locks.with(st), log: log}
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
	unlock, err := r.lockAccount(ctx, plugin, req.GetAccount().GetId())
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := r.forAccount(ctx, plugin, req.GetAccount(), &req.Ancestors, &req.Record)
	if err != nil {
		return nil, err
	}
	id := req.GetAccount().GetId()
	// Without a live remote_id in the stored record (store.NeedsAttempt) the
	// plugin may create remote objects that only its answer would name: the
	// attempt is marked in the store first, durably. The Put of a record that
	// settles it (store.SettlesAttempt: a remote_id, or DELETED) deletes the
	// marker in the same transaction; if no such answer is ever stored, the
	// next Synchronize of the account is told so (unfinished_attempt).
	attempt := id != "" && store.NeedsAttempt(req.GetRecord())
	req.UnfinishedAttempt = false
	if attempt {
		existed, err := r.st.BeginAttempt(ctx, plugin, id)
		if err != nil {
			r.log.Error("store attempt marker", "plugin", plugin, "account_id", id, "error", err)
			if errors.Is(err, store.ErrDamaged) {
				return nil, errStoreDamaged
			}
			return nil, diag.Host.Unavailable(diag.ReasonStoreUnavailable, "the attempt could not be noted in the store; retry (the call is idempotent)", time.Second)
		}
		req.UnfinishedAttempt = existed
	}
	return callThenPersist(ctx, r, plugin, id,
		persist[*provisioningv1.SynchronizeResponse]{rpc: "Synchronize", acct: req.GetAccount(), failures: true, prev: req.GetRecord()},
		func() (*provisioningv1.SynchronizeResponse, error) { return c.Synchronize(ctx, req) })
}

// GetSyncStatus refreshes an account's stored record through the plugin,
// with the stored account snapshot and ancestors, and stores the answer. The
// request names the account by record.account_id (or account.id); a record
// with more than the id must not contradict the stored one (RECORD_MISMATCH),
// and the plugin gets the stored one. NOT_FOUND when nothing is stored and the
// request has no record; RECORD_MISMATCH when it has one (the host refreshes
// only records it stored).
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
	if aid := req.GetAccount().GetId(); aid != "" && aid != id {
		return nil, diag.InvalidArgument("request.account.id", diag.CodeInvalidValue, "request.account.id differs from request.record.account_id")
	}
	unlock, err := r.lockAccount(ctx, plugin, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e, err := r.st.Get(ctx, plugin, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if bareRecord(req.GetRecord()) {
			return nil, status.Errorf(codes.NotFound, "no sync record of %q for account %q: Synchronize it first", plugin, id)
		}
		return nil, diag.Host.InvalidArgument("request.record", diag.ReasonRecordMismatch,
			"no record of account "+id+" is stored: the host refreshes only the records it stored (Synchronize the account)")
	case err != nil:
		return nil, r.readError(err)
	}
	if err := checkRecord(plugin, "request.record", req.GetRecord(), e.Record); err != nil {
		return nil, err
	}
	return r.refresh(ctx, c, plugin, e, req)
}

// refresh calls the plugin's GetSyncStatus on the stored entry e, with its
// account and the stored ancestors (req's ancestors, if any, must agree with
// them), and stores the answer, keeping the stored account snapshot.
func (r *Records) refresh(ctx context.Context, c provisioningv1.ProvisioningAdapterClient, plugin string, e store.Entry, req *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
	if req == nil {
		req = &provisioningv1.GetSyncStatusRequest{}
	}
	if e.Account != nil {
		req.Account = e.Account
	}
	anc, err := r.ancestors(ctx, plugin, req.GetAccount())
	if err != nil {
		return nil, err
	}
	if err := checkAncestors(plugin, req.GetAncestors(), anc); err != nil {
		return nil, err
	}
	req.Record, req.Ancestors = e.Record, anc
	id := e.Record.GetAccountId()
	return callThenPersist(ctx, r, plugin, id, persist[*provisioningv1.GetSyncStatusResponse]{rpc: "GetSyncStatus"},
		func() (*provisioningv1.GetSyncStatusResponse, error) { return c.GetSyncStatus(ctx, req) })
}

// bareRecord reports whether rec names an account and nothing else: the
// caller asks for the stored record.
func bareRecord(rec *provisioningv1.SyncRecord) bool {
	return rec == nil || (rec.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED && rec.GetRemoteId() == "" &&
		rec.GetRemoteParentId() == "" && len(rec.GetPrivate()) == 0)
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
			// By id only: the refresh reads the record as stored now, which
			// a Synchronize may have changed since the listing.
			resp, err := r.GetSyncStatus(ctx, plugin, &provisioningv1.GetSyncStatusRequest{Record: &provisioningv1.SyncRecord{AccountId: e.Record.GetAccountId()}})
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

// lockAccount takes the account's lock for a call that reads its record,
// calls the plugin and stores the answer, so that such calls about one
// account run one at a time, in this process and (on a shared store) across
// daemons: the second reads what the first stored. The wait is bounded by
// ctx's deadline (the host's call timeout without one). Known plugins only,
// so a bad request never reaches the store; an account without an id takes
// no lock (the plugin refuses it).
func (r *Records) lockAccount(ctx context.Context, plugin, accountID string) (func(), error) {
	if _, err := r.Plugin(plugin); err != nil {
		return nil, err
	}
	if accountID == "" {
		return func() {}, nil
	}
	return r.locks.lock(ctx, "account", accountLock(plugin, accountID))
}

// forAccount is the prelude of every call about one account: resolve the
// plugin, require the account, check what the caller sent in *anc and *rec
// against the store, and replace them with the stored ancestors and record.
func (r *Records) forAccount(ctx context.Context, plugin string, acct *provisioningv1.Account, anc *[]*provisioningv1.Ancestor, rec **provisioningv1.SyncRecord) (provisioningv1.ProvisioningAdapterClient, error) {
	c, err := r.Plugin(plugin)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		return nil, diag.InvalidArgument("request.account", diag.CodeRequired, "request.account is required")
	}
	stored, err := r.ancestors(ctx, plugin, acct)
	if err != nil {
		return nil, err
	}
	if err := checkAncestors(plugin, *anc, stored); err != nil {
		return nil, err
	}
	*anc = stored
	if acct.GetId() == "" {
		return c, nil // the plugin answers INVALID_ACCOUNT
	}
	var storedRec *provisioningv1.SyncRecord
	e, err := r.st.Get(ctx, plugin, acct.GetId())
	switch {
	case err == nil:
		storedRec = e.Record
	case !errors.Is(err, store.ErrNotFound):
		return nil, r.readError(err)
	}
	if err := checkRecord(plugin, "request.record", *rec, storedRec); err != nil {
		return nil, err
	}
	*rec = storedRec
	return c, nil
}

// ancestors reads acct's ancestors from the store (none without a parent).
func (r *Records) ancestors(ctx context.Context, plugin string, acct *provisioningv1.Account) ([]*provisioningv1.Ancestor, error) {
	if acct.GetParentId() == "" {
		return nil, nil
	}
	anc, err := store.Ancestors(ctx, r.st, plugin, acct)
	if err != nil {
		return nil, r.readError(err)
	}
	return anc, nil
}

// recordAnswer is a plugin's answer that carries the account's record.
type recordAnswer interface {
	GetRecord() *provisioningv1.SyncRecord
}

// persist says how callThenPersist stores a plugin's answer.
type persist[Resp recordAnswer] struct {
	// rpc names the call in errors and logs.
	rpc string
	// acct is the account snapshot stored with the record; nil keeps the
	// stored one.
	acct *provisioningv1.Account
	// failures stores a definite failure of the call as a FAILED record
	// (Synchronize only: a failed refresh or delete says nothing about the
	// account's remote objects). prev is the record the call was made with.
	failures bool
	prev     *provisioningv1.SyncRecord
	// also returns the other records the answer changes (the descendants a
	// cascade deleted); they are stored before the account's own.
	also func(Resp) []*provisioningv1.SyncRecord
}

// callThenPersist is the one path by which a plugin's answer becomes a
// stored record: call the plugin, then store the record it answered (keyed
// by the host, not the plugin, and stamped with UpdatedAt when the plugin
// left it empty) with the account snapshot, before anyone sees the answer.
// With p.failures a definite failure is stored too (see [Records]) and the
// plugin's error answered. A store failure is UNAVAILABLE STORE_UNAVAILABLE:
// the remote work may have happened, and retrying the idempotent call is the
// fix. A remote_id another live record holds is FAILED_PRECONDITION
// REMOTE_ID_TAKEN, and nothing is stored. The write is not cancelled with
// ctx, so a caller that gives up does not leave the remote and the store
// apart.
func callThenPersist[Resp recordAnswer](ctx context.Context, r *Records, plugin, accountID string, p persist[Resp], call func() (Resp, error)) (Resp, error) {
	var zero Resp
	resp, err := call()
	if err != nil {
		if p.failures && definite(err) {
			r.storeFailure(ctx, plugin, accountID, p.prev, p.acct, err)
		}
		return zero, err
	}
	rec := resp.GetRecord()
	if rec == nil {
		return zero, status.Errorf(codes.Internal, "plugin %q answered %s without a record", plugin, p.rpc)
	}
	rec.Plugin, rec.AccountId = plugin, accountID
	if rec.GetUpdatedAt() == nil {
		rec.UpdatedAt = timestamppb.Now()
	}
	var recs []*provisioningv1.SyncRecord
	if p.also != nil {
		recs = p.also(resp)
	}
	for _, rec := range append(recs, rec) {
		if err := r.put(ctx, rec, p.acct, rec.GetAccountId() == accountID); err != nil {
			return zero, err
		}
	}
	return resp, nil
}

// put writes one record for callThenPersist; own tells the account's own
// record (stored with acct) from another it changes (stored with its
// snapshot kept).
func (r *Records) put(ctx context.Context, rec *provisioningv1.SyncRecord, acct *provisioningv1.Account, own bool) error {
	if !own {
		acct = nil
	}
	err := r.st.Put(context.WithoutCancel(ctx), rec, acct)
	var taken *store.RemoteIDTakenError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &taken):
		r.log.Warn("plugin answered a remote id another record holds; not stored",
			"plugin", rec.GetPlugin(), "account_id", rec.GetAccountId(), "remote_id", taken.RemoteID, "holder", taken.Holder)
		return diag.Host.FailedPrecondition(diag.ReasonRemoteIDTaken, "record.remote_id",
			fmt.Sprintf("the plugin answered remote account %q for account %q, but the record of account %q holds it; nothing was stored (a remote account belongs to one BSS account)",
				taken.RemoteID, rec.GetAccountId(), taken.Holder))
	}
	r.log.Error("store sync record", "plugin", rec.GetPlugin(), "account_id", rec.GetAccountId(), "error", err)
	if errors.Is(err, store.ErrDamaged) {
		return errStoreDamaged
	}
	return diag.Host.Unavailable(diag.ReasonStoreUnavailable, "the sync record could not be stored; retry (the call is idempotent)", time.Second)
}

// storeFailure stores the FAILED record of a definite failure err of a call
// made with prev. When the stored record is no longer prev (a concurrent call
// stored another answer meanwhile), the failure describes an older state and
// is not stored: it must not overwrite the newer record's remote objects.
// The plugin's error is what the caller acts on, so a store failure here is
// only logged.
func (r *Records) storeFailure(ctx context.Context, plugin, accountID string, prev *provisioningv1.SyncRecord, acct *provisioningv1.Account, err error) {
	ctx = context.WithoutCancel(ctx)
	e, gerr := r.st.Get(ctx, plugin, accountID)
	switch {
	case errors.Is(gerr, store.ErrNotFound):
		e.Record = nil
	case gerr != nil:
		r.log.Error("store failed sync record", "plugin", plugin, "account_id", accountID, "error", gerr)
		return
	}
	if !proto.Equal(e.Record, prev) {
		r.log.Info("failure not stored: the record changed during the call", "plugin", plugin, "account_id", accountID)
		return
	}
	rec := failedRecord(prev, err)
	rec.Plugin, rec.AccountId = plugin, accountID
	if perr := r.st.Put(ctx, rec, acct); perr != nil {
		r.log.Error("store failed sync record", "plugin", plugin, "account_id", accountID, "error", perr)
	}
}

// failedRecord is the FAILED record of a definite failure err of a call made
// with prev: the reason, message and time, keeping prev's remote objects
// (remote_id, remote_parent_id, values, private) unless prev is DELETED.
func failedRecord(prev *provisioningv1.SyncRecord, err error) *provisioningv1.SyncRecord {
	d := diag.Parse(err)
	rec := &provisioningv1.SyncRecord{
		Status:      provisioningv1.SyncStatus_SYNC_STATUS_FAILED,
		ErrorReason: cmp.Or(d.Reason, failedCodeNames[d.Code]),
		Message:     d.Message,
		UpdatedAt:   timestamppb.Now(),
	}
	if prev != nil && prev.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
		rec.RemoteId, rec.RemoteParentId = prev.GetRemoteId(), prev.GetRemoteParentId()
		rec.Values, rec.Private = prev.GetValues(), prev.GetPrivate()
	}
	return rec
}

// failedCodeNames name the definite failures that carry no ErrorInfo.
var failedCodeNames = map[codes.Code]string{
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.AlreadyExists:      "ALREADY_EXISTS",
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

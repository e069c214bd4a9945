package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Identity. Name is what hosts know the plugin by: DNS-label-like, and the
// suffix of its binary (provisioning-plugin-ledger).
const (
	Name    = "ledger"
	Version = "1.0.0"
)

// SettingDatabase is the one setting: the path of the SQLite file.
const SettingDatabase = "database"

// Adapter is the ledger's provisioning.v1.ProvisioningAdapter. Create it with
// [New]; it is safe for concurrent use, as every gRPC server must be.
type Adapter struct {
	// Embedding the generated Unimplemented server keeps the adapter
	// compiling when provisioning.v1 gains an RPC: the new one answers
	// UNIMPLEMENTED until the plugin implements it.
	provisioningv1.UnimplementedProvisioningAdapterServer

	log *slog.Logger

	mu   sync.RWMutex
	db   *sql.DB // nil until Configure
	path string
}

// New returns an unconfigured adapter that logs to log.
func New(log *slog.Logger) *Adapter { return &Adapter{log: log} }

// Close closes the ledger file.
func (a *Adapter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.db == nil {
		return nil
	}
	return a.db.Close()
}

// GetPluginInfo tells the host who the plugin is and what it can do. The
// capabilities must match the RPCs that answer: the conformance suite checks.
func (a *Adapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{
		Name: Name, DisplayName: "Ledger (example)", Version: Version,
		Capabilities: []provisioningv1.Capability{
			provisioningv1.Capability_CAPABILITY_PROBE,
			provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS,
			provisioningv1.Capability_CAPABILITY_VALIDATE,
			provisioningv1.Capability_CAPABILITY_SYNCHRONIZE,
			provisioningv1.Capability_CAPABILITY_SYNC_STATUS,
			provisioningv1.Capability_CAPABILITY_AUTO_FILL,
			provisioningv1.Capability_CAPABILITY_DELETE,
			provisioningv1.Capability_CAPABILITY_SUBSCRIPTIONS,
		},
		// A secret (a password, an API key) would be marked Sensitive: true
		// and never given a Value. The ledger has none.
		ConfigFields: []*provisioningv1.Field{{
			Key: SettingDatabase, Label: "Database file", Order: 1, Kind: provisioningv1.FieldKind_FIELD_KIND_STRING,
			Required: true, Description: "Path of the SQLite file the ledger records accounts in; created if missing.",
		}},
	}, nil
}

// Configure opens the ledger file. Called again, it swaps files atomically:
// calls already running finish on the old one.
func (a *Adapter) Configure(ctx context.Context, req *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	for _, k := range slices.Sorted(maps.Keys(req.GetSettings())) {
		if k != SettingDatabase {
			return nil, diag.InvalidArgument(k, diag.CodeUnknownField, "unknown setting "+k)
		}
	}
	path := req.GetSettings()[SettingDatabase]
	if path == "" {
		return nil, diag.InvalidArgument(SettingDatabase, diag.CodeRequired, "the database setting is required")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.db != nil && a.path == path {
		return &provisioningv1.ConfigureResponse{}, nil // same file: nothing to do
	}
	db, err := openDB(ctx, path)
	if err != nil {
		return nil, diag.InvalidArgument(SettingDatabase, diag.CodeInvalidValue, "cannot open the database: "+err.Error())
	}
	if a.db != nil {
		_ = a.db.Close() // waits for the queries already started on it
	}
	a.db, a.path = db, path
	a.log.Info("ledger configured", "database", path)
	return &provisioningv1.ConfigureResponse{}, nil
}

// ledger returns the open database, or the FAILED_PRECONDITION every
// business RPC owes a caller that has not called Configure.
func (a *Adapter) ledger() (*sql.DB, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.db == nil {
		return nil, diag.NotConfigured()
	}
	return a.db, nil
}

// ledgerFor is [Adapter.ledger] for the RPCs about one account, which must
// also be usable: the first lines of every such RPC, written once.
func (a *Adapter) ledgerFor(acct *provisioningv1.Account) (*sql.DB, error) {
	db, err := a.ledger()
	if err != nil {
		return nil, err
	}
	return db, checkAccount(acct)
}

// Probe reports whether the ledger file can be used. A problem is an answer,
// not an error.
func (a *Adapter) Probe(ctx context.Context, _ *provisioningv1.ProbeRequest) (*provisioningv1.ProbeResponse, error) {
	db, err := a.ledger()
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		return &provisioningv1.ProbeResponse{Ready: false, Message: "database unusable: " + err.Error()}, nil
	}
	return &provisioningv1.ProbeResponse{Ready: true, Message: "database open"}, nil
}

// GetSyncOptions answers the form, pre-populated with what was recorded
// before, and the problems of the account as it stands (an unrecorded
// reseller) as diagnostics.
func (a *Adapter) GetSyncOptions(ctx context.Context, req *provisioningv1.GetSyncOptionsRequest) (*provisioningv1.GetSyncOptionsResponse, error) {
	db, err := a.ledgerFor(req.GetAccount())
	if err != nil {
		return nil, err
	}
	prior, err := lookup(ctx, db, req.GetAccount().GetId())
	if err != nil {
		return nil, storeError(err)
	}
	resp := &provisioningv1.GetSyncOptionsResponse{Fields: form(prior.vals())}
	pd, err := checkParent(ctx, db, req.GetAccount())
	if err != nil {
		return nil, storeError(err)
	}
	if pd != nil {
		resp.Diagnostics = append(resp.Diagnostics, pd)
	}
	return resp, nil
}

// ValidateSyncOptions runs the rules Synchronize runs first, and records
// nothing.
func (a *Adapter) ValidateSyncOptions(ctx context.Context, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
	db, err := a.ledgerFor(req.GetAccount())
	if err != nil {
		return nil, err
	}
	ds, vals, err := validate(ctx, db, req.GetAccount(), req.GetValues(), req.GetAutoFill())
	if err != nil {
		return nil, storeError(err)
	}
	return &provisioningv1.ValidateSyncOptionsResponse{Diagnostics: ds, Values: vals}, nil
}

// Synchronize records the account, or makes its entry match the account
// (converges): new values, a new name or a new email are written and the
// answer says updated=true. It is idempotent, keyed by account.id: a replay
// answers the same record with created=false, updated=false. Validation and
// the write share one transaction, so concurrent calls cannot both create.
func (a *Adapter) Synchronize(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	acct := req.GetAccount()
	db, err := a.ledgerFor(acct)
	if err != nil {
		return nil, err
	}
	var warnings []*provisioningv1.Diagnostic
	e, created, updated, err := record(ctx, db, acct, func(q querier) (map[string]string, error) {
		ds, vals, err := validate(ctx, q, acct, req.GetValues(), req.GetAutoFill())
		if err != nil {
			return nil, err
		}
		warnings = diag.Warnings(ds)
		// The error diagnostics become one gRPC status with BadRequest
		// (and PreconditionFailure) details: the same codes, the same fields.
		return vals, diag.ToError(ds)
	})
	if err != nil {
		return nil, storeError(err)
	}
	switch {
	case created:
		a.log.Info("account recorded", "account_id", acct.GetId(), "remote_id", e.remoteID())
	case updated:
		a.log.Info("account updated", "account_id", acct.GetId(), "remote_id", e.remoteID())
	}
	rec, err := a.toRecord(ctx, db, e)
	if err != nil {
		return nil, storeError(err)
	}
	return &provisioningv1.SynchronizeResponse{Record: rec, Created: created, Updated: updated, Diagnostics: warnings}, nil
}

// GetSyncStatus reads the record back from the ledger: SYNCED while the
// entry exists, MISSING once it is gone (a DELETED record is answered as
// is: the ledger removed it on purpose). With the account, it reports a
// REMOTE_DRIFT warning for the name and the email when the entry disagrees
// (Synchronize corrects them).
func (a *Adapter) GetSyncStatus(ctx context.Context, req *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
	db, err := a.ledger()
	if err != nil {
		return nil, err
	}
	id := req.GetRecord().GetAccountId()
	if id == "" {
		return nil, diag.InvalidArgument("record.account_id", diag.CodeInvalidAccount, "the request has no record with an account id")
	}
	if req.GetRecord().GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
		return &provisioningv1.GetSyncStatusResponse{Record: req.GetRecord()}, nil
	}
	e, err := lookup(ctx, db, id)
	if err != nil {
		return nil, storeError(err)
	}
	if e == nil {
		rec := &provisioningv1.SyncRecord{Plugin: Name, AccountId: id, Status: provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED, UpdatedAt: timestamppb.Now()}
		if req.GetRecord().GetRemoteId() != "" {
			rec.Status, rec.RemoteId, rec.Message = provisioningv1.SyncStatus_SYNC_STATUS_MISSING, req.GetRecord().GetRemoteId(), "the ledger entry is gone"
		}
		return &provisioningv1.GetSyncStatusResponse{Record: rec}, nil
	}
	rec, err := a.toRecord(ctx, db, e)
	if err != nil {
		return nil, storeError(err)
	}
	return &provisioningv1.GetSyncStatusResponse{Record: rec, Diagnostics: drift(e, req.GetAccount())}, nil
}

// drift lists where the entry and the BSS account disagree; none without
// an account.
func drift(e *entry, acct *provisioningv1.Account) []*provisioningv1.Diagnostic {
	if acct == nil {
		return nil
	}
	var ds []*provisioningv1.Diagnostic
	for _, f := range []struct{ field, ledger, bss string }{
		{"account.name", e.name, acct.GetName()},
		{"account.corporate_email", e.email, acct.GetCorporateEmail()},
	} {
		if f.ledger != f.bss {
			ds = append(ds, diag.Warning(f.field, diag.CodeRemoteDrift, "the ledger and the BSS disagree",
				fmt.Sprintf("ledger %q, BSS %q; Synchronize makes the ledger match", f.ledger, f.bss)))
		}
	}
	return ds
}

// toRecord turns an entry into the SyncRecord the host stores.
func (a *Adapter) toRecord(ctx context.Context, q querier, e *entry) (*provisioningv1.SyncRecord, error) {
	rec := &provisioningv1.SyncRecord{
		Plugin: Name, AccountId: e.accountID, Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED,
		RemoteId: e.remoteID(), Values: e.values, UpdatedAt: timestamppb.New(e.updated),
	}
	if e.parentID != "" {
		p, err := lookup(ctx, q, e.parentID)
		if err != nil {
			return nil, err
		}
		if p != nil {
			rec.RemoteParentId = p.remoteID()
		}
	}
	return rec, nil
}

// storeError turns an error from the rules or the database into a gRPC
// status: statuses (from diag) pass through, the caller's deadline or
// cancellation keep their code, anything else is the ledger being unusable,
// which a caller may retry.
func storeError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return status.FromContextError(err).Err()
	}
	return diag.Unavailable(diag.CodeRemoteUnavailable, "ledger database: "+err.Error(), time.Second)
}

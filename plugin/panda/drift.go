package panda

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// compareRemote reads a settled record's Panda account and holds it against
// the BSS account: it adopts an account converted in WatchGuard's console
// (a Panda User turned service provider, for a BSS reseller) and reports one
// REMOTE_DRIFT warning per field where Panda and the BSS disagree. Nothing
// is written to Panda: Synchronize corrects drift. One GetAccount.
func (a *Adapter) compareRemote(ctx context.Context, st *configured, rec *provisioningv1.SyncRecord, acc *provisioningv1.Account, ancestors []*provisioningv1.Ancestor) (*provisioningv1.SyncRecord, []*provisioningv1.Diagnostic, error) {
	remoteID := rec.GetRemoteId()
	pa, err := st.api.GetAccount(ctx, remoteID)
	switch {
	case errors.Is(err, ErrNotFound):
		return updated(rec, provisioningv1.SyncStatus_SYNC_STATUS_MISSING, "the Panda account "+remoteID+" no longer exists", nil, a.now()), nil, nil
	case err != nil:
		return nil, nil, remoteError(ctx, "reading Panda account "+remoteID, err)
	}
	role := rec.GetValues()[FieldRole]
	isReseller := acc.GetType() == provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
	if role != RoleReseller && pa.Type == AccountTypeServiceProvider && isReseller {
		// Converted in the console, as TYPE_CHANGE_UNSUPPORTED told: the
		// record now describes the service provider.
		out := proto.CloneOf(rec)
		if out.Values == nil {
			out.Values = map[string]string{}
		}
		out.Values[FieldRole] = RoleReseller
		out.Private = encodePrivate(privateState{Type: privateTypeReseller})
		out.Message += " (converted to a Panda Reseller in the WatchGuard console)"
		out.UpdatedAt = timestamppb.New(a.now())
		a.logger.InfoContext(ctx, "adopted the account converted in the console", "account_id", rec.GetAccountId(), "remote_id", remoteID)
		rec, role = out, RoleReseller
	}

	var ds []*provisioningv1.Diagnostic
	drift := func(field, what, remote, bss, detail string) {
		ds = append(ds, diag.Warning(field, diag.CodeRemoteDrift,
			"Panda and the BSS disagree on the "+what+": Panda has "+strconv.Quote(clip(remote))+", the BSS "+strconv.Quote(clip(bss)), detail))
	}
	const push = "Synchronize pushes the BSS value to Panda."
	if name := strings.TrimSpace(acc.GetName()); pa.Name != name {
		drift(fieldAccountName, "company name", pa.Name, name, push)
	}
	if !strings.EqualFold(pa.Email, acc.GetCorporateEmail()) {
		drift(fieldEmail, "corporate email", pa.Email, acc.GetCorporateEmail(), push)
	}
	if want := expectedParent(st, rec, acc, ancestors); want != "" && pa.ParentID != want {
		drift(fieldParentID, "parent account", pa.ParentID, want, "Panda cannot move an account; restore the BSS parent, or delete the account and synchronize it anew.")
	}
	switch wantType := pandaTypeFor(acc, rec, role); wantType {
	case 0, pa.Type:
	case AccountTypeServiceProvider:
		drift(fieldAccountType, "account type", pa.Type.String(), "reseller (service-provider)",
			"WatchGuard converts a subscriber to a service provider only in its console, one way; GetSyncStatus then adopts the converted account.")
	default:
		drift(fieldAccountType, "account type", pa.Type.String(), "customer (subscriber)",
			"WatchGuard never converts a service provider back to a subscriber.")
	}
	return rec, ds, nil
}

// expectedParent is the Panda account the BSS says the account should be
// under: the parent's record's remote account, or, for a direct account, the
// one it was created under (when that was not a reseller) or the root. ""
// when the caller did not say.
func expectedParent(st *configured, rec *provisioningv1.SyncRecord, acc *provisioningv1.Account, ancestors []*provisioningv1.Ancestor) string {
	if acc.GetParentId() != "" {
		if chain := ancestorChain(acc, ancestors); len(chain) > 0 {
			return chain[0].GetRecord().GetRemoteId()
		}
		return ""
	}
	if rec.GetValues()[FieldParentAccount] == "" && rec.GetRemoteParentId() != "" {
		return rec.GetRemoteParentId()
	}
	return st.cfg.RootAccountID
}

// pandaTypeFor is the Panda type the BSS account should have; 0 when it
// cannot be told (a reseller synchronized as a Panda User by a plugin
// version that did not record why).
func pandaTypeFor(acc *provisioningv1.Account, rec *provisioningv1.SyncRecord, role string) AccountType {
	switch {
	case acc.GetType() != provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER:
		return AccountTypeSubscriber
	case role == RoleReseller:
		return AccountTypeServiceProvider
	case syncedType(rec) == provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER:
		return AccountTypeServiceProvider // a customer that became a reseller
	case syncedType(rec) == provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER:
		return AccountTypeSubscriber // a reseller that chose User
	}
	return 0
}

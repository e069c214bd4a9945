package conformance

import (
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// updated returns fx's account as the BSS changed it: [Fixtures.Update]
// over it, or the suite's own change when the fixtures give none. It
// returns the fields that changed, as Diagnostic.field names them.
func (s *suite) updated(fx Fixture, token string) (*provisioningv1.Account, []string) {
	a := proto.Clone(fx.Account).(*provisioningv1.Account)
	if u := s.cfg.Fixtures.Update; u != nil {
		v := instantiate(Fixture{Account: u}, token).Account
		if v.GetName() != "" {
			a.Name = v.GetName()
		}
		if v.GetCorporateEmail() != "" {
			a.CorporateEmail = v.GetCorporateEmail()
		}
		if v.GetContact() != nil {
			a.Contact = v.GetContact()
		}
	} else {
		a.Name += " renamed"
		if local, domain, ok := strings.Cut(a.GetCorporateEmail(), "@"); ok {
			a.CorporateEmail = "renamed." + local + "@" + domain
		}
	}
	var changed []string
	if a.GetName() != fx.Account.GetName() {
		changed = append(changed, "account.name")
	}
	if a.GetCorporateEmail() != fx.Account.GetCorporateEmail() {
		changed = append(changed, "account.corporate_email")
	}
	return a, changed
}

// driftOn returns the fields of ds's REMOTE_DRIFT warnings.
func driftOn(ds []*provisioningv1.Diagnostic) []string {
	var out []string
	for _, d := range ds {
		if d.GetCode() == "REMOTE_DRIFT" {
			out = append(out, d.GetField())
		}
	}
	return out
}

func checkLifecycleUpdate(s *suite, t T) {
	s.needLifecycle(t)
	fx := s.updatable
	vals := s.values(t, fx, nil)
	first := s.syncFresh(t, fx, nil, vals)
	changed, fields := s.updated(fx, s.cfg.RunID+"up")
	if len(fields) == 0 {
		t.Fatalf("fixtures: update changes neither the name nor the email of the direct customer")
	}
	up, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: changed, Values: vals, Record: first.GetRecord()})
	if err != nil {
		t.Fatalf("Synchronize after changing %q: %v", fields, err)
	}
	s.remember(up.GetRecord())
	for _, p := range s.recordProblems(up.GetRecord(), changed) {
		t.Errorf("Synchronize after the change: %s", p)
	}
	if up.GetCreated() || !up.GetUpdated() {
		t.Errorf("Synchronize after changing %q answered created=%v updated=%v, want created=false updated=true", fields, up.GetCreated(), up.GetUpdated())
	}
	if diff := sameRecord(first.GetRecord(), up.GetRecord()); diff != "" {
		t.Errorf("Synchronize after the change answered another account (-first +updated):\n%s", diff)
	}
	replay, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: changed, Values: vals, Record: up.GetRecord()})
	if err != nil {
		t.Fatalf("replay of the changed account: %v", err)
	}
	s.remember(replay.GetRecord())
	if replay.GetCreated() || replay.GetUpdated() {
		t.Errorf("replay of the changed account answered created=%v updated=%v, want both false", replay.GetCreated(), replay.GetUpdated())
	}
	if !s.caps[provisioningv1.Capability_CAPABILITY_SYNC_STATUS] {
		return
	}
	// The remote now holds the new values: no drift against the changed
	// account, drift on every changed field against the old one.
	now, err := s.c.GetSyncStatus(s.ctx, &provisioningv1.GetSyncStatusRequest{Record: replay.GetRecord(), Account: changed})
	if err != nil {
		t.Fatalf("GetSyncStatus after the change: %v", err)
	}
	for _, f := range driftOn(now.GetDiagnostics()) {
		if slices.Contains(fields, f) {
			t.Errorf("GetSyncStatus with the changed account reports REMOTE_DRIFT on %q: the change did not reach the remote", f)
		}
	}
	old, err := s.c.GetSyncStatus(s.ctx, &provisioningv1.GetSyncStatusRequest{Record: replay.GetRecord(), Account: fx.Account})
	if err != nil {
		t.Fatalf("GetSyncStatus with the account as it was: %v", err)
	}
	for _, f := range fields {
		if !slices.Contains(driftOn(old.GetDiagnostics()), f) {
			t.Errorf("GetSyncStatus with the account as it was before the change reports no REMOTE_DRIFT on %q (drift on %q)", f, driftOn(old.GetDiagnostics()))
		}
	}
}

func checkLifecycleSelfParent(s *suite, t T) {
	s.needLifecycle(t)
	fx := s.selfParent
	// The form of the account as it would be without the bad parent: what
	// a person would have filled in before choosing it.
	orphan := proto.Clone(fx.Account).(*provisioningv1.Account)
	orphan.ParentId = ""
	vals := s.values(t, Fixture{Account: orphan, Values: fx.Values}, nil)
	resp, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: fx.Account, Values: vals})
	s.remember(resp.GetRecord())
	const field = "account.parent_id"
	d := readError(err)
	switch {
	case d.code != codes.InvalidArgument:
		t.Errorf("Synchronize of an account that is its own parent answered %s (%s), want INVALID_ARGUMENT", d.code, d.message)
	case d.reason != "SELF_PARENT":
		t.Errorf("Synchronize of an account that is its own parent: ErrorInfo reason %q, want SELF_PARENT", d.reason)
	case !slices.Contains(d.badRequest, field):
		t.Errorf("Synchronize of an account that is its own parent: no BadRequest violation on %q (violations on %q)", field, d.badRequest)
	}
	if !s.caps[provisioningv1.Capability_CAPABILITY_VALIDATE] {
		return
	}
	v, err := s.c.ValidateSyncOptions(s.ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: fx.Account, Values: vals})
	if err != nil {
		t.Fatalf("ValidateSyncOptions of an account that is its own parent: %v, want an error diagnostic", err)
	}
	if !slices.ContainsFunc(errorDiags(v.GetDiagnostics()), func(d *provisioningv1.Diagnostic) bool {
		return d.GetCode() == "SELF_PARENT" && d.GetField() == field
	}) {
		t.Errorf("ValidateSyncOptions of an account that is its own parent reports no SELF_PARENT error on %q, though Synchronize refuses it", field)
	}
}

// deletedProblems lists what is wrong with a record DeleteAccount answered
// for account.
func (s *suite) deletedProblems(rec *provisioningv1.SyncRecord, account *provisioningv1.Account) []string {
	var ps []string
	switch {
	case rec == nil:
		return []string{"no record"}
	case rec.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED:
		ps = append(ps, "record status is "+rec.GetStatus().String()+", want SYNC_STATUS_DELETED")
	}
	if rec.GetAccountId() != account.GetId() {
		ps = append(ps, "record.account_id is "+rec.GetAccountId()+", want "+account.GetId())
	}
	if rec.GetPlugin() != s.info.GetName() {
		ps = append(ps, "record.plugin is "+rec.GetPlugin()+", want "+s.info.GetName())
	}
	return ps
}

// gone checks that GetSyncStatus of rec (a record from before the delete)
// no longer calls the account synchronized.
func (s *suite) gone(t T, what string, rec *provisioningv1.SyncRecord, account *provisioningv1.Account) {
	t.Helper()
	if !s.caps[provisioningv1.Capability_CAPABILITY_SYNC_STATUS] {
		return
	}
	resp, err := s.c.GetSyncStatus(s.ctx, &provisioningv1.GetSyncStatusRequest{Record: rec, Account: account})
	if err != nil {
		t.Errorf("GetSyncStatus of %s with its record from before the delete: %v", what, err)
		return
	}
	if st := resp.GetRecord().GetStatus(); st != provisioningv1.SyncStatus_SYNC_STATUS_DELETED && st != provisioningv1.SyncStatus_SYNC_STATUS_MISSING {
		t.Errorf("GetSyncStatus of %s with its record from before the delete answered %s, want DELETED or MISSING", what, st)
	}
}

func checkLifecycleDelete(s *suite, t T) {
	s.needLifecycle(t)
	fx := s.deletable
	vals := s.values(t, fx, nil)
	synced := s.syncFresh(t, fx, nil, vals).GetRecord()

	first, err := s.c.DeleteAccount(s.ctx, &provisioningv1.DeleteAccountRequest{Account: fx.Account, Record: synced})
	if err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	s.remember(first.GetRecord())
	for _, p := range s.deletedProblems(first.GetRecord(), fx.Account) {
		t.Errorf("DeleteAccount: %s", p)
	}
	if !first.GetDeleted() {
		t.Errorf("the first DeleteAccount of a synchronized account answered deleted=false")
	}
	// A host hands back the DELETED record it stored; a retry after a lost
	// answer still holds the SYNCED one. Both are replays.
	for _, rec := range []*provisioningv1.SyncRecord{first.GetRecord(), synced} {
		again, err := s.c.DeleteAccount(s.ctx, &provisioningv1.DeleteAccountRequest{Account: fx.Account, Record: rec})
		if err != nil {
			t.Errorf("DeleteAccount again, with the %s record: %v, want an idempotent DELETED", rec.GetStatus(), err)
			continue
		}
		for _, p := range s.deletedProblems(again.GetRecord(), fx.Account) {
			t.Errorf("DeleteAccount again, with the %s record: %s", rec.GetStatus(), p)
		}
		if again.GetDeleted() {
			t.Errorf("DeleteAccount again, with the %s record, answered deleted=true: the account was deleted twice", rec.GetStatus())
		}
	}
	if s.caps[provisioningv1.Capability_CAPABILITY_SYNC_STATUS] {
		resp, err := s.c.GetSyncStatus(s.ctx, &provisioningv1.GetSyncStatusRequest{Record: first.GetRecord(), Account: fx.Account})
		switch {
		case err != nil:
			t.Errorf("GetSyncStatus of the DELETED record: %v", err)
		case resp.GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED:
			t.Errorf("GetSyncStatus of the DELETED record answered %s, want it as is (DELETED)", resp.GetRecord().GetStatus())
		}
	}
	s.gone(t, "the deleted account", synced, fx.Account)

	// DELETED is terminal for the remote objects, not for the account.
	anew, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: fx.Account, Values: vals, Record: first.GetRecord()})
	if err != nil {
		t.Fatalf("Synchronize of the deleted account: %v", err)
	}
	s.remember(anew.GetRecord())
	for _, p := range s.recordProblems(anew.GetRecord(), fx.Account) {
		t.Errorf("Synchronize of the deleted account: %s", p)
	}
	if !anew.GetCreated() {
		t.Errorf("Synchronize of the deleted account answered created=false, want new remote objects (created=true)")
	}
}

func checkLifecycleDeleteChildren(s *suite, t T) {
	s.needLifecycle(t)
	res := s.syncFresh(t, s.delReseller, nil, s.values(t, s.delReseller, nil)).GetRecord()
	anc := s.ancestors(s.delEnd, s.delReseller, res)
	end := s.syncFresh(t, s.delEnd, anc, s.values(t, s.delEnd, anc)).GetRecord()

	_, err := s.c.DeleteAccount(s.ctx, &provisioningv1.DeleteAccountRequest{Account: s.delReseller.Account, Record: res})
	d := readError(err)
	switch {
	case d.code != codes.FailedPrecondition:
		t.Errorf("DeleteAccount of a reseller with an end customer, without cascade, answered %s (%s), want FAILED_PRECONDITION HAS_CHILDREN", d.code, d.message)
	case d.reason != "HAS_CHILDREN" || !d.precondition:
		t.Errorf("DeleteAccount of a reseller with an end customer, without cascade: ErrorInfo reason %q (want HAS_CHILDREN), PreconditionFailure violations %v", d.reason, d.precondition)
	}
	if s.caps[provisioningv1.Capability_CAPABILITY_SYNC_STATUS] {
		resp, err := s.c.GetSyncStatus(s.ctx, &provisioningv1.GetSyncStatusRequest{Record: end, Account: s.delEnd.Account, Ancestors: anc})
		if err != nil {
			t.Fatalf("GetSyncStatus of the end customer after the refused delete: %v", err)
		}
		for _, p := range s.recordProblems(resp.GetRecord(), s.delEnd.Account) {
			t.Errorf("GetSyncStatus of the end customer after the refused delete: %s", p)
		}
	}

	del, err := s.c.DeleteAccount(s.ctx, &provisioningv1.DeleteAccountRequest{Account: s.delReseller.Account, Record: res, Cascade: true})
	if err != nil {
		t.Fatalf("DeleteAccount of the reseller with cascade: %v", err)
	}
	s.remember(del.GetRecord())
	for _, p := range s.deletedProblems(del.GetRecord(), s.delReseller.Account) {
		t.Errorf("DeleteAccount with cascade: %s", p)
	}
	if !del.GetDeleted() {
		t.Errorf("DeleteAccount of the reseller with cascade answered deleted=false")
	}
	if id := end.GetRemoteId(); id != "" && !slices.Contains(del.GetDeletedRemoteIds(), id) {
		t.Errorf("DeleteAccount with cascade: deleted_remote_ids %q lack the end customer's remote id %q", del.GetDeletedRemoteIds(), id)
	}
	s.gone(t, "the end customer", end, s.delEnd.Account)
	// What the caller does with deleted_remote_ids: mark the end customer
	// DELETED. Deleting it now finds nothing left to delete.
	after, err := s.c.DeleteAccount(s.ctx, &provisioningv1.DeleteAccountRequest{Account: s.delEnd.Account, Record: end, Ancestors: s.ancestors(s.delEnd, s.delReseller, del.GetRecord())})
	if err != nil {
		t.Fatalf("DeleteAccount of the end customer after the cascade: %v", err)
	}
	s.remember(after.GetRecord())
	for _, p := range s.deletedProblems(after.GetRecord(), s.delEnd.Account) {
		t.Errorf("DeleteAccount of the end customer after the cascade: %s", p)
	}
	if after.GetDeleted() {
		t.Errorf("DeleteAccount of the end customer after the cascade answered deleted=true: it was deleted twice")
	}
}

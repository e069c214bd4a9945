package conformance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func checkSynchronizeInvalid(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	fx := s.invalid
	var form []*provisioningv1.Field
	if s.caps[provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS] {
		form = s.form(t, fx, nil).GetFields()
	}
	vals := s.values(t, fx, nil)
	withAccount := func(edit func(a *provisioningv1.Account)) *provisioningv1.Account {
		a := proto.Clone(fx.Account).(*provisioningv1.Account)
		edit(a)
		return a
	}
	type tc struct {
		account *provisioningv1.Account
		values  map[string]string
		blame   string // the field a violation must name; "" when any will do
	}
	cases := map[string]tc{
		"no account":               {nil, vals, ""},
		"no account id":            {withAccount(func(a *provisioningv1.Account) { a.Id = "" }), vals, ""},
		"unspecified account type": {withAccount(func(a *provisioningv1.Account) { a.Type = provisioningv1.AccountType_ACCOUNT_TYPE_UNSPECIFIED }), vals, ""},
	}
	for key, in := range invalidValues(form, vals) {
		cases[fmt.Sprintf("%q = %q", key, in[key])] = tc{fx.Account, in, key}
	}
	validate := s.caps[provisioningv1.Capability_CAPABILITY_VALIDATE]
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		c := cases[name]
		resp, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: c.account, Values: c.values})
		s.remember(resp.GetRecord())
		d := readError(err)
		switch {
		case d.code != codes.InvalidArgument:
			t.Errorf("Synchronize with %s answered %s (%s), want INVALID_ARGUMENT", name, d.code, d.message)
			continue
		case len(d.badRequest) == 0:
			t.Errorf("Synchronize with %s: INVALID_ARGUMENT carries no BadRequest field violation", name)
		case c.blame != "" && !slices.Contains(d.badRequest, c.blame):
			t.Errorf("Synchronize with %s: no BadRequest violation on %q (violations on %q)", name, c.blame, d.badRequest)
		}
		if c.blame == "" || !validate {
			continue
		}
		// The contract: the same problems, the same fields, both ways.
		v, err := s.c.ValidateSyncOptions(s.ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: c.account, Values: c.values})
		if err != nil {
			t.Errorf("ValidateSyncOptions with %s: %v, want an error diagnostic", name, err)
			continue
		}
		if !slices.ContainsFunc(v.GetDiagnostics(), func(d *provisioningv1.Diagnostic) bool {
			return d.GetSeverity() == provisioningv1.Severity_SEVERITY_ERROR && d.GetField() == c.blame
		}) {
			t.Errorf("ValidateSyncOptions with %s: no error diagnostic on %q, though Synchronize refuses it", name, c.blame)
		}
	}
}

func checkSynchronizeParentFirst(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	fx := s.orphan
	anc := s.ancestors(fx, s.orphanParent, nil)
	vals := s.values(t, fx, anc)
	resp, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: fx.Account, Ancestors: anc, Values: vals})
	s.remember(resp.GetRecord())
	d := readError(err)
	switch {
	case d.code != codes.FailedPrecondition:
		t.Errorf("Synchronize of an end customer before its reseller answered %s (%s), want FAILED_PRECONDITION", d.code, d.message)
	case d.reason == "" || !d.precondition:
		t.Errorf("Synchronize of an end customer before its reseller: FAILED_PRECONDITION lacks an ErrorInfo reason (%q) or PreconditionFailure violations (%v)", d.reason, d.precondition)
	}
	if !s.caps[provisioningv1.Capability_CAPABILITY_VALIDATE] {
		return
	}
	v, err := s.c.ValidateSyncOptions(s.ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: fx.Account, Ancestors: anc, Values: vals})
	if err != nil {
		t.Fatalf("ValidateSyncOptions of an end customer before its reseller: %v, want an error diagnostic", err)
	}
	if len(errorDiags(v.GetDiagnostics())) == 0 {
		t.Errorf("ValidateSyncOptions of an end customer before its reseller reports no error, though Synchronize refuses it")
	}
}

func errorDiags(ds []*provisioningv1.Diagnostic) []*provisioningv1.Diagnostic {
	var out []*provisioningv1.Diagnostic
	for _, d := range ds {
		if d.GetSeverity() == provisioningv1.Severity_SEVERITY_ERROR {
			out = append(out, d)
		}
	}
	return out
}

// recordProblems lists what is wrong with a record Synchronize or
// GetSyncStatus answered for account.
func (s *suite) recordProblems(rec *provisioningv1.SyncRecord, account *provisioningv1.Account) []string {
	var ps []string
	add := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	if rec == nil {
		return []string{"no record"}
	}
	if rec.GetAccountId() != account.GetId() {
		add("record.account_id is %q, want %q", rec.GetAccountId(), account.GetId())
	}
	if rec.GetPlugin() != s.info.GetName() {
		add("record.plugin is %q, want the plugin's name %q", rec.GetPlugin(), s.info.GetName())
	}
	switch st := rec.GetStatus(); st {
	case provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE:
		if rec.GetRemoteId() == "" {
			add("record is %s but has no remote_id", st)
		}
	case provisioningv1.SyncStatus_SYNC_STATUS_PENDING:
		if !s.caps[provisioningv1.Capability_CAPABILITY_ASYNC] {
			add("record is PENDING but the plugin does not claim CAPABILITY_ASYNC")
		}
	default:
		add("record status is %s after a successful call, want SYNCED, ACTIVE or PENDING", st)
	}
	return ps
}

// sameRecord lists how b departs from a as the record of one account: the
// remote identity and the synchronized values must not change (status may
// move on, from PENDING to SYNCED or ACTIVE).
func sameRecord(a, b *provisioningv1.SyncRecord) string {
	type ident struct {
		RemoteID, RemoteParentID string
		Values                   map[string]string
	}
	ia := ident{a.GetRemoteId(), a.GetRemoteParentId(), a.GetValues()}
	ib := ident{b.GetRemoteId(), b.GetRemoteParentId(), b.GetValues()}
	if a.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_PENDING || b.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_PENDING {
		ia.RemoteID, ib.RemoteID = "", "" // not known yet, maybe
	}
	return cmp.Diff(ia, ib)
}

// syncFresh synchronizes a fresh account once, as the first of a series, and
// ends the check unless that works.
func (s *suite) syncFresh(t T, fx Fixture, anc []*provisioningv1.Ancestor, vals map[string]string) *provisioningv1.SynchronizeResponse {
	t.Helper()
	resp, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: fx.Account, Ancestors: anc, Values: vals})
	if err != nil {
		t.Fatalf("Synchronize(%s): %v", fx.Account.GetId(), err)
	}
	s.remember(resp.GetRecord())
	for _, p := range s.recordProblems(resp.GetRecord(), fx.Account) {
		t.Errorf("Synchronize(%s): %s", fx.Account.GetId(), p)
	}
	return resp
}

func checkSynchronizeIdempotent(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	fx := s.direct
	vals := s.values(t, fx, nil)
	first := s.syncFresh(t, fx, nil, vals)
	if !first.GetCreated() {
		t.Errorf("the first Synchronize of a fresh account answered created=false")
	}
	prev := first.GetRecord()
	for i := 2; i <= s.cfg.Repeat; i++ {
		req := &provisioningv1.SynchronizeRequest{Account: fx.Account, Values: vals}
		if i%2 == 0 {
			// A host hands back the record it stored; a retry after a lost
			// response has none. Both must replay.
			req.Record = prev
		}
		resp, err := s.c.Synchronize(s.ctx, req)
		if err != nil {
			t.Fatalf("Synchronize call %d of %d: %v", i, s.cfg.Repeat, err)
		}
		s.remember(resp.GetRecord())
		if resp.GetCreated() {
			t.Errorf("Synchronize call %d of %d answered created=true again", i, s.cfg.Repeat)
		}
		for _, p := range s.recordProblems(resp.GetRecord(), fx.Account) {
			t.Errorf("Synchronize call %d: %s", i, p)
		}
		if diff := sameRecord(first.GetRecord(), resp.GetRecord()); diff != "" {
			t.Errorf("Synchronize call %d answered another record (-first +now):\n%s", i, diff)
		}
		prev = resp.GetRecord()
	}
	s.directRecord = prev
}

func checkSynchronizeConcurrent(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	fx := s.concurrent
	vals := s.values(t, fx, nil)
	n := s.cfg.Repeat
	resps := make([]*provisioningv1.SynchronizeResponse, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resps[i], errs[i] = s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: fx.Account, Values: vals})
		})
	}
	close(start)
	wg.Wait()
	created := 0
	var ref *provisioningv1.SyncRecord
	for i := range n {
		if errs[i] != nil {
			// A concurrent loser may be told to retry; anything else fails.
			if c := readError(errs[i]).code; c != codes.Unavailable {
				t.Errorf("concurrent Synchronize: %v", errs[i])
			}
			continue
		}
		s.remember(resps[i].GetRecord())
		if resps[i].GetCreated() {
			created++
		}
		for _, p := range s.recordProblems(resps[i].GetRecord(), fx.Account) {
			t.Errorf("concurrent Synchronize: %s", p)
		}
		if ref == nil {
			ref = resps[i].GetRecord()
		} else if diff := sameRecord(ref, resps[i].GetRecord()); diff != "" {
			t.Errorf("concurrent Synchronize calls answered different records (-one +another):\n%s", diff)
		}
	}
	if created > 1 {
		t.Errorf("%d of %d concurrent Synchronize calls answered created=true, want 1", created, n)
	}
	// Whatever happened, a replay now must find the one account.
	replay, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: fx.Account, Values: vals})
	if err != nil {
		t.Fatalf("Synchronize after the concurrent calls: %v", err)
	}
	s.remember(replay.GetRecord())
	switch {
	case replay.GetCreated() && created > 0:
		t.Errorf("Synchronize after the concurrent calls answered created=true: a second remote account")
	case replay.GetCreated() || created > 0:
	default:
		t.Errorf("no Synchronize call of the account answered created=true")
	}
	if ref != nil {
		if diff := sameRecord(ref, replay.GetRecord()); diff != "" {
			t.Errorf("Synchronize after the concurrent calls answered another record (-concurrent +replay):\n%s", diff)
		}
	}
}

func checkSynchronizeHierarchy(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	res := s.syncFresh(t, s.reseller, nil, s.values(t, s.reseller, nil))
	if !res.GetCreated() {
		t.Errorf("the first Synchronize of a fresh reseller answered created=false")
	}
	s.resellerRecord = res.GetRecord()
	anc := s.ancestors(s.end, s.reseller, res.GetRecord())
	vals := s.values(t, s.end, anc)
	if s.caps[provisioningv1.Capability_CAPABILITY_VALIDATE] {
		v, err := s.c.ValidateSyncOptions(s.ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: s.end.Account, Ancestors: anc, Values: vals})
		if err != nil {
			t.Fatalf("ValidateSyncOptions of the end customer after its reseller: %v", err)
		}
		for _, d := range errorDiags(v.GetDiagnostics()) {
			t.Errorf("ValidateSyncOptions of the end customer after its reseller: error %s on %q: %s", d.GetCode(), d.GetField(), d.GetSummary())
		}
	}
	end := s.syncFresh(t, s.end, anc, vals)
	if !end.GetCreated() {
		t.Errorf("the first Synchronize of a fresh end customer answered created=false")
	}
	if got, want := end.GetRecord().GetRemoteParentId(), res.GetRecord().GetRemoteId(); want != "" && got != want {
		t.Errorf("end customer's remote_parent_id is %q, want its reseller's remote_id %q", got, want)
	}
	replay, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: s.end.Account, Ancestors: anc, Values: vals, Record: end.GetRecord()})
	if err != nil {
		t.Fatalf("second Synchronize of the end customer: %v", err)
	}
	if replay.GetCreated() {
		t.Errorf("second Synchronize of the end customer answered created=true")
	}
	if diff := sameRecord(end.GetRecord(), replay.GetRecord()); diff != "" {
		t.Errorf("second Synchronize of the end customer answered another record (-first +second):\n%s", diff)
	}
}

func checkSyncStatus(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNC_STATUS)
	if s.directRecord == nil {
		t.Skipf("needs the record of synchronize.idempotent, which did not pass")
	}
	resp, err := s.c.GetSyncStatus(s.ctx, &provisioningv1.GetSyncStatusRequest{Record: s.directRecord, Account: s.direct.Account})
	if err != nil {
		t.Fatalf("GetSyncStatus: %v", err)
	}
	for _, p := range s.recordProblems(resp.GetRecord(), s.direct.Account) {
		t.Errorf("GetSyncStatus: %s", p)
	}
	if diff := sameRecord(s.directRecord, resp.GetRecord()); diff != "" {
		t.Errorf("GetSyncStatus changed the record's identity (-synchronized +refreshed):\n%s", diff)
	}
	_, err = s.c.GetSyncStatus(s.ctx, &provisioningv1.GetSyncStatusRequest{Account: s.direct.Account})
	if d := readError(err); d.code != codes.InvalidArgument {
		t.Errorf("GetSyncStatus without a record answered %s (%s), want INVALID_ARGUMENT", d.code, d.message)
	}
}

// converge synchronizes fx after an interrupted call answered first (nil, or
// the response if it succeeded): the retry and a replay must agree on one
// record, created at most once across all three calls.
func (s *suite) converge(t T, fx Fixture, vals map[string]string, first *provisioningv1.SynchronizeResponse) {
	t.Helper()
	retry := s.syncFresh(t, fx, nil, vals)
	replay := s.syncFresh(t, fx, nil, vals)
	created := 0
	for _, r := range []*provisioningv1.SynchronizeResponse{first, retry, replay} {
		if r.GetCreated() {
			created++
		}
	}
	if created > 1 {
		t.Errorf("after the interrupted call, %d calls answered created=true, want at most 1", created)
	}
	if replay.GetCreated() {
		t.Errorf("the replay after the retry answered created=true")
	}
	if diff := sameRecord(retry.GetRecord(), replay.GetRecord()); diff != "" {
		t.Errorf("retry and replay answered different records (-retry +replay):\n%s", diff)
	}
	if first != nil {
		if diff := sameRecord(first.GetRecord(), retry.GetRecord()); diff != "" {
			t.Errorf("the interrupted call and the retry answered different records (-first +retry):\n%s", diff)
		}
	}
}

func checkDeadline(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	fx := s.deadline
	vals := s.values(t, fx, nil)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ShortDeadline)
	defer cancel()
	start := time.Now()
	resp, err := s.c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: fx.Account, Values: vals})
	took := time.Since(start)
	t.Logf("Synchronize with a %v deadline answered %s after %v", s.cfg.ShortDeadline, readError(err).code, took)
	if limit := s.cfg.ShortDeadline + s.cfg.DeadlineSlack; took > limit {
		t.Errorf("Synchronize with a %v deadline returned after %v (limit %v)", s.cfg.ShortDeadline, took, limit)
	}
	switch d := readError(err); d.code {
	case codes.OK:
		s.remember(resp.GetRecord())
	case codes.DeadlineExceeded:
		resp = nil
	default:
		t.Errorf("Synchronize with a %v deadline answered %s (%s), want DEADLINE_EXCEEDED or success", s.cfg.ShortDeadline, d.code, d.message)
		resp = nil
	}
	s.converge(t, fx, vals, resp)
}

func checkCancel(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	fx := s.cancelled
	vals := s.values(t, fx, nil)
	ctx, cancel := context.WithCancel(s.ctx)
	timer := time.AfterFunc(s.cfg.ShortDeadline, cancel)
	defer timer.Stop()
	resp, err := s.c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: fx.Account, Values: vals})
	cancel()
	t.Logf("Synchronize cancelled after %v answered %s", s.cfg.ShortDeadline, readError(err).code)
	switch d := readError(err); d.code {
	case codes.OK:
		s.remember(resp.GetRecord())
	case codes.Canceled:
		resp = nil
	default:
		t.Errorf("cancelled Synchronize answered %s (%s), want CANCELED or success", d.code, d.message)
		resp = nil
	}
	if s.cfg.StateFunc != nil {
		// A request already on the wire to the remote may still land; give
		// it CancelGrace, then the state must hold still.
		sleep(s.ctx, s.cfg.CancelGrace)
		a, err := s.cfg.StateFunc(s.ctx)
		if err != nil {
			t.Fatalf("read remote state: %v", err)
		}
		sleep(s.ctx, s.cfg.SettleWait)
		b, err := s.cfg.StateFunc(s.ctx)
		if err != nil {
			t.Fatalf("read remote state: %v", err)
		}
		if string(a) != string(b) {
			t.Errorf("the remote state still changed between %v and %v after the call was cancelled: %s",
				s.cfg.CancelGrace, s.cfg.CancelGrace+s.cfg.SettleWait, byteDiff(a, b))
		}
	}
	s.converge(t, fx, vals, resp)
}

func checkErrorCodes(s *suite, t T) {
	s.needInfo(t)
	failures, _ := s.c.snapshot()
	unclaimed := s.unclaimed()
	for _, f := range failures {
		if !codeAllowed(f.rpc, f.code, unclaimed) {
			t.Errorf("%s answered %s, which the contract does not allow for it: %s", f.rpc, f.code, f.msg)
		}
	}
}

func checkSecrets(s *suite, t T) {
	info := s.needInfo(t)
	n := 0
	for _, f := range info.GetConfigFields() {
		if f.GetSensitive() && len(s.cfg.Settings[f.GetKey()]) >= minSecretLen {
			n++
		}
	}
	if n == 0 {
		t.Skipf("no sensitive setting with a value of %d characters or more to look for", minSecretLen)
	}
	_, leaks := s.c.snapshot()
	for _, l := range leaks {
		t.Errorf("%s", l)
	}
}

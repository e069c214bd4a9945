package conformance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// minSecretLen is the shortest sensitive value the secret scan looks for:
// shorter ones would match by chance.
const minSecretLen = 4

// suite is the state of one run, shared by its checks in order.
type suite struct {
	ctx context.Context
	cfg Config
	c   *recorder

	// Set before the checks run.
	info    *provisioningv1.GetPluginInfoResponse
	infoErr error
	caps    map[provisioningv1.Capability]bool
	// redactor replaces the sensitive settings' values in messages; nil
	// when there are none.
	redactor *strings.Replacer

	// Accounts of this run; see [instantiate].
	direct, reseller, end   Fixture
	orphan, orphanParent    Fixture // an end customer whose reseller never syncs
	concurrent, deadline    Fixture // direct customers with checks of their own
	cancelled, unconfigured Fixture
	invalid                 Fixture
	// Accounts only the no-side-effects check touches, so that nothing
	// before it made its calls replays.
	quietDirect, quietReseller, quietEnd Fixture

	// Accounts of the lifecycle checks: one to update, one to delete, a
	// reseller and its end customer to delete together, and one that names
	// itself as its parent.
	updatable, deletable, delReseller, delEnd, selfParent Fixture

	// The catalogue, once fetched, and the order the subscription checks
	// place; see [suite.order].
	catalogue []*provisioningv1.Product
	orderSpec *SubscriptionFixture

	// Filled in by the checks, for the checks after them.
	configured     bool
	directRecord   *provisioningv1.SyncRecord
	resellerRecord *provisioningv1.SyncRecord

	mu     sync.Mutex
	record map[string]*provisioningv1.SyncRecord // every record seen, by account id
}

func newSuite(ctx context.Context, client provisioningv1.ProvisioningAdapterClient, cfg Config) (*suite, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: client is nil", ErrInvalidConfig)
	}
	if err := cfg.Fixtures.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	cfg = cfg.withDefaults()
	s := &suite{
		ctx:    ctx,
		cfg:    cfg,
		c:      &recorder{next: client, timeout: cfg.CallTimeout},
		caps:   map[provisioningv1.Capability]bool{},
		record: map[string]*provisioningv1.SyncRecord{},
	}
	run := cfg.RunID
	f := cfg.Fixtures
	s.direct = instantiate(f.DirectCustomer, run+"d")
	s.reseller = instantiate(f.Reseller, run+"r")
	s.end = instantiate(f.EndCustomer, run+"e")
	s.end.Account.ParentId = s.reseller.Account.GetId()
	s.orphanParent = instantiate(f.Reseller, run+"p")
	s.orphan = instantiate(f.EndCustomer, run+"o")
	s.orphan.Account.ParentId = s.orphanParent.Account.GetId()
	s.concurrent = instantiate(f.DirectCustomer, run+"c")
	s.deadline = instantiate(f.DirectCustomer, run+"t")
	s.cancelled = instantiate(f.DirectCustomer, run+"x")
	s.unconfigured = instantiate(f.DirectCustomer, run+"u")
	s.invalid = instantiate(f.DirectCustomer, run+"i")
	s.quietDirect = instantiate(f.DirectCustomer, run+"qd")
	s.quietReseller = instantiate(f.Reseller, run+"qr")
	s.quietEnd = instantiate(f.EndCustomer, run+"qe")
	s.quietEnd.Account.ParentId = s.quietReseller.Account.GetId()
	s.updatable = instantiate(f.DirectCustomer, run+"up")
	s.deletable = instantiate(f.DirectCustomer, run+"del")
	s.delReseller = instantiate(f.Reseller, run+"dr")
	s.delEnd = instantiate(f.EndCustomer, run+"de")
	s.delEnd.Account.ParentId = s.delReseller.Account.GetId()
	s.selfParent = instantiate(f.DirectCustomer, run+"sp")
	s.selfParent.Account.ParentId = s.selfParent.Account.GetId()

	// The plugin's identity tells which settings are secrets; learn it before
	// any other call so the secret scan covers the whole run.
	s.info, s.infoErr = s.c.GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{})
	if s.infoErr == nil {
		var secrets []secret
		for _, f := range s.info.GetConfigFields() {
			if v := cfg.Settings[f.GetKey()]; f.GetSensitive() && len(v) >= minSecretLen {
				secrets = append(secrets, secret{key: f.GetKey(), value: []byte(v)})
			}
		}
		s.c.setSecrets(secrets)
		if len(secrets) > 0 {
			var pairs []string
			for _, sec := range secrets {
				pairs = append(pairs, string(sec.value), "[REDACTED "+sec.key+"]")
			}
			s.redactor = strings.NewReplacer(pairs...)
		}
		s.c.observe(rpcGetPluginInfo, s.info, nil)
		for _, c := range s.info.GetCapabilities() {
			s.caps[c] = true
		}
	}
	return s, nil
}

// needInfo returns the plugin's GetPluginInfo answer, or ends the check.
func (s *suite) needInfo(t T) *provisioningv1.GetPluginInfoResponse {
	t.Helper()
	if s.infoErr != nil {
		t.Fatalf("GetPluginInfo failed: %v", s.infoErr)
	}
	return s.info
}

// needCap skips the check unless the plugin claims every capability in cs
// and is configured.
func (s *suite) needCap(t T, cs ...provisioningv1.Capability) {
	t.Helper()
	s.needInfo(t)
	for _, c := range cs {
		if !s.caps[c] {
			t.Skipf("the plugin does not claim %s", c)
		}
	}
	if !s.configured {
		t.Skipf("the plugin is not configured (configure.valid did not pass)")
	}
}

// needLifecycle skips the check unless the plugin implements the account
// lifecycle: it claims CAPABILITY_DELETE (the capability that came with the
// lifecycle contract: a convergent Synchronize, SELF_PARENT, DeleteAccount)
// and CAPABILITY_SYNCHRONIZE.
func (s *suite) needLifecycle(t T) {
	t.Helper()
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	if !s.caps[provisioningv1.Capability_CAPABILITY_DELETE] {
		t.Skipf("the plugin does not claim CAPABILITY_DELETE, which marks the account lifecycle (convergent Synchronize, SELF_PARENT, DeleteAccount)")
	}
}

// unclaimed lists the gated RPCs whose capability the plugin does not claim.
func (s *suite) unclaimed() map[string]bool {
	m := map[string]bool{}
	for c, rpc := range gatedRPCs {
		if !s.caps[c] {
			m[rpc] = true
		}
	}
	return m
}

// remember keeps rec for the cleanup hook.
func (s *suite) remember(rec *provisioningv1.SyncRecord) {
	if rec.GetAccountId() == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record[rec.GetAccountId()] = rec
}

// synced returns the records of every account the run synchronized.
func (s *suite) synced() []*provisioningv1.SyncRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*provisioningv1.SyncRecord, 0, len(s.record))
	for _, id := range slices.Sorted(maps.Keys(s.record)) {
		out = append(out, s.record[id])
	}
	return out
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ancestors returns the ancestors of fx's account: its reseller with the
// reseller's record, or none for a direct account.
func (s *suite) ancestors(fx Fixture, parent Fixture, parentRecord *provisioningv1.SyncRecord) []*provisioningv1.Ancestor {
	if fx.Account.GetParentId() == "" {
		return nil
	}
	return []*provisioningv1.Ancestor{{Account: parent.Account, Record: parentRecord}}
}

// values returns what a person would submit for fx: the form's pre-populated
// values of the fields they can edit, overlaid with the fixture's values.
// Without the SYNC_OPTIONS capability it is the fixture's values alone.
func (s *suite) values(t T, fx Fixture, anc []*provisioningv1.Ancestor) map[string]string {
	t.Helper()
	vals := map[string]string{}
	if s.caps[provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS] {
		form, err := s.c.GetSyncOptions(s.ctx, &provisioningv1.GetSyncOptionsRequest{Account: fx.Account, Ancestors: anc})
		if err != nil {
			t.Fatalf("GetSyncOptions(%s): %v", fx.Account.GetId(), err)
		}
		for _, f := range form.GetFields() {
			if !f.GetReadOnly() && f.GetValue() != "" {
				vals[f.GetKey()] = f.GetValue()
			}
		}
	}
	maps.Copy(vals, fx.Values)
	return vals
}

// form returns fx's form, or ends the check.
func (s *suite) form(t T, fx Fixture, anc []*provisioningv1.Ancestor) *provisioningv1.GetSyncOptionsResponse {
	t.Helper()
	form, err := s.c.GetSyncOptions(s.ctx, &provisioningv1.GetSyncOptionsRequest{Account: fx.Account, Ancestors: anc})
	if err != nil {
		t.Fatalf("GetSyncOptions(%s): %v", fx.Account.GetId(), err)
	}
	return form
}

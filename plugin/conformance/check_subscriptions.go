package conformance

import (
	"fmt"
	"slices"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// unknownProduct is a product id no catalogue has.
const unknownProduct = "CONFORMANCE_NO_SUCH_PRODUCT"

// needSubscriptions skips the check unless the plugin claims the orders
// RPCs and can synchronize the accounts that hold them.
func (s *suite) needSubscriptions(t T) {
	t.Helper()
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SUBSCRIPTIONS, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
}

// products returns the plugin's catalogue, fetched once, or ends the check.
func (s *suite) products(t T) []*provisioningv1.Product {
	t.Helper()
	if s.catalogue == nil {
		resp, err := s.c.GetServiceDefinition(s.ctx, &provisioningv1.GetServiceDefinitionRequest{})
		if err != nil {
			t.Fatalf("GetServiceDefinition: %v", err)
		}
		s.catalogue = resp.GetProducts()
	}
	return s.catalogue
}

// order returns the order the checks place: [Fixtures.Subscription], or the
// first base product of the catalogue at its smallest quantity.
func (s *suite) order(t T) *SubscriptionFixture {
	t.Helper()
	if s.orderSpec != nil {
		return s.orderSpec
	}
	if f := s.cfg.Fixtures.Subscription; f != nil {
		s.orderSpec = f
		return f
	}
	for _, p := range s.products(t) {
		if p.GetKind() != provisioningv1.ProductKind_PRODUCT_KIND_BASE {
			continue
		}
		q := max(1, p.GetMinQuantity())
		next := q + 1
		if p.GetMaxQuantity() > 0 && next > p.GetMaxQuantity() {
			t.Skipf("no fixture subscription, and base product %s sells only one quantity (%d): give one in the fixtures", p.GetId(), q)
		}
		s.orderSpec = &SubscriptionFixture{ProductID: p.GetId(), Quantity: q, NewQuantity: next}
		return s.orderSpec
	}
	t.Skipf("no fixture subscription, and the catalogue has no base product to order")
	return nil
}

// holder synchronizes a fresh direct customer to hold one check's orders.
func (s *suite) holder(t T, token string) (Fixture, *provisioningv1.SyncRecord) {
	t.Helper()
	fx := instantiate(s.cfg.Fixtures.DirectCustomer, s.cfg.RunID+token)
	return fx, s.syncFresh(t, fx, nil, s.values(t, fx, nil)).GetRecord()
}

// subscription is the desired state of one order of the fixture's product
// for fx, with quantity q (add-ons as the fixture has them).
func (s *suite) subscription(spec *SubscriptionFixture, fx Fixture, token string, q int32) *provisioningv1.Subscription {
	sub := &provisioningv1.Subscription{
		Id: "sub-" + s.cfg.RunID + token, AccountId: fx.Account.GetId(), ProductId: spec.ProductID,
		Quantity: q, Attributes: spec.Attributes,
	}
	for i, a := range spec.Addons {
		id := a.GetId()
		if id == "" {
			id = fmt.Sprintf("addon-%d", i)
		}
		sub.Addons = append(sub.Addons, &provisioningv1.Addon{Id: id, ProductId: a.GetProductId(), Quantity: a.GetQuantity()})
	}
	return sub
}

// subRecordProblems lists what is wrong with a subscription record answered
// for sub, expected in one of statuses.
func (s *suite) subRecordProblems(rec *provisioningv1.SubscriptionRecord, sub *provisioningv1.Subscription, statuses ...provisioningv1.SubscriptionStatus) []string {
	if rec == nil {
		return []string{"no record"}
	}
	var ps []string
	add := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	if rec.GetPlugin() != s.info.GetName() {
		add("record.plugin is %q, want %q", rec.GetPlugin(), s.info.GetName())
	}
	if rec.GetSubscriptionId() != sub.GetId() {
		add("record.subscription_id is %q, want %q", rec.GetSubscriptionId(), sub.GetId())
	}
	if rec.GetAccountId() != sub.GetAccountId() {
		add("record.account_id is %q, want %q", rec.GetAccountId(), sub.GetAccountId())
	}
	if rec.GetProductId() != sub.GetProductId() {
		add("record.product_id is %q, want %q", rec.GetProductId(), sub.GetProductId())
	}
	if rec.GetQuantity() != sub.GetQuantity() {
		add("record.quantity is %d, want the desired %d", rec.GetQuantity(), sub.GetQuantity())
	}
	if rec.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING && slices.Contains(statuses, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE) {
		if !s.caps[provisioningv1.Capability_CAPABILITY_ASYNC] {
			add("record is PENDING but the plugin does not claim CAPABILITY_ASYNC")
		}
	} else if !slices.Contains(statuses, rec.GetStatus()) {
		add("record status is %s, want %v", rec.GetStatus(), statuses)
	}
	if rec.GetErrorReason() != "" && rec.GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED {
		add("record is %s but carries error_reason %q", rec.GetStatus(), rec.GetErrorReason())
	}
	return ps
}

// sameSubscription lists how b departs from a as the record of one
// subscription: the remote allocation, product and quantities.
func sameSubscription(a, b *provisioningv1.SubscriptionRecord) string {
	return cmp.Diff(a, b, protocmp.Transform(),
		protocmp.IgnoreFields(&provisioningv1.SubscriptionRecord{}, "updated_at", "message", "private", "status"))
}

// provision calls ProvisionSubscription for sub held by fx.
func (s *suite) provision(fx Fixture, acct *provisioningv1.SyncRecord, sub *provisioningv1.Subscription, rec *provisioningv1.SubscriptionRecord) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	return s.c.ProvisionSubscription(s.ctx, &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub, Account: fx.Account, AccountRecord: acct, Record: rec})
}

var activeStatus = []provisioningv1.SubscriptionStatus{provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE}

func checkSubscriptionsCatalogue(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SUBSCRIPTIONS)
	products := s.products(t)
	if len(products) == 0 {
		t.Fatalf("GetServiceDefinition answers no product")
	}
	byID := map[string]*provisioningv1.Product{}
	for i, p := range products {
		id := p.GetId()
		switch {
		case id == "":
			t.Errorf("product #%d has no id", i+1)
		case byID[id] != nil:
			t.Errorf("product id %q appears twice", id)
		}
		byID[id] = p
		if p.GetName() == "" {
			t.Errorf("product %q has no name", id)
		}
		if p.GetMinQuantity() < 0 || p.GetMaxQuantity() < 0 || (p.GetMaxQuantity() > 0 && p.GetMinQuantity() > p.GetMaxQuantity()) {
			t.Errorf("product %q: min_quantity %d and max_quantity %d are not a range", id, p.GetMinQuantity(), p.GetMaxQuantity())
		}
		if !p.GetTrialAvailable() && (p.GetTrialMaxQuantity() != 0 || p.GetTrialDays() != 0) {
			t.Errorf("product %q has no trial but trial_max_quantity %d, trial_days %d", id, p.GetTrialMaxQuantity(), p.GetTrialDays())
		}
		for _, prob := range formProblems(p.GetAttributes()) {
			t.Errorf("product %q attributes: %s", id, prob)
		}
	}
	// Base products first, then add-ons, each group by id.
	kindRank := func(p *provisioningv1.Product) int { return int(p.GetKind()) }
	if !slices.IsSortedFunc(products, func(a, b *provisioningv1.Product) int {
		if c := kindRank(a) - kindRank(b); c != 0 {
			return c
		}
		return cmpString(a.GetId(), b.GetId())
	}) {
		t.Errorf("products are not in order (base products first, then add-ons, each group by id)")
	}
	for _, p := range products {
		switch p.GetKind() {
		case provisioningv1.ProductKind_PRODUCT_KIND_BASE:
			if len(p.GetAddonOf()) > 0 {
				t.Errorf("base product %q has addon_of %q", p.GetId(), p.GetAddonOf())
			}
		case provisioningv1.ProductKind_PRODUCT_KIND_ADDON:
			if len(p.GetAddonOf()) == 0 {
				t.Errorf("add-on %q has no addon_of: it goes on no base product", p.GetId())
			}
			for _, b := range p.GetAddonOf() {
				if byID[b].GetKind() != provisioningv1.ProductKind_PRODUCT_KIND_BASE {
					t.Errorf("add-on %q names %q in addon_of, which is not a base product of the catalogue", p.GetId(), b)
				}
			}
		default:
			t.Errorf("product %q has kind %s", p.GetId(), p.GetKind())
		}
	}
	again, err := s.c.GetServiceDefinition(s.ctx, &provisioningv1.GetServiceDefinitionRequest{})
	if err != nil {
		t.Fatalf("second GetServiceDefinition: %v", err)
	}
	if diff := cmp.Diff(products, again.GetProducts(), protocmp.Transform()); diff != "" {
		t.Errorf("GetServiceDefinition answered another catalogue the second time (-first +second):\n%s", diff)
	}
	// The fixture's order must fit the catalogue, or the checks after this
	// one test the fixtures, not the plugin.
	if f := s.cfg.Fixtures.Subscription; f != nil {
		base := byID[f.ProductID]
		switch {
		case base.GetKind() != provisioningv1.ProductKind_PRODUCT_KIND_BASE:
			t.Errorf("fixtures: subscription product_id %q is not a base product of the catalogue", f.ProductID)
		case base.GetMaxQuantity() > 0 && max(f.Quantity, f.newQuantity()) > base.GetMaxQuantity(),
			min(f.Quantity, f.newQuantity()) < base.GetMinQuantity():
			t.Errorf("fixtures: subscription quantities %d and %d are not within %s's %d..%d", f.Quantity, f.newQuantity(), f.ProductID, base.GetMinQuantity(), base.GetMaxQuantity())
		}
		for _, a := range f.Addons {
			if p := byID[a.GetProductId()]; p.GetKind() != provisioningv1.ProductKind_PRODUCT_KIND_ADDON || !slices.Contains(p.GetAddonOf(), f.ProductID) {
				t.Errorf("fixtures: subscription add-on %q is not an add-on of %q in the catalogue", a.GetProductId(), f.ProductID)
			}
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkSubscriptionsIdempotent(s *suite, t T) {
	s.needSubscriptions(t)
	spec := s.order(t)
	fx, acct := s.holder(t, "s1")
	sub := s.subscription(spec, fx, "s1", spec.Quantity)
	first, err := s.provision(fx, acct, sub, nil)
	if err != nil {
		t.Fatalf("ProvisionSubscription: %v", err)
	}
	for _, p := range s.subRecordProblems(first.GetRecord(), sub, activeStatus...) {
		t.Errorf("ProvisionSubscription: %s", p)
	}
	if !first.GetCreated() || first.GetUpdated() {
		t.Errorf("the first ProvisionSubscription answered created=%v updated=%v, want created=true updated=false", first.GetCreated(), first.GetUpdated())
	}
	prev := first.GetRecord()
	for i := 2; i <= max(3, s.cfg.Repeat/2); i++ {
		var rec *provisioningv1.SubscriptionRecord
		if i%2 == 0 {
			rec = prev // as a host would; a retry after a lost answer has none
		}
		resp, err := s.provision(fx, acct, sub, rec)
		if err != nil {
			t.Fatalf("ProvisionSubscription call %d: %v", i, err)
		}
		if resp.GetCreated() || resp.GetUpdated() {
			t.Errorf("ProvisionSubscription call %d (a replay) answered created=%v updated=%v, want both false", i, resp.GetCreated(), resp.GetUpdated())
		}
		for _, p := range s.subRecordProblems(resp.GetRecord(), sub, activeStatus...) {
			t.Errorf("ProvisionSubscription call %d: %s", i, p)
		}
		if diff := sameSubscription(first.GetRecord(), resp.GetRecord()); diff != "" {
			t.Errorf("ProvisionSubscription call %d answered another record (-first +now):\n%s", i, diff)
		}
		prev = resp.GetRecord()
	}
}

func checkSubscriptionsQuantity(s *suite, t T) {
	s.needSubscriptions(t)
	spec := s.order(t)
	fx, acct := s.holder(t, "s2")
	sub := s.subscription(spec, fx, "s2", spec.Quantity)
	first, err := s.provision(fx, acct, sub, nil)
	if err != nil {
		t.Fatalf("ProvisionSubscription: %v", err)
	}
	rec := first.GetRecord()
	// Set, never increment: the same desired quantity twice is one change.
	for _, q := range []int32{spec.newQuantity(), spec.Quantity} {
		sub := s.subscription(spec, fx, "s2", q)
		for i, want := range []bool{true, false} {
			resp, err := s.provision(fx, acct, sub, rec)
			if err != nil {
				t.Fatalf("ProvisionSubscription to quantity %d (call %d): %v", q, i+1, err)
			}
			if resp.GetCreated() || resp.GetUpdated() != want {
				t.Errorf("ProvisionSubscription to quantity %d (call %d) answered created=%v updated=%v, want created=false updated=%v", q, i+1, resp.GetCreated(), resp.GetUpdated(), want)
			}
			for _, p := range s.subRecordProblems(resp.GetRecord(), sub, activeStatus...) {
				t.Errorf("ProvisionSubscription to quantity %d (call %d): %s", q, i+1, p)
			}
			if resp.GetRecord().GetRemoteId() != first.GetRecord().GetRemoteId() {
				t.Errorf("ProvisionSubscription to quantity %d: remote_id %q, want the allocation's %q", q, resp.GetRecord().GetRemoteId(), first.GetRecord().GetRemoteId())
			}
			rec = resp.GetRecord()
		}
		st, err := s.c.GetSubscriptionStatus(s.ctx, &provisioningv1.GetSubscriptionStatusRequest{Record: rec, Account: fx.Account, AccountRecord: acct, Subscription: sub})
		if err != nil {
			t.Fatalf("GetSubscriptionStatus at quantity %d: %v", q, err)
		}
		if got := st.GetRecord().GetQuantity(); got != q {
			t.Errorf("GetSubscriptionStatus at quantity %d: the remote holds %d", q, got)
		}
		if d := driftOn(st.GetDiagnostics()); len(d) > 0 {
			t.Errorf("GetSubscriptionStatus at quantity %d reports REMOTE_DRIFT on %q", q, d)
		}
	}
}

// cancelledError checks err is FAILED_PRECONDITION SUBSCRIPTION_CANCELLED
// with its details.
func cancelledError(t T, what string, err error) {
	t.Helper()
	d := readError(err)
	switch {
	case d.code != codes.FailedPrecondition:
		t.Errorf("%s after Cancel answered %s (%s), want FAILED_PRECONDITION SUBSCRIPTION_CANCELLED", what, d.code, d.message)
	case d.reason != "SUBSCRIPTION_CANCELLED":
		t.Errorf("%s after Cancel: ErrorInfo reason %q, want SUBSCRIPTION_CANCELLED", what, d.reason)
	case !d.precondition:
		t.Errorf("%s after Cancel: FAILED_PRECONDITION carries no PreconditionFailure violation", what)
	}
}

func checkSubscriptionsTransitions(s *suite, t T) {
	s.needSubscriptions(t)
	spec := s.order(t)
	fx, acct := s.holder(t, "s3")
	sub := s.subscription(spec, fx, "s3", spec.Quantity)
	prov, err := s.provision(fx, acct, sub, nil)
	if err != nil {
		t.Fatalf("ProvisionSubscription: %v", err)
	}
	rec := prov.GetRecord()
	type step struct {
		name string
		call func(rec *provisioningv1.SubscriptionRecord) (*provisioningv1.SubscriptionRecord, bool, error)
		want provisioningv1.SubscriptionStatus
	}
	suspend := step{"SuspendSubscription", func(rec *provisioningv1.SubscriptionRecord) (*provisioningv1.SubscriptionRecord, bool, error) {
		r, err := s.c.SuspendSubscription(s.ctx, &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: sub.GetId(), Record: rec, Account: fx.Account, AccountRecord: acct})
		return r.GetRecord(), r.GetUpdated(), err
	}, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED}
	resume := step{"ResumeSubscription", func(rec *provisioningv1.SubscriptionRecord) (*provisioningv1.SubscriptionRecord, bool, error) {
		r, err := s.c.ResumeSubscription(s.ctx, &provisioningv1.ResumeSubscriptionRequest{SubscriptionId: sub.GetId(), Record: rec, Account: fx.Account, AccountRecord: acct})
		return r.GetRecord(), r.GetUpdated(), err
	}, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE}
	cancel := step{"CancelSubscription", func(rec *provisioningv1.SubscriptionRecord) (*provisioningv1.SubscriptionRecord, bool, error) {
		r, err := s.c.CancelSubscription(s.ctx, &provisioningv1.CancelSubscriptionRequest{SubscriptionId: sub.GetId(), Record: rec, Account: fx.Account, AccountRecord: acct})
		return r.GetRecord(), r.GetUpdated(), err
	}, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED}
	// Each transition, then its replay.
	for _, st := range []step{suspend, resume, cancel} {
		for i, want := range []bool{true, false} {
			got, updated, err := st.call(rec)
			if err != nil {
				t.Fatalf("%s (call %d): %v", st.name, i+1, err)
			}
			if updated != want {
				t.Errorf("%s (call %d) answered updated=%v, want %v", st.name, i+1, updated, want)
			}
			// Suspended and cancelled records keep the quantity.
			for _, p := range s.subRecordProblems(got, sub, st.want) {
				t.Errorf("%s (call %d): %s", st.name, i+1, p)
			}
			rec = got
		}
	}
	// Cancelled is terminal.
	_, err = s.provision(fx, acct, sub, rec)
	cancelledError(t, "ProvisionSubscription", err)
	_, _, err = suspend.call(rec)
	cancelledError(t, "SuspendSubscription", err)
	_, _, err = resume.call(rec)
	cancelledError(t, "ResumeSubscription", err)
	st, err := s.c.GetSubscriptionStatus(s.ctx, &provisioningv1.GetSubscriptionStatusRequest{Record: rec, Account: fx.Account, AccountRecord: acct})
	if err != nil {
		t.Fatalf("GetSubscriptionStatus after Cancel: %v", err)
	}
	if got := st.GetRecord().GetStatus(); got != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
		t.Errorf("GetSubscriptionStatus after Cancel and the refused changes answered %s, want CANCELLED", got)
	}
}

func checkSubscriptionsUnknownProduct(s *suite, t T) {
	s.needSubscriptions(t)
	spec := s.order(t)
	fx, acct := s.holder(t, "s4")
	sub := s.subscription(spec, fx, "s4", spec.Quantity)
	sub.ProductId, sub.Addons = unknownProduct, nil
	const field = "subscription.product_id"
	resp, err := s.provision(fx, acct, sub, nil)
	d := readError(err)
	switch {
	case err == nil:
		t.Errorf("ProvisionSubscription of product %q succeeded (record %v), want INVALID_ARGUMENT", unknownProduct, resp.GetRecord())
	case d.code != codes.InvalidArgument:
		t.Errorf("ProvisionSubscription of product %q answered %s (%s), want INVALID_ARGUMENT", unknownProduct, d.code, d.message)
	case !slices.Contains(d.badRequest, field):
		t.Errorf("ProvisionSubscription of product %q: no BadRequest violation on %q (violations on %q)", unknownProduct, field, d.badRequest)
	case d.reason != "UNKNOWN_PRODUCT":
		t.Errorf("ProvisionSubscription of product %q: ErrorInfo reason %q, want UNKNOWN_PRODUCT", unknownProduct, d.reason)
	}
	v, err := s.c.ValidateSubscription(s.ctx, &provisioningv1.ValidateSubscriptionRequest{Subscription: sub, Account: fx.Account, AccountRecord: acct})
	if err != nil {
		t.Fatalf("ValidateSubscription of product %q: %v, want an error diagnostic", unknownProduct, err)
	}
	if !slices.ContainsFunc(errorDiags(v.GetDiagnostics()), func(d *provisioningv1.Diagnostic) bool {
		return d.GetCode() == "UNKNOWN_PRODUCT" && d.GetField() == field
	}) {
		t.Errorf("ValidateSubscription of product %q reports no UNKNOWN_PRODUCT error on %q, though ProvisionSubscription refuses it", unknownProduct, field)
	}
}

func checkSubscriptionsValidate(s *suite, t T) {
	s.needSubscriptions(t)
	spec := s.order(t)
	fx, acct := s.holder(t, "s5")
	sub := s.subscription(spec, fx, "s5", spec.Quantity)
	req := &provisioningv1.ValidateSubscriptionRequest{Subscription: sub, Account: fx.Account, AccountRecord: acct}
	var before []byte
	if s.cfg.StateFunc != nil {
		var err error
		if before, err = s.cfg.StateFunc(s.ctx); err != nil {
			t.Fatalf("read remote state: %v", err)
		}
	}
	first, err := s.c.ValidateSubscription(s.ctx, req)
	if err != nil {
		t.Fatalf("ValidateSubscription: %v", err)
	}
	for _, d := range errorDiags(first.GetDiagnostics()) {
		t.Errorf("ValidateSubscription of the fixture's order: error %s on %q: %s", d.GetCode(), d.GetField(), d.GetSummary())
	}
	again, err := s.c.ValidateSubscription(s.ctx, req)
	if err != nil {
		t.Fatalf("second ValidateSubscription: %v", err)
	}
	if diff := cmp.Diff(first.GetDiagnostics(), again.GetDiagnostics(), protocmp.Transform()); diff != "" {
		t.Errorf("ValidateSubscription answered differently the second time (-first +second):\n%s", diff)
	}
	if s.cfg.StateFunc != nil {
		after, err := s.cfg.StateFunc(s.ctx)
		if err != nil {
			t.Fatalf("read remote state: %v", err)
		}
		if string(before) != string(after) {
			t.Errorf("ValidateSubscription changed the remote state: %s", byteDiff(before, after))
		}
	}
	// Nothing was provisioned: the first ProvisionSubscription creates.
	prov, err := s.provision(fx, acct, sub, nil)
	if err != nil {
		t.Fatalf("ProvisionSubscription after ValidateSubscription: %v", err)
	}
	if !prov.GetCreated() {
		t.Errorf("ProvisionSubscription after ValidateSubscription answered created=false: the validation provisioned")
	}
	// Validating another quantity leaves the allocation as it is.
	other := s.subscription(spec, fx, "s5", spec.newQuantity())
	if _, err := s.c.ValidateSubscription(s.ctx, &provisioningv1.ValidateSubscriptionRequest{Subscription: other, Account: fx.Account, AccountRecord: acct, Record: prov.GetRecord()}); err != nil {
		t.Fatalf("ValidateSubscription of quantity %d: %v", other.GetQuantity(), err)
	}
	st, err := s.c.GetSubscriptionStatus(s.ctx, &provisioningv1.GetSubscriptionStatusRequest{Record: prov.GetRecord(), Account: fx.Account, AccountRecord: acct})
	if err != nil {
		t.Fatalf("GetSubscriptionStatus: %v", err)
	}
	if got := st.GetRecord().GetQuantity(); got != sub.GetQuantity() {
		t.Errorf("after ValidateSubscription of quantity %d, the remote holds %d, want %d", other.GetQuantity(), got, sub.GetQuantity())
	}
}

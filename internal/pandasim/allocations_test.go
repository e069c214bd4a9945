package pandasim_test

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudbss/provisioning/internal/pandasim"
)

// allocStep is one allocation call: method, account (by role in the
// fixture: "R" reseller, "C" its customer, "D" a direct customer, "root",
// or an id), product, type, quantity.
type allocStep struct {
	method, who, product, typ string
	qty                       int
}

func post(who, product, typ string, qty int) allocStep {
	return allocStep{http.MethodPost, who, product, typ, qty}
}
func put(who, product, typ string, qty int) allocStep {
	return allocStep{http.MethodPut, who, product, typ, qty}
}
func del(who, product, typ string) allocStep {
	return allocStep{http.MethodDelete, who, product, typ, 0}
}

// allocFixture is a simulator whose root holds 300 EPP, 100 EPDR and 100
// PATCH_MANAGEMENT and nothing else, with root → R (service provider) → C
// (subscriber) and root → D (subscriber).
type allocFixture struct {
	*wire
	ids map[string]string
}

func newAllocFixture(t *testing.T, opts ...pandasim.Option) *allocFixture {
	t.Helper()
	opts = append([]pandasim.Option{pandasim.WithRootInventory(map[string]int{"EPP": 300, "EPDR": 100, "PATCH_MANAGEMENT": 100})}, opts...)
	w := newWire(t, opts...)
	r := w.create(root, 1, "reseller")
	c := w.create(r.ID, 2, "customer")
	d := w.create(root, 2, "direct")
	return &allocFixture{wire: w, ids: map[string]string{"R": r.ID, "C": c.ID, "D": d.ID, "root": root}}
}

func (f *allocFixture) id(who string) string {
	if id, ok := f.ids[who]; ok {
		return id
	}
	return who
}

func (f *allocFixture) do(s allocStep) (int, string) {
	f.t.Helper()
	return f.api(s.method, assetsPath(f.id(s.who)), pandasim.AllocationRequest{ProductName: s.product, AllocationType: s.typ, Quantity: s.qty}, nil)
}

func TestAllocationRules(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		pre        []allocStep
		call       allocStep
		wantStatus int
		wantCode   string
		// unchanged says a successful call leaves the state as it was.
		unchanged bool
	}{
		// Syntax.
		"a subscription":   {call: post("D", "EPDR", "subscription", 10), wantStatus: 200},
		"a term":           {call: post("D", "EPDR", "term", 10), wantStatus: 200},
		"unknown product":  {call: post("D", "EDR_CORE", "subscription", 1), wantStatus: 400, wantCode: pandasim.CodeUnknownProduct},
		"unknown type":     {call: post("D", "EPDR", "linked", 1), wantStatus: 400, wantCode: pandasim.CodeInvalidRequest},
		"zero quantity":    {call: post("D", "EPDR", "subscription", 0), wantStatus: 400, wantCode: pandasim.CodeInvalidRequest},
		"unknown account":  {call: post("ACC-9999999", "EPDR", "subscription", 1), wantStatus: 404, wantCode: pandasim.CodeNotFound},
		"the root account": {call: post("root", "EPDR", "subscription", 1), wantStatus: 409, wantCode: pandasim.CodeRootAccount},

		// One base product per subscriber, several per service provider.
		"second base, subscriber": {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: post("D", "EPP", "subscription", 5), wantStatus: 409, wantCode: pandasim.CodeOneBaseProduct},
		"second base as a trial":  {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: post("D", "EPP", "trial", 5), wantStatus: 409, wantCode: pandasim.CodeOneBaseProduct},
		"second base, provider":   {pre: []allocStep{post("R", "EPDR", "subscription", 10)}, call: post("R", "EPP", "term", 5), wantStatus: 200},

		// Add-ons.
		"add-on without base":       {call: post("D", "PATCH_MANAGEMENT", "subscription", 1), wantStatus: 409, wantCode: pandasim.CodeNoBaseProduct},
		"add-on above base":         {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: post("D", "PATCH_MANAGEMENT", "subscription", 11), wantStatus: 409, wantCode: pandasim.CodeAddonExceedsBase},
		"add-on equal to base":      {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: post("D", "PATCH_MANAGEMENT", "subscription", 10), wantStatus: 200},
		"add-on of another type":    {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: post("D", "PATCH_MANAGEMENT", "term", 5), wantStatus: 409, wantCode: pandasim.CodeAllocationTypeConflict},
		"add-on over both bases":    {pre: []allocStep{post("R", "EPDR", "term", 10), post("R", "EPP", "term", 10)}, call: post("R", "PATCH_MANAGEMENT", "term", 20), wantStatus: 200},
		"add-on over typed bases":   {pre: []allocStep{post("R", "EPDR", "term", 10), post("R", "EPP", "subscription", 10)}, call: post("R", "PATCH_MANAGEMENT", "term", 11), wantStatus: 409, wantCode: pandasim.CodeAddonExceedsBase},
		"base below its add-on":     {pre: []allocStep{post("D", "EPDR", "subscription", 10), post("D", "PATCH_MANAGEMENT", "subscription", 10)}, call: put("D", "EPDR", "subscription", 9), wantStatus: 409, wantCode: pandasim.CodeAddonExceedsBase},
		"add-on raised above":       {pre: []allocStep{post("D", "EPDR", "subscription", 10), post("D", "PATCH_MANAGEMENT", "subscription", 10)}, call: put("D", "PATCH_MANAGEMENT", "subscription", 11), wantStatus: 409, wantCode: pandasim.CodeAddonExceedsBase},
		"base deleted under add-on": {pre: []allocStep{post("D", "EPDR", "subscription", 10), post("D", "PATCH_MANAGEMENT", "subscription", 1)}, call: del("D", "EPDR", "subscription"), wantStatus: 409, wantCode: pandasim.CodeNoBaseProduct},

		// One allocation per product and type.
		"same product again":       {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: post("D", "EPDR", "subscription", 5), wantStatus: 409, wantCode: pandasim.CodeAllocationExists},
		"same product, other type": {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: post("D", "EPDR", "term", 5), wantStatus: 409, wantCode: pandasim.CodeAllocationTypeConflict},
		"trial of a paid product":  {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: post("D", "EPDR", "trial", 5), wantStatus: 409, wantCode: pandasim.CodeAllocationTypeConflict},
		"paid replaces the trial":  {pre: []allocStep{post("D", "EPDR", "trial", 10)}, call: post("D", "EPDR", "subscription", 20), wantStatus: 200},
		"PUT of another type":      {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: put("D", "EPDR", "term", 5), wantStatus: 409, wantCode: pandasim.CodeAllocationTypeConflict},
		"DELETE of another type":   {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: del("D", "EPDR", "term"), wantStatus: 409, wantCode: pandasim.CodeAllocationTypeConflict},
		"PUT with none":            {call: put("D", "EPDR", "subscription", 5), wantStatus: 404, wantCode: pandasim.CodeNotFound},
		"DELETE with none":         {call: del("D", "EPDR", "subscription"), wantStatus: 404, wantCode: pandasim.CodeNotFound},
		"PUT the same quantity":    {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: put("D", "EPDR", "subscription", 10), wantStatus: 200, unchanged: true},
		"DELETE":                   {pre: []allocStep{post("D", "EPDR", "subscription", 10)}, call: del("D", "EPDR", "subscription"), wantStatus: 204},

		// Trials.
		"trial of 250":       {call: post("D", "EPP", "trial", 250), wantStatus: 200},
		"trial of 251":       {call: post("D", "EPP", "trial", 251), wantStatus: 409, wantCode: pandasim.CodeTrialLimit},
		"trial raised above": {pre: []allocStep{post("R", "EPDR", "trial", 50)}, call: put("R", "EPDR", "trial", 251), wantStatus: 409, wantCode: pandasim.CodeTrialLimit},

		// Inventory.
		"all the root holds":         {call: post("D", "EPDR", "subscription", 100), wantStatus: 200},
		"more than the root holds":   {call: post("D", "EPDR", "subscription", 101), wantStatus: 409, wantCode: pandasim.CodeInsufficientInventory},
		"a product the root lacks":   {call: post("D", "EDR", "subscription", 1), wantStatus: 409, wantCode: pandasim.CodeInsufficientInventory},
		"what the siblings left":     {pre: []allocStep{post("R", "EPDR", "subscription", 60)}, call: post("D", "EPDR", "subscription", 41), wantStatus: 409, wantCode: pandasim.CodeInsufficientInventory},
		"within the reseller's":      {pre: []allocStep{post("R", "EPDR", "subscription", 10)}, call: post("C", "EPDR", "subscription", 10), wantStatus: 200},
		"beyond the reseller's":      {pre: []allocStep{post("R", "EPDR", "subscription", 10)}, call: post("C", "EPDR", "subscription", 11), wantStatus: 409, wantCode: pandasim.CodeInsufficientInventory},
		"from a reseller with none":  {call: post("C", "EPDR", "subscription", 1), wantStatus: 409, wantCode: pandasim.CodeInsufficientInventory},
		"raised beyond the parent's": {pre: []allocStep{post("R", "EPDR", "subscription", 10), post("C", "EPDR", "subscription", 5)}, call: put("C", "EPDR", "subscription", 11), wantStatus: 409, wantCode: pandasim.CodeInsufficientInventory},
		"raised within the parent's": {pre: []allocStep{post("R", "EPDR", "subscription", 10), post("C", "EPDR", "subscription", 5)}, call: put("C", "EPDR", "subscription", 10), wantStatus: 200},
		"reseller below its child":   {pre: []allocStep{post("R", "EPDR", "subscription", 10), post("C", "EPDR", "subscription", 8)}, call: put("R", "EPDR", "subscription", 7), wantStatus: 409, wantCode: pandasim.CodeAllocatedToChildren},
		"reseller down to its child": {pre: []allocStep{post("R", "EPDR", "subscription", 10), post("C", "EPDR", "subscription", 8)}, call: put("R", "EPDR", "subscription", 8), wantStatus: 200},
		"reseller's held product":    {pre: []allocStep{post("R", "EPDR", "subscription", 10), post("C", "EPDR", "subscription", 8)}, call: del("R", "EPDR", "subscription"), wantStatus: 409, wantCode: pandasim.CodeAllocatedToChildren},
		"paid trial swap over stock": {pre: []allocStep{post("D", "EPDR", "trial", 50), post("R", "EPDR", "subscription", 40)}, call: post("D", "EPDR", "subscription", 61), wantStatus: 409, wantCode: pandasim.CodeInsufficientInventory},
		"paid trial swap in stock":   {pre: []allocStep{post("D", "EPDR", "trial", 50), post("R", "EPDR", "subscription", 40)}, call: post("D", "EPDR", "subscription", 60), wantStatus: 200},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newAllocFixture(t)
			for _, s := range tc.pre {
				if st, code := f.do(s); st >= 300 {
					t.Fatalf("setup %+v: %d %s", s, st, code)
				}
			}
			before := f.sim.Snapshot()
			st, code := f.do(tc.call)
			if diff := cmp.Diff([2]any{tc.wantStatus, tc.wantCode}, [2]any{st, code}); diff != "" {
				t.Fatalf("status, code (-want +got):\n%s", diff)
			}
			if st >= 300 || tc.unchanged {
				if diff := cmp.Diff(before, f.sim.Snapshot()); diff != "" {
					t.Errorf("the call changed the state:\n%s", diff)
				}
			}
		})
	}
}

func TestAllocationSummaryAndInventory(t *testing.T) {
	t.Parallel()
	f := newAllocFixture(t)
	for _, s := range []allocStep{
		post("R", "EPDR", "subscription", 30),
		post("R", "PATCH_MANAGEMENT", "subscription", 20),
		post("C", "EPDR", "subscription", 12),
		post("C", "PATCH_MANAGEMENT", "subscription", 12),
		post("D", "EPP", "term", 7),
		put("C", "EPDR", "subscription", 15), // set, not add
		put("C", "EPDR", "subscription", 15), // a replay changes nothing
	} {
		if st, code := f.do(s); st >= 300 {
			t.Fatalf("%+v: %d %s", s, st, code)
		}
	}
	tests := map[string]struct {
		who           string
		wantHoldings  []string
		wantInventory []pandasim.InventoryItem
	}{
		"root": {who: "root", wantHoldings: []string{}, wantInventory: []pandasim.InventoryItem{
			{ProductName: "EPP", Total: 300, Allocated: 7, Unallocated: 293},
			{ProductName: "EPDR", Total: 100, Allocated: 30, Unallocated: 70},
			{ProductName: "PATCH_MANAGEMENT", Total: 100, Allocated: 20, Unallocated: 80},
		}},
		"reseller": {who: "R", wantHoldings: []string{"EPDR/subscription=30", "PATCH_MANAGEMENT/subscription=20"}, wantInventory: []pandasim.InventoryItem{
			{ProductName: "EPDR", Total: 30, Allocated: 15, Unallocated: 15},
			{ProductName: "PATCH_MANAGEMENT", Total: 20, Allocated: 12, Unallocated: 8},
		}},
		"customer": {who: "C", wantHoldings: []string{"EPDR/subscription=15", "PATCH_MANAGEMENT/subscription=12"}, wantInventory: []pandasim.InventoryItem{
			{ProductName: "EPDR", Total: 15, Allocated: 0, Unallocated: 15},
			{ProductName: "PATCH_MANAGEMENT", Total: 12, Allocated: 0, Unallocated: 12},
		}},
		"direct": {who: "D", wantHoldings: []string{"EPP/term=7"}, wantInventory: []pandasim.InventoryItem{
			{ProductName: "EPP", Total: 7, Allocated: 0, Unallocated: 7},
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := f.summary(f.id(tc.who))
			if s.AccountID != f.id(tc.who) {
				t.Errorf("accountId %q", s.AccountID)
			}
			if diff := cmp.Diff(tc.wantHoldings, holdings(s)); diff != "" {
				t.Errorf("allocations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantInventory, s.Inventory); diff != "" {
				t.Errorf("inventory (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("hardware is empty", func(t *testing.T) {
		t.Parallel()
		var s pandasim.SoftwareSummary
		if st, _ := f.api(http.MethodGet, assetsPath(f.id("R"))+"/summary/hardware", nil, &s); st != 200 || len(s.Allocations)+len(s.Inventory) != 0 {
			t.Errorf("hardware: %d %+v", st, s)
		}
		if st, code := f.api(http.MethodGet, assetsPath(f.id("R"))+"/summary/firmware", nil, nil); st != 400 || code != pandasim.CodeInvalidRequest {
			t.Errorf("firmware: %d %s", st, code)
		}
		if st, code := f.api(http.MethodGet, summaryPath("ACC-9999999"), nil, nil); st != 404 || code != pandasim.CodeNotFound {
			t.Errorf("unknown account: %d %s", st, code)
		}
	})
	t.Run("state dump", func(t *testing.T) {
		t.Parallel()
		snap := f.sim.Snapshot()
		if len(snap.Allocations) != 5 || len(snap.Inventory) != 4 || snap.RootInventory["EPDR"] != 100 {
			t.Errorf("snapshot allocations %+v inventory %+v root %+v", snap.Allocations, snap.Inventory, snap.RootInventory)
		}
	})
}

// A trial lasts 30 simulated days, returns its licences when it ends, ends
// the module trials with it, and cannot be repeated for 90 days; a paid
// allocation replaces a running trial.
func TestTrialLifecycle(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newAllocFixture(t, clock.Option(), pandasim.WithTokenTTL(100_000*time.Hour))
	start := clock.Now().UTC()
	for _, s := range []allocStep{
		post("D", "EPP", "trial", 250),
		post("D", "PATCH_MANAGEMENT", "trial", 100),
	} {
		if st, code := f.do(s); st != 200 {
			t.Fatalf("%+v: %d %s", s, st, code)
		}
	}
	s := f.summary(f.id("D"))
	if len(s.Allocations) != 2 || s.Allocations[0].ExpiresAt == nil || !s.Allocations[0].ExpiresAt.Equal(start.Add(30*24*time.Hour)) {
		t.Fatalf("trial allocations %+v, want EPP expiring at %v", s.Allocations, start.Add(30*24*time.Hour))
	}

	clock.Add(30*24*time.Hour - time.Second)
	if got := holdings(f.summary(f.id("D"))); len(got) != 2 {
		t.Fatalf("a second before the end: %v", got)
	}
	clock.Add(time.Second)
	if got := holdings(f.summary(f.id("D"))); len(got) != 0 {
		t.Fatalf("after 30 days: %v, want none", got)
	}
	if inv := f.summary(root).Inventory; len(inv) != 3 || inv[0].Unallocated != 300 {
		t.Errorf("root inventory after the trial: %+v", inv)
	}
	if st, code := f.do(post("D", "EPP", "trial", 10)); st != 409 || code != pandasim.CodeTrialUnavailable {
		t.Errorf("a new trial at once: %d %s, want 409 %s", st, code, pandasim.CodeTrialUnavailable)
	}
	if snap := f.sim.Snapshot(); len(snap.TrialsEnded) != 2 {
		t.Errorf("trialsEnded %+v", snap.TrialsEnded)
	}
	// Through the /_sim/clock hook this time.
	var cr pandasim.ClockResponse
	if st, code := f.hook(http.MethodPost, "/_sim/clock", `{"advance":"2160h"}`, &cr); st != 200 || !cr.Now.Equal(clock.Now().Add(90*24*time.Hour)) {
		t.Fatalf("clock hook: %d %s %v", st, code, cr.Now)
	}
	if st, code := f.do(post("D", "EPP", "trial", 10)); st != 200 {
		t.Fatalf("a trial after the cooldown: %d %s", st, code)
	}
	if st, code := f.do(post("D", "PATCH_MANAGEMENT", "trial", 10)); st != 200 {
		t.Fatalf("a module trial: %d %s", st, code)
	}
	// Trial → paid: the subscription replaces the product's trial and the
	// module trial ends with it; the module is then bought too.
	if st, code := f.do(post("D", "EPP", "subscription", 40)); st != 200 {
		t.Fatalf("paid after trial: %d %s", st, code)
	}
	if diff := cmp.Diff([]string{"EPP/subscription=40"}, holdings(f.summary(f.id("D")))); diff != "" {
		t.Errorf("after trial → paid (-want +got):\n%s", diff)
	}
	if st, code := f.do(post("D", "PATCH_MANAGEMENT", "subscription", 40)); st != 200 {
		t.Fatalf("paid module: %d %s", st, code)
	}
	// A paid allocation does not expire.
	clock.Add(365 * 24 * time.Hour)
	if diff := cmp.Diff([]string{"EPP/subscription=40", "PATCH_MANAGEMENT/subscription=40"}, holdings(f.summary(f.id("D")))); diff != "" {
		t.Errorf("a year later (-want +got):\n%s", diff)
	}
}

func TestAllocationAuthAndFaults(t *testing.T) {
	t.Parallel()
	f := newAllocFixture(t)
	// Same authentication as every API route.
	req := f.request(http.MethodPost, assetsPath(f.id("D")), pandasim.AllocationRequest{ProductName: "EPDR", AllocationType: "subscription", Quantity: 1})
	req.Header.Set("WatchGuard-API-Key", pandasim.DefaultAPIKey)
	if st, code := f.send(req, nil); st != 401 || code != pandasim.CodeInvalidToken {
		t.Errorf("no token: %d %s", st, code)
	}
	req = f.request(http.MethodGet, summaryPath(f.id("D")), nil)
	req.Header.Set("Authorization", "Bearer "+f.tok)
	if st, code := f.send(req, nil); st != 403 || code != pandasim.CodeInvalidAPIKey {
		t.Errorf("no API key: %d %s", st, code)
	}
	// Commit-then-fail: the allocation is made, the answer lost.
	if err := f.sim.SetFaults(pandasim.Faults{CommitThenFailRate: 1}); err != nil {
		t.Fatal(err)
	}
	if st, code := f.do(post("D", "EPDR", "subscription", 5)); st != 500 || code != pandasim.CodeInternal {
		t.Fatalf("commit-then-fail POST: %d %s", st, code)
	}
	if st, code := f.do(put("D", "EPDR", "subscription", 6)); st != 500 || code != pandasim.CodeInternal {
		t.Fatalf("commit-then-fail PUT: %d %s", st, code)
	}
	// A broken rule is answered as such, never lost.
	if st, code := f.do(post("D", "EPDR", "subscription", 5)); st != 409 || code != pandasim.CodeAllocationExists {
		t.Fatalf("replayed POST: %d %s", st, code)
	}
	if err := f.sim.SetFaults(pandasim.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	if st, code := f.do(del("D", "EPDR", "subscription")); st != 503 || code != pandasim.CodeUnavailable {
		t.Fatalf("injected 503: %d %s", st, code)
	}
	if err := f.sim.SetFaults(pandasim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"EPDR/subscription=6"}, holdings(f.summary(f.id("D")))); diff != "" {
		t.Errorf("after the faults (-want +got):\n%s", diff)
	}
	stats := f.sim.Stats()
	if stats.CommitThenFail != 2 || stats.ByRoute["POST "+pandasim.AllocationsPrefix+"/{accountId}/assets"] != 3 {
		t.Errorf("stats %+v", stats)
	}
}

func TestAllocationStateRoundTrip(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newAllocFixture(t, clock.Option())
	for _, s := range []allocStep{
		post("R", "EPDR", "subscription", 30),
		post("C", "EPDR", "trial", 12),
		post("D", "EPP", "trial", 5),
		del("D", "EPP", "trial"), // starts a cooldown
	} {
		if st, code := f.do(s); st >= 300 {
			t.Fatalf("%+v: %d %s", s, st, code)
		}
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := f.sim.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	before := f.sim.Snapshot()
	g := newAllocFixture(t, clock.Option())
	if err := g.sim.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, g.sim.Snapshot()); diff != "" {
		t.Errorf("round trip (-saved +loaded):\n%s", diff)
	}
	// The rules hold on the loaded state.
	g.ids = f.ids
	if st, code := g.do(put("R", "EPDR", "subscription", 11)); st != 409 || code != pandasim.CodeAllocatedToChildren {
		t.Errorf("reseller below its child after load: %d %s", st, code)
	}
	if st, code := g.do(post("D", "EPP", "trial", 5)); st != 409 || code != pandasim.CodeTrialUnavailable {
		t.Errorf("cooldown after load: %d %s", st, code)
	}
	if st, code := g.api(http.MethodDelete, pandasim.AccountsPrefix+"/"+f.id("C"), nil, nil); st != 409 || code != pandasim.CodeHasAllocations {
		t.Errorf("delete of an account holding allocations after load: %d %s", st, code)
	}
	// A trial loaded from the file still ends when its time is up.
	clock.Add(pandasim.TrialDuration)
	for _, a := range g.sim.Snapshot().Allocations {
		if a.AllocationType == pandasim.AllocationTrial {
			t.Errorf("trial %s of %s outlived its end after load", a.ProductName, a.AccountID)
		}
	}

	bad := map[string]func(s *pandasim.Snapshot){
		"unknown account": func(s *pandasim.Snapshot) { s.Allocations[0].AccountID = "ACC-9999999" },
		"to the root":     func(s *pandasim.Snapshot) { s.Allocations[0].AccountID = root },
		"unknown product": func(s *pandasim.Snapshot) { s.Allocations[0].ProductName = "NOPE" },
		"bad type":        func(s *pandasim.Snapshot) { s.Allocations[0].AllocationType = "linked" },
		"zero quantity":   func(s *pandasim.Snapshot) { s.Allocations[0].Quantity = 0 },
		"twice":           func(s *pandasim.Snapshot) { s.Allocations = append(s.Allocations, s.Allocations[0]) },
	}
	for name, mutate := range bad {
		snap := f.sim.Snapshot()
		mutate(&snap)
		if err := g.sim.Restore(snap); err == nil {
			t.Errorf("%s: Restore accepted it", name)
		}
	}
}

func TestRootInventoryOption(t *testing.T) {
	t.Parallel()
	for name, inv := range map[string]map[string]int{
		"unknown product":   {"NOPE": 1},
		"negative quantity": {"EPP": -1},
	} {
		if _, err := pandasim.New(pandasim.WithRootInventory(inv)); err == nil {
			t.Errorf("%s: New accepted %v", name, inv)
		}
	}
	sim, err := pandasim.New()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pandasim.DefaultRootInventory(), sim.Snapshot().RootInventory); diff != "" {
		t.Errorf("default root inventory (-want +got):\n%s", diff)
	}
}

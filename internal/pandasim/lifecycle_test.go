package pandasim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudbss/provisioning/internal/pandasim"
)

func strp(s string) *string { return &s }

func TestPatchAccount(t *testing.T) {
	t.Parallel()
	full := func(name, email string) pandasim.PatchAccountRequest {
		return pandasim.PatchAccountRequest{Name: strp(name), FirstName: strp("Ada"), LastName: strp("Lovelace"), Email: strp(email)}
	}
	tests := map[string]struct {
		target     string // "" is the account under test
		body       any
		wantStatus int
		wantCode   string
	}{
		"all four fields":    {body: full("Renamed", "new@example.com"), wantStatus: 204},
		"empty first name":   {body: pandasim.PatchAccountRequest{Name: strp("Renamed"), FirstName: strp(""), LastName: strp(""), Email: strp("new@example.com")}, wantStatus: 204},
		"email missing":      {body: pandasim.PatchAccountRequest{Name: strp("Renamed"), FirstName: strp("A"), LastName: strp("B")}, wantStatus: 400, wantCode: pandasim.CodeInvalidRequest},
		"only the name":      {body: `{"name":"Renamed"}`, wantStatus: 400, wantCode: pandasim.CodeInvalidRequest},
		"bad email":          {body: full("Renamed", "nope"), wantStatus: 400, wantCode: pandasim.CodeInvalidRequest},
		"blank name":         {body: full(" ", "new@example.com"), wantStatus: 400, wantCode: pandasim.CodeInvalidRequest},
		"not json":           {body: `{`, wantStatus: 400, wantCode: pandasim.CodeInvalidRequest},
		"unknown account":    {target: "ACC-9999999", body: full("Renamed", "new@example.com"), wantStatus: 404, wantCode: pandasim.CodeNotFound},
		"the root may too":   {target: root, body: full("Root Renamed", "root@example.com"), wantStatus: 204},
		"name of a sibling":  {body: full("sibling", "new@example.com"), wantStatus: 204},
		"unchanged is a 204": {body: pandasim.PatchAccountRequest{Name: strp("acme"), FirstName: strp("F"), LastName: strp("L"), Email: strp("acme@example.com")}, wantStatus: 204},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWire(t)
			sp := w.create(root, 1, "sp")
			acc := w.create(sp.ID, 2, "acme")
			sibling := w.create(sp.ID, 2, "sibling")
			target := tc.target
			if target == "" {
				target = acc.ID
			}
			before := w.sim.Snapshot()
			st, code := w.api(http.MethodPatch, pandasim.AccountsPrefix+"/"+target, tc.body, nil)
			if diff := cmp.Diff([2]any{tc.wantStatus, tc.wantCode}, [2]any{st, code}); diff != "" {
				t.Fatalf("status, code (-want +got):\n%s", diff)
			}
			if st != 204 {
				if diff := cmp.Diff(before, w.sim.Snapshot()); diff != "" {
					t.Errorf("a refused PATCH changed the state:\n%s", diff)
				}
				return
			}
			req := tc.body.(pandasim.PatchAccountRequest)
			var got pandasim.Account
			w.api(http.MethodGet, pandasim.AccountsPrefix+"/"+target, nil, &got)
			want := pandasim.Account{ID: target, ParentID: got.ParentID, Type: got.Type, Name: *req.Name, FirstName: *req.FirstName, LastName: *req.LastName, Email: *req.Email}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("account after PATCH (-want +got):\n%s", diff)
			}
			if target != acc.ID {
				return
			}
			// The name filter of the parent's children follows the rename,
			// in creation order.
			var page pandasim.AccountPage
			w.api(http.MethodGet, pandasim.AccountsPrefix+"/"+sp.ID+"/children?name="+*req.Name, nil, &page)
			var ids []string
			for _, a := range page.Data {
				ids = append(ids, a.ID)
			}
			wantIDs := []string{acc.ID}
			if *req.Name == "sibling" {
				wantIDs = []string{acc.ID, sibling.ID}
			}
			if diff := cmp.Diff(wantIDs, ids); diff != "" {
				t.Errorf("children named %q (-want +got):\n%s", *req.Name, diff)
			}
			if *req.Name != "acme" {
				w.api(http.MethodGet, pandasim.AccountsPrefix+"/"+sp.ID+"/children?name=acme", nil, &page)
				if page.Total != 0 {
					t.Errorf("the old name still finds %+v", page.Data)
				}
			}
		})
	}
}

func TestDeleteAccountRules(t *testing.T) {
	t.Parallel()
	// Each case gets: root → sp → (mid → leaf), sub; operators on sub and
	// leaf. setup may add allocations.
	type tree struct{ sp, mid, leaf, sub pandasim.Account }
	tests := map[string]struct {
		setup       func(w *wire, tr tree)
		target      func(tr tree) string
		query       string
		wantStatus  int
		wantCode    string
		wantGone    func(tr tree) []string // accounts deleted, deepest first
		wantFreeOps []string               // usernames free again
	}{
		"a leaf": {
			target: func(tr tree) string { return tr.sub.ID }, wantStatus: 200,
			wantGone: func(tr tree) []string { return []string{tr.sub.ID} }, wantFreeOps: []string{"sub.admin"},
		},
		"with children": {
			target: func(tr tree) string { return tr.sp.ID }, wantStatus: 409, wantCode: pandasim.CodeHasChildren,
		},
		"with children, force=false": {
			target: func(tr tree) string { return tr.sp.ID }, query: "?force=false", wantStatus: 409, wantCode: pandasim.CodeHasChildren,
		},
		"with children, force": {
			target: func(tr tree) string { return tr.sp.ID }, query: "?force=true", wantStatus: 200,
			wantGone:    func(tr tree) []string { return []string{tr.leaf.ID, tr.mid.ID, tr.sub.ID, tr.sp.ID} },
			wantFreeOps: []string{"sub.admin", "leaf.admin"},
		},
		"holding allocations": {
			setup: func(w *wire, tr tree) {
				w.allocate(tr.sp.ID, "EPP", "subscription", 5)
				w.allocate(tr.sub.ID, "EPP", "subscription", 5)
			},
			target: func(tr tree) string { return tr.sub.ID }, wantStatus: 409, wantCode: pandasim.CodeHasAllocations,
		},
		"force, a descendant holds allocations": {
			setup: func(w *wire, tr tree) {
				w.allocate(tr.sp.ID, "EPP", "subscription", 5)
				w.allocate(tr.mid.ID, "EPP", "subscription", 5)
				w.allocate(tr.leaf.ID, "EPP", "subscription", 5)
			},
			target: func(tr tree) string { return tr.sp.ID }, query: "?force=true", wantStatus: 409, wantCode: pandasim.CodeHasAllocations,
		},
		"the root": {
			target: func(tree) string { return root }, query: "?force=true", wantStatus: 409, wantCode: pandasim.CodeRootAccount,
		},
		"unknown": {
			target: func(tree) string { return "ACC-9999999" }, wantStatus: 404, wantCode: pandasim.CodeNotFound,
		},
		"bad force": {
			target: func(tr tree) string { return tr.sub.ID }, query: "?force=yes", wantStatus: 400, wantCode: pandasim.CodeInvalidRequest,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWire(t)
			var tr tree
			tr.sp = w.create(root, 1, "sp")
			tr.mid = w.create(tr.sp.ID, 1, "mid")
			tr.leaf = w.create(tr.mid.ID, 2, "leaf")
			tr.sub = w.create(tr.sp.ID, 2, "sub")
			for _, op := range []struct{ user, acc string }{{"sub.admin", tr.sub.ID}, {"leaf.admin", tr.leaf.ID}} {
				w.api(http.MethodPost, pandasim.OperatorsPrefix+"/operators", pandasim.CreateOperatorRequest{Username: op.user, AccountID: op.acc, Email: "o@example.com", Role: "ADMINISTRATOR"}, nil)
			}
			if tc.setup != nil {
				tc.setup(w, tr)
			}
			before := w.sim.Snapshot()
			var resp pandasim.DeleteAccountResponse
			st, code := w.api(http.MethodDelete, pandasim.AccountsPrefix+"/"+tc.target(tr)+tc.query, nil, &resp)
			if diff := cmp.Diff([2]any{tc.wantStatus, tc.wantCode}, [2]any{st, code}); diff != "" {
				t.Fatalf("status, code (-want +got):\n%s", diff)
			}
			if st != 200 {
				if diff := cmp.Diff(before, w.sim.Snapshot()); diff != "" {
					t.Errorf("a refused DELETE changed the state:\n%s", diff)
				}
				return
			}
			gone := tc.wantGone(tr)
			if diff := cmp.Diff(gone[:len(gone)-1], resp.ChildIDs); diff != "" {
				t.Errorf("childIds (-want +got):\n%s", diff)
			}
			for _, id := range gone {
				if st, _ := w.api(http.MethodGet, pandasim.AccountsPrefix+"/"+id, nil, nil); st != 404 {
					t.Errorf("account %s after delete: %d, want 404", id, st)
				}
			}
			for _, u := range tc.wantFreeOps {
				if st, _ := w.api(http.MethodGet, pandasim.OperatorsPrefix+"/operators/"+u, nil, nil); st != 404 {
					t.Errorf("operator %s after delete: %d, want 404", u, st)
				}
			}
		})
	}
}

func TestConvertToServiceProvider(t *testing.T) {
	t.Parallel()
	w := newWire(t, pandasim.WithTxDelay(time.Minute))
	sp := w.create(root, 1, "sp")
	sub := w.create(sp.ID, 2, "sub")
	mid := w.create(sp.ID, 1, "mid")
	deep := w.create(mid.ID, 2, "deep") // tier 3: the deepest
	w.allocate(sp.ID, "EPDR", "subscription", 20)
	w.allocate(sp.ID, "EPP", "term", 5)
	w.allocate(sub.ID, "EPDR", "subscription", 10)
	addOperator := func(user, role string) {
		if st, code := w.api(http.MethodPost, pandasim.OperatorsPrefix+"/operators", pandasim.CreateOperatorRequest{Username: user, AccountID: sub.ID, Email: "o@example.com", Role: role}, nil); st != 202 {
			t.Fatalf("operator %s: %d %s", user, st, code)
		}
	}
	addOperator("sub.admin", "ADMINISTRATOR")
	addOperator("sub.analyst", "ANALYST")
	mustAdvance(t, w.sim, time.Minute)
	w.sim.Snapshot() // settles both
	// The observer's transaction is still pending at the conversion and
	// settles with the remapped role.
	addOperator("sub.observer", "OBSERVER")
	convert := func(id string) (pandasim.Account, int, string) {
		var a pandasim.Account
		st, code := w.hook(http.MethodPost, "/_sim/accounts/"+id+"/convert", nil, &a)
		return a, st, code
	}

	tests := map[string]struct {
		id         string
		wantStatus int
		wantCode   string
	}{
		"service provider": {id: sp.ID, wantStatus: 409, wantCode: pandasim.CodeNotSubscriber},
		"deepest tier":     {id: deep.ID, wantStatus: 409, wantCode: pandasim.CodeTierLimit},
		"unknown":          {id: "ACC-9999999", wantStatus: 404, wantCode: pandasim.CodeNotFound},
		"root":             {id: root, wantStatus: 409, wantCode: pandasim.CodeNotSubscriber},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, st, code := convert(tc.id)
			if diff := cmp.Diff([2]any{tc.wantStatus, tc.wantCode}, [2]any{st, code}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	got, st, code := convert(sub.ID)
	if st != 200 {
		t.Fatalf("convert: %d %s", st, code)
	}
	want := sub
	want.Type = pandasim.TypeServiceProvider
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("converted account (-want +got):\n%s", diff)
	}
	if _, st, code := convert(sub.ID); st != 409 || code != pandasim.CodeNotSubscriber {
		t.Errorf("second conversion: %d %s, want 409 %s (one way)", st, code, pandasim.CodeNotSubscriber)
	}
	// The pending observer transaction settles now, after the conversion.
	mustAdvance(t, w.sim, time.Minute)
	var ops pandasim.OperatorList
	w.api(http.MethodGet, pandasim.OperatorsPrefix+"/operators?accountId="+sub.ID, nil, &ops)
	roles := map[string]string{}
	for _, o := range ops.Data {
		roles[o.Username] = o.Role
	}
	if diff := cmp.Diff(map[string]string{"sub.admin": "OWNER", "sub.analyst": "HELPDESK", "sub.observer": "AUDITOR"}, roles); diff != "" {
		t.Errorf("roles after conversion (-want +got):\n%s", diff)
	}
	// A service provider now: it may have children and hand them its
	// licences, and hold a second base product.
	child := w.create(sub.ID, 2, "child")
	w.allocate(child.ID, "EPDR", "subscription", 4)
	w.allocate(sub.ID, "EPP", "term", 1)
	if diff := cmp.Diff([]string{"EPP/term=1", "EPDR/subscription=10"}, holdings(w.summary(sub.ID))); diff != "" {
		t.Errorf("allocations kept (-want +got):\n%s", diff)
	}
}

func TestSimAccountHooks(t *testing.T) {
	t.Parallel()
	w := newWire(t)
	sp := w.create(root, 1, "sp")
	sub := w.create(sp.ID, 2, "sub")
	w.allocate(sp.ID, "EPDR", "subscription", 20)
	w.allocate(sub.ID, "EPDR", "subscription", 10)

	// PATCH /_sim takes any subset of the fields and still validates.
	var got pandasim.Account
	if st, code := w.hook(http.MethodPatch, "/_sim/accounts/"+sub.ID, `{"email":"drifted@example.com"}`, &got); st != 200 {
		t.Fatalf("sim patch: %d %s", st, code)
	}
	want := sub
	want.Email = "drifted@example.com"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after sim patch (-want +got):\n%s", diff)
	}
	for name, tc := range map[string]struct {
		method, path, body string
		wantStatus         int
	}{
		"patch bad email":   {http.MethodPatch, "/_sim/accounts/" + sub.ID, `{"email":"x"}`, 400},
		"patch unknown":     {http.MethodPatch, "/_sim/accounts/ACC-9999999", `{"name":"x"}`, 404},
		"delete the root":   {http.MethodDelete, "/_sim/accounts/" + root, "", 409},
		"delete unknown":    {http.MethodDelete, "/_sim/accounts/ACC-9999999", "", 404},
		"clock backwards":   {http.MethodPost, "/_sim/clock", `{"advance":"-1h"}`, 400},
		"clock not a value": {http.MethodPost, "/_sim/clock", `{"advance":"soon"}`, 400},
	} {
		if st, _ := w.hook(tc.method, tc.path, tc.body, nil); st != tc.wantStatus {
			t.Errorf("%s: %d, want %d", name, st, tc.wantStatus)
		}
	}

	// DELETE /_sim takes the account with its allocations (unlike the API)
	// and the licences return to the parent.
	var del pandasim.DeleteAccountResponse
	if st, code := w.hook(http.MethodDelete, "/_sim/accounts/"+sub.ID, nil, &del); st != 200 || len(del.ChildIDs) != 0 {
		t.Fatalf("sim delete: %d %s %+v", st, code, del)
	}
	if st, _ := w.api(http.MethodGet, pandasim.AccountsPrefix+"/"+sub.ID, nil, nil); st != 404 {
		t.Errorf("deleted account: %d", st)
	}
	wantInv := []pandasim.InventoryItem{{ProductName: "EPDR", Total: 20, Allocated: 0, Unallocated: 20}}
	if diff := cmp.Diff(wantInv, w.summary(sp.ID).Inventory); diff != "" {
		t.Errorf("parent inventory after the sim delete (-want +got):\n%s", diff)
	}
}

// mustAdvance moves the simulator's clock forward d.
func mustAdvance(t *testing.T, s *pandasim.Server, d time.Duration) {
	t.Helper()
	if err := s.AdvanceClock(d); err != nil {
		t.Fatalf("advance the clock %v: %v", d, err)
	}
}

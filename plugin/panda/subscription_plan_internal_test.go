package panda

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func summaryOf(allocs ...Allocation) *SoftwareSummary { return &SoftwareSummary{Allocations: allocs} }

func opStrings(ops []allocOp) []string {
	var out []string
	for _, op := range ops {
		out = append(out, op.String())
	}
	return out
}

func testOrder(qty int, trial bool, addons ...*provisioningv1.Addon) order {
	return orderOf(&provisioningv1.Subscription{Id: "S-1", AccountId: "C-1", ProductId: "EPDR", Quantity: int32(qty), Addons: addons, Trial: trial})
}

func pm(qty int32) *provisioningv1.Addon {
	return &provisioningv1.Addon{Id: "L-1", ProductId: "PATCH_MANAGEMENT", Quantity: qty}
}

func TestPlanAllocations(t *testing.T) {
	t.Parallel()
	const acc = "ACC-1"
	tests := map[string]struct {
		o           order
		owned       []string
		cur         *SoftwareSummary
		want        []string
		wantCreated bool
		wantDiags   []string
	}{
		"new order": {
			o:    testOrder(10, false, pm(5)),
			cur:  summaryOf(),
			want: []string{"create ACC-1/EPDR/subscription 0→10", "create ACC-1/PATCH_MANAGEMENT/subscription 0→5"}, wantCreated: true,
		},
		"replay": {
			o: testOrder(10, false, pm(5)), owned: []string{"PATCH_MANAGEMENT"},
			cur: summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}, Allocation{Product: "PATCH_MANAGEMENT", Type: "subscription", Quantity: 5}),
		},
		"raise base and add-on: base first": {
			o: testOrder(25, false, pm(25)), owned: []string{"PATCH_MANAGEMENT"},
			cur:  summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}, Allocation{Product: "PATCH_MANAGEMENT", Type: "subscription", Quantity: 10}),
			want: []string{"set ACC-1/EPDR/subscription 10→25", "set ACC-1/PATCH_MANAGEMENT/subscription 10→25"},
		},
		"lower base and add-on: add-on first": {
			o: testOrder(5, false, pm(5)), owned: []string{"PATCH_MANAGEMENT"},
			cur:  summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}, Allocation{Product: "PATCH_MANAGEMENT", Type: "subscription", Quantity: 10}),
			want: []string{"set ACC-1/PATCH_MANAGEMENT/subscription 10→5", "set ACC-1/EPDR/subscription 10→5"},
		},
		"a dropped add-on is released first": {
			o: testOrder(5, false), owned: []string{"PATCH_MANAGEMENT"},
			cur:  summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}, Allocation{Product: "PATCH_MANAGEMENT", Type: "subscription", Quantity: 10}),
			want: []string{"delete ACC-1/PATCH_MANAGEMENT/subscription", "set ACC-1/EPDR/subscription 10→5"},
		},
		"another subscription's add-on is left alone": {
			o:   testOrder(10, false),
			cur: summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}, Allocation{Product: "DATA_CONTROL", Type: "subscription", Quantity: 3}),
		},
		"trial to paid: the paid allocation replaces the trial, add-ons after": {
			o: testOrder(50, false, pm(50)), owned: []string{"PATCH_MANAGEMENT"},
			cur:  summaryOf(Allocation{Product: "EPDR", Type: "trial", Quantity: 20}, Allocation{Product: "PATCH_MANAGEMENT", Type: "trial", Quantity: 20}),
			want: []string{"create ACC-1/EPDR/subscription 20→50", "create ACC-1/PATCH_MANAGEMENT/subscription 0→50"},
		},
		"paid to trial": {
			o:         testOrder(10, true),
			cur:       summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}),
			wantDiags: []string{"TRIAL_DOWNGRADE subscription.trial"},
		},
		"another paid type in Panda": {
			o:         testOrder(10, false),
			cur:       summaryOf(Allocation{Product: "EPDR", Type: "term", Quantity: 10}),
			wantDiags: []string{"ALLOCATION_TYPE_MISMATCH subscription.quantity"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, ds := planAllocations(tc.o, acc, tc.owned, tc.cur)
			var gotDiags []string
			for _, d := range ds {
				gotDiags = append(gotDiags, d.GetCode()+" "+d.GetField())
			}
			if diff := cmp.Diff(tc.wantDiags, gotDiags); diff != "" {
				t.Fatalf("diagnostics (-want +got):\n%s", diff)
			}
			if len(ds) > 0 {
				return
			}
			if diff := cmp.Diff(tc.want, opStrings(p.ops)); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			if p.created != tc.wantCreated || p.empty() != (len(tc.want) == 0) {
				t.Errorf("created = %v, empty = %v", p.created, p.empty())
			}
		})
	}
}

func TestPlanTopUps(t *testing.T) {
	t.Parallel()
	const reseller = "ACC-R"
	stock := func(items ...InventoryItem) *SoftwareSummary { return &SoftwareSummary{Inventory: items} }
	tests := map[string]struct {
		inc       map[string]int
		rs, root  *SoftwareSummary
		want      []string
		wantShort []shortage
	}{
		"the reseller's free stock covers it": {
			inc: map[string]int{"EPDR": 10},
			rs:  &SoftwareSummary{Allocations: []Allocation{{Product: "EPDR", Type: "subscription", Quantity: 30}}, Inventory: []InventoryItem{{Product: "EPDR", Total: 30, Allocated: 20, Unallocated: 10}}},
		},
		"grow an existing allocation by what is missing": {
			inc:  map[string]int{"EPDR": 10},
			rs:   &SoftwareSummary{Allocations: []Allocation{{Product: "EPDR", Type: "term", Quantity: 30}}, Inventory: []InventoryItem{{Product: "EPDR", Total: 30, Allocated: 26, Unallocated: 4}}},
			root: stock(InventoryItem{Product: "EPDR", Total: 100, Unallocated: 70}),
			want: []string{"set ACC-R/EPDR/term 30→36"},
		},
		"new allocations, base first; the add-on takes the base's type": {
			inc:  map[string]int{"PATCH_MANAGEMENT": 5, "EPDR": 10},
			rs:   &SoftwareSummary{},
			root: stock(InventoryItem{Product: "EPDR", Unallocated: 100}, InventoryItem{Product: "PATCH_MANAGEMENT", Unallocated: 100}),
			want: []string{"create ACC-R/EPDR/subscription 0→10", "create ACC-R/PATCH_MANAGEMENT/subscription 0→5"},
		},
		"an over-allocated reseller counts as empty": {
			inc:  map[string]int{"EPDR": 2},
			rs:   &SoftwareSummary{Allocations: []Allocation{{Product: "EPDR", Type: "subscription", Quantity: 10}}, Inventory: []InventoryItem{{Product: "EPDR", Total: 10, Allocated: 13, Unallocated: -3}}},
			root: stock(InventoryItem{Product: "EPDR", Unallocated: 100}),
			want: []string{"set ACC-R/EPDR/subscription 10→12"},
		},
		"the root runs out: no top-up at all": {
			inc:       map[string]int{"PATCH_MANAGEMENT": 10, "EPDR": 10},
			rs:        &SoftwareSummary{},
			root:      stock(InventoryItem{Product: "EPDR", Unallocated: 100}, InventoryItem{Product: "PATCH_MANAGEMENT", Unallocated: 4}),
			wantShort: []shortage{{product: "PATCH_MANAGEMENT", requested: 10, available: 4, field: "f-PATCH_MANAGEMENT"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fields := map[string]string{}
			for p := range tc.inc {
				fields[p] = "f-" + p
			}
			ups, short := planTopUps(tc.inc, fields, reseller, tc.rs, tc.root, AllocationSubscription)
			if diff := cmp.Diff(tc.want, opStrings(ups)); diff != "" {
				t.Errorf("top-ups (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantShort, short, cmp.AllowUnexported(shortage{})); diff != "" {
				t.Errorf("shortages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDrift(t *testing.T) {
	t.Parallel()
	ended := fixedTestNow.Add(-time.Hour)
	rec := func(status provisioningv1.SubscriptionStatus, qty int32, addons ...*provisioningv1.Addon) *provisioningv1.SubscriptionRecord {
		return &provisioningv1.SubscriptionRecord{SubscriptionId: "S-1", ProductId: "EPDR", Status: status, Quantity: qty, Addons: addons}
	}
	const active, suspended = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED
	tests := map[string]struct {
		rec  *provisioningv1.SubscriptionRecord
		sub  *provisioningv1.Subscription
		cur  *SoftwareSummary
		want []string
	}{
		"in step": {
			rec: rec(active, 10, pm(5)),
			cur: summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}, Allocation{Product: "PATCH_MANAGEMENT", Type: "subscription", Quantity: 5}),
		},
		"quantities changed in the console": {
			rec:  rec(active, 10, pm(5)),
			cur:  summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 12}),
			want: []string{"record.quantity: Panda holds 12 EPDR licences, the record 10", "record.addons[0].quantity: Panda holds 0 PATCH_MANAGEMENT licences, the record 5"},
		},
		"the desired state differs too": {
			rec: rec(active, 10), sub: &provisioningv1.Subscription{Quantity: 20},
			cur:  summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}),
			want: []string{"subscription.quantity: Panda holds 10 EPDR licences, the subscription orders 20"},
		},
		"released behind the adapter's back": {
			rec:  rec(active, 10),
			cur:  summaryOf(),
			want: []string{"record.status: Panda holds no EPDR allocation; the record is SUBSCRIPTION_STATUS_ACTIVE"},
		},
		"an ended trial": {
			rec: func() *provisioningv1.SubscriptionRecord {
				r := rec(active, 10)
				r.Trial, r.TrialEndsAt = true, timestamppb.New(ended)
				return r
			}(),
			cur:  summaryOf(),
			want: []string{"record.status: Panda holds no EPDR allocation; the record is SUBSCRIPTION_STATUS_ACTIVE (the trial ended on " + ended.Format(time.DateOnly) + ": order paid)"},
		},
		"suspended but still allocated": {
			rec:  rec(suspended, 10),
			cur:  summaryOf(Allocation{Product: "EPDR", Type: "subscription", Quantity: 10}),
			want: []string{"record.status: Panda still holds 10 EPDR licences; the record is SUBSCRIPTION_STATUS_SUSPENDED"},
		},
		"suspended and released": {rec: rec(suspended, 10), cur: summaryOf()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, d := range drift(tc.rec, tc.sub, tc.cur, fixedTestNow) {
				if d.GetCode() != "REMOTE_DRIFT" || d.GetSeverity() != provisioningv1.Severity_SEVERITY_WARNING {
					t.Errorf("diagnostic %v is not a REMOTE_DRIFT warning", d)
				}
				got = append(got, d.GetField()+": "+d.GetSummary())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("drift (-want +got):\n%s", diff)
			}
		})
	}
}

var fixedTestNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

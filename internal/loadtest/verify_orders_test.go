package loadtest_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

// orderSnapshot builds the simulator state a correct orders run leaves:
// every customer holds its order, every reseller exactly what its
// customers hold, and the inventory derived from that as pandasim does.
func orderSnapshot(h loadtest.Hierarchy, orders []loadtest.Order) pandasim.Snapshot {
	snap := snapshot(h)
	snap.RootInventory = pandasim.DefaultRootInventory()
	pid := map[string]string{}
	for _, a := range snap.Accounts {
		pid[a.Name] = a.ID
	}
	accounts := h.Accounts()
	held := map[string]map[string]int{} // Panda id → product → quantity
	add := func(id, p string, q int) {
		if held[id] == nil {
			held[id] = map[string]int{}
		}
		held[id][p] += q
	}
	for _, o := range orders {
		a := accounts[o.AccountID]
		id := pid[a.Name]
		add(id, o.Product, o.Quantity)
		if o.Addon != "" {
			add(id, o.Addon, o.AddonQuantity)
		}
		if a.ParentID != "" {
			r := pid[accounts[a.ParentID].Name]
			add(r, o.Product, o.Quantity)
			if o.Addon != "" {
				add(r, o.Addon, o.AddonQuantity)
			}
		}
	}
	given := map[string]map[string]int{}
	for _, a := range snap.Accounts {
		for p, q := range held[a.ID] {
			snap.Allocations = append(snap.Allocations, pandasim.AccountAllocation{AccountID: a.ID, Allocation: pandasim.Allocation{ProductName: p, AllocationType: pandasim.AllocationSubscription, Quantity: q}})
			if given[a.ParentID] == nil {
				given[a.ParentID] = map[string]int{}
			}
			given[a.ParentID][p] += q
		}
	}
	for _, a := range snap.Accounts {
		var items []pandasim.InventoryItem
		for _, p := range append(append([]string{}, pandasim.BaseProducts...), pandasim.AddonProducts...) {
			total := held[a.ID][p]
			if a.ID == snap.RootAccountID {
				total = snap.RootInventory[p]
			}
			g := given[a.ID][p]
			if total != 0 || g != 0 {
				items = append(items, pandasim.InventoryItem{ProductName: p, Total: total, Allocated: g, Unallocated: total - g})
			}
		}
		if len(items) > 0 {
			snap.Inventory = append(snap.Inventory, pandasim.AccountInventory{AccountID: a.ID, Items: items})
		}
	}
	return snap
}

func TestVerifyOrdersFindsWhatIsWrong(t *testing.T) {
	t.Parallel()
	h := loadtest.Hierarchy{Prefix: "W", Resellers: 1, PerReseller: 2, Direct: 1}
	orders := loadtest.Orders(h, rand.New(rand.NewPCG(1, 2)))
	final := map[string]loadtest.Order{}
	peak := map[string]loadtest.Order{}
	for _, o := range orders {
		final[o.ID], peak[o.AccountID] = o, o
	}
	endCustomer := orders[0] // WR000000-C000: the reseller's first customer
	// allocOf finds the allocation of the account named name, product p.
	allocOf := func(s *pandasim.Snapshot, name, p string) *pandasim.AccountAllocation {
		for _, a := range s.Accounts {
			if a.Name != name {
				continue
			}
			for i := range s.Allocations {
				if s.Allocations[i].AccountID == a.ID && s.Allocations[i].ProductName == p {
					return &s.Allocations[i]
				}
			}
		}
		t.Fatalf("no allocation of %s to %s", p, name)
		return nil
	}
	reseller := "Reseller WR000000"
	customer := "Customer " + endCustomer.AccountID
	cases := map[string]struct {
		mutate func(*pandasim.Snapshot)
		peak   func(map[string]loadtest.Order)
		want   string // in the problems; "" means OK
	}{
		"correct": {},
		"customer quantity differs": {
			mutate: func(s *pandasim.Snapshot) { allocOf(s, customer, endCustomer.Product).Quantity++ },
			want:   "holds",
		},
		"customer holds an extra product": {
			mutate: func(s *pandasim.Snapshot) {
				c := *allocOf(s, customer, endCustomer.Product)
				c.ProductName = "DATA_CONTROL"
				s.Allocations = append(s.Allocations, c)
			},
			want: "DATA_CONTROL",
		},
		"trial instead of paid": {
			mutate: func(s *pandasim.Snapshot) {
				allocOf(s, customer, endCustomer.Product).AllocationType = pandasim.AllocationTrial
			},
			want: "(trial)",
		},
		"reseller topped up twice": {
			mutate: func(s *pandasim.Snapshot) {
				a := allocOf(s, reseller, endCustomer.Product)
				a.Quantity += 1000
				for i := range s.Inventory {
					for j := range s.Inventory[i].Items {
						if it := &s.Inventory[i].Items[j]; s.Inventory[i].AccountID == a.AccountID && it.ProductName == a.ProductName {
							it.Total, it.Unallocated = it.Total+1000, it.Unallocated+1000
						}
					}
				}
			},
			want: "a top-up made twice",
		},
		"reseller below its customers": {
			mutate: func(s *pandasim.Snapshot) { allocOf(s, reseller, endCustomer.Product).Quantity = 0 },
			want:   "its customers hold",
		},
		"inventory does not add up": {
			mutate: func(s *pandasim.Snapshot) { s.Inventory[0].Items[0].Unallocated-- },
			want:   "inventory total=",
		},
		"peak lower than the holding": {
			peak: func(p map[string]loadtest.Order) {
				o := p[endCustomer.AccountID]
				o.Quantity = 0
				p[endCustomer.AccountID] = o
			},
			want: "more than the",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			snap := orderSnapshot(h, orders)
			if tc.mutate != nil {
				tc.mutate(&snap)
			}
			pk := map[string]loadtest.Order{}
			for k, v := range peak {
				pk[k] = v
			}
			if tc.peak != nil {
				tc.peak(pk)
			}
			v, err := loadtest.VerifyOrders(context.Background(), snap, h, final, pk, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(v.Problems, "\n")
			if tc.want == "" {
				if !v.OK() || v.Allocated != len(orders) {
					t.Fatalf("want OK with %d allocated, got %s", len(orders), v)
				}
				return
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("problems %q do not mention %q", got, tc.want)
			}
		})
	}
}

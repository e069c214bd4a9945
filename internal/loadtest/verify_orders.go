package loadtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cloudbss/provisioning/internal/pandasim"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// OrderVerification is what [VerifyOrders] found. OK means Panda holds
// exactly what every order asks for, the stock of every account adds up,
// and the host's subscription records agree.
type OrderVerification struct {
	Orders int
	// Allocated is the number of orders whose account holds exactly the
	// order's allocations in the simulator, and nothing else.
	Allocated int
	// Records is the number of orders whose host record is ACTIVE with the
	// desired quantity and add-ons.
	Records int
	// Stocks is the number of (account, product) inventory items checked.
	Stocks int
	// Licences is the sum of the orders' quantities (add-ons included).
	Licences int
	Problems []string
	more     int
}

// OK reports whether nothing is wrong.
func (v *OrderVerification) OK() bool { return len(v.Problems) == 0 }

func (v *OrderVerification) problem(format string, args ...any) {
	if len(v.Problems) < 20 {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
		return
	}
	v.more++
}

// String summarises the verification.
func (v *OrderVerification) String() string {
	s := fmt.Sprintf("%d orders (%d licences): %d allocated exactly in Panda, %d host records agree; %d inventory items add up",
		v.Orders, v.Licences, v.Allocated, v.Records, v.Stocks)
	if len(v.Problems) > 0 {
		s += "\n  " + strings.Join(v.Problems, "\n  ")
		if v.more > 0 {
			s += fmt.Sprintf("\n  ... and %d more", v.more)
		}
	}
	return s
}

// VerifyOrders checks the final orders of h's customers (one per
// customer at most, keyed by subscription id) against the simulator's
// state and, when c is not nil, the host's store. peak maps a customer's
// account id to the largest quantity (and add-on quantity) any of its
// orders asked for during the run, failed attempts included:
//
//   - every ordered customer holds exactly its order in Panda: the base
//     product at the desired quantity, the add-on at its quantity, both
//     paid (subscription), and no other allocation; a customer without an
//     order holds nothing;
//   - the inventory adds up for every account: what an account has handed
//     to its children is the sum of their allocations, its total is its own
//     allocation (the root: its configured inventory), total = allocated +
//     unallocated, and nothing is negative;
//   - a reseller holds only products its customers ordered, at least what
//     they hold and at most the sum of the largest quantity each of them
//     ever ordered (peak, per product): a top-up repeated after a lost
//     answer would exceed it;
//   - the host has one ACTIVE record per order with its quantity and
//     add-ons, and no other record of h's accounts.
func VerifyOrders(ctx context.Context, snap pandasim.Snapshot, h Hierarchy, orders map[string]Order, peak map[string]Order, c hostv1.HostServiceClient) (*OrderVerification, error) {
	v := &OrderVerification{Orders: len(orders)}
	accounts := h.Accounts()
	byAccount := make(map[string]Order, len(orders))
	for _, o := range orders {
		byAccount[o.AccountID] = o
		v.Licences += o.Quantity + o.AddonQuantity
	}

	byName := make(map[string]pandasim.Account, len(snap.Accounts))
	pandaAccount := make(map[string]pandasim.Account, len(snap.Accounts))
	children := map[string][]string{}
	for _, a := range snap.Accounts {
		byName[a.Name] = a
		pandaAccount[a.ID] = a
		if a.ParentID != "" {
			children[a.ParentID] = append(children[a.ParentID], a.ID)
		}
	}
	allocs := map[string]map[string]pandasim.Allocation{} // Panda account → product → allocation
	for _, al := range snap.Allocations {
		if allocs[al.AccountID] == nil {
			allocs[al.AccountID] = map[string]pandasim.Allocation{}
		}
		allocs[al.AccountID][al.ProductName] = al.Allocation
	}
	remote := make(map[string]string, len(accounts)) // BSS id → Panda id
	for id, a := range accounts {
		pa, ok := byName[a.Name]
		if !ok {
			v.problem("%s: no Panda account named %q", id, a.Name)
			continue
		}
		remote[id] = pa.ID
	}

	// Customers: exactly their order.
	for _, id := range slices.Sorted(maps.Keys(accounts)) {
		a := accounts[id]
		pid, ok := remote[id]
		if !ok || a.Reseller {
			continue
		}
		want := map[string]int{}
		if o, ok := byAccount[id]; ok {
			want[o.Product] = o.Quantity
			if o.Addon != "" {
				want[o.Addon] = o.AddonQuantity
			}
		}
		got := map[string]int{}
		bad := false
		for p, al := range allocs[pid] {
			got[p] = al.Quantity
			if al.AllocationType != pandasim.AllocationSubscription {
				bad = true
			}
		}
		if bad || !maps.Equal(got, want) {
			v.problem("%s (Panda %s): holds %s, want %s", id, pid, fmtAllocs(allocs[pid]), fmtQuantities(want))
			continue
		}
		if len(want) > 0 {
			v.Allocated++
		}
	}

	// Resellers: only what their customers draw, within the peak bound.
	for _, id := range slices.Sorted(maps.Keys(accounts)) {
		a := accounts[id]
		pid, ok := remote[id]
		if !ok || !a.Reseller {
			continue
		}
		hold, bound := map[string]int{}, map[string]int{}
		for cid, ca := range accounts {
			if ca.ParentID != id {
				continue
			}
			if o, ok := byAccount[cid]; ok {
				hold[o.Product] += o.Quantity
				if o.Addon != "" {
					hold[o.Addon] += o.AddonQuantity
				}
			}
			if o, ok := peak[cid]; ok {
				bound[o.Product] += o.Quantity
				if o.Addon != "" {
					bound[o.Addon] += o.AddonQuantity
				}
			}
		}
		for p, al := range allocs[pid] {
			switch {
			case bound[p] == 0:
				v.problem("%s (Panda %s): holds %d %s that none of its customers ordered", id, pid, al.Quantity, p)
			case al.Quantity < hold[p]:
				v.problem("%s (Panda %s): holds %d %s, its customers hold %d", id, pid, al.Quantity, p, hold[p])
			case al.Quantity > bound[p]:
				v.problem("%s (Panda %s): holds %d %s, more than the %d its customers ever ordered at their peaks (a top-up made twice?)", id, pid, al.Quantity, p, bound[p])
			}
		}
	}

	// Inventory, for every account of the simulator, from the allocations.
	inv := map[string]map[string]pandasim.InventoryItem{}
	for _, ai := range snap.Inventory {
		inv[ai.AccountID] = map[string]pandasim.InventoryItem{}
		for _, it := range ai.Items {
			inv[ai.AccountID][it.ProductName] = it
		}
	}
	for _, pa := range snap.Accounts {
		products := map[string]bool{}
		for p := range allocs[pa.ID] {
			products[p] = true
		}
		for _, cid := range children[pa.ID] {
			for p := range allocs[cid] {
				products[p] = true
			}
		}
		for p := range inv[pa.ID] {
			products[p] = true
		}
		for _, p := range slices.Sorted(maps.Keys(products)) {
			given := 0
			for _, cid := range children[pa.ID] {
				given += allocs[cid][p].Quantity
			}
			total := allocs[pa.ID][p].Quantity
			if pa.ID == snap.RootAccountID {
				total = snap.RootInventory[p]
			}
			it, ok := inv[pa.ID][p]
			switch {
			case !ok && (total != 0 || given != 0):
				v.problem("Panda %s: no inventory item for %s (total %d, handed on %d)", pa.ID, p, total, given)
			case ok && (it.Total != total || it.Allocated != given || it.Unallocated != total-given || it.Allocated+it.Unallocated != it.Total):
				v.problem("Panda %s %s: inventory total=%d allocated=%d unallocated=%d; its allocations say total=%d, handed on %d", pa.ID, p, it.Total, it.Allocated, it.Unallocated, total, given)
			case total-given < 0 || given < 0:
				v.problem("Panda %s %s: negative stock: total %d, handed on %d", pa.ID, p, total, given)
			default:
				v.Stocks++
			}
		}
	}
	if c == nil {
		return v, nil
	}

	recs, err := ListSubscriptionRecords(ctx, c)
	if err != nil {
		return v, err
	}
	for _, id := range slices.Sorted(maps.Keys(orders)) {
		o := orders[id]
		r, ok := recs[id]
		if !ok {
			v.problem("%s: no host subscription record", id)
			continue
		}
		var addons []string
		for _, ad := range r.GetAddons() {
			addons = append(addons, fmt.Sprintf("%s=%d", ad.GetProductId(), ad.GetQuantity()))
		}
		var want []string
		if o.Addon != "" {
			want = append(want, fmt.Sprintf("%s=%d", o.Addon, o.AddonQuantity))
		}
		if r.GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE || r.GetAccountId() != o.AccountID ||
			r.GetProductId() != o.Product || int(r.GetQuantity()) != o.Quantity || !slices.Equal(addons, want) {
			v.problem("%s: host record %s %s %s x%d addons %v (%s), want ACTIVE %s %s x%d addons %v",
				id, r.GetStatus(), r.GetAccountId(), r.GetProductId(), r.GetQuantity(), addons, r.GetMessage(), o.AccountID, o.Product, o.Quantity, want)
			continue
		}
		v.Records++
	}
	for id, r := range recs {
		if _, ok := orders[id]; !ok {
			if _, mine := accounts[r.GetAccountId()]; mine {
				v.problem("%s: host record of %s that no order asked for (%s)", id, r.GetAccountId(), r.GetStatus())
			}
		}
	}
	return v, nil
}

// ListSubscriptionRecords reads every subscription record of the Panda
// plugin from the daemon, keyed by subscription id.
func ListSubscriptionRecords(ctx context.Context, c hostv1.HostServiceClient) (map[string]*provisioningv1.SubscriptionRecord, error) {
	out := map[string]*provisioningv1.SubscriptionRecord{}
	token := ""
	for {
		resp, err := c.ListSubscriptionRecords(ctx, &hostv1.ListSubscriptionRecordsRequest{Plugin: PluginName, PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("ListSubscriptionRecords: %w", err)
		}
		for _, r := range resp.GetRecords() {
			out[r.GetSubscriptionId()] = r
		}
		token = resp.GetNextPageToken()
		if token == "" {
			return out, nil
		}
	}
}

func fmtAllocs(m map[string]pandasim.Allocation) string {
	parts := make([]string, 0, len(m))
	for _, p := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d(%s)", p, m[p].Quantity, m[p].AllocationType))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func fmtQuantities(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, p := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", p, m[p]))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

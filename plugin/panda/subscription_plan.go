package panda

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// allocKind is what one allocation write does.
type allocKind int

const (
	allocCreate allocKind = iota + 1 // POST: a new allocation (or a paid one replacing a trial)
	allocSet                         // PUT: set the quantity
	allocDelete                      // DELETE: release it
)

func (k allocKind) String() string {
	switch k {
	case allocCreate:
		return "create"
	case allocSet:
		return "set"
	case allocDelete:
		return "delete"
	}
	return "allocKind(" + strconv.Itoa(int(k)) + ")"
}

// allocOp is one allocation write. Quantities are targets (set, never
// increment), so an op resent after a lost answer, or recomputed by a
// replayed call, converges.
type allocOp struct {
	kind     allocKind
	account  string // the Panda account written to
	product  string
	typ      string // the allocation type
	quantity int    // the target quantity (create, set)
	from     int    // what the account holds of product before the op
	// field is the subscription field the op serves, for the violation a
	// refusal answers ("subscription.quantity",
	// "subscription.addons[1].quantity").
	field string
}

// increase is how many licences the op draws from the parent's inventory.
func (o allocOp) increase() int {
	if o.kind == allocDelete {
		return 0
	}
	return max(0, o.quantity-o.from)
}

func (o allocOp) String() string {
	switch o.kind {
	case allocDelete:
		return fmt.Sprintf("delete %s/%s/%s", o.account, o.product, o.typ)
	}
	return fmt.Sprintf("%s %s/%s/%s %d→%d", o.kind, o.account, o.product, o.typ, o.from, o.quantity)
}

// allocPlan is the writes that make Panda match an order, decided from one
// read of the account's (and, when licences are drawn, its parent's)
// summary before anything is written, and only read afterwards.
type allocPlan struct {
	// topUps raise the reseller's own allocations so that its stock covers
	// the end customer's increases; they run first.
	topUps []allocOp
	// ops are the account's own writes, in an order that keeps every
	// add-on within its base product at each step: add-on decreases and
	// releases, then the base product, then add-on increases and creates.
	ops []allocOp
	// created: the base product's allocation is new (not a trial turned
	// paid).
	created bool
	// trialEnds is when the trial the account holds of the base product
	// ends, as read before the writes.
	trialEnds time.Time
}

// empty reports whether the plan writes nothing: the remote already
// matches (a replay).
func (p *allocPlan) empty() bool { return len(p.topUps) == 0 && len(p.ops) == 0 }

// increases sums, per product, what the account's ops draw from the
// parent's inventory.
func (p *allocPlan) increases() map[string]int {
	inc := map[string]int{}
	for _, op := range p.ops {
		if n := op.increase(); n > 0 {
			inc[op.product] += n
		}
	}
	return inc
}

// planAllocations decides the account's writes. owned are the add-on
// products the subscription held so far (its record's): an owned add-on no
// longer ordered is released; an add-on allocation the account holds for
// another of its subscriptions is left alone. An error diagnostic is a
// conflict between the order and what Panda holds.
func planAllocations(o order, accountID string, owned []string, cur *SoftwareSummary) (*allocPlan, []*provisioningv1.Diagnostic) {
	p := &allocPlan{}
	var ds []*provisioningv1.Diagnostic
	var pre, post []allocOp

	// want is one product the order holds.
	want := func(product string, qty int, field string, base bool) {
		a := cur.allocation(product)
		op := allocOp{account: accountID, product: product, typ: o.allocType, quantity: qty, field: field}
		switch {
		case a == nil:
			op.kind = allocCreate
			if base {
				p.created = true
			}
		case a.Type == o.allocType:
			if a.Quantity == qty {
				return
			}
			op.kind, op.from = allocSet, a.Quantity
		case a.Type == AllocationTrial:
			// Trial → paid: a paid allocation replaces the trial in
			// Panda, drawing only what exceeds it. A module's trial ends
			// with its product's, so a trial add-on is created anew after
			// the base product.
			op.kind = allocCreate
			if base {
				op.from = a.Quantity
			}
		case o.allocType == AllocationTrial:
			ds = append(ds, diag.Error(fieldSubTrial, diag.CodeTrialDowngrade,
				fmt.Sprintf("Panda holds %s as a paid (%s) allocation", product, a.Type), "A paid allocation never becomes a trial."))
			return
		default:
			ds = append(ds, diag.Error(field, diag.CodeAllocationTypeMismatch,
				fmt.Sprintf("Panda holds %s as %s, not %s", product, a.Type, o.allocType), "A product and its modules share one allocation type; cancel and order anew."))
			return
		}
		switch {
		case base:
			p.ops = append(p.ops, op)
		case op.kind == allocSet && op.quantity < op.from:
			pre = append(pre, op)
		default:
			post = append(post, op)
		}
	}

	ordered := map[string]bool{}
	for _, ad := range o.addons {
		ordered[ad.GetProductId()] = true
	}
	for _, prod := range owned {
		if a := cur.allocation(prod); a != nil && !ordered[prod] {
			pre = append(pre, allocOp{kind: allocDelete, account: accountID, product: prod, typ: a.Type, from: a.Quantity, field: "record.addons"})
		}
	}
	want(o.product, o.quantity, fieldSubQuantity, true)
	for i, ad := range o.addons {
		want(ad.GetProductId(), int(ad.GetQuantity()), addonField(i, "quantity"), false)
	}
	p.ops = slices.Concat(pre, p.ops, post)
	return p, ds
}

// planRelease is the writes that release everything the subscription holds:
// its add-ons, then its base product (the order Panda requires, an add-on
// never outliving its base).
func planRelease(o order, accountID string, cur *SoftwareSummary) []allocOp {
	var ops []allocOp
	for _, ad := range o.addons {
		if a := cur.allocation(ad.GetProductId()); a != nil {
			ops = append(ops, allocOp{kind: allocDelete, account: accountID, product: a.Product, typ: a.Type, from: a.Quantity})
		}
	}
	if a := cur.allocation(o.product); a != nil {
		ops = append(ops, allocOp{kind: allocDelete, account: accountID, product: a.Product, typ: a.Type, from: a.Quantity})
	}
	return ops
}

// shortage is a product the root cannot supply: INSUFFICIENT_INVENTORY.
type shortage struct {
	product              string
	requested, available int
	field                string
	// from is the Panda account whose stock fell short, when it is not the
	// root partner account.
	from string
}

// planTopUps decides how the reseller's allocations grow so that its stock
// covers inc (per product, what the end customer's writes draw), from the
// reseller's summary and its own parent's (the root's). A product the root
// cannot supply is a shortage, and then the plan writes nothing: no top-up
// is made for an order that cannot complete.
//
// The top-up is what is missing, never more: the reseller's unallocated
// stock (from earlier top-ups, cancelled orders or the reseller's own
// purchases) is used first. paidType is the order's paid allocation type:
// a new reseller allocation of a base product gets it (a trial customer's
// licences still come from paid reseller stock); a new add-on allocation
// gets a type of a base product the reseller holds, as Panda requires.
func planTopUps(inc map[string]int, fields map[string]string, reseller string, rs, rootSummary *SoftwareSummary, paidType string) ([]allocOp, []shortage) {
	var ups []allocOp
	var short []shortage
	baseTypes := map[string]bool{}
	if rs != nil {
		for _, a := range rs.Allocations {
			if product(a.Product).GetKind() == provisioningv1.ProductKind_PRODUCT_KIND_BASE {
				baseTypes[a.Type] = true
			}
		}
	}
	var bases, addons []string
	for _, prod := range slices.Sorted(maps.Keys(inc)) {
		if product(prod).GetKind() == provisioningv1.ProductKind_PRODUCT_KIND_BASE {
			bases = append(bases, prod)
		} else {
			addons = append(addons, prod)
		}
	}
	for _, prod := range slices.Concat(bases, addons) {
		missing := inc[prod] - max(rs.unallocated(prod), 0)
		if missing <= 0 {
			continue
		}
		if free := rootSummary.unallocated(prod); missing > free {
			short = append(short, shortage{product: prod, requested: missing, available: max(free, 0), field: fields[prod]})
			continue
		}
		op := allocOp{account: reseller, product: prod, field: fields[prod]}
		if a := rs.allocation(prod); a != nil {
			op.kind, op.typ, op.from, op.quantity = allocSet, a.Type, a.Quantity, a.Quantity+missing
		} else {
			op.kind, op.quantity, op.typ = allocCreate, missing, paidType
			if product(prod).GetKind() == provisioningv1.ProductKind_PRODUCT_KIND_BASE {
				baseTypes[paidType] = true
			} else if !baseTypes[paidType] {
				for _, t := range []string{AllocationSubscription, AllocationTerm, AllocationTrial} {
					if baseTypes[t] {
						op.typ = t
						break
					}
				}
			}
		}
		ups = append(ups, op)
	}
	if len(short) > 0 {
		return nil, short
	}
	return ups, nil
}

// opFields maps each product of ops to the subscription field it serves.
func opFields(ops []allocOp) map[string]string {
	m := map[string]string{}
	for _, op := range ops {
		if _, ok := m[op.product]; !ok {
			m[op.product] = op.field
		}
	}
	return m
}

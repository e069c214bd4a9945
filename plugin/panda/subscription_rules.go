package panda

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Field keys of subscription problems, as the contract names them.
const (
	fieldSubscription   = "subscription"
	fieldSubID          = "subscription.id"
	fieldSubAccountID   = "subscription.account_id"
	fieldSubProduct     = "subscription.product_id"
	fieldSubQuantity    = "subscription.quantity"
	fieldSubTrial       = "subscription.trial"
	fieldSubAttributes  = "subscription.attributes"
	fieldSubRecord      = "record"
	fieldSubscriptionID = "subscription_id"
)

func addonField(i int, name string) string { return fmt.Sprintf("subscription.addons[%d].%s", i, name) }

// order is one desired state, read once from a Subscription (or, for
// Resume, from the record), in the terms Panda allocates: a product, an
// allocation type and quantities.
type order struct {
	id        string
	accountID string
	product   string
	quantity  int
	addons    []*provisioningv1.Addon
	trial     bool
	// paidType is the allocation type of the paid subscription (attribute
	// allocation_type, default subscription); allocType is what is
	// allocated now: AllocationTrial for a trial, else paidType.
	paidType   string
	allocType  string
	attributes map[string]string
}

func orderOf(s *provisioningv1.Subscription) order {
	o := order{
		id: s.GetId(), accountID: s.GetAccountId(), product: s.GetProductId(), quantity: int(s.GetQuantity()),
		addons: s.GetAddons(), trial: s.GetTrial(), attributes: maps.Clone(s.GetAttributes()),
		paidType: AllocationSubscription,
	}
	if t := s.GetAttributes()[AttributeAllocationType]; t != "" {
		o.paidType = t
	}
	o.allocType = o.paidType
	if o.trial {
		o.allocType = AllocationTrial
	}
	return o
}

// orderOfRecord is the desired state a record keeps (Resume, Cancel).
func orderOfRecord(r *provisioningv1.SubscriptionRecord) order {
	return orderOf(&provisioningv1.Subscription{
		Id: r.GetSubscriptionId(), AccountId: r.GetAccountId(), ProductId: r.GetProductId(), Quantity: r.GetQuantity(),
		Addons: r.GetAddons(), Attributes: r.GetAttributes(), Trial: r.GetTrial(),
	})
}

// scope is where an order's licences live in Panda: the account and the
// parent whose inventory they come from.
type scope struct {
	// accountID is the account's Panda id; parentID its Panda parent's.
	accountID string
	parentID  string
	// subscriber: the account is a Panda User, which holds one base product.
	subscriber bool
	// reseller is set for an end customer: its reseller's Panda id, whose
	// stock is topped up from resellerParent (the root, normally).
	reseller       string
	resellerParent string
}

// liveRecord reports whether a subscription record holds, or will hold
// again on Resume, licences in Panda.
func liveRecord(r *provisioningv1.SubscriptionRecord) bool {
	switch r.GetStatus() {
	case provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING, provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
		provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED:
		return true
	}
	return false
}

// accountSynced: PENDING with a remote id counts, as the contract says.
func accountSynced(rec *provisioningv1.SyncRecord) bool {
	switch rec.GetStatus() {
	case provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE, provisioningv1.SyncStatus_SYNC_STATUS_PENDING:
		return rec.GetRemoteId() != ""
	}
	return false
}

// scopeOf resolves where the account's licences live, or the diagnostics
// that say why they cannot be allocated yet (ACCOUNT_NOT_SYNCED,
// PARENT_NOT_SYNCED).
func scopeOf(acc *provisioningv1.Account, accRec *provisioningv1.SyncRecord, ancestors []*provisioningv1.Ancestor, root string) (scope, []*provisioningv1.Diagnostic) {
	if !accountSynced(accRec) {
		st := "absent"
		if accRec != nil {
			st = accRec.GetStatus().String()
		}
		return scope{}, []*provisioningv1.Diagnostic{diag.Error("account", diag.CodeAccountNotSynced,
			fmt.Sprintf("account %s is not synchronized with Panda (record %s)", acc.GetId(), st),
			"Synchronize the account, then order.")}
	}
	sc := scope{
		accountID:  accRec.GetRemoteId(),
		parentID:   accRec.GetRemoteParentId(),
		subscriber: accRec.GetValues()[FieldRole] != RoleReseller,
	}
	if sc.parentID == "" {
		sc.parentID = root
	}
	if acc.GetParentId() == "" {
		return sc, nil
	}
	chain := ancestorChain(acc, ancestors)
	if len(chain) == 0 || !accountSynced(chain[0].GetRecord()) {
		return sc, []*provisioningv1.Diagnostic{diag.Error("account.parent_id", diag.CodeParentNotSynced,
			fmt.Sprintf("reseller %s is not synchronized with Panda", acc.GetParentId()),
			"An end customer's licences come from its reseller's stock: synchronize the reseller and send its record among the ancestors.")}
	}
	pr := chain[0].GetRecord()
	sc.reseller, sc.resellerParent = pr.GetRemoteId(), pr.GetRemoteParentId()
	if sc.resellerParent == "" {
		sc.resellerParent = root
	}
	sc.parentID = sc.reseller
	return sc, nil
}

// checkRequest rejects a request that cannot be evaluated at all
// (INVALID_ARGUMENT).
func checkRequest(sub *provisioningv1.Subscription, acc *provisioningv1.Account) error {
	if sub == nil {
		return diag.InvalidArgument(fieldSubscription, diag.CodeRequired, "subscription is required")
	}
	var ds []*provisioningv1.Diagnostic
	if strings.TrimSpace(sub.GetId()) == "" {
		ds = append(ds, diag.Error(fieldSubID, diag.CodeRequired, "subscription.id is required", "It is the idempotency key of every subscription RPC."))
	}
	if strings.TrimSpace(sub.GetAccountId()) == "" {
		ds = append(ds, diag.Error(fieldSubAccountID, diag.CodeRequired, "subscription.account_id is required", ""))
	}
	switch {
	case acc == nil || acc.GetId() == "":
		ds = append(ds, diag.Error("account", diag.CodeRequired, "account is required", "Send the account that holds the subscription."))
	case sub.GetAccountId() != "" && sub.GetAccountId() != acc.GetId():
		ds = append(ds, diag.Error(fieldSubAccountID, diag.CodeInvalidValue, "subscription.account_id does not match account.id", ""))
	}
	return diag.ToError(ds)
}

// checkOrder applies every rule that needs no remote read: the catalogue,
// quantities, add-ons, attributes, trial terms, the record's state and the
// rules that span the account's orders. It is the same for
// ValidateSubscription and ProvisionSubscription.
func checkOrder(o order, sc scope, rec *provisioningv1.SubscriptionRecord, others []*provisioningv1.SubscriptionRecord, now time.Time) []*provisioningv1.Diagnostic {
	var ds []*provisioningv1.Diagnostic
	add := func(field, code, summary, detail string) { ds = append(ds, diag.Error(field, code, summary, detail)) }

	// The record's state.
	if rec != nil {
		switch {
		case rec.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED:
			add(fieldSubID, diag.CodeSubscriptionCancelled, fmt.Sprintf("subscription %s is cancelled", o.id), "A cancelled subscription is terminal: order a new one (new id).")
		case rec.GetAccountId() != "" && rec.GetAccountId() != o.accountID:
			add(fieldSubAccountID, diag.CodeSubscriptionAccountChanged,
				fmt.Sprintf("subscription %s belongs to account %s, not %s", o.id, rec.GetAccountId(), o.accountID), "A subscription never moves between accounts: cancel it and order anew.")
		case liveRecord(rec) && rec.GetProductId() != o.product:
			add(fieldSubProduct, diag.CodeProductChanged,
				fmt.Sprintf("subscription %s holds %s, not %s", o.id, rec.GetProductId(), o.product), "Cancel it and order the new product.")
		}
		if liveRecord(rec) {
			switch {
			case o.trial && !rec.GetTrial():
				add(fieldSubTrial, diag.CodeTrialDowngrade, "a paid subscription cannot become a trial", "Keep trial=false.")
			case o.trial && rec.GetTrialEndsAt() != nil && !now.Before(rec.GetTrialEndsAt().AsTime()):
				add(fieldSubTrial, diag.CodeTrialExpired,
					fmt.Sprintf("the trial ended on %s", rec.GetTrialEndsAt().AsTime().UTC().Format(time.DateOnly)), "Only a paid subscription remains: send trial=false.")
			}
			if prev := recordPaidType(rec); !rec.GetTrial() && prev != o.paidType {
				add(fieldSubAttributes+"."+AttributeAllocationType, diag.CodeInvalidAttribute,
					fmt.Sprintf("the allocation type is %s and cannot change on a live subscription", prev), "Cancel the subscription and order it anew with the other type.")
			}
		}
	}

	// The base product.
	p := product(o.product)
	switch {
	case o.product == "":
		add(fieldSubProduct, diag.CodeRequired, "subscription.product_id is required", "")
	case p == nil:
		add(fieldSubProduct, diag.CodeUnknownProduct, fmt.Sprintf("product %q is not in Panda's catalogue", o.product), "See GetServiceDefinition.")
	case p.GetKind() != provisioningv1.ProductKind_PRODUCT_KIND_BASE:
		add(fieldSubProduct, diag.CodeProductKindMismatch, fmt.Sprintf("%s is an add-on module, not a base product", o.product), "Order a base product and add it under addons.")
	}
	if o.quantity < 1 || (p != nil && p.GetMaxQuantity() > 0 && o.quantity > int(p.GetMaxQuantity())) {
		add(fieldSubQuantity, diag.CodeQuantityOutOfRange, fmt.Sprintf("quantity %d is out of range", o.quantity), "Order at least 1 licence.")
	}
	if o.trial {
		switch {
		case p != nil && !p.GetTrialAvailable():
			add(fieldSubTrial, diag.CodeTrialNotAvailable, fmt.Sprintf("%s has no trial", o.product), "")
		case o.quantity > TrialMaxQuantity:
			add(fieldSubQuantity, diag.CodeTrialLimit, fmt.Sprintf("a trial covers at most %d endpoints, not %d", TrialMaxQuantity, o.quantity), "Order fewer, or order paid.")
		}
	}

	// Attributes.
	for _, k := range slices.Sorted(maps.Keys(o.attributes)) {
		v := o.attributes[k]
		switch {
		case k != AttributeAllocationType:
			add(fieldSubAttributes+"."+k, diag.CodeInvalidAttribute, fmt.Sprintf("unknown attribute %q", k), "The only attribute is "+AttributeAllocationType+".")
		case v != AllocationSubscription && v != AllocationTerm:
			add(fieldSubAttributes+"."+k, diag.CodeInvalidAttribute, fmt.Sprintf("allocation_type %q is not subscription or term", v), "A trial is ordered with trial=true.")
		}
	}

	// Add-ons.
	ids, products := map[string]int{}, map[string]int{}
	for i, ad := range o.addons {
		ap := product(ad.GetProductId())
		if ad.GetId() == "" {
			add(addonField(i, "id"), diag.CodeRequired, "the add-on's id is required", "")
		} else if j, dup := ids[ad.GetId()]; dup {
			add(addonField(i, "id"), diag.CodeDuplicateAddon, fmt.Sprintf("add-on id %q is also addons[%d]'s", ad.GetId(), j), "")
		} else {
			ids[ad.GetId()] = i
		}
		switch {
		case ad.GetProductId() == "":
			add(addonField(i, "product_id"), diag.CodeRequired, "the add-on's product_id is required", "")
		case ap == nil:
			add(addonField(i, "product_id"), diag.CodeUnknownProduct, fmt.Sprintf("product %q is not in Panda's catalogue", ad.GetProductId()), "See GetServiceDefinition.")
		case ap.GetKind() != provisioningv1.ProductKind_PRODUCT_KIND_ADDON:
			add(addonField(i, "product_id"), diag.CodeProductKindMismatch, fmt.Sprintf("%s is a base product, not an add-on", ad.GetProductId()), "A subscription holds one base product; order another subscription for it.")
		case p != nil && !slices.Contains(ap.GetAddonOf(), o.product):
			add(addonField(i, "product_id"), diag.CodeAddonWithoutBase, fmt.Sprintf("%s is not an add-on of %s", ad.GetProductId(), o.product), "")
		default:
			if j, dup := products[ad.GetProductId()]; dup {
				add(addonField(i, "product_id"), diag.CodeDuplicateAddon, fmt.Sprintf("%s is also addons[%d]", ad.GetProductId(), j), "Panda keeps one allocation per product: send one line with the total.")
			} else {
				products[ad.GetProductId()] = i
			}
		}
		switch q := int(ad.GetQuantity()); {
		case q < 1:
			add(addonField(i, "quantity"), diag.CodeQuantityOutOfRange, fmt.Sprintf("quantity %d is out of range", q), "Order at least 1 licence, or drop the add-on.")
		case q > o.quantity && o.quantity >= 1:
			add(addonField(i, "quantity"), diag.CodeAddonExceedsBase,
				fmt.Sprintf("%s would have %d licences, above the %d of %s", ad.GetProductId(), q, o.quantity, o.product), "An add-on never exceeds its base product: lower it or raise the subscription's quantity.")
		}
	}

	// The account's other orders.
	for _, other := range others {
		if !liveRecord(other) || other.GetSubscriptionId() == o.id {
			continue
		}
		switch {
		case other.GetProductId() == o.product:
			add(fieldSubProduct, diag.CodeProductAlreadySubscribed,
				fmt.Sprintf("subscription %s of the account already holds %s", other.GetSubscriptionId(), o.product), "Panda keeps one allocation per product: change that subscription's quantity instead.")
		case sc.subscriber && product(other.GetProductId()).GetKind() == provisioningv1.ProductKind_PRODUCT_KIND_BASE:
			add(fieldSubProduct, diag.CodeBaseProductLimit,
				fmt.Sprintf("the account is a Panda User and subscription %s already holds %s", other.GetSubscriptionId(), other.GetProductId()),
				"A subscriber holds one endpoint-security product: cancel the other subscription first, or make the account a reseller.")
		}
		for i, ad := range o.addons {
			if slices.ContainsFunc(other.GetAddons(), func(x *provisioningv1.Addon) bool { return x.GetProductId() == ad.GetProductId() }) {
				add(addonField(i, "product_id"), diag.CodeProductAlreadySubscribed,
					fmt.Sprintf("subscription %s of the account already holds %s", other.GetSubscriptionId(), ad.GetProductId()), "Panda keeps one allocation per product.")
			}
		}
	}
	return ds
}

// recordPaidType is the paid allocation type a record was provisioned with.
func recordPaidType(r *provisioningv1.SubscriptionRecord) string {
	if t := r.GetAttributes()[AttributeAllocationType]; t != "" {
		return t
	}
	return AllocationSubscription
}

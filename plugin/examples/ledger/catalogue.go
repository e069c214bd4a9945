package ledger

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// The catalogue's product ids. Like the form's keys they are a public
// interface: the BSS stores them in its orders. Never rename one.
const (
	ProductBasic   = "BASIC"
	ProductPro     = "PRO"
	ProductArchive = "ARCHIVE"
)

// catalogue is the ledger's own, small one: two base products and an add-on
// that goes on either. No trials and no attributes: every trial order is
// refused with TRIAL_NOT_AVAILABLE and every attribute with
// INVALID_ATTRIBUTE.
func catalogue() []*provisioningv1.Product {
	return []*provisioningv1.Product{{
		Id: ProductBasic, Name: "Basic ledger", Description: "One ledger book per seat.",
		Kind: provisioningv1.ProductKind_PRODUCT_KIND_BASE, MinQuantity: 1, MaxQuantity: 1000,
	}, {
		Id: ProductPro, Name: "Pro ledger", Description: "Ledger books with audit trails, sold by five or more.",
		Kind: provisioningv1.ProductKind_PRODUCT_KIND_BASE, MinQuantity: 5, MaxQuantity: 1000,
	}, {
		Id: ProductArchive, Name: "Archive", Description: "Keeps closed books for ten years.",
		Kind: provisioningv1.ProductKind_PRODUCT_KIND_ADDON, AddonOf: []string{ProductBasic, ProductPro},
	}}
}

// product returns the catalogue entry of id, or nil.
func product(id string) *provisioningv1.Product {
	i := slices.IndexFunc(catalogue(), func(p *provisioningv1.Product) bool { return p.GetId() == id })
	if i < 0 {
		return nil
	}
	return catalogue()[i]
}

// GetServiceDefinition answers the catalogue.
func (a *Adapter) GetServiceDefinition(context.Context, *provisioningv1.GetServiceDefinitionRequest) (*provisioningv1.GetServiceDefinitionResponse, error) {
	if _, err := a.ledger(); err != nil {
		return nil, err
	}
	return &provisioningv1.GetServiceDefinitionResponse{Products: catalogue()}, nil
}

// checkOrder checks that a request names a subscription and its account at
// all: errors in every subscription RPC, never diagnostics.
func checkOrder(sub *provisioningv1.Subscription, acct *provisioningv1.Account) error {
	switch {
	case sub == nil:
		return diag.InvalidArgument("subscription", diag.CodeRequired, "the request has no subscription")
	case sub.GetId() == "":
		return diag.InvalidArgument("subscription.id", diag.CodeRequired, "the subscription has no id")
	case sub.GetAccountId() == "":
		return diag.InvalidArgument("subscription.account_id", diag.CodeRequired, "the subscription has no account_id")
	case acct == nil:
		return diag.InvalidArgument("account", diag.CodeRequired, "the request has no account")
	case sub.GetAccountId() != acct.GetId():
		return diag.InvalidArgument("subscription.account_id", diag.CodeInvalidValue,
			fmt.Sprintf("the subscription is of account %q, the request's account is %q", sub.GetAccountId(), acct.GetId()))
	}
	return nil
}

// validateOrder applies every rule to a desired subscription and returns the
// problems. ValidateSubscription and ProvisionSubscription both call it, so
// they can never disagree. prior is the ledger's row of the subscription
// (nil for a new one); the ledger, not the request, is the truth about the
// account and the account's other subscriptions.
func validateOrder(ctx context.Context, q querier, sub *provisioningv1.Subscription, prior *subscription) ([]*provisioningv1.Diagnostic, error) {
	var ds []*provisioningv1.Diagnostic
	add := func(field, code, summary string) { ds = append(ds, diag.Error(field, code, summary, "")) }

	acct, err := lookup(ctx, q, sub.GetAccountId())
	if err != nil {
		return nil, err
	}
	if acct == nil {
		add("account", diag.CodeAccountNotSynced, "the account is not in the ledger: synchronize it first")
	}
	if prior != nil {
		switch {
		case prior.status == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED:
			add("subscription.id", diag.CodeSubscriptionCancelled, "the subscription is cancelled: order a new one")
		case prior.accountID != sub.GetAccountId():
			add("subscription.account_id", diag.CodeSubscriptionAccountChanged, "the subscription belongs to account "+prior.accountID)
		case prior.productID != sub.GetProductId():
			add("subscription.product_id", diag.CodeProductChanged, "the subscription is of product "+prior.productID+": cancel it and order the new product")
		}
	}

	base := product(sub.GetProductId())
	switch {
	case base == nil:
		add("subscription.product_id", diag.CodeUnknownProduct, fmt.Sprintf("no product %q in the catalogue", sub.GetProductId()))
	case base.GetKind() != provisioningv1.ProductKind_PRODUCT_KIND_BASE:
		add("subscription.product_id", diag.CodeProductKindMismatch, base.GetId()+" is an add-on, not a base product")
	default:
		if n := sub.GetQuantity(); n < max(1, base.GetMinQuantity()) || (base.GetMaxQuantity() > 0 && n > base.GetMaxQuantity()) {
			add("subscription.quantity", diag.CodeQuantityOutOfRange,
				fmt.Sprintf("%s is sold from %d to %d", base.GetId(), max(1, base.GetMinQuantity()), base.GetMaxQuantity()))
		}
	}
	seenID, seenProduct := map[string]bool{}, map[string]bool{}
	for i, ad := range sub.GetAddons() {
		at := func(f string) string { return fmt.Sprintf("subscription.addons[%d].%s", i, f) }
		p := product(ad.GetProductId())
		switch {
		case ad.GetId() == "":
			add(at("id"), diag.CodeRequired, "the add-on has no id")
		case seenID[ad.GetId()] || seenProduct[ad.GetProductId()]:
			add(at("id"), diag.CodeDuplicateAddon, "two add-ons share an id or a product")
		}
		seenID[ad.GetId()], seenProduct[ad.GetProductId()] = true, true
		switch {
		case p == nil:
			add(at("product_id"), diag.CodeUnknownProduct, fmt.Sprintf("no product %q in the catalogue", ad.GetProductId()))
		case p.GetKind() != provisioningv1.ProductKind_PRODUCT_KIND_ADDON:
			add(at("product_id"), diag.CodeProductKindMismatch, p.GetId()+" is a base product, not an add-on")
		case base != nil && !slices.Contains(p.GetAddonOf(), base.GetId()):
			add(at("product_id"), diag.CodeAddonWithoutBase, p.GetId()+" does not go on "+base.GetId())
		}
		switch {
		case ad.GetQuantity() < 1:
			add(at("quantity"), diag.CodeQuantityOutOfRange, "an add-on holds at least 1")
		case ad.GetQuantity() > sub.GetQuantity():
			add(at("quantity"), diag.CodeAddonExceedsBase, "an add-on holds at most the subscription's quantity")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sub.GetAttributes())) {
		add("subscription.attributes."+k, diag.CodeInvalidAttribute, "the ledger's products take no attribute "+k)
	}
	if sub.GetTrial() {
		add("subscription.trial", diag.CodeTrialNotAvailable, "the ledger's products have no trial")
	}

	// One live subscription per product and account: the ledger's version
	// of a vendor's one allocation per product.
	if acct != nil && base != nil {
		other, err := holder(ctx, q, sub.GetAccountId(), sub.GetProductId(), sub.GetId())
		if err != nil {
			return nil, err
		}
		if other != "" {
			add("subscription.product_id", diag.CodeProductAlreadySubscribed, "subscription "+other+" of the account already holds "+base.GetId())
		}
	}
	return ds, nil
}

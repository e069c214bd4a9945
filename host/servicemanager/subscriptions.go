package servicemanager

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// subscriptionAction is what a subscription route does with the body's
// desired state.
type subscriptionAction int

const (
	// provision: make the remote match the whole body (Create, Update,
	// UpgradeToPaid, and every add-on route).
	provision subscriptionAction = iota
	suspend
	resume
	cancel
)

func registerSubscriptionRoutes() {
	for name, a := range map[string]subscriptionAction{
		"Subscriptions/Create": provision, "Subscriptions/Update": provision, "Subscriptions/UpgradeToPaid": provision,
		"Addons/Create": provision, "Addons/Update": provision, "Addons/Cancel": provision,
		"Subscriptions/Suspend": suspend, "Subscriptions/Activate": resume, "Subscriptions/Cancel": cancel,
	} {
		register(http.MethodPost, name, func(s *Server, c *call) (any, error) { return s.subscription(c, a) })
	}
	register(http.MethodGet, "Fields/ServiceDefinition", (*Server).serviceDefinition)
}

// subscription serves every subscription and add-on route. Result is the
// subscription's key (the BSS subscription id the host stores it under);
// on an add-on route it is the add-on's id, so that each Result interworks
// stores is what identifies the line on the next call.
func (s *Server) subscription(c *call, a subscriptionAction) (any, error) {
	var in ServiceDefinition
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.checkOnly = c.checkOnly || in.CheckOnly
	sub, err := desiredState(&in, c.route)
	if err != nil {
		return nil, err
	}
	result := sub.GetId()
	if strings.HasPrefix(c.route, "Addons/") {
		if result, err = addonResult(&in, c.route); err != nil {
			return nil, err
		}
	}
	switch {
	case a == provision && c.checkOnly:
		v, err := s.host.ValidateSubscription(c.ctx, &hostv1.ValidateSubscriptionRequest{Plugin: c.plugin, Request: &provisioningv1.ValidateSubscriptionRequest{Subscription: sub}})
		if err != nil {
			return nil, err
		}
		if err := diag.ToError(v.GetResponse().GetDiagnostics()); err != nil {
			return nil, err
		}
		return Result{Message: "check only: the order can be provisioned", Result: result}, nil
	case c.checkOnly:
		// Suspend, resume and cancel have no check of their own: the
		// pre-check says whether the host knows the subscription.
		if _, err := s.host.GetSubscriptionRecord(c.ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: c.plugin, SubscriptionId: sub.GetId()}); err != nil {
			return nil, err
		}
		return Result{Message: "check only: the subscription is known", Result: result}, nil
	}
	var rec *provisioningv1.SubscriptionRecord
	switch a {
	case provision:
		r, err := s.host.ProvisionSubscription(c.ctx, &hostv1.ProvisionSubscriptionRequest{Plugin: c.plugin, Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub}})
		if err != nil {
			return nil, err
		}
		rec = r.GetResponse().GetRecord()
	case suspend:
		r, err := s.host.SuspendSubscription(c.ctx, &hostv1.SuspendSubscriptionRequest{Plugin: c.plugin, Request: &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: sub.GetId()}})
		if err != nil {
			return nil, err
		}
		rec = r.GetResponse().GetRecord()
	case resume:
		r, err := s.host.ResumeSubscription(c.ctx, &hostv1.ResumeSubscriptionRequest{Plugin: c.plugin, Request: &provisioningv1.ResumeSubscriptionRequest{SubscriptionId: sub.GetId()}})
		if err != nil {
			return nil, err
		}
		rec = r.GetResponse().GetRecord()
	case cancel:
		r, err := s.host.CancelSubscription(c.ctx, &hostv1.CancelSubscriptionRequest{Plugin: c.plugin, Request: &provisioningv1.CancelSubscriptionRequest{SubscriptionId: sub.GetId()}})
		if err != nil {
			return nil, err
		}
		rec = r.GetResponse().GetRecord()
	}
	if rec.GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED {
		// A record, not an error, but interworks must show it.
		reason := rec.GetErrorReason()
		if reason == "" {
			reason = "FAILED"
		}
		return nil, status.Errorf(codes.FailedPrecondition, "%s: %s", reason, rec.GetMessage())
	}
	c.log.Info("subscription done", "subscription_id", sub.GetId(), "account_id", sub.GetAccountId(),
		"status", rec.GetStatus().String(), "quantity", rec.GetQuantity(), "remote_id", rec.GetRemoteId())
	return Result{Result: result, Message: strings.TrimPrefix(rec.GetStatus().String(), "SUBSCRIPTION_STATUS_")}, nil
}

// subscriptionKey is the subscription's id: ID (the Result of Create,
// which is this key), else ExternalID, else the BSS's SubscriptionID (a
// Create that sends no ID).
func subscriptionKey(in *ServiceDefinition) string {
	return first(in.ID, in.ExternalID, in.SubscriptionID)
}

// desiredState turns the body into the contract's desired state. interworks
// sends the whole subscription with all its add-ons on every call, so the
// state is absolute (set, never increment): an add-on whose ActionType is
// Cancel, or whose quantity is 0, is not in it; every other add-on is.
// UpgradeToPaid is the same state without the trial.
func desiredState(in *ServiceDefinition, route string) (*provisioningv1.Subscription, error) {
	key := subscriptionKey(in)
	if strings.TrimSpace(key) == "" {
		return nil, invalid("ID", "ID (the subscription id) is required")
	}
	if in.Account == nil || strings.TrimSpace(in.Account.ID) == "" {
		return nil, invalid("Account.ID", "Account.ID (the BSS account id of the subscription) is required")
	}
	if in.Quantity < 0 {
		return nil, invalid("Quantity", "Quantity cannot be negative")
	}
	sub := &provisioningv1.Subscription{
		Id:         key,
		AccountId:  in.Account.ID,
		ProductId:  in.ProductID,
		Quantity:   in.Quantity,
		Trial:      in.IsTrial && route != "Subscriptions/UpgradeToPaid",
		Attributes: attributeValues(in.AttributeList),
	}
	seen := map[string]bool{}
	for i, ad := range in.Addons {
		id := addonKey(&ad)
		if id == "" {
			return nil, invalid(fmt.Sprintf("Addons[%d].ProductID", i), "an add-on needs an ID or a ProductID")
		}
		if seen[id] {
			return nil, invalid(fmt.Sprintf("Addons[%d].ProductID", i), "add-on product "+clip(id, 64)+" is listed twice: a subscription holds one line per add-on")
		}
		seen[id] = true
		if ad.Quantity < 0 {
			return nil, invalid(fmt.Sprintf("Addons[%d].Quantity", i), "an add-on's Quantity cannot be negative")
		}
		if strings.EqualFold(ad.ActionType, "Cancel") || ad.Quantity == 0 {
			continue
		}
		sub.Addons = append(sub.Addons, &provisioningv1.Addon{Id: id, ProductId: ad.ProductID, Quantity: ad.Quantity})
		// Add-on attributes join the subscription's: the desired state is
		// computed from the whole payload.
		for k, v := range attributeValues(ad.AttributeList) {
			if _, ok := sub.Attributes[k]; !ok {
				if sub.Attributes == nil {
					sub.Attributes = map[string]string{}
				}
				sub.Attributes[k] = v
			}
		}
	}
	slices.SortFunc(sub.Addons, func(a, b *provisioningv1.Addon) int { return strings.Compare(a.GetId(), b.GetId()) })
	return sub, nil
}

// addonKey is an add-on line's id: its product. A subscription holds one
// line per add-on product (a module is on or off, with one quantity), and
// the product is the one identity every call carries: a first Addon Create
// has no ID of ours, and what interworks stores from our Result then does
// not matter. A line without ProductID falls back to its ID.
func addonKey(ad *AddonDefinition) string { return first(ad.ProductID, ad.ID) }

// addonResult is the Result of an add-on route: the id of the one add-on
// the call is about (ActionType Provision on Create/Update, Cancel on
// Cancel; with none marked, the only add-on). A call about several add-ons
// answers the subscription's key.
func addonResult(in *ServiceDefinition, route string) (string, error) {
	want := "Provision"
	if route == "Addons/Cancel" {
		want = "Cancel"
	}
	var ids []string
	for _, ad := range in.Addons {
		if strings.EqualFold(ad.ActionType, want) {
			ids = append(ids, addonKey(&ad))
		}
	}
	switch {
	case len(ids) == 1:
		return ids[0], nil
	case len(ids) == 0 && len(in.Addons) == 1:
		return addonKey(&in.Addons[0]), nil
	case len(ids) == 0:
		return "", invalid("Addons", route+" needs the add-on it is about, marked with ActionType "+want)
	}
	return subscriptionKey(in), nil
}

// attributeValues maps attributes to the contract's map: a list item's
// Code when set (the stable value), else the Value.
func attributeValues(as Attributes) map[string]string {
	if len(as) == 0 {
		return nil
	}
	m := make(map[string]string, len(as))
	for id, a := range as {
		m[id] = first(a.Code, a.Value)
	}
	return m
}

// serviceDefinition is Get Services Definition: the plugin's catalogue as
// one product type (interworks recommends one per product family) named
// after the plugin.
func (s *Server) serviceDefinition(c *call) (any, error) {
	r, err := s.host.GetServiceDefinition(c.ctx, &hostv1.GetServiceDefinitionRequest{Plugin: c.plugin, Request: &provisioningv1.GetServiceDefinitionRequest{}})
	if err != nil {
		return nil, err
	}
	pt := ProductType{
		ID: c.plugin, Name: c.plugin, Scope: "Both", Derivative: "SUBSCRIPTION", AllowMultipleSubscriptions: true,
		AttributeList:      []AttributeDefinition{},
		ProductsCollection: ProductsCollection{Products: []ProductDefinition{}, Addons: []AddonProduct{}},
	}
	seen := map[string]bool{}
	for _, p := range r.GetResponse().GetProducts() {
		d := ProductDefinition{
			ID: p.GetId(), Code: p.GetId(), Name: p.GetName(), Description: p.GetDescription(),
			TrialEnabled: p.GetTrialAvailable(), MinQuantity: p.GetMinQuantity(), MaxQuantity: p.GetMaxQuantity(),
		}
		if p.GetTrialAvailable() {
			d.TrialDuration, d.TrialDurationType = p.GetTrialDays(), "Days"
		}
		if p.GetMaxQuantity() > pt.QuantityLimit {
			pt.QuantityLimit = p.GetMaxQuantity()
		}
		if p.GetKind() == provisioningv1.ProductKind_PRODUCT_KIND_ADDON {
			pt.ProductsCollection.Addons = append(pt.ProductsCollection.Addons, AddonProduct{ProductDefinition: d, Products: append([]string{}, p.GetAddonOf()...)})
		} else {
			pt.ProductsCollection.Products = append(pt.ProductsCollection.Products, d)
		}
		for _, f := range p.GetAttributes() {
			if !seen[f.GetKey()] && !f.GetSensitive() {
				seen[f.GetKey()] = true
				pt.AttributeList = append(pt.AttributeList, attributeDefinition(f))
			}
		}
	}
	return ServiceDefinitionResult{ProductTypes: []ProductType{pt}}, nil
}

// attributeDefinition maps a product attribute field to an interworks
// attribute: ENUM → PredefinedChooseOne, BOOL → Boolean, INTEGER → Numeric,
// others Text; all are order characteristics (chosen per order).
func attributeDefinition(f *provisioningv1.Field) AttributeDefinition {
	d := AttributeDefinition{
		ID: f.GetKey(), SortOrder: int(f.GetOrder()), Name: first(f.GetLabel(), f.GetKey()), Description: f.GetDescription(),
		Usage: "OrderCharacteristic", Kind: "Text", IsRequired: f.GetRequired() && !f.GetReadOnly(),
		PredefinedValues: []AttributeChoiceValue{},
	}
	switch f.GetKind() {
	case provisioningv1.FieldKind_FIELD_KIND_ENUM:
		d.Kind = "PredefinedChooseOne"
	case provisioningv1.FieldKind_FIELD_KIND_BOOL:
		d.Kind = "Boolean"
	case provisioningv1.FieldKind_FIELD_KIND_INTEGER:
		d.Kind = "Numeric"
	}
	for _, ch := range f.GetChoices() {
		d.PredefinedValues = append(d.PredefinedValues, AttributeChoiceValue{
			ID: ch.GetValue(), Code: ch.GetValue(), Name: first(ch.GetLabel(), ch.GetValue()), IsDefault: ch.GetValue() == f.GetValue(),
		})
	}
	return d
}

package panda

import (
	"context"
	"slices"

	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Trial terms of every Panda product (WatchGuard's): at most TrialMaxQuantity
// endpoints for TrialDays days.
const (
	TrialMaxQuantity = 250
	TrialDays        = 30
)

// AttributeAllocationType is the order attribute that says how a paid
// subscription is licensed: AllocationSubscription (the default) or
// AllocationTerm. A trial is its own type in Panda; the attribute is the
// type it becomes when it turns paid.
const AttributeAllocationType = "allocation_type"

// catalogue is Panda's: the endpoint-security base products, then the
// add-on modules, each group by id as GetServiceDefinition promises.
var catalogue = func() []*provisioningv1.Product {
	bases := []*provisioningv1.Product{
		{Id: "ADVANCED_EPDR", Name: "Advanced EPDR", Description: "Endpoint protection, detection and response with advanced threat hunting."},
		{Id: "EDR", Name: "EDR", Description: "Endpoint detection and response."},
		{Id: "EPDR", Name: "EPDR", Description: "Endpoint protection, detection and response."},
		{Id: "EPP", Name: "EPP", Description: "Endpoint protection platform."},
	}
	addons := []*provisioningv1.Product{
		{Id: "ADVANCED_REPORTING", Name: "Advanced Reporting Tool", Description: "Security intelligence and reports on endpoint activity."},
		{Id: "DATA_CONTROL", Name: "Data Control", Description: "Discovers and monitors personal data on endpoints."},
		{Id: "FULL_ENCRYPTION", Name: "Full Encryption", Description: "Full-disk encryption managed from the console."},
		{Id: "PATCH_MANAGEMENT", Name: "Patch Management", Description: "Operating system and third-party patching."},
		{Id: "SIEM_FEEDER", Name: "SIEMFeeder", Description: "Endpoint events for a SIEM."},
	}
	baseIDs := make([]string, 0, len(bases))
	for _, b := range bases {
		baseIDs = append(baseIDs, b.Id)
	}
	for _, b := range bases {
		b.Kind = provisioningv1.ProductKind_PRODUCT_KIND_BASE
	}
	for _, a := range addons {
		a.Kind = provisioningv1.ProductKind_PRODUCT_KIND_ADDON
		a.AddonOf = slices.Clone(baseIDs)
	}
	all := slices.Concat(bases, addons)
	for _, p := range all {
		p.MinQuantity = 1
		p.TrialAvailable = true
		p.TrialMaxQuantity = TrialMaxQuantity
		p.TrialDays = TrialDays
		p.Attributes = orderAttributes()
	}
	return all
}()

// orderAttributes are the per-order options of every product.
func orderAttributes() []*provisioningv1.Field {
	return []*provisioningv1.Field{{
		Key: AttributeAllocationType, Label: "Allocation type", Order: 1, Kind: provisioningv1.FieldKind_FIELD_KIND_ENUM,
		Choices: []*provisioningv1.Choice{
			{Value: AllocationSubscription, Label: "Subscription (billed monthly on usage)"},
			{Value: AllocationTerm, Label: "Term (a fixed number for a fixed term)"},
		},
		Value:       AllocationSubscription,
		AutoFill:    true,
		Description: "How the licences are billed. A product and its modules always share one type; it cannot change on a live subscription.",
	}}
}

// product returns the catalogue entry with id, or nil.
func product(id string) *provisioningv1.Product {
	for _, p := range catalogue {
		if p.GetId() == id {
			return p
		}
	}
	return nil
}

// GetServiceDefinition answers Panda's catalogue. It needs no remote call:
// the catalogue is the one the Allocations API accepts.
func (a *Adapter) GetServiceDefinition(context.Context, *provisioningv1.GetServiceDefinitionRequest) (*provisioningv1.GetServiceDefinitionResponse, error) {
	if _, err := a.configured(); err != nil {
		return nil, err
	}
	out := make([]*provisioningv1.Product, 0, len(catalogue))
	for _, p := range catalogue {
		out = append(out, cloneProduct(p))
	}
	return &provisioningv1.GetServiceDefinitionResponse{Products: out}, nil
}

func cloneProduct(p *provisioningv1.Product) *provisioningv1.Product { return proto.CloneOf(p) }

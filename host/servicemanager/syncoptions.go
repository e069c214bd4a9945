package servicemanager

import (
	"slices"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Placeholder accounts whose forms make up the option schema. interworks
// asks for the options once, for no account, but a plugin's form depends
// on the account (an end customer has a parent field, a reseller may have
// fields of its own): the schema is the union of the form of a reseller and
// of a reseller's end customer. They are read-only calls; nothing is
// stored under these ids.
// The customer comes first, so a choice's default (IsDefault) is a
// customer's.
var schemaAccounts = []*provisioningv1.Account{
	{Id: "interworks-sync-options-customer", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Sync options",
		ParentId: "interworks-sync-options-reseller"},
	{Id: "interworks-sync-options-reseller", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Sync options"},
}

// syncOptions is Account Get Sync Options: the plugin's form fields as
// interworks option definitions.
func (s *Server) syncOptions(c *call) (any, error) {
	var fields []*provisioningv1.Field
	seen := map[string]bool{}
	for _, acc := range schemaAccounts {
		r, err := s.host.GetSyncOptions(c.ctx, &hostv1.GetSyncOptionsRequest{Plugin: c.plugin, Request: &provisioningv1.GetSyncOptionsRequest{Account: acc}})
		if err != nil {
			return nil, err
		}
		for _, f := range r.GetResponse().GetFields() {
			if !seen[f.GetKey()] {
				seen[f.GetKey()] = true
				fields = append(fields, f)
			}
		}
	}
	slices.SortStableFunc(fields, func(a, b *provisioningv1.Field) int { return int(a.GetOrder()) - int(b.GetOrder()) })
	out := SyncOptionsResult{Fields: make([]CustomField, 0, len(fields))}
	for _, f := range fields {
		if f.GetSensitive() {
			// interworks shows and stores options in clear: a secret field
			// cannot be one of them.
			continue
		}
		out.Fields = append(out.Fields, CustomField{ID: f.GetKey(), Definition: definition(f)})
	}
	return out, nil
}

// definition maps a form field to an interworks option definition:
//
//	kind ENUM → List (choices → PredefinedValues; the pre-populated value is IsDefault)
//	kind BOOL → Boolean; INTEGER → SimpleValue/Number; STRING, EMAIL, ACCOUNT_REF → SimpleValue/Text
//	required → IsRequired, but never for a read-only field (nobody can fill it)
//	read_only → IsReadOnly
//	AvailableToStorefront: only for a required field without auto_fill: a
//	field with a default is filled unseen on storefront orders, as the
//	contract's auto_fill says.
func definition(f *provisioningv1.Field) CustomFieldDefinition {
	d := CustomFieldDefinition{
		ID:                    f.GetKey(),
		SortOrder:             int(f.GetOrder()),
		Name:                  f.GetLabel(),
		Description:           f.GetDescription(),
		Kind:                  "SimpleValue",
		DataType:              "Text",
		IsRequired:            f.GetRequired() && !f.GetReadOnly(),
		PredefinedValues:      []PredefinedValue{},
		IsReadOnly:            f.GetReadOnly(),
		AvailableToStorefront: f.GetRequired() && !f.GetAutoFill() && !f.GetReadOnly(),
	}
	if d.Name == "" {
		d.Name = f.GetKey()
	}
	switch f.GetKind() {
	case provisioningv1.FieldKind_FIELD_KIND_ENUM:
		d.Kind = "List"
	case provisioningv1.FieldKind_FIELD_KIND_BOOL:
		d.Kind = "Boolean"
	case provisioningv1.FieldKind_FIELD_KIND_INTEGER:
		d.DataType = "Number"
	}
	for i, ch := range f.GetChoices() {
		name := ch.GetLabel()
		if name == "" {
			name = ch.GetValue()
		}
		d.PredefinedValues = append(d.PredefinedValues, PredefinedValue{
			ID: ch.GetValue(), SortOrder: i + 1, Name: name, IsDefault: ch.GetValue() == f.GetValue(),
		})
	}
	return d
}

package panda

import (
	"context"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// GetSyncOptions answers the "Panda Antivirus > Sync Options" form of one
// account:
//
//  1. parent_account (only for an end customer): read-only, the reseller's
//     Panda account when the reseller is synchronized as a Panda Reseller,
//     else empty with PARENT_NOT_SYNCED or PARENT_NOT_RESELLER;
//  2. role: User or Reseller, defaulting from the account type;
//  3. username: the first free variant of the suggestion (one GetOperator
//     per variant tried), or the synchronized one, read-only.
//
// Problems are diagnostics (a bad corporate email is only a warning here,
// so the form can still be filled); errors are for a missing account, a
// missing configuration, or Panda failing to answer.
func (a *Adapter) GetSyncOptions(ctx context.Context, req *provisioningv1.GetSyncOptionsRequest) (*provisioningv1.GetSyncOptionsResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	if err := checkAccount(req.GetAccount(), req.GetRecord()); err != nil {
		return nil, err
	}
	ev, err := a.evaluate(ctx, st, forForm, subject{
		account: req.GetAccount(), ancestors: req.GetAncestors(), record: req.GetRecord(),
	})
	if err != nil {
		return nil, err
	}
	return &provisioningv1.GetSyncOptionsResponse{Fields: formFields(req.GetAccount(), ev), Diagnostics: ev.diags}, nil
}

// formFields lays out the form from an evaluation.
func formFields(acc *provisioningv1.Account, ev *evaluation) []*provisioningv1.Field {
	synced := ev.bound != nil
	var fields []*provisioningv1.Field
	if acc.GetParentId() != "" {
		fields = append(fields, &provisioningv1.Field{
			Key:         FieldParentAccount,
			Label:       "Parent Account",
			Order:       1,
			Kind:        provisioningv1.FieldKind_FIELD_KIND_ACCOUNT_REF,
			ReadOnly:    true,
			Value:       ev.remoteParent,
			Description: "The reseller's Panda account this customer is created under. Set once the reseller is synchronized as a Panda Reseller.",
			AutoFill:    true,
		})
	}
	fields = append(fields,
		&provisioningv1.Field{
			Key:      FieldRole,
			Label:    "Role",
			Order:    2,
			Kind:     provisioningv1.FieldKind_FIELD_KIND_ENUM,
			Required: true,
			ReadOnly: synced,
			Choices: []*provisioningv1.Choice{
				{Value: RoleUser, Label: "User"},
				{Value: RoleReseller, Label: "Reseller"},
			},
			Value:       ev.role,
			Description: "Reseller: a Panda service provider that can have customers of its own (reseller accounts only). User: a Panda subscriber.",
			AutoFill:    true,
		},
		&provisioningv1.Field{
			Key:         FieldUsername,
			Label:       "Username",
			Order:       3,
			Kind:        provisioningv1.FieldKind_FIELD_KIND_STRING,
			Required:    true,
			ReadOnly:    synced,
			Value:       ev.username,
			Description: "The Panda sign-in name of the account's operator: 5 to 65 characters of A-Z a-z 0-9 . - _ +, unique across Panda. Suggested from the corporate email or the company name.",
			AutoFill:    true,
		},
	)
	return fields
}

package ledger

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// The form's keys. They are a public interface: the BSS stores them in
// SyncRecord.values and sends them back in SynchronizeRequest.values, and
// Diagnostic.field names them. Never rename one.
const (
	keyPlan  = "plan"
	keySeats = "seats"
	keyNote  = "note"
)

const (
	maxSeats   = 10000
	maxNoteLen = 200
)

// form returns the sync options form, pre-populated with prior values (what
// was synchronized before), or with the defaults.
func form(prior map[string]string) []*provisioningv1.Field {
	fields := []*provisioningv1.Field{{
		Key: keyPlan, Label: "Plan", Order: 1, Kind: provisioningv1.FieldKind_FIELD_KIND_ENUM,
		Required: true, AutoFill: true, Value: "standard",
		Choices: []*provisioningv1.Choice{
			{Value: "basic", Label: "Basic"}, {Value: "standard", Label: "Standard"}, {Value: "premium", Label: "Premium"},
		},
		Description: "The plan recorded for the account.",
	}, {
		Key: keySeats, Label: "Seats", Order: 2, Kind: provisioningv1.FieldKind_FIELD_KIND_INTEGER,
		Required: true, AutoFill: true, Value: "1",
		Description: "Number of seats, 1 to 10000.",
	}, {
		// Optional and without a default: auto_fill leaves it empty.
		Key: keyNote, Label: "Note", Order: 3, Kind: provisioningv1.FieldKind_FIELD_KIND_STRING,
		Description: "Free text kept with the entry, at most 200 characters.",
	}}
	for _, f := range fields {
		if v, ok := prior[f.Key]; ok {
			f.Value = v
		}
	}
	return fields
}

// checkAccount rejects a request whose account cannot be processed at all.
// These are errors in every RPC, never diagnostics: there is no form to show
// them on.
func checkAccount(a *provisioningv1.Account) error {
	switch {
	case a == nil:
		return diag.InvalidArgument("account", diag.CodeInvalidAccount, "the request has no account")
	case a.GetId() == "":
		return diag.InvalidArgument("account.id", diag.CodeInvalidAccount, "the account has no id")
	case a.GetType() == provisioningv1.AccountType_ACCOUNT_TYPE_UNSPECIFIED:
		return diag.InvalidArgument("account.type", diag.CodeInvalidAccount, "the account has no type")
	}
	return nil
}

// validate applies every rule to the proposed values of account and returns
// the problems and the values Synchronize would record. ValidateSyncOptions
// and Synchronize both call it, so they can never disagree. q reads the
// ledger (the parent's entry).
func validate(ctx context.Context, q querier, a *provisioningv1.Account, values map[string]string, autoFill bool) ([]*provisioningv1.Diagnostic, map[string]string, error) {
	vals := maps.Clone(values)
	if vals == nil {
		vals = map[string]string{}
	}
	fields := form(nil)
	var ds []*provisioningv1.Diagnostic
	for _, f := range fields {
		if autoFill && f.AutoFill && vals[f.Key] == "" {
			vals[f.Key] = f.Value // the storefront path: the default, unseen
		}
		if f.Required && vals[f.Key] == "" {
			ds = append(ds, diag.Error(f.Key, diag.CodeRequired, f.Label+" is required", ""))
		}
	}
	// Unknown keys are an error, not silently dropped: a typo in a BSS
	// integration must not record an account without its option.
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if !slices.ContainsFunc(fields, func(f *provisioningv1.Field) bool { return f.Key == k }) {
			ds = append(ds, diag.Error(k, diag.CodeUnknownField, "the form has no field "+strconv.Quote(k), ""))
		}
	}
	if p := vals[keyPlan]; p != "" && !slices.ContainsFunc(fields[0].Choices, func(c *provisioningv1.Choice) bool { return c.Value == p }) {
		ds = append(ds, diag.Error(keyPlan, diag.CodeInvalidValue, "unknown plan "+strconv.Quote(p), "Choose basic, standard or premium."))
	}
	if s := vals[keySeats]; s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > maxSeats {
			ds = append(ds, diag.Error(keySeats, diag.CodeInvalidValue, "seats must be a whole number from 1 to 10000", ""))
		}
	}
	if len(vals[keyNote]) > maxNoteLen {
		ds = append(ds, diag.Error(keyNote, diag.CodeInvalidValue, "the note is longer than 200 characters", ""))
	}
	if a.GetParentId() != "" && a.GetParentId() == a.GetId() {
		// An input problem, not a state one: no order of calls fixes it.
		ds = append(ds, diag.Error("account.parent_id", diag.CodeSelfParent, "the account names itself as its parent", "Set parent_id to the reseller's id, or leave it empty."))
		return ds, vals, nil
	}
	pd, err := checkParent(ctx, q, a)
	if pd != nil {
		ds = append(ds, pd)
	}
	return ds, vals, err
}

// convergeable refuses what Synchronize cannot make the ledger match: a
// recorded account stays under the parent and with the type it was
// recorded with, as accounts do in most vendor systems.
func convergeable(prior *entry, a *provisioningv1.Account) error {
	switch {
	case prior.parentID != a.GetParentId():
		return diag.FailedPrecondition(diag.CodeParentChanged, "account.parent_id",
			fmt.Sprintf("the account was recorded under parent %q, not %q; the ledger cannot move an account", prior.parentID, a.GetParentId()))
	case prior.typ != a.GetType():
		return diag.FailedPrecondition(diag.CodeTypeChangeUnsupported, "account.type",
			fmt.Sprintf("the account was recorded as %s, not %s; delete it and synchronize it again", prior.typ, a.GetType()))
	}
	return nil
}

// checkParent is the hierarchy rule: an end customer can be recorded only
// under a reseller that is recorded already. The ledger is its own source of
// truth, so it reads the parent's entry rather than trusting the request's
// ancestors.
func checkParent(ctx context.Context, q querier, a *provisioningv1.Account) (*provisioningv1.Diagnostic, error) {
	if a.GetParentId() == "" {
		return nil, nil
	}
	p, err := lookup(ctx, q, a.GetParentId())
	switch {
	case err != nil:
		return nil, err
	case p == nil:
		return diag.Error("account.parent_id", diag.CodeParentNotSynced, "the reseller "+a.GetParentId()+" is not in the ledger yet",
			"Synchronize the reseller first, then this account."), nil
	case p.typ != provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER:
		return diag.Error("account.parent_id", diag.CodeParentNotReseller, "the parent "+a.GetParentId()+" is recorded as a customer, not a reseller", ""), nil
	}
	return nil, nil
}

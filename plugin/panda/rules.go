package panda

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Form keys: the keys of GetSyncOptions fields, of values, and of the
// synchronized SyncRecord.values.
const (
	FieldParentAccount = "parent_account"
	FieldRole          = "role"
	FieldUsername      = "username"
)

// Values of the role field.
const (
	RoleUser     = "User"
	RoleReseller = "Reseller"
)

// Diagnostic fields about the account itself.
const (
	fieldAccount     = "account"
	fieldAccountID   = "account.id"
	fieldAccountType = "account.type"
	fieldAccountName = "account.name"
	fieldParentID    = "account.parent_id"
	fieldEmail       = "account.corporate_email"
	fieldRecord      = "record"
	fieldRecordID    = "record.account_id"
	fieldValues      = "values"
)

// maxNameLen is Panda's limit on an account name.
const maxNameLen = 100

// purpose says which RPC evaluates the rules; the rules are the same, only
// their severity and the remote checks they cost differ.
type purpose int

const (
	// forForm: GetSyncOptions. Missing values take their defaults; a bad
	// corporate email is a warning (the form can still be filled).
	forForm purpose = iota
	// forValidate: ValidateSyncOptions. Every rule is checked, remotely too.
	forValidate
	// forSynchronize: the first step of Synchronize. As forValidate, but the
	// remote username check is skipped once another error already blocks
	// the call (it would cost a request to report nothing new), and when
	// the subject has no own Panda account (see precheckUsername).
	forSynchronize
)

// subject is what the rules look at: the request, whichever RPC carried it.
type subject struct {
	account   *provisioningv1.Account
	ancestors []*provisioningv1.Ancestor
	record    *provisioningv1.SyncRecord
	values    map[string]string
	autoFill  bool
}

// evaluation is the outcome of the rules for one subject. evaluate builds
// it and nothing changes it afterwards: the form and ValidateSyncOptions
// answer it, and Synchronize turns it into a [syncPlan].
type evaluation struct {
	diags []*provisioningv1.Diagnostic
	// values are what Synchronize would use, by form key.
	values map[string]string
	// bound is the subject's record when it holds remote objects (PENDING,
	// SYNCED, ACTIVE): role and username are then read-only.
	bound *provisioningv1.SyncRecord
	// remoteParent is the Panda account the subject is (to be) created
	// under; "" when the parent is not usable.
	remoteParent string
	tier         int
	role         string
	username     string
	// suggested: the username is the plugin's suggestion (auto_fill), so a
	// collision at create time may move on to the next variant.
	suggested  bool
	suggestion string // the variant-1 suggestion
	variant    int    // which variant username is
	// owner is set when username already belongs to the subject in Panda:
	// prior work of an earlier attempt, or the record's own operator.
	owner *ownedOperator
	// own are the Panda accounts provably this BSS account's: the record's
	// and the one the journal says this process created for it.
	own []string
	// remote is owner's Panda account as it stands (Synchronize only): what
	// converging compares with the BSS account.
	remote *RemoteAccount
	// parentErrorReason is the reason of the parent's FAILED record, when
	// that is why the parent is not synchronized.
	parentErrorReason string
}

// checkAccount rejects a request whose account cannot even be evaluated:
// INVALID_ARGUMENT for every RPC.
func checkAccount(acc *provisioningv1.Account, rec *provisioningv1.SyncRecord) error {
	if acc == nil {
		return diag.InvalidArgument(fieldAccount, diag.CodeInvalidAccount, "account is required")
	}
	var ds []*provisioningv1.Diagnostic
	if strings.TrimSpace(acc.GetId()) == "" {
		ds = append(ds, diag.Error(fieldAccountID, diag.CodeInvalidAccount, "account.id is required", "It is the idempotency key of Synchronize."))
	}
	switch acc.GetType() {
	case provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER:
	default:
		ds = append(ds, diag.Error(fieldAccountType, diag.CodeInvalidAccount, "account.type must be ACCOUNT_TYPE_CUSTOMER or ACCOUNT_TYPE_RESELLER", ""))
	}
	if rec != nil && rec.GetAccountId() != "" && acc.GetId() != "" && rec.GetAccountId() != acc.GetId() {
		ds = append(ds, diag.Error(fieldRecordID, diag.CodeInvalidValue, "record.account_id does not match account.id", "Send the record of this account, or none."))
	}
	return diag.ToError(ds)
}

// boundRecord returns rec when it says remote objects exist or are being
// created for the account, nil otherwise.
func boundRecord(rec *provisioningv1.SyncRecord) *provisioningv1.SyncRecord {
	switch rec.GetStatus() {
	case provisioningv1.SyncStatus_SYNC_STATUS_PENDING, provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE:
		if rec.GetRemoteId() != "" && rec.GetValues()[FieldUsername] != "" {
			return rec
		}
	}
	return nil
}

// isSynced reports whether rec says the account exists in Panda with its
// operator.
func isSynced(rec *provisioningv1.SyncRecord) bool {
	s := rec.GetStatus()
	return (s == provisioningv1.SyncStatus_SYNC_STATUS_SYNCED || s == provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE) && rec.GetRemoteId() != ""
}

// defaultRole is the role the form proposes: a reseller sells on, so it is
// a Panda Reseller; anyone else is a Panda User.
func defaultRole(acc *provisioningv1.Account) string {
	if acc.GetType() == provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER {
		return RoleReseller
	}
	return RoleUser
}

// accountTypeFor is the Panda account type of a role.
func accountTypeFor(role string) AccountType {
	if role == RoleReseller {
		return AccountTypeServiceProvider
	}
	return AccountTypeSubscriber
}

// operatorRoleFor is the role of the operator the adapter creates: the
// owner of a service provider, the administrator of a subscriber.
func operatorRoleFor(role string) OperatorRole {
	if role == RoleReseller {
		return OperatorOwner
	}
	return OperatorAdministrator
}

// ancestorChain returns the ancestors that really are the subject's chain of
// parents, nearest first, stopping at the first one that does not fit.
func ancestorChain(acc *provisioningv1.Account, ancestors []*provisioningv1.Ancestor) []*provisioningv1.Ancestor {
	var chain []*provisioningv1.Ancestor
	want := acc.GetParentId()
	for _, an := range ancestors {
		if want == "" || an.GetAccount().GetId() != want {
			break
		}
		chain = append(chain, an)
		want = an.GetAccount().GetParentId()
		if len(chain) > 64 {
			break // deeper than any Panda tree; the tier limit has long been hit
		}
	}
	return chain
}

// evaluator applies the rules with one configuration.
type evaluator struct {
	st     *configured
	p      purpose
	s      subject
	ev     *evaluation
	lookup *usernameLookup // see names
}

// evaluate applies every rule to s. Business-rule problems are diagnostics;
// the error is for a failed remote check (UNAVAILABLE, ...).
func (a *Adapter) evaluate(ctx context.Context, st *configured, p purpose, s subject) (*evaluation, error) {
	e := &evaluator{st: st, p: p, s: s, ev: &evaluation{bound: boundRecord(s.record), tier: 1}}
	e.ev.own = ownRemoteIDs(s.record, &a.journal, s.account.GetId())
	e.checkParent()
	e.checkType()
	e.checkParentValue()
	e.checkAccountFields()
	e.checkUnknownKeys()
	e.checkRole()
	if err := e.checkUsername(ctx); err != nil {
		return nil, err
	}
	ev := e.ev
	if p == forSynchronize && ev.owner != nil && !diag.HasErrors(ev.diags) {
		// Converging compares the account as it stands with the BSS's.
		pa := ev.owner.account
		if pa == nil {
			var err error
			pa, err = st.api.GetAccount(ctx, ev.owner.op.AccountID)
			switch {
			case errors.Is(err, ErrNotFound):
				pa = nil // deleted since the operator read; the plan creates
				ev.owner = nil
			case err != nil:
				return nil, remoteError(ctx, "reading Panda account "+ev.owner.op.AccountID, err)
			}
		}
		ev.remote = pa
	}
	ev.values = map[string]string{}
	if s.account.GetParentId() != "" && ev.remoteParent != "" {
		ev.values[FieldParentAccount] = ev.remoteParent
	}
	if ev.role != "" {
		ev.values[FieldRole] = ev.role
	}
	if ev.username != "" {
		ev.values[FieldUsername] = ev.username
	}
	return ev, nil
}

func (e *evaluator) add(d *provisioningv1.Diagnostic) { e.ev.diags = append(e.ev.diags, d) }

// parentName names the reseller in messages: its company name and BSS id.
func parentName(acc *provisioningv1.Account, chain []*provisioningv1.Ancestor) string {
	id := acc.GetParentId()
	if len(chain) > 0 && chain[0].GetAccount().GetName() != "" {
		return fmt.Sprintf("%q (%s)", clip(chain[0].GetAccount().GetName()), clip(id))
	}
	return clip(id)
}

// checkParent resolves the Panda parent and the tier: the root for a direct
// account, the reseller's Panda account for an end customer, which needs the
// reseller synchronized as a Panda Reseller.
func (e *evaluator) checkParent() {
	acc, ev := e.s.account, e.ev
	if acc.GetParentId() != "" && acc.GetParentId() == acc.GetId() {
		e.add(diag.Error(fieldParentID, diag.CodeSelfParent, "the account names itself as its parent",
			"account.parent_id must be the id of the reseller that owns the account, or empty."))
		return
	}
	if acc.GetParentId() == "" {
		ev.remoteParent = e.st.cfg.RootAccountID
		if ev.bound != nil && ev.bound.GetRemoteParentId() != "" {
			ev.remoteParent = ev.bound.GetRemoteParentId()
			if ev.bound.GetValues()[FieldParentAccount] != "" {
				e.parentChanged("the account was synchronized under reseller account " + ev.bound.GetRemoteParentId() + " and now has no parent")
			}
		}
		return
	}
	chain := ancestorChain(acc, e.s.ancestors)
	ev.tier = 1 + len(chain)
	var parent *provisioningv1.Ancestor
	if len(chain) > 0 {
		parent = chain[0]
	}
	if ev.bound != nil {
		// Already created under its parent: the parent's present state does
		// not matter any more, only whether it is still the same parent.
		ev.remoteParent = ev.bound.GetRemoteParentId()
		now := parent.GetRecord().GetRemoteId()
		switch {
		case ev.bound.GetValues()[FieldParentAccount] == "":
			e.parentChanged("the account was synchronized without a parent and now names reseller " + parentName(acc, chain))
		case now != "" && now != ev.remoteParent:
			e.parentChanged("the account was synchronized under Panda account " + ev.remoteParent + "; its parent " + parentName(acc, chain) + " is Panda account " + now)
		}
		return
	}
	name := parentName(acc, chain)
	switch prec := parent.GetRecord(); {
	case parent == nil || prec == nil:
		e.add(diag.Error(FieldParentAccount, diag.CodeParentNotSynced,
			"reseller "+name+" is not synchronized with Panda",
			"Synchronize the reseller first: its end customers are created under its Panda account."))
	case prec.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_PENDING:
		e.add(diag.Error(FieldParentAccount, diag.CodeParentNotSynced,
			"reseller "+name+" is still being synchronized with Panda",
			"Wait until its synchronization settles, then synchronize this account."))
	case prec.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_FAILED && prec.GetErrorReason() != "":
		ev.parentErrorReason = prec.GetErrorReason()
		e.add(diag.Error(FieldParentAccount, diag.CodeParentNotSynced,
			"reseller "+name+" is not synchronized with Panda: its last synchronization failed ("+prec.GetErrorReason()+": "+clip(prec.GetMessage())+")",
			"Fix the reseller's problem and synchronize it first: its end customers are created under its Panda account."))
	case !isSynced(prec):
		e.add(diag.Error(FieldParentAccount, diag.CodeParentNotSynced,
			"reseller "+name+" is not synchronized with Panda",
			"Synchronize the reseller first: its end customers are created under its Panda account."))
	case prec.GetValues()[FieldRole] != RoleReseller:
		e.add(diag.Error(FieldParentAccount, diag.CodeParentNotReseller,
			"reseller "+name+" is synchronized as a Panda User, not a Reseller",
			"A Panda User cannot have accounts below it; the reseller must be synchronized with role Reseller."))
	default:
		ev.remoteParent = prec.GetRemoteId()
	}
	if ev.tier > e.st.cfg.MaxTiers {
		e.add(diag.Error(FieldParentAccount, diag.CodeTierLimit,
			fmt.Sprintf("account would be at tier %d below the Panda root; at most %d tiers are allowed", ev.tier, e.st.cfg.MaxTiers),
			"Panda limits how deep resellers may nest; attach this account to a reseller higher up."))
	}
}

// parentChanged adds PARENT_CHANGED: Panda cannot move an account.
func (e *evaluator) parentChanged(what string) {
	e.add(diag.Error(fieldParentID, diag.CodeParentChanged, "the account's parent changed: "+what,
		"Panda cannot move an account to another parent; restore the account's parent."))
}

// checkType: a synchronized account's BSS type must still fit its Panda
// type. A customer that became a reseller needs its Panda User converted
// to a service provider, which only WatchGuard's console does; a Panda
// Reseller never becomes a User again.
func (e *evaluator) checkType() {
	acc, b := e.s.account, e.ev.bound
	if b == nil {
		return
	}
	role := b.GetValues()[FieldRole]
	switch {
	case role == RoleReseller && acc.GetType() == provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER:
		e.add(diag.Error(fieldAccountType, diag.CodeTypeChangeUnsupported,
			"the account was synchronized as a reseller (a Panda service provider) and is now a customer",
			"WatchGuard never converts a service provider back to a subscriber; make the account a reseller again, or delete it and synchronize it anew."))
	case role == RoleUser && acc.GetType() == provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER && syncedType(b) == provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER:
		detail := "WatchGuard converts a subscriber to a service provider only in its console (Convert Account), one way, never on the deepest tier (tier " +
			strconv.Itoa(e.st.cfg.MaxTiers) + "); operator roles are remapped Administrator->Owner, Analyst->Helpdesk, Observer->Auditor. " +
			"Convert Panda account " + b.GetRemoteId() + " in the WatchGuard Cloud console, then call GetSyncStatus: it adopts the converted account."
		if e.ev.tier >= e.st.cfg.MaxTiers {
			detail = "The account is on the deepest tier Panda allows (tier " + strconv.Itoa(e.st.cfg.MaxTiers) +
				"), where WatchGuard does not convert a subscriber to a service provider: it cannot become a Panda Reseller there. " +
				"(Elsewhere WatchGuard converts a subscriber only in its console, one way; operator roles are remapped Administrator->Owner, Analyst->Helpdesk, Observer->Auditor.)"
		}
		e.add(diag.Error(fieldAccountType, diag.CodeTypeChangeUnsupported,
			"the account was synchronized as a customer (a Panda User) and is now a reseller", detail))
	}
}

// checkParentValue: parent_account is computed, never chosen; a value sent
// for it must be what the plugin computed.
func (e *evaluator) checkParentValue() {
	v := e.s.values[FieldParentAccount]
	if v == "" || e.s.account.GetParentId() == "" || v == e.ev.remoteParent {
		return
	}
	e.add(diag.Error(FieldParentAccount, diag.CodeReadOnly, "parent_account is read-only",
		"It is the reseller's Panda account, taken from the reseller's sync record."))
}

// checkAccountFields checks what Panda needs of the account itself: a
// company name, and a corporate email to mail the activation to.
func (e *evaluator) checkAccountFields() {
	acc := e.s.account
	// Checked for a synchronized account too: Synchronize pushes a changed
	// name and email to Panda, which refuses these.
	switch name := strings.TrimSpace(acc.GetName()); {
	case name == "":
		e.add(diag.Error(fieldAccountName, diag.CodeRequired, "the account has no company name", "Panda names the account after it."))
	case utf8.RuneCountInString(name) > maxNameLen:
		e.add(diag.Error(fieldAccountName, diag.CodeInvalidValue, fmt.Sprintf("the company name is longer than %d characters", maxNameLen), "Panda does not accept longer account names."))
	}
	if _, ok := parseEmail(acc.GetCorporateEmail()); !ok {
		summary := "the corporate email is missing"
		if acc.GetCorporateEmail() != "" {
			summary = "the corporate email " + strconv.Quote(clip(acc.GetCorporateEmail())) + " is not a valid address"
		}
		const detail = "The customer will not receive Panda's activation instructions."
		if e.p == forForm {
			// The form can still be filled in.
			e.add(diag.Warning(fieldEmail, diag.CodeInvalidEmail, summary, detail))
		} else {
			e.add(diag.Error(fieldEmail, diag.CodeInvalidEmail, summary, detail+" Fix the account's corporate email."))
		}
	}
}

// checkUnknownKeys rejects values for keys the form does not have, rather
// than silently dropping what a caller meant to set.
func (e *evaluator) checkUnknownKeys() {
	hasParent := e.s.account.GetParentId() != ""
	for _, k := range slices.Sorted(maps.Keys(e.s.values)) {
		switch k {
		case FieldRole, FieldUsername:
			continue
		case FieldParentAccount:
			// A direct account has no parent field; an empty value for it
			// says nothing and is tolerated.
			if hasParent || e.s.values[k] == "" {
				continue
			}
		}
		// Field keys travel in google.rpc details, which must be UTF-8.
		field := strings.ToValidUTF8(k, "\uFFFD")
		if field == "" {
			field = fieldValues
		}
		e.add(diag.Error(field, diag.CodeUnknownField, "unknown option "+strconv.Quote(clip(k)), "The form's fields are parent_account, role and username."))
	}
}

// checkRole: User or Reseller, User only for a customer, fixed once
// synchronized (Panda cannot change an account's type).
func (e *evaluator) checkRole() {
	acc, ev := e.s.account, e.ev
	v := e.s.values[FieldRole]
	switch {
	case ev.bound != nil:
		rec := ev.bound.GetValues()[FieldRole]
		if rec == "" {
			rec = defaultRole(acc)
		}
		ev.role = rec
		if v != "" && v != rec {
			e.add(diag.Error(FieldRole, diag.CodeReadOnly, "role is read-only once the account is synchronized",
				"The account is a Panda "+rec+"; Panda cannot change an account's type."))
		}
	case v == "":
		if e.p == forForm || e.s.autoFill {
			ev.role = defaultRole(acc)
			return
		}
		e.add(diag.Error(FieldRole, diag.CodeRequired, "role is required", "Choose User or Reseller."))
	case v != RoleUser && v != RoleReseller:
		e.add(diag.Error(FieldRole, diag.CodeInvalidValue, "role must be User or Reseller, not "+strconv.Quote(clip(v)), ""))
	case v == RoleReseller && acc.GetType() != provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER:
		e.add(diag.Error(FieldRole, diag.CodeRoleNotAllowed, "a customer account can only be a Panda User",
			"Only a reseller account has customers of its own."))
	default:
		ev.role = v
	}
}

// checkUsername: required, Panda's syntax, free in Panda (or already ours),
// fixed once synchronized. A missing value on the form or with auto_fill
// becomes the first free variant of the suggestion.
func (e *evaluator) checkUsername(ctx context.Context) error {
	ev := e.ev
	v := e.s.values[FieldUsername]
	switch {
	case ev.bound != nil:
		rec := ev.bound.GetValues()[FieldUsername]
		ev.username = rec
		if v != "" && v != rec {
			e.add(diag.Error(FieldUsername, diag.CodeReadOnly, "username is read-only once the account is synchronized",
				"The account's Panda operator is "+strconv.Quote(rec)+"."))
			return nil
		}
		if e.p != forSynchronize || diag.HasErrors(ev.diags) {
			return nil // the form shows the record; nothing to check
		}
		return e.checkFree(ctx, rec)
	case v != "":
		if !validUsername(v) {
			e.add(diag.Error(FieldUsername, diag.CodeInvalidUsername, "username must be 5 to 65 characters of A-Z a-z 0-9 . - _ +", ""))
			return nil
		}
		ev.username = v
		if e.p == forSynchronize && (diag.HasErrors(ev.diags) || !e.precheckUsername()) {
			return nil
		}
		return e.checkFree(ctx, v)
	case e.p == forForm || e.s.autoFill:
		return e.suggest(ctx)
	default:
		e.add(diag.Error(FieldUsername, diag.CodeRequired, "username is required", "It is the Panda sign-in name of the account's operator."))
		return nil
	}
}

// precheckUsername reports whether Synchronize asks Panda who holds the
// username before it writes. Only when the subject has an own Panda account
// (the record's, or one this process created for it): the operator may then
// be its own, found by the check and adopted. Without one nothing can be
// adopted (a look-alike never is), so the check could only say "taken"
// early, which the operator transaction says anyway, and at the vendor's
// rate limit it was a fifth of a new account's requests. Synchronize's doc
// says what a taken username costs instead.
func (e *evaluator) precheckUsername() bool {
	return e.p != forSynchronize || len(e.ev.own) > 0
}

// clip makes a caller-supplied string fit for a message: valid UTF-8 (a
// status with invalid UTF-8 loses its details on the wire) and short.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	const n = 80
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

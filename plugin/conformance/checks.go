package conformance

// CheckInfo describes one check of the suite.
type CheckInfo struct {
	// Name is the check's name in reports and subtests, "group.what".
	Name string
	// Description says what the check asserts, in one sentence.
	Description string
}

type check struct {
	CheckInfo
	run func(s *suite, t T)
}

// checks run in this order: later ones use what earlier ones learnt (the
// configuration, the records they synchronized) and skip without it.
var checks = []check{
	{CheckInfo{"identity.name", "GetPluginInfo answers a DNS-label-like name and a display name"}, checkIdentityName},
	{CheckInfo{"identity.version", "the version is a semantic version (SemVer 2.0.0, no leading v)"}, checkIdentityVersion},
	{CheckInfo{"identity.config-fields", "config fields have unique keys and a kind, sensitive ones carry no value, and GetPluginInfo answers the same twice"}, checkIdentityConfigFields},
	{CheckInfo{"configure.before", "before Configure, every business RPC answers FAILED_PRECONDITION with an ErrorInfo reason (skipped when Config.Configured)"}, checkConfigureBefore},
	{CheckInfo{"configure.invalid", "Configure with an unknown setting, or without a required one, answers INVALID_ARGUMENT with a violation naming the setting"}, checkConfigureInvalid},
	{CheckInfo{"configure.valid", "Configure accepts the settings, twice in a row"}, checkConfigureValid},
	{CheckInfo{"identity.capabilities", "an RPC answers (not UNIMPLEMENTED) exactly when the plugin claims its capability"}, checkCapabilities},
	{CheckInfo{"probe.ready", "Probe answers ready against the test environment"}, checkProbe},
	{CheckInfo{"form.fields", "form fields have unique keys, strictly increasing order, a kind, ENUM values inside choices, typed values, and no auto_fill on a required field without a default"}, checkFormFields},
	{CheckInfo{"form.stable", "the form's fields (keys, order, kinds, choices) are the same on every call"}, checkFormStable},
	{CheckInfo{"form.diagnostics", "every diagnostic has a severity, an UPPER_SNAKE_CASE code, a summary, and a field that is a form key, a submitted key, account.<field> or empty"}, checkFormDiagnostics},
	{CheckInfo{"validate.deterministic", "ValidateSyncOptions answers the same diagnostics and values for the same input"}, checkValidateDeterministic},
	{CheckInfo{"validate.no-side-effects", "GetSyncOptions and ValidateSyncOptions leave the remote state unchanged (needs Config.StateFunc)"}, checkValidateNoSideEffects},
	{CheckInfo{"validate.auto-fill", "with auto_fill and no values, ValidateSyncOptions finds no error and fills every required field (needs CAPABILITY_AUTO_FILL)"}, checkValidateAutoFill},
	{CheckInfo{"synchronize.invalid-argument", "invalid input (no account, no id, no type, unknown key, bad ENUM or INTEGER value) answers INVALID_ARGUMENT with BadRequest violations on the field, which ValidateSyncOptions also reports"}, checkSynchronizeInvalid},
	{CheckInfo{"synchronize.parent-first", "an end customer whose reseller is not synchronized answers FAILED_PRECONDITION with PreconditionFailure and ErrorInfo, and ValidateSyncOptions reports an error"}, checkSynchronizeParentFirst},
	{CheckInfo{"synchronize.idempotent", "N Synchronize calls for a fresh account answer one record, created=true exactly once (on the first)"}, checkSynchronizeIdempotent},
	{CheckInfo{"synchronize.concurrent", "N concurrent Synchronize calls for a fresh account create it once and agree on its remote id"}, checkSynchronizeConcurrent},
	{CheckInfo{"synchronize.stream", "Synchronize on SynchronizeStream answers what unary Synchronize answers: the same record for a replay, the same code, reason and violation fields for an invalid request (skipped when the plugin does not serve the optional RPC)"}, checkSynchronizeStream},
	{CheckInfo{"synchronize.hierarchy", "a reseller then its end customer synchronize; the end customer's remote_parent_id is the reseller's remote_id"}, checkSynchronizeHierarchy},
	{CheckInfo{"sync-status.refresh", "GetSyncStatus refreshes a synchronized record without changing its identity, and rejects a request without a record"}, checkSyncStatus},
	{CheckInfo{"deadline.short", "a Synchronize with a short deadline returns promptly with DEADLINE_EXCEEDED or success, and a retry converges on one record"}, checkDeadline},
	{CheckInfo{"cancel.stops-work", "a cancelled Synchronize returns CANCELED or success, the remote state stops moving, and a retry converges on one record"}, checkCancel},
	{CheckInfo{"lifecycle.update-converges", "Synchronize of a changed name and email answers updated=true on the same remote account, a replay updated=false, and GetSyncStatus shows the remote holds the new values (needs CAPABILITY_DELETE)"}, checkLifecycleUpdate},
	{CheckInfo{"lifecycle.self-parent", "an account whose parent_id is its own id answers INVALID_ARGUMENT SELF_PARENT with a BadRequest violation on account.parent_id, which ValidateSyncOptions also reports (needs CAPABILITY_DELETE)"}, checkLifecycleSelfParent},
	{CheckInfo{"lifecycle.delete", "DeleteAccount answers DELETED, deleted=true once, and DELETED with deleted=false when replayed; GetSyncStatus agrees; a later Synchronize creates anew (needs CAPABILITY_DELETE)"}, checkLifecycleDelete},
	{CheckInfo{"lifecycle.delete-children", "DeleteAccount of a reseller with an end customer answers FAILED_PRECONDITION HAS_CHILDREN without cascade, and with cascade deletes both and lists the child's remote id (needs CAPABILITY_DELETE)"}, checkLifecycleDeleteChildren},
	{CheckInfo{"subscriptions.catalogue", "GetServiceDefinition answers a stable, ordered catalogue: unique ids, a kind, add-ons on existing base products, min <= max, well-formed attributes, and the fixture's order fits it (needs CAPABILITY_SUBSCRIPTIONS)"}, checkSubscriptionsCatalogue},
	{CheckInfo{"subscriptions.idempotent", "ProvisionSubscription creates once; replays, with and without the record, answer the same record with created=false, updated=false (needs CAPABILITY_SUBSCRIPTIONS)"}, checkSubscriptionsIdempotent},
	{CheckInfo{"subscriptions.quantity", "ProvisionSubscription sets the quantity (up, then down): updated=true once per change, a replay changes nothing, GetSubscriptionStatus shows it (needs CAPABILITY_SUBSCRIPTIONS)"}, checkSubscriptionsQuantity},
	{CheckInfo{"subscriptions.transitions", "Suspend, Resume and Cancel reach SUSPENDED, ACTIVE and CANCELLED, each replay answers updated=false, and after Cancel every change answers FAILED_PRECONDITION SUBSCRIPTION_CANCELLED (needs CAPABILITY_SUBSCRIPTIONS)"}, checkSubscriptionsTransitions},
	{CheckInfo{"subscriptions.unknown-product", "an order of a product not in the catalogue answers INVALID_ARGUMENT UNKNOWN_PRODUCT with a violation on subscription.product_id, which ValidateSubscription also reports (needs CAPABILITY_SUBSCRIPTIONS)"}, checkSubscriptionsUnknownProduct},
	{CheckInfo{"subscriptions.validate-no-side-effects", "ValidateSubscription finds no error in the fixture's order, answers the same twice, and provisions nothing (needs CAPABILITY_SUBSCRIPTIONS)"}, checkSubscriptionsValidate},
	{CheckInfo{"host.failed-records", "through the host, a refused Synchronize is stored as a FAILED record with the error's reason, ListSyncRecords lists it, and a later success replaces it (needs Config.Host)"}, checkHostFailedRecords},
	{CheckInfo{"errors.codes", "every error of the run has a code the contract allows for its RPC (never INTERNAL or UNKNOWN)"}, checkErrorCodes},
	{CheckInfo{"secrets.never-echoed", "no sensitive setting's value appears in any response or error of the run"}, checkSecrets},
}

// Checks lists the suite's checks in the order they run. A run with a
// [Config.Cleanup] hook (or a cleanup_url) ends with one more result,
// "cleanup".
func Checks() []CheckInfo {
	out := make([]CheckInfo, len(checks))
	for i, c := range checks {
		out[i] = c.CheckInfo
	}
	return out
}

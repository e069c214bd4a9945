package diag

// The error vocabulary of the provisioning protocol: every ErrorInfo reason
// an adapter or the host answers, listed once per domain. The .proto files
// document the same lists next to their error tables (adapter.proto for
// provisioning.v1, host.proto for provisioning.host.v1); keep them in step.
//
// A reason belongs to exactly one domain, and an error carries the domain of
// its reason: when the host checks its own request fields it answers the
// protocol-level REQUIRED or INVALID_VALUE in [Domain], and it answers its
// own conditions (a failed plugin, an unreadable store, a batch it cannot
// order) in [HostDomain].

// Domain is the ErrorInfo domain of protocol-level errors: those any adapter
// may answer, and that the package-level builders ([ToError],
// [InvalidArgument], [FailedPrecondition], [Unavailable], ...) produce.
const Domain = "provisioning.v1"

// HostDomain is the ErrorInfo domain of the errors the provisioning host
// answers itself, never an adapter. Build them with [Host].
const HostDomain = "provisioning.host.v1"

// Reasons of domain provisioning.v1: diagnostic codes (Diagnostic.code) that
// double as ErrorInfo reasons when a call fails. Any adapter may use them;
// an adapter may add its own, which map to INVALID_ARGUMENT (see [GRPCCode])
// and must be listed in its documentation.
const (
	// CodeRequired: a required value is empty.
	CodeRequired = "REQUIRED"
	// CodeInvalidValue: a value is malformed or not one of the choices.
	CodeInvalidValue = "INVALID_VALUE"
	// CodeUnknownField: a value was sent for a key the form does not have.
	CodeUnknownField = "UNKNOWN_FIELD"
	// CodeReadOnly: a value was sent for a read-only field and differs from it.
	CodeReadOnly = "READ_ONLY"
	// CodeInvalidEmail: the corporate email is missing or not an address.
	CodeInvalidEmail = "INVALID_EMAIL"
	// CodeInvalidAccount: the account itself is incomplete (id, type).
	CodeInvalidAccount = "INVALID_ACCOUNT"
	// CodeInvalidUsername: the username breaks the remote system's syntax
	// rule (INVALID_ARGUMENT).
	CodeInvalidUsername = "INVALID_USERNAME"
	// CodeRoleNotAllowed: the chosen role does not fit the account type.
	CodeRoleNotAllowed = "ROLE_NOT_ALLOWED"
	// CodeRemoteRejected: the remote system refused a request as malformed
	// for a rule the adapter does not check itself (INVALID_ARGUMENT).
	CodeRemoteRejected = "REMOTE_REJECTED"
	// CodeParentNotSynced: the parent (reseller) is not synchronized yet.
	CodeParentNotSynced = "PARENT_NOT_SYNCED"
	// CodeParentNotReseller: the parent is synchronized, but not as a reseller.
	CodeParentNotReseller = "PARENT_NOT_RESELLER"
	// CodeTierLimit: the account is nested deeper than the remote allows.
	CodeTierLimit = "TIER_LIMIT"
	// CodeNotConfigured: Configure has not been called.
	CodeNotConfigured = "NOT_CONFIGURED"
	// CodeRootAccountMissing: the remote account the adapter is configured
	// to work under does not exist (FAILED_PRECONDITION: fix the setting).
	CodeRootAccountMissing = "ROOT_ACCOUNT_MISSING"
	// CodeRemoteUnauthorized: the remote system refused the credentials.
	CodeRemoteUnauthorized = "REMOTE_UNAUTHORIZED"
	// CodeUsernameTaken: the username belongs to another remote account.
	CodeUsernameTaken = "USERNAME_TAKEN"
	// CodeRemoteUnavailable: the remote system is down.
	CodeRemoteUnavailable = "REMOTE_UNAVAILABLE"
	// CodeRateLimited: the remote system's rate limit outlasted the retries.
	CodeRateLimited = "RATE_LIMITED"
)

// Reasons of domain provisioning.host.v1: conditions of the host itself.
// Adapters never answer them.
const (
	// ReasonPluginFailed: the plugin could not be started or restarted and
	// is FAILED (UNAVAILABLE; RetryInfo).
	ReasonPluginFailed = "PLUGIN_FAILED"
	// ReasonPluginStopped: the plugin is not running (UNAVAILABLE; RetryInfo).
	ReasonPluginStopped = "PLUGIN_STOPPED"
	// ReasonPluginRestarting: the plugin crashed during a call that is not
	// idempotent, or crashed again on the retry; it is restarting
	// (UNAVAILABLE; RetryInfo).
	ReasonPluginRestarting = "PLUGIN_RESTARTING"
	// ReasonHostShuttingDown: the host is closing and takes no new calls
	// (UNAVAILABLE; RetryInfo).
	ReasonHostShuttingDown = "HOST_SHUTTING_DOWN"
	// ReasonStoreUnavailable: the sync-record store could not be read or
	// written (UNAVAILABLE; RetryInfo). After a Synchronize the remote work
	// may have happened: retrying the idempotent call is the fix.
	ReasonStoreUnavailable = "STORE_UNAVAILABLE"
	// ReasonDuplicateAccount: a batch lists the account more than once
	// (INVALID_ARGUMENT, on the FAILED item).
	ReasonDuplicateAccount = "DUPLICATE_ACCOUNT"
	// ReasonParentCycle: the account is its own ancestor through the
	// batch's parent_ids (INVALID_ARGUMENT, on the FAILED item).
	ReasonParentCycle = "PARENT_CYCLE"
	// ReasonParentMissing: the parent is neither in the batch nor
	// synchronized (FAILED_PRECONDITION, on the SKIPPED item).
	ReasonParentMissing = "PARENT_MISSING"
	// ReasonAncestorFailed: an ancestor in the batch failed or was skipped
	// (FAILED_PRECONDITION, on the SKIPPED item).
	ReasonAncestorFailed = "ANCESTOR_FAILED"
)

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

// Codes of the account lifecycle: converging Synchronize, drift, deletion.
const (
	// CodeSelfParent: account.parent_id is the account's own id
	// (INVALID_ARGUMENT).
	CodeSelfParent = "SELF_PARENT"
	// CodeParentChanged: a synchronized account now names another parent; the
	// remote cannot move an account (FAILED_PRECONDITION).
	CodeParentChanged = "PARENT_CHANGED"
	// CodeTypeChangeUnsupported: a synchronized account changed type; the
	// vendor converts it, if at all, only in its own console
	// (FAILED_PRECONDITION).
	CodeTypeChangeUnsupported = "TYPE_CHANGE_UNSUPPORTED"
	// CodeRemoteDrift: the remote and the BSS disagree on a field; a warning
	// of GetSyncStatus and GetSubscriptionStatus, never an error.
	CodeRemoteDrift = "REMOTE_DRIFT"
	// CodeHasChildren: DeleteAccount without cascade on an account with
	// children (FAILED_PRECONDITION).
	CodeHasChildren = "HAS_CHILDREN"
	// CodeHasSubscriptions: DeleteAccount while a subscription still holds
	// licences (FAILED_PRECONDITION).
	CodeHasSubscriptions = "HAS_SUBSCRIPTIONS"
)

// Codes of orders (subscriptions and their licence allocations).
const (
	// CodeAccountNotSynced: an order for an account that is not synchronized
	// (FAILED_PRECONDITION).
	CodeAccountNotSynced = "ACCOUNT_NOT_SYNCED"
	// CodeSubscriptionCancelled: a change to a cancelled subscription
	// (FAILED_PRECONDITION).
	CodeSubscriptionCancelled = "SUBSCRIPTION_CANCELLED"
	// CodeSubscriptionAccountChanged: subscription.account_id differs from the
	// record's (FAILED_PRECONDITION).
	CodeSubscriptionAccountChanged = "SUBSCRIPTION_ACCOUNT_CHANGED"
	// CodeProductChanged: subscription.product_id differs from the record's;
	// cancel and order the new product (FAILED_PRECONDITION).
	CodeProductChanged = "PRODUCT_CHANGED"
	// CodeUnknownProduct: a product id not in the catalogue (INVALID_ARGUMENT).
	CodeUnknownProduct = "UNKNOWN_PRODUCT"
	// CodeProductKindMismatch: an add-on ordered as the base product, or a
	// base product as an add-on (INVALID_ARGUMENT).
	CodeProductKindMismatch = "PRODUCT_KIND_MISMATCH"
	// CodeAddonWithoutBase: the add-on does not belong to the subscription's
	// base product (INVALID_ARGUMENT).
	CodeAddonWithoutBase = "ADDON_WITHOUT_BASE"
	// CodeAddonExceedsBase: an add-on's quantity is above the base product's
	// (INVALID_ARGUMENT).
	CodeAddonExceedsBase = "ADDON_EXCEEDS_BASE"
	// CodeDuplicateAddon: two add-ons share an id or a product
	// (INVALID_ARGUMENT).
	CodeDuplicateAddon = "DUPLICATE_ADDON"
	// CodeQuantityOutOfRange: a quantity below 1 or the product's minimum, or
	// above its maximum (INVALID_ARGUMENT).
	CodeQuantityOutOfRange = "QUANTITY_OUT_OF_RANGE"
	// CodeInvalidAttribute: an order attribute is unknown or not one of its
	// choices (INVALID_ARGUMENT).
	CodeInvalidAttribute = "INVALID_ATTRIBUTE"
	// CodeTrialNotAvailable: a trial of a product that has none
	// (INVALID_ARGUMENT).
	CodeTrialNotAvailable = "TRIAL_NOT_AVAILABLE"
	// CodeTrialLimit: a trial above the trial quantity limit (Panda: 250
	// endpoints) (INVALID_ARGUMENT).
	CodeTrialLimit = "TRIAL_LIMIT"
	// CodeTrialExpired: a trial past its term (Panda: 30 days); only paid
	// remains (FAILED_PRECONDITION).
	CodeTrialExpired = "TRIAL_EXPIRED"
	// CodeTrialDowngrade: a paid subscription asked to become a trial
	// (FAILED_PRECONDITION).
	CodeTrialDowngrade = "TRIAL_DOWNGRADE"
	// CodeBaseProductLimit: a subscriber already holds another base product;
	// only a service provider holds several (FAILED_PRECONDITION).
	CodeBaseProductLimit = "BASE_PRODUCT_LIMIT"
	// CodeProductAlreadySubscribed: another live subscription of the account
	// holds this product; the remote keeps one allocation per product
	// (FAILED_PRECONDITION).
	CodeProductAlreadySubscribed = "PRODUCT_ALREADY_SUBSCRIBED"
	// CodeAllocationTypeMismatch: a product and its modules would not share
	// one allocation type (FAILED_PRECONDITION).
	CodeAllocationTypeMismatch = "ALLOCATION_TYPE_MISMATCH"
	// CodeInsufficientInventory: the root partner account lacks unallocated
	// licences (FAILED_PRECONDITION: the fix is buying licences, not backing
	// off).
	CodeInsufficientInventory = "INSUFFICIENT_INVENTORY"
)

// Reasons of domain provisioning.host.v1: conditions of the host itself.
// Adapters never answer them.
const (
	// ReasonPluginFailed: the plugin could not be started or restarted and
	// is FAILED (UNAVAILABLE; RetryInfo).
	ReasonPluginFailed = "PLUGIN_FAILED"
	// ReasonPluginStopped: the plugin is not running (UNAVAILABLE; RetryInfo).
	ReasonPluginStopped = "PLUGIN_STOPPED"
	// ReasonPluginStarting: the plugin is still starting (its first start)
	// and was not ready before the call's deadline (UNAVAILABLE; RetryInfo).
	ReasonPluginStarting = "PLUGIN_STARTING"
	// ReasonPluginRestarting: the plugin crashed during a call that is not
	// idempotent, or crashed again on the retry; or it is restarting and was
	// not ready before the call's deadline (UNAVAILABLE; RetryInfo).
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
	// ReasonRecordMismatch: a caller-supplied ancestor record or
	// GetSyncStatus record contradicts the one the host stored; the host acts
	// on what it stored (INVALID_ARGUMENT).
	ReasonRecordMismatch = "RECORD_MISMATCH"
	// ReasonRemoteIDTaken: the plugin answered a record whose remote_id
	// another live record of the plugin holds; the host stored nothing
	// (FAILED_PRECONDITION). A remote account belongs to one BSS account:
	// retrying cannot help; find out why the plugin named it.
	ReasonRemoteIDTaken = "REMOTE_ID_TAKEN"
	// ReasonSubscriptionNotFound: no subscription record is stored under
	// that id for the plugin (NOT_FOUND).
	ReasonSubscriptionNotFound = "SUBSCRIPTION_NOT_FOUND"
)

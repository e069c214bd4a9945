package diag

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Domain is the ErrorInfo domain of every error built here.
const Domain = "provisioning.v1"

// Well-known diagnostic codes (and ErrorInfo reasons) shared by all plugins.
// Plugins may add their own; unknown codes map to INVALID_ARGUMENT.
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
	// CodeRoleNotAllowed: the chosen role does not fit the account type.
	CodeRoleNotAllowed = "ROLE_NOT_ALLOWED"
	// CodeParentNotSynced: the parent (reseller) is not synchronized yet.
	CodeParentNotSynced = "PARENT_NOT_SYNCED"
	// CodeParentNotReseller: the parent is synchronized, but not as a reseller.
	CodeParentNotReseller = "PARENT_NOT_RESELLER"
	// CodeTierLimit: the account is nested deeper than the remote allows.
	CodeTierLimit = "TIER_LIMIT"
	// CodeNotConfigured: Configure has not been called.
	CodeNotConfigured = "NOT_CONFIGURED"
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
	// CodeRecordMismatch: a caller-supplied record contradicts the one the
	// host stored (INVALID_ARGUMENT, answered by the host).
	CodeRecordMismatch = "RECORD_MISMATCH"
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
	// CodeSubscriptionNotFound: the host stores no record of the subscription
	// (NOT_FOUND, answered by the host).
	CodeSubscriptionNotFound = "SUBSCRIPTION_NOT_FOUND"
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

// grpcCodes maps the well-known state codes; every other error code is an
// input problem.
var grpcCodes = map[string]codes.Code{
	CodeParentNotSynced:    codes.FailedPrecondition,
	CodeParentNotReseller:  codes.FailedPrecondition,
	CodeTierLimit:          codes.FailedPrecondition,
	CodeNotConfigured:      codes.FailedPrecondition,
	CodeRemoteUnauthorized: codes.FailedPrecondition,
	CodeUsernameTaken:      codes.AlreadyExists,
	CodeRemoteUnavailable:  codes.Unavailable,
	CodeRateLimited:        codes.ResourceExhausted,

	CodeParentChanged:              codes.FailedPrecondition,
	CodeTypeChangeUnsupported:      codes.FailedPrecondition,
	CodeHasChildren:                codes.FailedPrecondition,
	CodeHasSubscriptions:           codes.FailedPrecondition,
	CodeAccountNotSynced:           codes.FailedPrecondition,
	CodeSubscriptionCancelled:      codes.FailedPrecondition,
	CodeSubscriptionAccountChanged: codes.FailedPrecondition,
	CodeProductChanged:             codes.FailedPrecondition,
	CodeTrialExpired:               codes.FailedPrecondition,
	CodeTrialDowngrade:             codes.FailedPrecondition,
	CodeBaseProductLimit:           codes.FailedPrecondition,
	CodeProductAlreadySubscribed:   codes.FailedPrecondition,
	CodeAllocationTypeMismatch:     codes.FailedPrecondition,
	CodeInsufficientInventory:      codes.FailedPrecondition,
}

// GRPCCode is the gRPC code a Synchronize failure with this diagnostic code
// answers.
func GRPCCode(code string) codes.Code {
	if c, ok := grpcCodes[code]; ok {
		return c
	}
	return codes.InvalidArgument
}

// Error returns an error-severity diagnostic.
func Error(field, code, summary, detail string) *provisioningv1.Diagnostic {
	return &provisioningv1.Diagnostic{Severity: provisioningv1.Severity_SEVERITY_ERROR, Field: field, Code: code, Summary: summary, Detail: detail}
}

// Warning returns a warning-severity diagnostic.
func Warning(field, code, summary, detail string) *provisioningv1.Diagnostic {
	return &provisioningv1.Diagnostic{Severity: provisioningv1.Severity_SEVERITY_WARNING, Field: field, Code: code, Summary: summary, Detail: detail}
}

// Errors returns the error-severity diagnostics of ds.
func Errors(ds []*provisioningv1.Diagnostic) []*provisioningv1.Diagnostic {
	var out []*provisioningv1.Diagnostic
	for _, d := range ds {
		if d.GetSeverity() == provisioningv1.Severity_SEVERITY_ERROR {
			out = append(out, d)
		}
	}
	return out
}

// Warnings returns the warning-severity diagnostics of ds.
func Warnings(ds []*provisioningv1.Diagnostic) []*provisioningv1.Diagnostic {
	var out []*provisioningv1.Diagnostic
	for _, d := range ds {
		if d.GetSeverity() == provisioningv1.Severity_SEVERITY_WARNING {
			out = append(out, d)
		}
	}
	return out
}

// HasErrors reports whether any diagnostic in ds is an error.
func HasErrors(ds []*provisioningv1.Diagnostic) bool {
	return slices.ContainsFunc(ds, func(d *provisioningv1.Diagnostic) bool {
		return d.GetSeverity() == provisioningv1.Severity_SEVERITY_ERROR
	})
}

// precedence: input problems first (fix input, don't retry), then state, then
// conflicts, then remote trouble.
var precedence = []codes.Code{codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.ResourceExhausted, codes.Unavailable}

// ToError turns the error diagnostics of ds into one gRPC status error, or nil
// when there are none. The code is the most actionable one among them (input
// before state before conflict); every error diagnostic becomes a BadRequest
// field violation (its field, or "account" when it has none) so the caller
// sees all of them; state problems also become PreconditionFailure violations;
// ErrorInfo carries the reason of the first diagnostic with the chosen code.
func ToError(ds []*provisioningv1.Diagnostic) error {
	errs := Errors(ds)
	if len(errs) == 0 {
		return nil
	}
	code := codes.Unknown
	for _, c := range precedence {
		if slices.ContainsFunc(errs, func(d *provisioningv1.Diagnostic) bool { return GRPCCode(d.GetCode()) == c }) {
			code = c
			break
		}
	}
	var lead *provisioningv1.Diagnostic
	br := &errdetails.BadRequest{}
	pf := &errdetails.PreconditionFailure{}
	msgs := make([]string, 0, len(errs))
	for _, d := range errs {
		if lead == nil && GRPCCode(d.GetCode()) == code {
			lead = d
		}
		field := d.GetField()
		if field == "" {
			field = "account"
		}
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: field, Description: describe(d), Reason: d.GetCode(),
		})
		if GRPCCode(d.GetCode()) == codes.FailedPrecondition {
			pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
				Type: d.GetCode(), Subject: field, Description: describe(d),
			})
		}
		msgs = append(msgs, field+": "+d.GetSummary())
	}
	st := status.New(code, strings.Join(msgs, "; "))
	details := []detail{&errdetails.ErrorInfo{Reason: lead.GetCode(), Domain: Domain, Metadata: map[string]string{"field": lead.GetField()}}, br}
	if len(pf.Violations) > 0 {
		details = append(details, pf)
	}
	return withDetails(st, details...)
}

func describe(d *provisioningv1.Diagnostic) string {
	if d.GetDetail() == "" {
		return d.GetSummary()
	}
	return d.GetSummary() + ": " + d.GetDetail()
}

// InvalidArgument is an INVALID_ARGUMENT error with one field violation.
func InvalidArgument(field, code, msg string) error {
	return ToError([]*provisioningv1.Diagnostic{Error(field, code, msg, "")})
}

// FailedPrecondition is a FAILED_PRECONDITION error with a PreconditionFailure
// violation of type reason about subject, and an ErrorInfo with reason.
func FailedPrecondition(reason, subject, msg string) error {
	st := status.New(codes.FailedPrecondition, msg)
	return withDetails(st,
		&errdetails.ErrorInfo{Reason: reason, Domain: Domain},
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{Type: reason, Subject: subject, Description: msg}}},
	)
}

// NotConfigured is the FAILED_PRECONDITION every business RPC answers before
// Configure.
func NotConfigured() error {
	return FailedPrecondition(CodeNotConfigured, "plugin", "plugin is not configured: call Configure first")
}

// AlreadyExists is an ALREADY_EXISTS error: the value of field belongs to
// someone else.
func AlreadyExists(field, reason, msg string) error {
	st := status.New(codes.AlreadyExists, msg)
	return withDetails(st,
		&errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: map[string]string{"field": field}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg, Reason: reason}}},
	)
}

// Unavailable is an UNAVAILABLE error with RetryInfo: retrying is safe.
func Unavailable(reason, msg string, retryAfter time.Duration) error {
	return retryable(codes.Unavailable, reason, msg, retryAfter)
}

// ResourceExhausted is a RESOURCE_EXHAUSTED error with RetryInfo.
func ResourceExhausted(reason, msg string, retryAfter time.Duration) error {
	return retryable(codes.ResourceExhausted, reason, msg, retryAfter)
}

func retryable(c codes.Code, reason, msg string, retryAfter time.Duration) error {
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	return withDetails(status.New(c, msg),
		&errdetails.ErrorInfo{Reason: reason, Domain: Domain},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)},
	)
}

// Errorf is a status error without details, for codes that need none
// (INTERNAL, DEADLINE_EXCEEDED, CANCELED).
func Errorf(c codes.Code, format string, args ...any) error {
	return status.Error(c, fmt.Sprintf(format, args...))
}

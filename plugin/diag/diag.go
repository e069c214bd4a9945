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
	return toError(Domain, ds)
}

func toError(domain string, ds []*provisioningv1.Diagnostic) error {
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
	details := []detail{&errdetails.ErrorInfo{Reason: lead.GetCode(), Domain: domain, Metadata: map[string]string{"field": lead.GetField()}}, br}
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
	return Builder{Domain}.InvalidArgument(field, code, msg)
}

// FailedPrecondition is a FAILED_PRECONDITION error with a PreconditionFailure
// violation of type reason about subject, and an ErrorInfo with reason.
func FailedPrecondition(reason, subject, msg string) error {
	return Builder{Domain}.FailedPrecondition(reason, subject, msg)
}

// Builder builds errors whose ErrorInfo carries domain: the package-level
// builders are those of [Domain]; [Host] those of [HostDomain].
type Builder struct{ domain string }

// Host builds the errors the provisioning host answers itself, with the
// provisioning.host.v1 reasons (ReasonPluginFailed, ...). Adapters never use
// it.
var Host = Builder{HostDomain}

// InvalidArgument is an INVALID_ARGUMENT error with one field violation.
func (b Builder) InvalidArgument(field, reason, msg string) error {
	return toError(b.domain, []*provisioningv1.Diagnostic{Error(field, reason, msg, "")})
}

// FailedPrecondition is a FAILED_PRECONDITION error with a PreconditionFailure
// violation of type reason about subject, and an ErrorInfo with reason.
func (b Builder) FailedPrecondition(reason, subject, msg string) error {
	st := status.New(codes.FailedPrecondition, msg)
	return withDetails(st,
		&errdetails.ErrorInfo{Reason: reason, Domain: b.domain},
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
	return Builder{Domain}.Unavailable(reason, msg, retryAfter)
}

// Unavailable is an UNAVAILABLE error with RetryInfo: retrying is safe.
func (b Builder) Unavailable(reason, msg string, retryAfter time.Duration) error {
	return retryable(b.domain, codes.Unavailable, reason, msg, retryAfter)
}

// ResourceExhausted is a RESOURCE_EXHAUSTED error with RetryInfo.
func ResourceExhausted(reason, msg string, retryAfter time.Duration) error {
	return retryable(Domain, codes.ResourceExhausted, reason, msg, retryAfter)
}

func retryable(domain string, c codes.Code, reason, msg string, retryAfter time.Duration) error {
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	return withDetails(status.New(c, msg),
		&errdetails.ErrorInfo{Reason: reason, Domain: domain},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)},
	)
}

// Errorf is a status error without details, for codes that need none
// (INTERNAL, DEADLINE_EXCEEDED, CANCELED).
func Errorf(c codes.Code, format string, args ...any) error {
	return status.Error(c, fmt.Sprintf(format, args...))
}

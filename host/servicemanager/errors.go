package servicemanager

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/plugin/diag"
)

// answer is how a failed call is told to interworks.
type answer struct {
	status     int
	result     Result
	retryAfter time.Duration
	grpcCode   codes.Code
}

// answerFor maps a gRPC status to the envelope and the HTTP status:
//
//	INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS, NOT_FOUND,
//	OUT_OF_RANGE: a business error, HTTP 200 with Code = -(gRPC code) and
//	the message naming the field; interworks shows it and calls nothing
//	more, the operator fixes the input or the state. A body that is not
//	the call's JSON at all is HTTP 400 with Code -3.
//	UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ABORTED, CANCELED:
//	transient, HTTP 503 with Retry-After (the RetryInfo delay, else 5s);
//	every mapped call is idempotent, so the retry is safe.
//	UNIMPLEMENTED: HTTP 501, Code -12: this plugin or host cannot do it.
//	anything else: HTTP 500, Code -13, a message with the track id only
//	(the cause is in the daemon's log under that id).
func answerFor(err error, route, trackID string) answer {
	d := diag.Parse(err)
	a := answer{grpcCode: d.Code, result: Result{Code: -int(d.Code), Message: d.Message}}
	switch d.Code {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound, codes.OutOfRange:
		a.status = http.StatusOK
		if errors.As(err, new(badRequest)) {
			a.status = http.StatusBadRequest
		}
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
		a.status = http.StatusServiceUnavailable
		a.retryAfter = d.RetryAfter
		if a.retryAfter <= 0 {
			a.retryAfter = defaultRetryAfter
		}
		if d.Code == codes.DeadlineExceeded || d.Code == codes.Canceled {
			a.result.Message = "the call did not finish in time; retry it (it is idempotent)"
		}
	case codes.Unimplemented:
		a.status = http.StatusNotImplemented
		a.result.Message = route + " is not supported by this provisioning host or plugin yet (" + d.Message + ")"
	default:
		a.status = http.StatusInternalServerError
		a.result.Code = -int(codes.Internal)
		a.result.Message = "internal error; the service manager's log has the cause under track id " + trackID
	}
	a.result.Message = interworksNames(a.result.Message)
	return a
}

// accountFieldNames renames the contract's account and subscription fields
// to the properties of the interworks bodies, so that a message names what
// the BSS operator can fix.
var accountFieldNames = strings.NewReplacer(
	"subscription.account_id", "Account.ID",
	"subscription.product_id", "ProductID",
	"subscription.quantity", "Quantity",
	"subscription.addons", "Addons",
	"subscription.attributes", "AttributeList",
	"subscription.trial", "IsTrial",
	"subscription.id", "ID",
	"account.corporate_email", "Email",
	"account.name", "Name",
	"account.id", "ID",
	"account.country", "Address.Country.Code",
	"account.language", "Language",
	"account.parent_id", "ResellerID",
)

// addonField is a field of one add-on line, "subscription.addons[N].name":
// the interworks Addons[] item's property is named by addonFieldNames.
var addonField = regexp.MustCompile(`subscription\.addons\[(\d+)\]\.([a-z_]+)`)

// addonFieldNames are the properties of an interworks Addons[] item, by the
// contract's Addon field they fill (docs/interworks.md).
var addonFieldNames = map[string]string{"id": "ProductID", "product_id": "ProductID", "quantity": "Quantity"}

func interworksNames(msg string) string {
	msg = addonField.ReplaceAllStringFunc(msg, func(m string) string {
		sub := addonField.FindStringSubmatch(m)
		name, ok := addonFieldNames[sub[2]]
		if !ok {
			return m
		}
		return "Addons[" + sub[1] + "]." + name
	})
	return accountFieldNames.Replace(msg)
}

// invalid is an INVALID_ARGUMENT about one property of the body.
func invalid(field, msg string) error {
	return diag.InvalidArgument(field, diag.CodeInvalidValue, msg)
}

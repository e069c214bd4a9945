package pandaapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel error kinds. Every [*Error] wraps exactly one of them, so a
// caller branches with errors.Is(err, panda.ErrNotFound) and friends.
var (
	// ErrNotFound: the account, operator or transaction does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request clashes with the current state, e.g. a child
	// under a subscriber or beyond the tier limit (409).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the request is malformed or breaks a validation rule (400,
	// 422). Retrying the same request cannot succeed.
	ErrInvalid = errors.New("invalid request")
	// ErrUnauthorized: the credentials or the API key were refused (401,
	// 403). Fix the configuration; retrying cannot help.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: the server answered 429 and the retry budget or the
	// caller's context ran out before it let us through.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: a 5xx, a transport failure or a lost response. For a
	// create, the write may have been applied: look for prior work before
	// trying again.
	ErrUnavailable = errors.New("unavailable")
)

// Error is a failed call to the Panda API.
type Error struct {
	// Op names the client method, e.g. "CreateAccount".
	Op string
	// StatusCode is the HTTP status, or 0 when no response arrived.
	StatusCode int
	// Kind is one of the sentinel errors above.
	Kind error
	// Code is the machine-readable code from the error body, if any.
	Code string
	// Message is the server's message, or a description of the transport
	// failure, with any credential removed.
	Message string
	// RetryAfter is the server's Retry-After hint, zero when absent.
	RetryAfter time.Duration
	// MayHaveCommitted is true when a non-idempotent request reached the
	// server but its answer was lost or was a 5xx: the write may exist.
	MayHaveCommitted bool
	// Err is the underlying cause when there is one: a transport error, or
	// the caller's context error when it ended the call.
	Err error
}

// Error returns "panda: Op: kind (HTTP nnn): message".
func (e *Error) Error() string {
	s := "panda: " + e.Op + ": " + e.Kind.Error()
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.MayHaveCommitted {
		s += " (the write may have been applied)"
	}
	return s
}

// Unwrap returns the sentinel kind and, if any, the cause, so both
// errors.Is(err, panda.ErrUnavailable) and errors.Is(err,
// context.DeadlineExceeded) work.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// Retryable reports whether sending the same request again later may
// succeed: rate limiting and unavailability are, everything else is not.
func (e *Error) Retryable() bool {
	return e.Kind == ErrRateLimited || e.Kind == ErrUnavailable
}

// IsRetryable reports whether err is an [*Error] whose [Error.Retryable] is
// true. A context error is not retryable.
func IsRetryable(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Retryable()
}

// kindForStatus maps an HTTP status to a sentinel kind.
func kindForStatus(code int) error {
	switch {
	case code == http.StatusNotFound:
		return ErrNotFound
	case code == http.StatusConflict:
		return ErrConflict
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return ErrUnauthorized
	case code == http.StatusTooManyRequests:
		return ErrRateLimited
	case code >= 500:
		return ErrUnavailable
	default:
		return ErrInvalid
	}
}

package pandasim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxBodyBytes bounds a request body; the real API's bodies are tiny.
const maxBodyBytes = 64 << 10

// Error codes in the "code" field of an error body. The OAuth endpoint uses
// the lower-case RFC 6749 names.
const (
	CodeInvalidRequest     = "INVALID_REQUEST"
	CodeInvalidUsername    = "INVALID_USERNAME"
	CodeInvalidRole        = "INVALID_ROLE"
	CodeNotFound           = "NOT_FOUND"
	CodeParentIsSubscriber = "PARENT_IS_SUBSCRIBER"
	CodeTierLimit          = "TIER_LIMIT"
	CodeHasChildren        = "HAS_CHILDREN"
	CodeRootAccount        = "ROOT_ACCOUNT"
	CodeUsernameTaken      = "USERNAME_TAKEN"
	CodeAccountNotFound    = "ACCOUNT_NOT_FOUND"
	CodeInvalidToken       = "INVALID_TOKEN"
	CodeTokenExpired       = "TOKEN_EXPIRED"
	CodeInvalidAPIKey      = "INVALID_API_KEY"
	CodeRateLimited        = "RATE_LIMITED"
	CodeUnavailable        = "SERVICE_UNAVAILABLE"
	CodeInternal           = "INTERNAL_ERROR"
	CodeIDSpaceExhausted   = "ID_SPACE_EXHAUSTED"

	// Account lifecycle.
	CodeHasAllocations = "HAS_ALLOCATIONS"
	CodeNotSubscriber  = "NOT_A_SUBSCRIBER"

	// Allocations: 400 for a product outside the catalogue, 409 for every
	// broken rule.
	CodeUnknownProduct         = "UNKNOWN_PRODUCT"
	CodeAllocationExists       = "ALLOCATION_EXISTS"
	CodeAllocationTypeConflict = "ALLOCATION_TYPE_CONFLICT"
	CodeOneBaseProduct         = "ONE_BASE_PRODUCT"
	CodeNoBaseProduct          = "NO_BASE_PRODUCT"
	CodeAddonExceedsBase       = "ADDON_EXCEEDS_BASE"
	CodeTrialLimit             = "TRIAL_LIMIT"
	CodeTrialUnavailable       = "TRIAL_UNAVAILABLE"
	CodeInsufficientInventory  = "INSUFFICIENT_INVENTORY"
	CodeAllocatedToChildren    = "ALLOCATED_TO_CHILDREN"

	CodeInvalidClient        = "invalid_client"
	CodeUnsupportedGrantType = "unsupported_grant_type"
	CodeInvalidScope         = "invalid_scope"
)

// ErrorBody is the JSON body of every error answer:
//
//	{"error": {"code": "TIER_LIMIT", "message": "..."}}
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an [ErrorBody].
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError is an error a handler answers with; status and code are what the
// client sees.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are marshalled; this cannot happen.
		http.Error(w, `{"error":{"code":"INTERNAL_ERROR","message":"encoding failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, ErrorBody{Error: ErrorDetail{Code: e.code, Message: e.msg}})
}

// decodeBody decodes a single JSON object from the request body into v.
// Unknown fields are ignored, as the real API does; trailing data, a
// non-object and an oversized body are refused.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	return decodeJSON(r.Body, v)
}

func decodeJSON(body io.Reader, v any) *apiError {
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, CodeInvalidRequest, "request body larger than %d bytes", mbe.Limit)
		}
		if errors.Is(err, io.EOF) {
			return errorf(http.StatusBadRequest, CodeInvalidRequest, "request body is empty")
		}
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "request body has data after the JSON object")
	}
	return nil
}

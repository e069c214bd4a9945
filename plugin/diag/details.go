package diag

import (
	"context"
	"errors"
	"slices"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

type detail = protoadapt.MessageV1

func withDetails(st *status.Status, details ...detail) error {
	sd, err := st.WithDetails(details...)
	if err != nil {
		// Only a nil or unmarshalable detail fails: a bug here, not the caller's.
		return st.Err()
	}
	return sd.Err()
}

// Violation is one field-level problem of a failed call.
type Violation struct {
	Field       string
	Reason      string
	Description string
}

// Details is what a gRPC error says, read back from its google.rpc details.
type Details struct {
	Code       codes.Code
	Message    string
	Reason     string        // ErrorInfo.reason, if any
	Violations []Violation   // BadRequest and PreconditionFailure violations, each once
	RetryAfter time.Duration // RetryInfo.retry_delay, if any
}

// Parse reads err (a gRPC status error, or a context error) into Details.
// Errors that carry no status become UNKNOWN with their text.
func Parse(err error) Details {
	if err == nil {
		return Details{Code: codes.OK}
	}
	st, ok := status.FromError(err)
	if !ok {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return Details{Code: codes.DeadlineExceeded, Message: err.Error()}
		case errors.Is(err, context.Canceled):
			return Details{Code: codes.Canceled, Message: err.Error()}
		}
		return Details{Code: codes.Unknown, Message: err.Error()}
	}
	d := Details{Code: st.Code(), Message: st.Message()}
	for _, det := range st.Details() {
		switch v := det.(type) {
		case *errdetails.ErrorInfo:
			d.Reason = v.GetReason()
		case *errdetails.BadRequest:
			for _, fv := range v.GetFieldViolations() {
				d.Violations = append(d.Violations, Violation{Field: fv.GetField(), Reason: fv.GetReason(), Description: fv.GetDescription()})
			}
		case *errdetails.PreconditionFailure:
			for _, pv := range v.GetViolations() {
				vi := Violation{Field: pv.GetSubject(), Reason: pv.GetType(), Description: pv.GetDescription()}
				// ToError lists a state problem in both details; show it once.
				if !slices.Contains(d.Violations, vi) {
					d.Violations = append(d.Violations, vi)
				}
			}
		case *errdetails.RetryInfo:
			d.RetryAfter = v.GetRetryDelay().AsDuration()
		}
	}
	return d
}
